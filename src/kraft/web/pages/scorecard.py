"""An RM's scorecard (kraft.reports.scorecard, the same report `kraft report scorecard` writes),
its what-if (kraft.analysis.whatif), the drill-down from a KPI value to the rows behind it
(kraft.metrics.runner.explain), and its downloads.

The scorecard is built from what is stored, without drawing charts: the trends' Vega-Lite spec
goes to the browser. For an RM looking at their own card, the team is only their rank in it and
its distribution (ratings, quartiles), never another RM's name or value; in the explain view the
clients (and RMs) of other RMs are masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection

from kraft.analysis.variance import quartiles
from kraft.analysis.whatif import WhatIf, what_if
from kraft.core.access import Scope
from kraft.errors import KraftError
from kraft.framework.model import KPI, Framework, KpiKind
from kraft.metrics.runner import Explanation, RowSet, explain
from kraft.metrics.spec import load_catalogue
from kraft.periods import Period
from kraft.reports import charts
from kraft.reports.explained import cell_text, value_facts
from kraft.reports.exports import csv_text
from kraft.reports.scorecard import (
    ReportFormat,
    build_scorecard,
    render_scorecard,
    scorecard_pdf,
)
from kraft.reports.scorecard_lines import ScorecardReport
from kraft.scoring.scorecard import in_scorecard
from kraft.scoring.stored import numeric, scored_periods
from kraft.store.roster import rm_record, teams_below
from kraft.web.boards import board_if_ready, stored_cards, team_overall
from kraft.web.deps import PageScope, SiteDep
from kraft.web.downloads import download, safe_name
from kraft.web.period_choice import PeriodChoice, choose_period
from kraft.web.render import chart, render_page
from kraft.web.shown import Shown
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)

NO_RM = "There is no such RM, or their scorecard is not yours to see."
CLIENT_MASK = "another RM's client"
RM_MASK = "another RM"
ROWS_SHOWN = 200  # rows of a row set the explain view lists (the count says how many more)
KPI_CSV_COLUMNS = (
    "rm_id", "period", "kra_id", "kpi_id", "kpi_name", "unit", "actual", "target", "threshold",
    "target_source", "score", "status", "provisional", "interval_low", "interval_high", "volume",
)  # fmt: skip
KPI_CSV_TEXT = frozenset(
    {"rm_id", "period", "kra_id", "kpi_id", "kpi_name", "unit", "target_source", "status"}
)


@dataclass(frozen=True)
class Person:
    rm_id: str
    name: str | None
    role: str
    team_id: str | None


def _person(conn: Connection, scope: Scope, rm_id: str) -> Person:
    """The RM, if in scope; 404 otherwise, exactly as for an RM that does not exist."""
    if not scope.can_see_rm(rm_id):
        raise HTTPException(404, NO_RM)
    row = rm_record(conn, rm_id)
    if row is None:
        raise HTTPException(404, NO_RM)
    return Person(row.rm_id, row.name, row.role, row.team_id)


def _scored(person: Person) -> Person:
    if person.role != "rm":
        raise HTTPException(
            404, f"{person.rm_id} is a {person.role}: managers lead teams and are not scored."
        )
    return person


# -- the team as an RM may see it ---------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """The RM's place in their own team (and the teams below it): a rank, a count and the
    team's distribution of stored ratings and overall scores."""

    team_id: str
    team_name: str
    rank: int | None
    ranked: int | None  # None: the leaderboard is still being made
    ratings: list[tuple[int | None, str, int]]
    quartiles: tuple[Decimal, Decimal, Decimal] | None


def standing(
    site: Site, conn: Connection, report: ScorecardReport, choice: PeriodChoice
) -> Standing | None:
    """Where the RM ranks in their own team (by the team's leaderboard, if it is made yet), and
    the team's ratings and overall-score quartiles from the stored scores: aggregates only."""
    if report.team_id is None:
        return None
    teams = teams_below(conn, [report.team_id])
    cards = [r for r in stored_cards(site, conn, choice).values() if r.team_id in teams]
    counts: dict[int | None, int] = {}
    for r in cards:
        counts[r.rating] = counts.get(r.rating, 0) + 1
    ratings: list[tuple[int | None, str, int]] = [
        (b.rating, b.label, counts.get(b.rating, 0)) for b in site.framework.rating_bands
    ]
    rank = ranked = None
    board = board_if_ready(site, choice)
    if board is not None:
        members = team_overall(board, report.team_id)
        rank = next((s.rank for s in members if s.rm_id == report.rm_id), None)
        ranked = sum(1 for s in members if s.rank is not None)
    return Standing(
        report.team_id,
        report.team_name or report.team_id,
        rank,
        ranked,
        ratings,
        quartiles(n for r in cards if (n := numeric(r.overall)) is not None),
    )


