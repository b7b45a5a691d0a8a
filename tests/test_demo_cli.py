"""`kraft demo` builds a workspace whose book went through the import validation."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kraft.cli import app


def _status(runner: CliRunner, folder: Path) -> dict[str, object]:
    result = runner.invoke(app, ["--workspace", str(folder), "status", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_demo_imports_a_deterministic_book(runner: CliRunner, tmp_path: Path) -> None:
    args = ["--rms", "12", "--months", "6", "--seed", "3", "--start", "2024-01"]
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


def test_demo_rejects_a_bad_start(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", str(tmp_path / "x"), "--start", "2024-13"])
    assert result.exit_code == 1
    assert "--start '2024-13' is not a month; write it as YYYY-MM." in result.output
