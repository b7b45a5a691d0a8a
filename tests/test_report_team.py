"""`kraft report team`: the team's and the company's management report, read back the way a person
reads it, against `kraft export scores` and `kraft export kpi-values`.

The book (both databases for html and md; pdf on DuckDB): a two-KPI framework (documentation
accuracy under Compliance, customer satisfaction under Relationship Building, 50 each, quarterly,
thresholds 90 and 75), quarters 2025-Q4 and 2026-Q1, as of 2026-03-31 (Q1 is closed on its last
day). Teams T1 (R1, R2) and T2 (R3, R4) under branch B1; the manager M1 is never scored.

2026-Q1: R1 5/5 checks, 5/5 satisfied; R2 195/200, 19/20; R3 180/200 (90 %: on track), 17/20;
R4 no checks, 2 responses (too few: no overall). R2's doc accuracy in 2025-Q4 is 80/100 (below
threshold), R3's csat 2025-Q4 10/20 = 50 % (below threshold), so both move up into Q1.
Initiative I1 (from 2026-01-01, R1) is running in Q1: the report has its summary (no renewals in
this book, so no difference in differences can be computed, and the report says so).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpi_books import configure, interaction, kraft, load
from kraft.cli import app
from kraft.workspace import Workspace
from pdf_checks import not_blank, pages_as_png, pdf_text, saved_pages, units_first

from books import Row

FRAMEWORK = """\
id: small_team
role: Relationship Manager
title: Small team
kras:
  - id: compliance
    number: 1
    title: Compliance
    weight: 50
    kpis:
      - id: documentation_accuracy_rate
        name: Policy documentation accuracy rate
        kind: computed
        metric: documentation_accuracy_rate
        unit: percent
        direction: higher_is_better
        grain: quarter
        target: 95
        threshold: 90
        min_volume: 5
  - id: relationship_building
    number: 2
    title: Relationship Building
    weight: 50
    kpis:
      - id: customer_satisfaction_score
        name: Customer satisfaction score
        kind: computed
        metric: customer_satisfaction_score
        unit: percent
        direction: higher_is_better
        grain: quarter
        target: 85
        threshold: 75
        min_volume: 5
