"""`kraft report scorecard` on a small hand-built book: the numbers a person reads in it are those
of `kraft export scores` and `kraft export kpi-values`, rounded the way the CLI rounds them.

The book is tests/test_scores_cli.py's (quarter 2026-Q1, as of its last day; documentation
accuracy and customer satisfaction, 50/50), with R2 also checked in 2025-Q4 (90 of 100 in good
order) so that the 2026-Q1 scorecard has a previous period to compare with:
  R2 2026-Q1: doc 195/200 = 97.5 % → 102.6316, csat 19/20 = 95 % → 111.7647; overall 107.20,
    4 Exceeds, coverage 100 %; doc against 2025-Q4's 90 %: +8.33 %, within ±10 % (not flagged);
    Wilson 95 % of 195/200: 94.3–98.9 %.
  R2 2025-Q4: doc 90 % → 94.7368 (on track), no surveys: overall 94.74, coverage 50 %.
  Drivers 2025-Q4 → 2026-Q1: csat 0 → 55.88, doc 94.74 → 51.32 (half the weight now).
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from kpi_books import configure, kraft, load
from kraft.cli import app
from kraft.workspace import Workspace
from pdf_checks import page_texts, pages_as_png, pixels_of, saved_pages, units_first
from test_scores_cli import FRAMEWORK, TEAMS, checks, responses

from books import Row

RMS: list[Row] = [
    {"rm_id": "M1", "name": "Maya", "team_id": "B1", "role": "manager", "hire_date": "2025-01-01"},
    {"rm_id": "R1", "name": "Ravi <i>&", "team_id": "T1", "hire_date": "2025-01-01"},
    {"rm_id": "R2", "name": "Asha", "team_id": "T1", "hire_date": "2025-01-01"},
    {"rm_id": "R3", "name": "Bina", "team_id": "T2", "hire_date": "2025-01-01"},
    {"rm_id": "R4", "name": "Dev", "team_id": "T2", "hire_date": "2025-01-01"},
]
DUCKDB_ONLY = pytest.mark.parametrize("database_url", ["duckdb"], indirect=True)


def earlier_checks(rm: str, good: int, total: int) -> list[Row]:
    return [
        {**row, "check_id": f"{row['check_id']}-Q4", "date": "2025-11-10"}
        for row in checks(rm, good, total)
    ]


@pytest.fixture
def book(workspace: Workspace, tmp_path: Path) -> tuple[Workspace, dict[str, float | None]]:
    """The workspace, and R2's stored values by "period kpi_id" (from `kraft export kpi-values`)."""
    return build(workspace, tmp_path, "2026-03-31")


def build(
    workspace: Workspace, tmp_path: Path, as_of: str
) -> tuple[Workspace, dict[str, float | None]]:
    (workspace.root / "framework.yaml").write_text(FRAMEWORK, encoding="utf-8")
    configure(workspace, framework="framework.yaml")
    values = load(
        workspace,
        tmp_path / "book",
        {
            "teams": TEAMS,
            "relationship_managers": RMS,
            "clients": [],
            "document_checks": [
                *checks("R1", 5, 5),
                *checks("R2", 195, 200),
                *earlier_checks("R2", 90, 100),
                *checks("R3", 180, 200),
                *checks("M1", 0, 10),
            ],
            "surveys": [
                *responses("R1", 5, 5),
                *responses("R2", 19, 20),
                *responses("R3", 17, 20),
                *responses("R4", 2, 2),
            ],
        },
        as_of,
    )
    r2 = {f"{k[2]} {k[3]}": v for k, (v, _) in values.items() if k[:2] == ("rm", "R2")}
    return workspace, r2


def exported(ws: Workspace, period: str) -> dict[str, dict[str, str]]:
    text = kraft(ws, "export", "scores", "--period", period)
    return {row["rm_id"]: row for row in csv.DictReader(io.StringIO(text))}


def refused(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args])
    output = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
    return output