# -- the pages ----------------------------------------------------------------------------------


@router.get("/me", response_class=HTMLResponse)
def me(
    request: Request,
    site: SiteDep,
    scope: PageScope,
    period: str = "",
    kpi: str = "",
    value: str = "",
) -> Response:
    """The signed-in user's own scorecard (an RM's, or a manager's own record if it is scored)."""
    rm_id = scope.user.rm_id
    message = "Your sign-in is not linked to an RM record, so there is no scorecard of yours."
    if rm_id is not None and scope.can_see_rm(rm_id):
        with site.read() as conn:
            person = _person(conn, scope, rm_id)
            has = person.role == "rm" and bool(scored_periods(conn, rm_id))
        if has:
            return scorecard_response(request, site, scope, rm_id, period, kpi, value)
        message = (
            f"Your record {rm_id} is a {person.role}'s: managers lead teams and are not scored."
            if person.role != "rm"
            else f"There are no scores for {rm_id} yet; an admin runs the compute first."
        )
    return render_page(request, "scorecard.html.j2", {"missing": message, "scope": scope})


def whatif_options(framework: Framework, report: ScorecardReport, period: Period) -> list[KPI]:
    """The KPIs of the scorecard whose value a what-if may replace (those scored this grain)."""
    return [line.kpi for line in report.kpis if in_scorecard(line.kpi, period)]


def load_report(site: Site, conn: Connection, rm_id: str, choice: PeriodChoice) -> ScorecardReport:
    """The scorecard report (kraft.reports.scorecard, charts as specs only), kept per RM and data
    version: at 2,000 RMs it reads a few scans of kpi_values, the same every time."""
    period = choice.period

    def make() -> ScorecardReport:
        try:
            return build_scorecard(
                conn, site.framework, site.calendar, rm_id, period, catalogue=load_catalogue()
            )
        except KraftError:
            raise HTTPException(
                404, f"There is no scorecard of {rm_id} for {period.label}."
            ) from None

    return site.reports_kept.get(("scorecard", rm_id, choice.version), make)


@router.get("/rms/{rm_id}", response_class=HTMLResponse)
def scorecard_page(
    request: Request,
    site: SiteDep,
    scope: PageScope,
    rm_id: str,
    period: str = "",
    kpi: str = "",
    value: str = "",
) -> Response:
    """The scorecard; with kpi and value, the what-if of that KPI at that value beside it."""
    return scorecard_response(request, site, scope, rm_id, period, kpi, value)


def scorecard_response(
    request: Request, site: Site, scope: Scope, rm_id: str, period: str, kpi: str, value: str
) -> Response:
    framework = site.framework
    with site.read() as conn:
        person = _scored(_person(conn, scope, rm_id))
        choice = choose_period(conn, site.calendar, framework, period or None, person.rm_id)
        report = load_report(site, conn, person.rm_id, choice)
        place = standing(site, conn, report, choice)
        options = whatif_options(framework, report, choice.period)
        asked, problem = None, None
        if kpi or value:
            asked, problem = _what_if(site, conn, report, choice.period, options, kpi, value)
    return render_page(
        request,
        "scorecard.html.j2",
        _context(site, scope, report, choice, place, options, asked, problem, kpi, value),
    )


def _what_if(
    site: Site,
    conn: Connection,
    report: ScorecardReport,
    period: Period,
    options: Sequence[KPI],
    kpi_id: str,
    value: str,
) -> tuple[WhatIf | None, str | None]:
    """The what-if asked for, or the one sentence saying why there is none."""
    if kpi_id not in {k.id for k in options}:
        return None, f"Choose one of the scorecard's KPIs for {period.label}."
    if not value.strip():
        return None, "Give the KPI's value, e.g. 85."
    try:
        asked = what_if(
            conn, site.framework, site.catalogue, report.rm_id, period, kpi_id, value,
            site.scoring_policy(),
        )  # fmt: skip
        return asked, None
    except KraftError as exc:
        return None, exc.message.replace("--value ", "The value ", 1)