"""

TEAMS: list[Row] = [
    {"team_id": "B1", "name": "Branch"},
    {"team_id": "T1", "name": "Team <One>", "parent_team_id": "B1"},
    {"team_id": "T2", "name": "Team Two", "parent_team_id": "B1"},
]
RMS: list[Row] = [
    {"rm_id": "M1", "name": "Maya", "team_id": "B1", "role": "manager", "hire_date": "2025-01-01"},
    {"rm_id": "R1", "name": "Ravi", "team_id": "T1", "hire_date": "2025-01-01"},
    {"rm_id": "R2", "name": "Asha <b>&", "team_id": "T1", "hire_date": "2025-01-01"},
    {"rm_id": "R3", "name": "=Bina", "team_id": "T2", "hire_date": "2025-01-01"},
    {"rm_id": "R4", "name": "Dev", "team_id": "T2", "hire_date": "2025-01-01"},
]
Q1 = "2026-Q1"
Q4 = "2025-Q4"


def checks(rm: str, good: int, total: int, day: str) -> list[Row]:
    return [
        {
            "check_id": f"{rm}-{day}-D{i}",
            "rm_id": rm,
            "date": day,
            "in_good_order": "true" if i < good else "false",
        }
        for i in range(total)
    ]


def responses(rm: str, satisfied: int, total: int, day: str) -> list[Row]:
    return [
        {
            "response_id": f"{rm}-{day}-S{i}",
            "survey_type": "csat",
            "rm_id": rm,
            "date": day,
            "score": "5" if i < satisfied else "3",
            "scale_min": "1",
            "scale_max": "5",
        }
        for i in range(total)
    ]


@pytest.fixture
def scored(workspace: Workspace, tmp_path: Path) -> Workspace:
    (workspace.root / "framework.yaml").write_text(FRAMEWORK, encoding="utf-8")
    configure(workspace, framework="framework.yaml")
    load(
        workspace,
        tmp_path / "book",
        {
            "teams": TEAMS,
            "relationship_managers": RMS,
            "clients": [],
            "document_checks": [
                *checks("R1", 5, 5, "2026-02-10"),
                *checks("R2", 195, 200, "2026-02-10"),
                *checks("R3", 180, 200, "2026-02-10"),
                *checks("M1", 0, 10, "2026-02-10"),
                *checks("R1", 5, 5, "2025-11-10"),
                *checks("R2", 80, 100, "2025-11-10"),
                *checks("R3", 90, 100, "2025-11-10"),
            ],
            "surveys": [
                *responses("R1", 5, 5, "2026-02-12"),
                *responses("R2", 19, 20, "2026-02-12"),
                *responses("R3", 17, 20, "2026-02-12"),
                *responses("R4", 2, 2, "2026-02-12"),
                *responses("R1", 5, 5, "2025-11-12"),
                *responses("R2", 18, 20, "2025-11-12"),
                *responses("R3", 10, 20, "2025-11-12"),
            ],
            "initiatives": [
                {"initiative_id": "I1", "name": "Pilot <x>", "start_date": "2026-01-01"},
                {
                    "initiative_id": "I0",
                    "name": "Over",
                    "start_date": "2025-01-01",
                    "end_date": "2025-06-30",
                },
            ],
            "initiative_participants": [{"initiative_id": "I1", "rm_id": "R1"}],
        },
        "2026-03-31",
    )
    return workspace


def exported_scores(ws: Workspace, period: str) -> dict[str, dict[str, str]]:
    text = kraft(ws, "export", "scores", "--period", period)
    return {r["rm_id"]: r for r in csv.DictReader(io.StringIO(text))}


def exported_values(ws: Workspace, period: str) -> list[dict[str, str]]:
    text = kraft(ws, "export", "kpi-values", "--from", period, "--to", period)
    return [r for r in csv.DictReader(io.StringIO(text)) if r["period"] == period]


def md_rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under a `## heading` of the markdown."""
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def refused(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args])
    output = result.output  # stdout and stderr together
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
    return output


def test_company_report_md_equals_the_exports(scored: Workspace) -> None:
    text = kraft(scored, "report", "team", "--org", "--period", Q1, "--format", "md")
    assert text.startswith(f"# Company report, {Q1}")
    export = exported_scores(scored, Q1)
    board = md_rows(text, "Leaderboard")
    assert [r[1] for r in board] == ["R2", "R1", "R3", "R4"]  # by the adjusted overall
    for row in board:
        want = export[row[1]]
        overall = f"{float(want['overall_score']):.2f}" if want["overall_score"] else "—"
        rating = f"{want['rating']} {want['rating_label']}" if want["rating"] else "—"
        assert (row[4], row[6]) == (overall, rating), row
        assert row[7] == f"{float(want['coverage']):.1f} %"
    assert board[1][4:6] == ["111.46", "104.81"]  # R1: stored and adjusted (test_scores_cli)

    distribution = {r[0]: r[1] for r in md_rows(text, "Rating distribution")}
    assert distribution == {
        "5 Outstanding": "1",
        "4 Exceeds": "2",
        "3 Meets": "0",
        "2 Needs improvement": "0",
        "1 Unsatisfactory": "0",
        "Not rated": "1",
    }
    heat = {r[0].split()[0]: r for r in md_rows(text, "RM × KRA scores")}
    for rm, row in heat.items():
        for i, kra in enumerate(("compliance", "relationship_building"), start=1):
            value = export[rm][f"kra:{kra}"]
            assert row[i] == (f"{float(value):.2f}" if value else "—"), (rm, kra)

    # movers: the change of the exported overall since 2025-Q4
    before = exported_scores(scored, Q4)
    movers = {r[0].split()[0]: r for r in md_rows(text, f"Biggest movers since {Q4}")}
    assert set(movers) == {"R2", "R3"}  # R1 scored the same in both quarters: no move
    for rm, row in movers.items():
        change = float(export[rm]["overall_score"]) - float(before[rm]["overall_score"])
        assert row[2:5] == [
            f"{float(before[rm]['overall_score']):.2f}",
            f"{float(export[rm]['overall_score']):.2f}",
            f"{change:+.2f}",
        ]

    # the company's own KPI values, as kpi-values exports them
    org = {
        r["kpi_id"]: float(r["value"])
        for r in exported_values(scored, Q1)
        if r["entity_type"] == "org"
    }
    variance = {r[0]: r for r in md_rows(text, "Variance by KPI")}
    for kpi_id, name in [
        ("documentation_accuracy_rate", "Policy documentation accuracy rate"),  # 380/415
        ("customer_satisfaction_score", "Customer satisfaction score"),
    ]:
        assert variance[name][1] == f"{round(org[kpi_id], 2):g} %"
    assert variance["Customer satisfaction score"][3] == "4"  # R1–R4 have a value

    # nothing below threshold in Q1 (R3's 90 % is on track); the initiative running is shown
    assert "No KPI is below its threshold in 2026-Q1." in text
    assert "### Pilot <x> (I1), from 2026-01-01" in text
    assert "Over (I0)" not in text  # ended before the quarter began


