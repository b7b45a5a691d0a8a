"""`kraft demo` builds a workspace whose book went through the import validation."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.core.demo import fitting_periods, round_figure
from kraft.framework.loader import load_builtin
from kraft.framework.model import Unit
from kraft.periods import Calendar, Grain


def _status(runner: CliRunner, folder: Path) -> dict[str, object]:
    result = runner.invoke(app, ["--workspace", str(folder), "status", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_demo_imports_a_deterministic_book(runner: CliRunner, tmp_path: Path) -> None:
    args = ["--rms", "12", "--months", "6", "--seed", "3", "--start", "2024-01", "--no-reports"]
    result = runner.invoke(app, ["demo", str(tmp_path / "a"), *args])
    assert result.exit_code == 0, result.output
    assert "Import 1 committed; data as of 2024-06-30 (--as-of)." in result.output
    first = _status(runner, tmp_path / "a")
    tables = first["tables"]
    assert isinstance(tables, dict)
    for name in (
        "teams",
        "relationship_managers",
        "clients",
        "policies",
        "leads",
        "interactions",
        "claims",
        "surveys",
        "activities",
        "tool_usage",
        "measurements",
        "initiatives",
        "initiative_participants",
    ):
        assert tables[name] > 0, name
    assert first["as_of"] == "2024-06-30"
    assert first["periods"]["last"] == "2024-06"  # type: ignore[index]

    runner.invoke(app, ["demo", str(tmp_path / "b"), *args])
    assert _status(runner, tmp_path / "b")["tables"] == tables

    again = runner.invoke(app, ["demo", str(tmp_path / "a"), *args])
    assert again.exit_code == 0, again.output
    assert _status(runner, tmp_path / "a")["tables"] == tables  # replaced, not doubled
    assert not (tmp_path / "a" / "reports").exists()


def test_demo_writes_its_reports(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    args = ["--rms", "12", "--months", "12", "--seed", "3", "--start", "2024-01"]
    result = runner.invoke(app, ["demo", str(folder), *args])
    assert result.exit_code == 0, result.output
    reports = folder / "reports"
    written = sorted(p.name for p in reports.iterdir())
    # As of 2024-12-31: the last closed quarter is 2024-Q4.
    assert "framework.html" in written
    assert "company-2024-Q4.html" in written
    assert "initiative-INIT-RETENTION.html" in written
    teams = [n for n in written if n.startswith("team-")]
    cards = [n for n in written if n.startswith("scorecard-")]
    assert len(teams) == 1 and teams[0].endswith("-2024-Q4.html")
    assert 1 <= len(cards) <= 3 and all(n.endswith("-2024-Q4.html") for n in cards)
    for name in written:  # every path is printed for the user
        assert str(reports / name) in result.output
    # The strongest RM's scorecard shows the overall score that `kraft export scores` has.
    exported = runner.invoke(
        app,
        ["--workspace", str(folder), "export", "scores", "--format", "json", "--period", "2024-Q4"],
    )
    assert exported.exit_code == 0, exported.output
    rows = [r for r in json.loads(exported.output) if r["overall_score"] is not None]
    best = max(rows, key=lambda r: (r["overall_score"], [-ord(c) for c in r["rm_id"]]))
    page = (reports / f"scorecard-{best['rm_id']}-2024-Q4.html").read_text(encoding="utf-8")
    assert f"{best['overall_score']:.2f}" in page
    assert "Relationship Manager In Insurance KRA/KPI" in (reports / "framework.html").read_text(
        encoding="utf-8"
    )


def test_demo_rejects_a_bad_start(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", str(tmp_path / "x"), "--start", "2024-13"])
    assert result.exit_code == 1
    assert "--start '2024-13' is not a month; write it as YYYY-MM." in result.output


def test_the_demo_fits_its_count_and_currency_targets_to_its_book(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A default target 60–140 % away from the book's median RM is replaced by the median (two
    significant digits, threshold the lowest fifth's value), saved as the company's target and
    audited; the defaults that fit stay."""
    args = ["--rms", "20", "--months", "12", "--start", "2025-01", "--no-reports"]
    result = runner.invoke(app, ["demo", str(tmp_path / "d"), *args])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["-w", str(tmp_path / "d"), "targets", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    saved = {t["kpi_id"]: t for t in json.loads(listed.output) if t["scope_type"] == "org"}
    revenue = saved["revenue_per_quarter"]
    assert revenue["current"] and revenue["recorded_by"].startswith("cli:")
    target, threshold = Decimal(str(revenue["target"])), Decimal(str(revenue["threshold"]))
    assert target == round_figure(target) and threshold == round_figure(threshold)
    assert 0 < threshold < target
    assert f"The demo's revenue_per_quarter target is {target:f}" in result.output
    assert "client_meetings_per_month" not in saved  # its default fits the book


@pytest.mark.parametrize(
    ("grain", "as_of", "expected"),
    [
        (Grain.quarter, date(2026, 11, 30), ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]),
        (Grain.quarter, date(2026, 9, 30), ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]),
        (Grain.month, date(2026, 2, 1), [f"2025-{m:02d}" for m in range(1, 13)]),
        (Grain.year, date(2026, 11, 30), ["2025"]),
        (Grain.year, date(2026, 12, 31), ["2026"]),
    ],
)
def test_targets_are_fitted_on_the_four_quarters_closed_by_the_as_of_date(
    grain: Grain, as_of: date, expected: list[str]
) -> None:
    assert fitting_periods(Calendar(1), grain, as_of) == expected