def _context(
    site: Site,
    scope: Scope,
    report: ScorecardReport,
    choice: PeriodChoice,
    place: Standing | None,
    options: list[KPI],
    asked: WhatIf | None,
    problem: str | None,
    kpi: str,
    value: str,
) -> dict[str, Any]:
    framework = site.framework
    label = choice.period.label
    drawn: dict[str, Any] = {}
    if report.trends is not None:
        drawn["trends"] = chart(
            report.trends, f"Trends of every KPI of {report.rm_id}, last periods to {label}"
        )
    if place is not None:
        counts = {rating: n for rating, _, n in place.ratings if rating is not None}
        spec = site.kept_each.get(
            ("team-ratings", place.team_id, choice.version),
            lambda: charts.rating_distribution(counts, framework.rating_bands),
        )
        drawn["team"] = chart(spec, f"Rating distribution of team {place.team_name}, {label}")
    kra_of = {kpi.id: kra for kra, kpi in framework.kpis()}
    return {
        "missing": None,
        "report": report,
        "choice": choice,
        "place": place,
        "own": not scope.sees_others,
        "scope": scope,
        "options": options,
        "asked": asked,
        "asked_kra": kra_of[asked.kpi_id] if asked else None,
        "asked_kpi": framework.kpi(asked.kpi_id) if asked else None,
        "problem": problem,
        "whatif_kpi": kpi,
        "whatif_value": value,
        "charts": drawn,
        "shown": Shown(framework.currency),
        "framework": framework,
        "keep": {},
    }


# -- the drill-down -----------------------------------------------------------------------------


def _present(conn: Connection, sql: str, values: set[str], **params: str) -> set[str]:
    """Of the values, those the query (with :ids) finds, asked in chunks."""
    query = sa.text(sql).bindparams(sa.bindparam("ids", expanding=True))
    found: set[str] = set()
    ordered = sorted(values)
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start : start + 1000]
        found |= {str(r[0]) for r in conn.execute(query, {**params, "ids": chunk})}
    return found


def masked(conn: Connection, rm_id: str, row_sets: Iterable[RowSet]) -> list[RowSet]:
    """The row sets with every client that is not the RM's, and every other RM, masked.

    By value, not by column: a client id also stands in a measure's value column (the referrer
    counted by referral_rate). A client is the RM's when they have a policy, lead, interaction
    or survey of the RM."""
    sets = list(row_sets)
    texts = {v for rs in sets for row in rs.rows for v in row if isinstance(v, str)}
    if not texts:
        return sets
    clients = _present(conn, "SELECT client_id FROM clients WHERE client_id IN :ids", texts)
    own = (
        _present(
            conn,
            "SELECT client_id FROM policies WHERE rm_id = :rm AND client_id IN :ids "
            "UNION SELECT client_id FROM leads WHERE rm_id = :rm AND client_id IN :ids "
            "UNION SELECT client_id FROM interactions WHERE rm_id = :rm AND client_id IN :ids "
            "UNION SELECT client_id FROM surveys WHERE rm_id = :rm AND client_id IN :ids",
            clients,
            rm=rm_id,
        )
        if clients
        else set()
    )
    others = _present(
        conn, "SELECT rm_id FROM relationship_managers WHERE rm_id IN :ids", texts
    ) - {rm_id}
    hidden = {**dict.fromkeys(clients - own, CLIENT_MASK), **dict.fromkeys(others, RM_MASK)}
    return [
        RowSet(
            rs.title,
            rs.sql,
            rs.columns,
            [tuple(hidden.get(v, v) if isinstance(v, str) else v for v in row) for row in rs.rows],
        )
        for rs in sets
    ]


def _explained(
    site: Site, rm_id: str, kpi_id: str, label: str, *, mask: bool
) -> tuple[Explanation, list[RowSet]]:
    """The explanation and its row sets as this viewer may see them (an RM: masked)."""
    found = explain(
        site.db,
        site.framework,
        load_catalogue(),
        site.calendar,
        site.compute_parameters,
        rm_id=rm_id,
        kpi_id=kpi_id,
        label=label,
    )
    row_sets = [counted_first(rs) for rs in found.row_sets]
    if not mask:
        return found, row_sets
    with site.read() as conn:
        return found, masked(conn, rm_id, row_sets)


def counted_first(row_set: RowSet) -> RowSet:
    """The rows that count in a measure (an in_… column true) before those that do not."""
    tests = [i for i, c in enumerate(row_set.columns) if c.startswith("in_")]
    if not tests:
        return row_set
    rows = sorted(row_set.rows, key=lambda row: not any(row[i] is True for i in tests))
    return RowSet(row_set.title, row_set.sql, row_set.columns, rows)


