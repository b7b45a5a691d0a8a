"""The demo's `reports/` folder: what a new user opens first, written from the demo's own data.

The framework document, the company report, the report of one team, three RM scorecards (the
strongest RM of the latest closed quarter, the most typical one, and the smallest book) and the
initiative report, as HTML pages (self-contained; `kraft report ... --format pdf` prints any of
them).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa

from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.periods import Calendar
from kraft.reports.framework_document import DocumentFormat, render_framework_document
from kraft.scoring.stored import as_of_date
from kraft.store.database import Database


def write_demo_reports(
    db: Database,
    framework: Framework,
    calendar: Calendar,
    parameters: Mapping[str, int],
    folder: Path,
) -> list[Path]:
    """Write the reports into `folder` and return their paths, in reading order."""
    from kraft.analysis.initiative import ImpactOptions, initiative_impact
    from kraft.metrics.spec import load_catalogue
    from kraft.reports.initiative_report import render_initiative_report
    from kraft.reports.scorecard import ReportFormat as CardFormat
    from kraft.reports.scorecard import build_scorecard, render_scorecard
    from kraft.reports.team_report import ReportFormat, build_team_report, render_team_report

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(name: str, text: str) -> None:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)

    save("framework.html", render_framework_document(framework, DocumentFormat.html))
    with db.connect() as conn:
        label = last_closed_quarter(conn, calendar)
        if label is None:
            return written
        period = calendar.parse(label)
        strong, typical, smallest, team = _chosen_rms(conn, label)
        initiatives = [r[0] for r in conn.execute(sa.text("SELECT initiative_id FROM initiatives"))]
    company = build_team_report(db, framework, calendar, period, None, parameters)
    save(f"company-{label}.html", render_team_report(company, ReportFormat.html))
    if team is not None:
        report = build_team_report(db, framework, calendar, period, team, parameters)
        save(f"team-{team}-{label}.html", render_team_report(report, ReportFormat.html))
    with db.connect() as conn:
        for rm_id in dict.fromkeys(r for r in (strong, typical, smallest) if r is not None):
            card = build_scorecard(conn, framework, calendar, rm_id, period)
            save(f"scorecard-{rm_id}-{label}.html", render_scorecard(card, CardFormat.html))
    for initiative_id in initiatives[:1]:
        try:
            impact = initiative_impact(
                db,
                load_catalogue(),
                dict(parameters),
                initiative_id,
                ImpactOptions(window_months=6, resamples=2000, seed=0),
                example=framework.example,
            )
        except KraftError:  # e.g. it starts after the data ends: nothing to measure yet
            continue
        save(
            f"initiative-{initiative_id}.html", render_initiative_report(impact, ReportFormat.html)
        )
    return written


def last_closed_quarter(conn: sa.Connection, calendar: Calendar) -> str | None:
    """The latest scored quarter that is over by the data's as-of date (else the latest)."""
    as_of = as_of_date(conn)
    labels = sorted(
        (
            calendar.parse(r[0])
            for r in conn.execute(
                sa.text("SELECT DISTINCT period FROM scores WHERE grain = 'quarter'")
            )
        ),
        key=lambda p: p.start,
    )
    closed = [p for p in labels if as_of is None or p.closed_by(as_of)]
    chosen = closed or labels
    return chosen[-1].label if chosen else None


def _chosen_rms(
    conn: sa.Connection, label: str
) -> tuple[str | None, str | None, str | None, str | None]:
    """The period's highest overall score, the one nearest the median, the RM with the fewest
    clients (by policies held), and the team of the first."""
    rows = conn.execute(
        sa.text(
            "SELECT s.rm_id, s.score, r.team_id FROM scores AS s "
            "JOIN relationship_managers AS r ON r.rm_id = s.rm_id "
            "WHERE s.level = 'overall' AND s.period = :p AND s.score IS NOT NULL "
            "ORDER BY s.score DESC, s.rm_id"
        ),
        {"p": label},
    ).all()
    if not rows:
        return None, None, None, None
    median = rows[len(rows) // 2].score
    typical = min(rows, key=lambda r: (abs(r.score - median), r.rm_id)).rm_id
    scored = {r.rm_id for r in rows}
    books = conn.execute(
        sa.text(
            "SELECT rm_id, count(DISTINCT client_id) AS clients FROM policies "
            "GROUP BY rm_id ORDER BY clients, rm_id"
        )
    ).all()
    smallest = next((b.rm_id for b in books if b.rm_id in scored), None)
    return rows[0].rm_id, typical, smallest, rows[0].team_id
