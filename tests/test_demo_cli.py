"""`kraft demo` builds a workspace whose book went through the import validation."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.core.demo import round_figure


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
    significant digits, threshold in the default's ratio), saved as the company's target and
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
    assert target == round_figure(target) and threshold == round_figure(target * Decimal("0.8"))
    assert f"The demo's revenue_per_quarter target is {target:f}" in result.output
    assert "client_meetings_per_month" not in saved  # its default fits the book


@pytest.mark.parametrize(
    ("median", "rounded"),
    [("6931798.90", "6900000"), ("5545439.12", "5500000"), ("95", "95"), ("0.456", "0.46")],
)
def test_a_fitted_target_is_a_round_figure(median: str, rounded: str) -> None:
    assert round_figure(Decimal(median)) == Decimal(rounded)