def test_team_report_html_escapes_and_narrows(scored: Workspace) -> None:
    html = kraft(scored, "report", "team", "--team", "T1", "--period", Q1, "--format", "html")
    assert html.startswith("<!DOCTYPE html>")
    assert "Team Team &lt;One&gt; (T1) report, 2026-Q1" in html
    assert "Asha &lt;b&gt;&amp;" in html and "Asha <b>" not in html
    assert "Pilot &lt;x&gt;" in html
    assert "R3" not in html.split("<h2>Leaderboard</h2>", 1)[1].split("</table>", 1)[0]
    export = exported_scores(scored, Q1)
    for rm in ("R1", "R2"):
        assert f"{float(export[rm]['overall_score']):.2f}" in html
    assert "<svg" in html  # the charts, inline
    assert "http://" not in html.replace("http://www.w3.org", "")  # nothing fetched

    # no scores before 2025-Q4: no movers, no movers' chart, still a page
    first = kraft(scored, "report", "team", "--team", "T2", "--period", Q4, "--format", "html")
    assert "No RM has an overall score in both 2025-Q3 and 2025-Q4." in first

    # Q4 of team T1: R2's doc accuracy 80 % is below its threshold of 90 %
    text = kraft(scored, "report", "team", "--team", "T1", "--period", Q4, "--format", "md")
    below = md_rows(text, "KPIs below threshold")
    assert below == [
        ["R2 Asha <b>&", "Policy documentation accuracy rate", "80 %", "90 %", "95 %", "84.21",
         "below threshold"],
    ]  # fmt: skip
    out = scored.root / "t1.md"
    kraft(
        scored, "report", "team", "--team", "T1", "--period", Q4, "--format", "md", "-o", str(out)
    )
    assert out.read_text(encoding="utf-8") == text


def test_report_team_refuses_in_one_sentence(scored: Workspace) -> None:
    assert "--org" in refused(scored, "report", "team", "--period", Q1)
    assert "--team 'T9'" in refused(scored, "report", "team", "--team", "T9", "--period", Q1)
    assert "exclude" in refused(scored, "report", "team", "--team", "T1", "--org")
    assert "--output" in refused(scored, "report", "team", "--org", "--format", "pdf")
    assert "--format 'docx'" in refused(scored, "report", "team", "--org", "--format", "docx")
    assert "no scores" in refused(scored, "report", "team", "--org", "--period", "2024-Q1")