def test_the_scorecard_shows_the_exported_numbers(
    book: tuple[Workspace, dict[str, float | None]],
) -> None:
    ws, r2 = book
    row = exported(ws, "2026-Q1")["R2"]
    overall = f"{float(row['overall_score']):.2f}"  # 107.2 in the export, 107.20 as shown
    coverage = f"{float(row['coverage']):.1f} %"
    doc = r2["2026-Q1 documentation_accuracy_rate"]
    assert (overall, row["rating"], row["rating_label"], coverage, doc) == (
        "107.20",
        "4",
        "Exceeds",
        "100.0 %",
        97.5,
    )

    html = kraft(ws, "report", "scorecard", "--rm", "R2", "--period", "2026-Q1")
    assert f'<span class="value" id="overall">{overall}</span>' in html
    assert "4 Exceeds" in html and coverage in html
    assert "Scorecard: Asha (R2)" in html and "Team One (T1)" in html
    assert "<svg" in html  # R2's documentation accuracy has two quarters: a trend chart
    assert "http://" not in html.replace("http://www.w3.org", "")  # self-contained
    md = kraft(ws, "report", "scorecard", "--rm", "R2", "--period", "2026-Q1", "--format", "md")
    assert f"| **{overall}** | 4 Exceeds | {coverage} | 94.74 |" in md
    doc_line = next(  # the KPI table's row (the drivers' table comes later)
        line for line in md.splitlines() if line.startswith("| Policy documentation accuracy")
    )
    # actual, target, threshold, score, status, Wilson 95 %, vs 2025-Q4 (90 %), vs target 95 %
    assert doc_line.split(" | ")[1:9] == [
        "97.5 %",
        "95 %",
        "90 %",
        "102.63",
        "above target",
        "94.3–98.9 %",
        "+7.5 pp",  # a % KPI: its change in percentage points (was +8.33 %)
        "+2.5 pp",
    ]
    assert "90 % → 97.5 %" in doc_line  # the trend, oldest first
    assert "| 2 | Relationship Building | 50 % | 111.76 | scored |" in md
    assert "| Customer satisfaction score | Relationship Building | — | 111.76 |" in md  # drivers
    assert "0.00 → 55.88 | +55.88 |" in md
    assert "2026-Q1 is closed: nothing left to pace." in md
    assert "**Manager's comments:**" in md and "**RM's comments:**" in md
    for text in (html, md):
        assert "Manager's comments" in text or "Manager&#39;s comments" in text

    # the RM's name is escaped in HTML
    r1 = kraft(ws, "report", "scorecard", "--rm", "R1", "--period", "2026-Q1")
    assert "Ravi &lt;i&gt;&amp;" in r1 and "<i>" not in r1
    r4 = kraft(ws, "report", "scorecard", "--rm", "R4", "--period", "2026-Q1", "--format", "md")
    assert "| **—** | — | 0.0 % |" in r4  # nothing scored: no overall, coverage 0
    assert "insufficient volume" in r4


def test_refusals_are_one_sentence(book: tuple[Workspace, dict[str, float | None]]) -> None:
    ws, _ = book
    base = ("report", "scorecard", "--period", "2026-Q1")
    assert "is not an RM of this workspace" in refused(ws, *base, "--rm", "R9")
    assert "is a manager" in refused(ws, *base, "--rm", "M1")
    assert "has no scores for 2025-Q2" in refused(
        ws, "report", "scorecard", "--period", "2025-Q2", "--rm", "R2"
    )
    assert "--rm RM_ID" in refused(ws, *base)
    assert "--rm RM_ID" in refused(ws, *base, "--rm", "R2", "--all")
    assert "needs --output" in refused(ws, *base, "--rm", "R2", "--format", "pdf")
    assert "--all needs --output DIR" in refused(ws, *base, "--all")
    assert "is not html, md or pdf" in refused(ws, *base, "--rm", "R2", "--format", "xlsx")
    assert "--period" in refused(ws, "report", "scorecard", "--period", "2026-13", "--rm", "R2")


def not_blank(png: Path) -> bool:
    """Not all one colour: the page's darkest grey is well below its lightest."""
    with Image.open(png) as image:
        low, high = image.convert("L").getextrema()
    return bool(high - low > 50)


