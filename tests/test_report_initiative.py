"""`kraft report initiative`: the worked example as a document, equal to `kraft initiative impact`.

The book is test_initiative's hand-made one (initiative I1 from 2025-01-01, --window 3m, as of
2025-04-15): participants 2/4 = 50 % → 4/5 = 80 %, non-participants 3/4 → 3/4, so the
difference in differences is +30 points with the 95 % interval [16.67, 66.67] (worked out there).
html and md on both databases; pdf on DuckDB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kpi_books import kraft
from kraft.analysis.initiative import points
from kraft.cli import app
from kraft.reports.charts import SERIES_COLOURS
from kraft.workspace import Workspace
from pdf_checks import not_blank, pages_as_png, pdf_text, pixels_of, units_first
from test_initiative import AS_OF, _book

from books import write_table


@pytest.fixture
def loaded(workspace: Workspace, tmp_path: Path) -> Workspace:
    folder = tmp_path / "book"
    book = _book()
    book["initiatives"][0]["name"] = "Retention <pilot> & co"
    for name, rows in book.items():
        write_table(folder, name, rows)
    kraft(workspace, "import", str(folder), "--as-of", AS_OF)
    return workspace


def impact_json(ws: Workspace) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        kraft(ws, "initiative", "impact", "I1", "--window", "3m", "--format", "json")
    )
    return result


def key_numbers(impact: dict[str, Any]) -> list[str]:
    """The DiD, its interval and the participants' retention rates as the report shows them."""
    did = impact["difference_in_differences"]
    part = impact["groups"]["participants"]
    return [
        f"{points(did['points'], True)} points",
        f"{points(did['interval']['low'])} to {points(did['interval']['high'])}",
        f"{points(part['before']['client_retention_rate'])} %",
        f"{points(part['after']['client_retention_rate'])} %",
    ]


def test_report_equals_the_impact(loaded: Workspace) -> None:
    impact = impact_json(loaded)
    numbers = key_numbers(impact)
    assert numbers == ["+30 points", "16.67 to 66.67", "50 %", "80 %"]

    text = kraft(loaded, "report", "initiative", "I1", "--window", "3m", "--format", "md")
    assert text.startswith("# Retention <pilot> & co (I1): impact report")
    for number in numbers:
        assert number in text, number
    assert impact["conclusion"] in text
    rows = {
        tuple(c.strip() for c in line.strip("|").split("|")[:2]): line
        for line in text.splitlines()
        if line.startswith("|")
    }
    # the four KPIs, both groups, before and after, as `kraft initiative impact` has them
    kpis = {k["id"]: k for k in impact["kpis"]}
    packages = kpis["personalised_packages_sold"]["participants"]
    assert f"| {packages['before']} | {packages['after']} | +2 |" in text
    csat = kpis["post_strategy_csat"]["non_participants"]
    assert f"| {points(csat['before'])} % | {points(csat['after'])} % | -100 pp |" in text
    assert any("Non-participants" in key for key in rows)
    assert "| Participants | 2 | 2 ÷ 4 = 50 % | 4 ÷ 5 = 80 % | +30 |" in text

    html = kraft(loaded, "report", "initiative", "I1", "--window", "3m", "--format", "html")
    assert html.startswith("<!DOCTYPE html>")
    assert "Retention &lt;pilot&gt; &amp; co" in html and "<pilot>" not in html
    for number in numbers:
        assert number in html, number

    out = loaded.root / "impact.md"
    kraft(loaded, "report", "initiative", "I1", "--window", "3m", "--format", "md", "-o", str(out))
    assert out.read_text(encoding="utf-8") == text


def test_report_initiative_refuses_in_one_sentence(loaded: Workspace) -> None:
    def refused(*args: str) -> str:
        result = CliRunner().invoke(app, ["--workspace", str(loaded.root), *args])
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
        return result.output

    assert "no initiative 'I9'" in refused("report", "initiative", "I9")
    assert "--window" in refused("report", "initiative", "I1", "--window", "six")
    assert "--format 'xlsx'" in refused("report", "initiative", "I1", "--format", "xlsx")
    assert "--output" in refused("report", "initiative", "I1", "--format", "pdf")


@pytest.mark.parametrize("database_url", ["duckdb"], indirect=True)
def test_report_pdf_reads_right(loaded: Workspace) -> None:
    out = loaded.root / "impact.pdf"
    kraft(loaded, "report", "initiative", "I1", "--window", "3m", "--format", "pdf", "-o", str(out))
    pdf = out.read_bytes()
    pages = pages_as_png(pdf)
    assert pages and all(not_blank(page) for page in pages)
    assert units_first(pdf_text(pdf)) == []  # no line starts with a unit wrapped off its value
    text = " ".join(pdf_text(pdf).split())  # lines joined: a wrapped sentence reads on
    for number in key_numbers(impact_json(loaded)):
        assert number in text, number
    assert "Difference in differences" in text and "Conclusion" in text
    # the before/after chart is drawn: the non-participants' line in green (no text is green)
    assert "Before and after the start" in text
    assert max(pixels_of(page, SERIES_COLOURS[1]) for page in pages) > 30
