"""Scoring starts when history allows (issue #17 item 6): the default first scored period (a
year after the quarter of the earliest issue_date, pushed on by a tracked table that starts
later), the kraft.toml setting, and what earlier periods get: computed, not scored, not offered
by the period picker, left out of the exports unless --all-periods.

Every expectation is worked out by hand.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from kpi_books import configure, interaction, kraft, load, policy
from kraft.commands.common import open_database
from kraft.errors import KraftError
from kraft.framework.loader import load_builtin
from kraft.periods import Calendar
from kraft.scoring.tracking import default_first_scored
from kraft.web.period_choice import choose_period
from kraft.workspace import Workspace, load_workspace

JANUARY, APRIL = Calendar(1), Calendar(4)


def test_a_year_after_the_quarter_of_the_earliest_issue_date() -> None:
    # 2023-11-15 is in 2023-Q4; a year on: 2024-Q4 (its year-earlier quarter holds the book)
    assert default_first_scored(JANUARY, date(2023, 11, 15), []).label == "2024-Q4"
    assert default_first_scored(JANUARY, date(2023, 10, 1), []).label == "2024-Q4"
    assert default_first_scored(JANUARY, date(2023, 12, 31), []).label == "2024-Q4"
    assert default_first_scored(JANUARY, date(2024, 1, 1), []).label == "2025-Q1"
    # April fiscal year: 2023-11-15 is in FY2024-Q3 (Oct–Dec 2023); a year on, FY2025-Q3
    assert default_first_scored(APRIL, date(2023, 11, 15), []).label == "FY2025-Q3"
    assert default_first_scored(JANUARY, None, [date(2024, 1, 1)]) is None  # no policies


def test_a_tracked_table_that_starts_later_pushes_it() -> None:
    earliest = date(2023, 11, 15)
    # the CRM export starts 2025-02-10: the first quarter starting on or after 2025-02-01
    assert default_first_scored(JANUARY, earliest, [date(2025, 2, 10)]).label == "2025-Q2"
    # starting on a quarter's first month: that quarter
    assert default_first_scored(JANUARY, earliest, [date(2025, 1, 20)]).label == "2025-Q1"
    # starting before the year's lead-in is over: no push
    assert default_first_scored(JANUARY, earliest, [date(2024, 3, 5)]).label == "2024-Q4"
    assert default_first_scored(JANUARY, earliest, [date(2024, 10, 31)]).label == "2024-Q4"
    assert default_first_scored(JANUARY, earliest, [date(2024, 11, 1)]).label == "2025-Q1"


BOOK = {
    "policies": [
        policy("P1", "C1", "RM1", "2023-11-15", premium="1200"),
        policy("P2", "C2", "RM2", "2024-06-01", premium="800"),
    ],
    # the CRM export starts in February 2025
    "interactions": [interaction("I1", "RM1", "meeting", "2025-02-10")],
}
SCORED = {"2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09", "2025-Q2", "2025-Q3"}


def _scored_periods(ws: Workspace) -> set[str]:
    db = open_database(load_workspace(ws.root), read_only=True)
    with db.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT DISTINCT period FROM scores"))}


def _exported(ws: Workspace, *args: str) -> set[str]:
    out = ws.root / "export.csv"
    kraft(ws, "export", *args, "--format", "csv", "-o", str(out))
    with out.open(newline="", encoding="utf-8") as handle:
        return {row["period"] for row in csv.DictReader(handle)}


def test_earlier_periods_are_computed_not_scored_offered_or_exported(
    workspace: Workspace, tmp_path: Path
) -> None:
    configure(workspace, first_scored_period=None)  # the default rule
    vals = load(workspace, tmp_path / "book", BOOK, "2025-09-30")
    assert json.loads(kraft(workspace, "status", "--format", "json"))["first_scored_period"] == (
        "2025-Q2"
    )
    assert _scored_periods(workspace) == SCORED  # the year 2025 starts before 2025-Q2
    # computed all the same (the export behind `load` asked for every period)
    assert vals[("rm", "RM1", "2023-11", "revenue_per_quarter")][0] == 1200.0
    assert vals[("rm", "RM2", "2024-Q2", "revenue_per_quarter")][0] == 800.0
    assert _exported(workspace, "kpi-values") == SCORED
    every = _exported(workspace, "kpi-values", "--all-periods")
    assert {"2023-11", "2023-Q4", "2023", "2024-Q4", "2025"} <= every
    assert _exported(workspace, "scores") == SCORED
    assert _exported(workspace, "scores", "--all-periods") == SCORED  # never scored earlier
    framework = load_builtin("insurance_rm")
    db = open_database(load_workspace(workspace.root), read_only=True)
    with db.connect() as conn:
        choice = choose_period(conn, JANUARY, framework, None)
        offered = {label for _, labels in choice.groups for label in labels}
        assert offered == SCORED
        assert choice.period.label == "2025-Q3"  # the latest closed quarter
        with pytest.raises(KraftError, match="no scores for 2024-Q4"):
            choose_period(conn, JANUARY, framework, "2024-Q4")


def test_the_setting_decides(workspace: Workspace, tmp_path: Path) -> None:
    configure(workspace, first_scored_period="2025-02")
    load(workspace, tmp_path / "book", BOOK, "2025-09-30")
    # from February 2025: its months and the quarters starting after it; not 2025-Q1 or 2025
    assert _scored_periods(workspace) == SCORED | {"2025-02", "2025-03"}
    # a label of the other calendar passes the form check but not the workspace's calendar
    configure(workspace, first_scored_period="FY2025-Q1")
    result = kraft_failing(workspace, "compute")
    assert "first_scored_period" in result and "FY2025-Q1" in result
    (workspace.root / "kraft.toml").write_text(
        (workspace.root / "kraft.toml")
        .read_text(encoding="utf-8")
        .replace('first_scored_period = "FY2025-Q1"', 'first_scored_period = "2025-13"'),
        encoding="utf-8",
    )
    result = kraft_failing(workspace, "status")
    assert "setting first_scored_period" in result and "2024-Q4" in result
    configure(workspace, first_scored_period="2025-02")  # valid again for the audit check


def kraft_failing(ws: Workspace, *args: str) -> str:
    from typer.testing import CliRunner

    from kraft.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    return result.output


def test_the_demo_sets_its_own_first_scored_period() -> None:
    from kraft.commands.demo import demo_first_scored

    # 24 months from 2024-12: the first year is a lead-in, scored from 2025-12 (2026-Q1 on)
    assert demo_first_scored(date(2024, 12, 1), 24) == "2025-12"
    assert demo_first_scored(date(2024, 1, 1), 24) == "2025-01"
    assert demo_first_scored(date(2024, 1, 1), 18) == "2024-07"  # 6 months to spare
    assert demo_first_scored(date(2025, 1, 1), 12) == "2025-01"  # a year or less: all scored
