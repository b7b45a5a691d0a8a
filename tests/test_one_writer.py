"""While another process holds the DuckDB file, a command stops with one sentence."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from kraft.cli import app

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_a_locked_database_is_one_clear_sentence(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["init", str(tmp_path / "ws")]).exit_code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "ws" / "kraft.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        before = time.perf_counter()
        result = runner.invoke(app, ["--workspace", str(tmp_path / "ws"), "status"])
        assert time.perf_counter() - before < 30
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert "is in use by another process" in result.output
    assert "stop that process" in result.output
    assert "Traceback" not in result.output
    assert runner.invoke(app, ["--workspace", str(tmp_path / "ws"), "status"]).exit_code == 0