@DUCKDB_ONLY
def test_the_pdf_reads_like_the_export(
    book: tuple[Workspace, dict[str, float | None]], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ws, r2 = book
    pdf = tmp_path / "R2.pdf"
    kraft(
        ws,
        "report",
        "scorecard",
        "--rm",
        "R2",
        "--period",
        "2026-Q1",
        "--format",
        "pdf",
        "-o",
        str(pdf),
    )
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages and all(not_blank(page) for page in pages)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    row = exported(ws, "2026-Q1")["R2"]
    assert f"{float(row['overall_score']):.2f}" in text  # 107.20
    assert "(R2)" in text and "4 Exceeds" in text and "100.0 %" in text
    assert f"{r2['2026-Q1 documentation_accuracy_rate']:g} %" in text  # 97.5 %
    assert "Manager's comments" in text or "Manager’s comments" in text
    assert "Colour of a status or a change: ■ above target, on track or favourable" in text
    # the 95 % interval keeps its unit: "90.1–99.3 %" on one line, never "%" below it
    assert re.search(r"\d–\d+(\.\d+)? %", text) and units_first(text) == []
    # the trends have a page of their own, where the actual values are drawn as blue lines
    from kraft.reports.charts import SERIES_COLOURS

    content = pdf.read_bytes()
    texts = page_texts(content)
    (trends,) = [i for i, page in enumerate(texts) if page.strip().startswith("Trends")]
    drawn = [pixels_of(page, SERIES_COLOURS[0]) for page in pages_as_png(content)]
    assert drawn[trends] > 30 and drawn[-1] == 0  # the review page has no chart
    saved_pages(content, request.node.name)  # tests/artifacts/: look at them


@DUCKDB_ONLY
def test_all_writes_one_file_per_scored_rm(
    book: tuple[Workspace, dict[str, float | None]], tmp_path: Path
) -> None:
    ws, _ = book
    folder = tmp_path / "cards"
    said = kraft(
        ws, "report", "scorecard", "--all", "--period", "2026-Q1", "-o", str(folder), "--jobs", "2"
    )
    assert "Wrote 4 scorecards for 2026-Q1 (html)" in said
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"R{i}-2026-Q1.html" for i in range(1, 5)]  # never the manager M1
    assert set(exported(ws, "2026-Q1")) == {"R1", "R2", "R3", "R4"}
    single = kraft(ws, "report", "scorecard", "--rm", "R3", "--period", "2026-Q1")
    assert (folder / "R3-2026-Q1.html").read_text(encoding="utf-8") == single
    said = kraft(
        ws,
        "report",
        "scorecard",
        "--all",
        "--period",
        "2025-Q4",
        "--format",
        "md",
        "-o",
        str(folder),
        "--jobs",
        "1",
    )
    assert "Wrote 4 scorecards for 2025-Q4 (md)" in said
    assert {p.name for p in folder.glob("*.md")} == {
        f"{rm}-2025-Q4.md" for rm in exported(ws, "2025-Q4")
    }


@DUCKDB_ONLY
def test_an_open_period_lists_the_kpis_at_risk(workspace: Workspace, tmp_path: Path) -> None:
    """As of 2026-03-15, 2026-Q1 is open: R3's documentation accuracy (90 % to date, a rate, so
    forecast at its value to date) is short of 95 %, as `kraft alerts` says."""
    ws, _ = build(workspace, tmp_path, "2026-03-15")
    md = kraft(ws, "report", "scorecard", "--rm", "R3", "--period", "2026-Q1", "--format", "md")
    alerts = json.loads(kraft(ws, "alerts", "--period", "2026-Q1", "--format", "json"))["alerts"]
    at_risk = [a for a in alerts if a["rm_id"] == "R3" and a["kind"] == "at_risk"]
    assert [(a["kpi_id"], a["forecast"], a["method"]) for a in at_risk] == [
        ("documentation_accuracy_rate", 90.0, "to date")
    ]
    assert "| Policy documentation accuracy rate | 90 % | 90 % | to date | 95 % | 90 % |" in md
    assert "Provisional" in md