@pytest.mark.parametrize("database_url", ["duckdb"], indirect=True)
def test_company_report_pdf_reads_right(scored: Workspace, request: pytest.FixtureRequest) -> None:
    pdf_file = scored.root / "company.pdf"
    kraft(scored, "report", "team", "--org", "--period", Q1, "--format", "pdf", "-o", str(pdf_file))
    pdf = pdf_file.read_bytes()
    assert pdf.startswith(b"%PDF")
    pages = pages_as_png(pdf)
    assert pages and all(not_blank(page) for page in pages)
    text = pdf_text(pdf)
    export = exported_scores(scored, Q1)
    lines = {
        line.split()[1]: line
        for line in text.splitlines()
        if line.strip()[:2] in ("1 ", "2 ", "3 ", "— ")
    }
    for rm in ("R1", "R2", "R3"):
        row = export[rm]
        assert rm in lines, text
        assert f"{float(row['overall_score']):.2f}" in lines[rm]
        assert row["rating_label"] in lines[rm]
    assert "Company report, 2026-Q1" in text
    assert "Rating distribution" in text and "RM × KRA scores" in text
    # every colour is explained on paper too, and no value is wrapped away from its unit
    flat = " ".join(text.split())
    assert "Cell colour by KRA score: 95 and over; 80 to under 95; 60 to under 80; under 60" in flat
    assert "Row colour by rating: 5 Outstanding; 4 Exceeds;" in flat
    assert "KRA score (0–120)" in text  # the heatmap chart's own gradient legend
    assert units_first(text) == []
    saved_pages(pdf, request.node.name)  # tests/artifacts/: look at them


def test_long_leaderboards_show_the_top_and_the_bottom(
    scored: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kraft.reports import team_report

    monkeypatch.setattr(team_report, "BOARD_LIMIT", 2)
    text = kraft(scored, "report", "team", "--org", "--period", Q1, "--format", "md")
    board = md_rows(text, "Leaderboard")
    assert [r[1] for r in board] == ["R2", "… 2 more RMs (every RM is in the xlsx)", "R3"]
    assert [r[0].split()[0] for r in md_rows(text, "RM × KRA scores")] == ["R2", "R3"]


SESSIONS_FRAMEWORK = """\
id: sessions_only
role: Relationship Manager
title: Sessions
kras:
  - id: customer_education
    number: 1
    title: Customer Education
    weight: 100
    kpis:
      - id: education_sessions
        name: Education sessions
        kind: computed
        metric: education_sessions
        unit: count
        direction: higher_is_better
        grain: quarter
        target: 6
        threshold: 3
"""


def test_an_open_quarters_variance_compares_counts_by_their_forecast(
    workspace: Workspace, tmp_path: Path
) -> None:
    """R1 held 6 sessions in 2026-Q3 and 4 in 2026-Q4 to 2026-11-30 (61 of 92 days, no last year):
    run rate 4 × 92 ÷ 61 = 6.03, within 10 % of both the target 6 and Q3's 6, so R1 is counted
    neither better nor worse; the part quarter's 4 would have been 33 % worse than both. R2–R4,
    with no sessions, are worse than the target only."""
    (workspace.root / "framework.yaml").write_text(SESSIONS_FRAMEWORK, encoding="utf-8")
    configure(workspace, framework="framework.yaml")
    days = ["2026-07-10", "2026-08-10", "2026-08-20", "2026-09-01", "2026-09-10", "2026-09-20"]
    days += ["2026-10-05", "2026-10-20", "2026-11-05", "2026-11-25"]
    sessions = [interaction(f"E{i}", "R1", "education_session", d) for i, d in enumerate(days)]
    book = {"teams": TEAMS, "relationship_managers": RMS, "interactions": sessions}
    load(workspace, tmp_path / "book", book, "2026-11-30")
    text = kraft(workspace, "report", "team", "--org", "--period", "2026-Q4", "--format", "md")
    assert "2026-Q4 is still open (data as of 2026-11-30)" in text
    [row] = [r for r in md_rows(text, "Variance by KPI") if r[0] == "Education sessions"]
    assert row[1:4] == ["4", "6", "4"]  # the company's to date, Q3, RMs with a value
    assert row[5:] == ["0", "3", "0", "0"]  # vs target ↑ ↓, vs previous ↑ ↓


def test_a_kra_scores_colour_is_the_band_its_legend_names() -> None:
    from kraft.reports.legends import kra_score_class, kra_score_legend

    bands = {swatch.css: swatch.label for swatch in kra_score_legend()}
    scores = ["120", "95", "94.99", "80", "79.99", "60", "59.99", "0"]
    shown = [bands[kra_score_class(Decimal(score))] for score in scores]
    assert shown == [
        "95 and over",
        "95 and over",
        "80 to under 95",
        "80 to under 95",
        "60 to under 80",
        "60 to under 80",
        "under 60",
        "under 60",
    ]
    assert kra_score_class(None) == ""