@router.get("/rms/{rm_id}/explain", response_class=HTMLResponse)
def explain_page(
    request: Request, site: SiteDep, scope: PageScope, rm_id: str, kpi: str = "", period: str = ""
) -> Response:
    """One KPI value of the RM: numerator, denominator, the SQL and the rows behind it."""
    framework = site.framework
    try:
        definition = framework.kpi(kpi)
    except KeyError:
        raise HTTPException(404, f"There is no KPI {kpi!r} in the framework.") from None
    with site.read() as conn:
        person = _person(conn, scope, rm_id)
        choice = (
            choose_period(conn, site.calendar, framework, period or None, person.rm_id)
            if person.role == "rm"
            else None
        )
        if choice is None:
            raise HTTPException(
                404, f"{rm_id} is a manager: managers lead teams and are not scored."
            )
        label = choice.period.label
        score_row = conn.execute(
            sa.text(
                "SELECT actual, volume, target, threshold, score, status, provisional FROM scores "
                "WHERE rm_id = :rm AND period = :p AND level = 'kpi' AND item_id = :k"
            ),
            {"rm": rm_id, "p": label, "k": definition.id},
        ).first()
    found, row_sets = site.kept_each.get(
        ("explain", rm_id, definition.id, not scope.sees_others, choice.version),
        lambda: _explained(site, rm_id, definition.id, label, mask=not scope.sees_others),
    )
    return render_page(
        request,
        "explain.html.j2",
        {
            "person": person,
            "kpi": definition,
            "kra": next(k for k, p in framework.kpis() if p.id == definition.id),
            "choice": choice,
            "found": found,
            "facts": value_facts(
                found.stored, definition, framework.currency, found.compared_with, label
            )
            if found.stored
            else [],
            "cell": partial(cell_text, currency=framework.currency),
            "row_sets": row_sets,
            "rows_shown": ROWS_SHOWN,
            "score_row": score_row,
            "derived": definition.kind is KpiKind.score,
            "shown": Shown(framework.currency),
            "numeric": numeric,
            "keep": {"kpi": definition.id},
        },
    )


# -- downloads ----------------------------------------------------------------------------------


def _downloaded(site: Site, scope: Scope, rm_id: str, period: str) -> ScorecardReport:
    with site.read() as conn:
        person = _scored(_person(conn, scope, rm_id))
        choice = choose_period(conn, site.calendar, site.framework, period or None, person.rm_id)
        return load_report(site, conn, person.rm_id, choice)


def kpi_records(report: ScorecardReport) -> list[dict[str, Any]]:
    """The scorecard's KPI rows, as stored (scores) with their intervals."""
    records = []
    for kra in report.kras:
        for line in kra.kpis:
            records.append(
                {
                    "rm_id": report.rm_id,
                    "period": report.period,
                    "kra_id": kra.kra_id,
                    "kpi_id": line.kpi_id,
                    "kpi_name": line.name,
                    "unit": line.kpi.unit.value if line.kpi.unit else None,
                    "actual": _float(line.actual),
                    "target": _float(line.target),
                    "threshold": _float(line.threshold),
                    "target_source": line.target_source,
                    "score": _float(line.score),
                    "status": line.status,
                    "provisional": line.provisional,
                    "interval_low": line.interval[0] if line.interval else None,
                    "interval_high": line.interval[1] if line.interval else None,
                    "volume": _float(line.volume),
                }
            )
    return records


def _float(number: Decimal | None) -> float | None:
    return None if number is None else float(number)


@router.get("/rms/{rm_id}/scorecard.{fmt}")
def scorecard_download(
    site: SiteDep, scope: PageScope, rm_id: str, fmt: str, period: str = ""
) -> Response:
    """The scorecard on screen as PDF or Markdown, or its KPI rows as CSV."""
    if fmt not in ("pdf", "md", "csv"):
        raise HTTPException(404, "A scorecard downloads as pdf, md or csv.")
    report = _downloaded(site, scope, rm_id, period)
    name = f"{safe_name(report.rm_id)}-{report.period}.{fmt}"
    if fmt == "pdf":
        return download(scorecard_pdf(report), "application/pdf", name)
    if fmt == "md":
        return download(
            render_scorecard(report, ReportFormat.md), "text/markdown; charset=utf-8", name
        )
    return download(
        csv_text(kpi_records(report), KPI_CSV_COLUMNS, KPI_CSV_TEXT),
        "text/csv; charset=utf-8",
        name,
    )