@pytest.mark.parametrize(
    ("median", "rounded"),
    [("6931798.90", "6900000"), ("5545439.12", "5500000"), ("95", "95"), ("0.456", "0.46")],
)
def test_a_fitted_target_is_a_round_figure(median: str, rounded: str) -> None:
    assert round_figure(Decimal(median)) == Decimal(rounded)


def test_the_demo_book_reads_like_a_real_one(runner: CliRunner, tmp_path: Path) -> None:
    """make demo's book (seed 7, 50 RMs × 24 months to 2026-11-30): in its last closed quarter every
    rating band has RMs, Meets is the most common, at most 15 % are Unsatisfactory, the median RM
    of every count and currency KPI lies within 60–140 % of its target; in its open quarter a
    minority is at risk (docs/demo-book.md, "How the demo book reads")."""
    workspace = tmp_path / "demo"
    made = runner.invoke(app, ["demo", str(workspace), "--start", "2024-12", "--no-reports"])
    assert made.exit_code == 0, made.output
    scored = runner.invoke(
        app, ["-w", str(workspace), "scores", "--period", "2026-Q3", "--format", "json"]
    )
    ratings = Counter(row["rating"] for row in json.loads(scored.output))
    assert set(ratings) == {1, 2, 3, 4, 5}
    assert ratings.most_common(1)[0][0] == 3
    assert ratings[1] <= 0.15 * ratings.total()
    with duckdb.connect(str(workspace / "kraft.duckdb"), read_only=True) as conn:
        medians = conn.execute(MEDIAN_AGAINST_TARGET, [sorted(SIZED_KPIS), YEARLY_KPIS]).fetchall()
    assert {kpi for kpi, _ in medians} == SIZED_KPIS - {"regulatory_violations"}
    assert all(0.6 <= ratio <= 1.4 for _, ratio in medians), medians
    alerts = runner.invoke(app, ["-w", str(workspace), "alerts", "--format", "json"])
    assert 0 < json.loads(alerts.output)["rms_total"] < ratings.total() / 2


SIZED_KPIS = {
    kpi.id
    for _, kpi in load_builtin("insurance_rm").kpis()
    if kpi.unit in (Unit.count, Unit.count_per_month, Unit.currency)
}
YEARLY_KPIS = [k.id for _, k in load_builtin("insurance_rm").kpis() if k.grain is Grain.year]
# The median RM's value over its target on the 2026-Q3 scorecards (a month KPI's value and target
# there are its quarter's), year KPIs on the 2026 ones (to date); a target of 0 has no ratio.
MEDIAN_AGAINST_TARGET = """
    SELECT item_id, median(actual) / any_value(target)::DOUBLE
    FROM scores
    WHERE level = 'kpi' AND item_id IN (SELECT unnest(?)) AND actual IS NOT NULL AND target > 0
      AND (grain, period) IN (('quarter', '2026-Q3'), ('year', '2026'))
      AND (grain = 'year') = (item_id IN (SELECT unnest(?)))
    GROUP BY item_id
"""
