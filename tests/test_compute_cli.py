"""`kraft compute`, `kraft export kpi-values` and `kraft explain` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from kraft.cli import app
from kraft.workspace import Workspace

from books import BASE, write_book


def kraft(runner: CliRunner, ws: Workspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--workspace", str(ws.root), *args])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output
    return result.exit_code, output


def exported(runner: CliRunner, ws: Workspace, *args: str) -> list[dict[str, str]]:
    code, output = kraft(runner, ws, "export", "kpi-values", "--format", "csv", *args)
    assert code == 0, output
    return list(csv.DictReader(io.StringIO(output)))


@pytest.fixture
def loaded(runner: CliRunner, workspace: Workspace, tmp_path: Path) -> Workspace:
    code, output = kraft(
        runner, workspace, "import", str(write_book(tmp_path / "book")), "--as-of", "2025-03-31"
    )
    assert code == 0, output
    return workspace


def test_compute_export_and_recompute(runner: CliRunner, loaded: Workspace) -> None:
    code, output = kraft(runner, loaded, "compute")
    assert code == 0, output
    assert "Computed 38 KPIs for 2024-01 to 2025-03 (as of 2025-03-31)" in output
    rows = exported(runner, loaded)
    assert list(rows[0]) == [
        "entity_type",
        "entity_id",
        "period",
        "kpi_id",
        "value",
        "numerator",
        "denominator",
        "provisional",
    ]
    keys = {(r["entity_type"], r["entity_id"], r["period"], r["kpi_id"]) for r in rows}
    assert len(keys) == len(rows)
    assert ("org", "org", "2024-Q1", "revenue_per_quarter") in keys
    assert ("rm", "M1", "2024-Q1", "revenue_per_quarter") not in keys  # managers have no values
    revenue = {
        r["period"]: r
        for r in rows
        if r["entity_id"] == "RM1"
        and r["kpi_id"] == "revenue_per_quarter"
        and r["period"].endswith(("Q1", "2024"))
    }
    assert float(revenue["2024-Q1"]["value"]) == 15000.0  # P1 issued 2024-01-10
    assert float(revenue["2025-Q1"]["value"]) == 16000.5  # P2 issued 2025-01-10
    assert float(revenue["2024"]["value"]) == 15000.0

    code, output = kraft(runner, loaded, "compute")
    assert code == 0, output
    assert len(exported(runner, loaded)) == len(rows)  # replaced, not added


def test_compute_limits_grain_and_periods(runner: CliRunner, loaded: Workspace) -> None:
    code, output = kraft(
        runner, loaded, "compute", "--grain", "quarter", "--from", "2024-Q3", "--to", "2024-Q4"
    )
    assert code == 0, output
    periods = {r["period"] for r in exported(runner, loaded)}
    assert periods == {"2024-Q3", "2024-Q4"}
    quarter = exported(runner, loaded, "--entity-type", "team", "--from", "2024-Q4")
    assert {r["entity_type"] for r in quarter} == {"team"}
    assert {r["period"] for r in quarter} == {"2024-Q4"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2024-13"], "--from: '2024-13' is not a period label"),
        (["--grain", "week"], "--grain 'week' is not month, quarter, year or all."),
        (["--as-of", "31/03/2025"], "--as-of '31/03/2025' is not a date"),
        (["--from", "2026-Q1"], "Nothing to compute"),
    ],
)
def test_compute_refuses_bad_options(
    runner: CliRunner, loaded: Workspace, args: list[str], message: str
) -> None:
    code, output = kraft(runner, loaded, "compute", *args)
    assert code == 1
    assert message in output


def test_compute_without_data_says_what_to_do(runner: CliRunner, workspace: Workspace) -> None:
    code, output = kraft(runner, workspace, "compute")
    assert code == 1
    assert "run `kraft import` (or `kraft demo`) first" in output


def test_engine_must_be_the_workspace_database(runner: CliRunner, loaded: Workspace) -> None:
    other = "postgres" if "duckdb" in loaded.settings.database_url else "duckdb"
    code, output = kraft(runner, loaded, "compute", "--engine", other)
    assert code == 1
    assert "cannot compute on this workspace's" in output


def test_export_formats(runner: CliRunner, loaded: Workspace, tmp_path: Path) -> None:
    kraft(runner, loaded, "compute", "--grain", "year")
    code, output = kraft(runner, loaded, "export", "kpi-values", "--format", "json")
    assert code == 0
    records = json.loads(output)
    assert {"entity_type", "value", "provisional"} <= set(records[0])
    for fmt in ("parquet", "xlsx"):
        target = tmp_path / f"values.{fmt}"
        code, output = kraft(
            runner, loaded, "export", "kpi-values", "--format", fmt, "-o", str(target)
        )
        assert code == 0, output
    assert pq.read_table(tmp_path / "values.parquet").num_rows == len(records)
    sheet = load_workbook(tmp_path / "values.xlsx").active
    assert sheet is not None
    assert sheet.max_row == len(records) + 1
    code, output = kraft(runner, loaded, "export", "kpi-values", "--format", "parquet")
    assert code == 1
    assert "needs --output FILE" in output


def test_explain_lists_the_rows_behind_a_value(runner: CliRunner, loaded: Workspace) -> None:
    kraft(runner, loaded, "compute")
    code, output = kraft(
        runner,
        loaded,
        "explain",
        "--rm",
        "RM1",
        "--kpi",
        "client_retention_rate",
        "--period",
        "2025-Q1",
        "--sql",
    )
    assert code == 0, output
    # P1 (client C1) ended 2025-01-14 and was renewed by P2 starting 2025-01-15.
    # final: Q1 is over on the as-of date (2025-03-31) and its only due policy has renewed
    assert "Value: 100 %\nNumerator: 1\nDenominator: 1\n" in output
    assert "1 row(s); final" in output
    assert "None" not in output and not re.search(r"\d\.\d{3,}", output)
    assert "P1" in output
    assert "due_policies · 2025-Q1: 1 row(s)" in output
    assert "SELECT" in output
    code, output = kraft(
        runner,
        loaded,
        "explain",
        "--rm",
        "RM9",
        "--kpi",
        "client_retention_rate",
        "--period",
        "2025-Q1",
    )
    assert code == 1
    assert "There is no RM 'RM9'" in output
    code, output = kraft(
        runner, loaded, "explain", "--rm", "RM1", "--kpi", "nope", "--period", "2025-Q1"
    )
    assert code == 1
    assert "'nope' is not a KPI of framework insurance_rm" in output


def test_export_neutralises_formula_ids(
    runner: CliRunner, workspace: Workspace, tmp_path: Path
) -> None:
    book = {
        **BASE,
        "relationship_managers": [
            *BASE["relationship_managers"],
            {"rm_id": "=cmd", "name": "Evil", "team_id": "T1"},
        ],
    }
    kraft(runner, workspace, "import", str(write_book(tmp_path / "book", book)))
    kraft(runner, workspace, "compute", "--grain", "year")
    ids = {r["entity_id"] for r in exported(runner, workspace, "--entity-type", "rm")}
    assert "'=cmd" in ids
    assert "=cmd" not in ids


@pytest.mark.slow
def test_killed_compute_leaves_the_previous_values(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = runner.invoke(
        app, ["demo", str(folder), "--rms", "150", "--months", "24", "--start", "2023-01"]
    )
    assert result.exit_code == 0, result.output
    before = exported_file(folder)
    outcomes = set()
    for delay in (1.0, 2.0, 3.0):
        process = subprocess.Popen(
            [sys.executable, "-m", "kraft", "--workspace", str(folder), "compute"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            outcomes.add("killed")
        process.wait()
        after = exported_file(folder)
        assert after == before  # the same values: all old, or (finished) all recomputed
    assert "killed" in outcomes


def exported_file(folder: Path) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kraft",
            "--workspace",
            str(folder),
            "export",
            "kpi-values",
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout
