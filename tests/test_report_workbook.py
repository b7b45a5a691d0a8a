"""The management report's workbook (`kraft report team ... --format xlsx`): it opens with
openpyxl, its values equal `kraft export scores` and `kraft export kpi-values` cell for cell, and
it has real number formats, frozen headers, filters, status colours and neutralised text.

The hand-built book is test_report_team's (both databases); a tiny demo book (DuckDB) adds the
full framework's currency and count KPIs.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kpi_books import kraft
from kraft.cli import app
from kraft.framework.model import Unit
from kraft.reports.workbook import currency_format, unit_format
from kraft.workspace import Workspace, find_workspace
from test_report_team import Q1, exported_values, scored

__all__ = ["scored"]  # the fixture


# LibreOffice's CSV filter: comma-separated, double-quoted, UTF-8 (76), first line as is.
CSV_UTF8 = "csv:Text - txt - csv (StarCalc):44,34,76,1"


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def test_workbook_equals_the_exports(scored: Workspace, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    book_file = tmp_path / "company.xlsx"
    kraft(
        scored, "report", "team", "--org", "--period", Q1, "--format", "xlsx", "-o", str(book_file)
    )
    book = load_workbook(book_file)
    assert book.sheetnames == [
        "leaderboard", "scores", "kpi_scores", "kpi_values", "targets", "framework",
    ]  # fmt: skip
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref, sheet.title

    # scores: the export's columns and values, cell for cell
    text = kraft(scored, "export", "scores", "--period", Q1)
    export = list(csv.reader(io.StringIO(text)))
    sheet = book["scores"]
    rows = [[*r[:1], *r[4:]] for r in sheet.iter_rows(values_only=True)]  # less name, team
    assert rows[0] == export[0]
    assert [[_same(v) for v in row] for row in rows[1:]] == [
        [_same(v) for v in row] for row in export[1:]
    ]
    assert [c.value for c in sheet[1][1:4]] == ["name", "team_id", "team_name"]
    assert sheet["F2"].number_format == "0.00"
    assert sheet.conditional_formatting  # ratings coloured

    # kpi_values: the export's rows of the period (RMs, teams, company)
    values = exported_values(scored, Q1)
    sheet = book["kpi_values"]
    header, *body = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header == list(values[0])
    got = sorted(tuple(map(_same, row)) for row in body)
    assert got == sorted(tuple(map(_same, r.values())) for r in values)
    percent = next(c for c in sheet["E"][1:] if c.value is not None)
    assert percent.number_format == '0.00" %"'

    # kpi_scores are coloured by status; text that looks like a formula is neutralised
    statuses = {r[11] for r in book["kpi_scores"].iter_rows(min_row=2, values_only=True)}
    assert {"above target", "on track", "insufficient volume", "no data"} <= statuses
    assert book["kpi_scores"].conditional_formatting
    assert book["kpi_scores"]["F2"].number_format == "#,##0"  # volume: cases, whole
    assert book["kpi_scores"]["K2"].number_format == "0.00"  # score
    names = {r[1]: r[2] for r in book["leaderboard"].iter_rows(min_row=2, values_only=True)}
    assert names["R3"] == "'=Bina"
    assert [r[5] for r in book["framework"].iter_rows(min_row=2, values_only=True)] == [
        "documentation_accuracy_rate",
        "customer_satisfaction_score",
    ]


def test_libreoffice_reads_the_workbook(scored: Workspace, tmp_path: Path) -> None:
    """The workbook opens in another spreadsheet program: LibreOffice converts it to CSV."""
    office = _soffice()
    if office is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is missing; .ci/run installs it")
        pytest.skip("LibreOffice (soffice) is not installed")
    book_file = tmp_path / "company.xlsx"
    kraft(
        scored, "report", "team", "--org", "--period", Q1, "--format", "xlsx", "-o", str(book_file)
    )
    subprocess.run(
        [office, "--headless", "--convert-to", CSV_UTF8, "--outdir", str(tmp_path), str(book_file)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    first = (tmp_path / "company.csv").read_text(encoding="utf-8")  # the first sheet
    assert "R2" in first and "107.2" in first


def _same(value: Any) -> Any:
    """A cell or a CSV field as a comparable value: numbers as floats to 16 significant digits
    (openpyxl writes a float as "%.16g", as `kraft export ... --format xlsx` does too, so a
    double of 17 digits loses its last one; Excel keeps no int/float distinction either), the
    rest as CSV text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return float(f"{value:.16g}")
    if isinstance(value, str):
        try:
            return float(f"{float(value):.16g}")
        except ValueError:
            return value
    return "" if value is None else str(value)


def test_demo_workbook_formats_by_unit(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    root = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", str(root), "--rms", "12", "--months", "12"])
    assert result.exit_code == 0, result.output
    ws = find_workspace(root)
    book_file = tmp_path / "team.xlsx"
    kraft(ws, "report", "team", "--team", "T003", "--format", "xlsx", "-o", str(book_file))
    book = load_workbook(book_file)
    period = book["scores"]["E2"].value  # after rm_id, name, team_id and team_name
    export = list(csv.reader(io.StringIO(kraft(ws, "export", "scores", "--period", period))))
    by_rm = {row[0]: row for row in export[1:]}
    sheet_rms = [r[0] for r in book["scores"].iter_rows(min_row=2, values_only=True)]
    for row in book["scores"].iter_rows(min_row=2, values_only=True):
        assert [_same(v) for v in (row[0], *row[4:])] == [_same(v) for v in by_rm[row[0]]]
        assert row[1] and row[2] == "T003" and row[3]  # the RM's name, team and its name
    assert sheet_rms and set(sheet_rms) < set(by_rm)  # the team's RMs only

    values = {
        (r["entity_type"], r["entity_id"], r["kpi_id"]): r for r in exported_values(ws, period)
    }
    formats = {}
    keys = set()
    for row in book["kpi_values"].iter_rows(min_row=2):
        key = (row[0].value, row[1].value, row[3].value)
        keys.add(key)
        assert _same(row[4].value) == _same(values[key]["value"]), key
        formats[row[3].value] = row[4].number_format
    assert ("team", "T003", "revenue_per_quarter") in keys
    assert formats["revenue_per_quarter"] == currency_format("INR")
    assert formats["client_retention_rate"] == '0.00" %"'
    assert formats["claims_settlement_time"] == '0.0" days"'
    targets = list(book["targets"].iter_rows(min_row=2, values_only=True))
    assert ("framework", "revenue_per_quarter") in {(r[0], r[2]) for r in targets}


def test_number_formats() -> None:
    assert currency_format("INR") == (
        '[>=10000000]"₹"##\\,##\\,##\\,##0;[>=100000]"₹"##\\,##\\,##0;"₹"#,##0.00'
    )
    assert currency_format("USD") == '[>=100000]"$"#,##0;"$"#,##0.00'  # whole from 100,000
    assert currency_format("CHF") == '[>=100000]#,##0 "CHF";#,##0.00 "CHF"'
    assert unit_format(Unit.percent, "INR") == '0.00" %"'
    assert unit_format(Unit.count, "INR") == "#,##0.##"
