"""A real `kraft import` process killed midway leaves the database exactly as it was before."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kraft.workspace import Workspace

from books import write_book

ROWS = 200_000


def _kraft(ws: Workspace, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kraft", "--workspace", str(ws.root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _big_batch(folder: Path) -> Path:
    folder.mkdir()
    with (folder / "clients.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["client_id", "name"])
        writer.writerows([f"K{i:07d}", f"Client {i}"] for i in range(ROWS))
    with (folder / "policies.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "policy_id",
                "client_id",
                "rm_id",
                "product_line",
                "business_type",
                "issue_date",
                "start_date",
                "end_date",
                "status",
                "annual_premium",
            ]
        )
        writer.writerows(
            [
                f"Q{i:07d}",
                f"K{i:07d}",
                "RM1",
                "motor",
                "new",
                "2024-05-01",
                "2024-05-01",
                "2025-04-30",
                "expired",
                "12000.50",
            ]
            for i in range(ROWS)
        )
    return folder


def _counts(ws: Workspace) -> dict[str, int]:
    result = _kraft(ws, "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["tables"]  # type: ignore[no-any-return]


@pytest.mark.slow
def test_killed_import_leaves_the_previous_data(workspace: Workspace, tmp_path: Path) -> None:
    assert _kraft(workspace, "import", str(write_book(tmp_path / "base"))).returncode == 0
    before = _counts(workspace)
    batch = _big_batch(tmp_path / "big")
    outcomes = set()
    for delay in (0.8, 1.6, 2.4, 3.2):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kraft",
                "--workspace",
                str(workspace.root),
                "import",
                str(batch),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        after = _counts(workspace)
        if after == before:
            outcomes.add("previous")
            continue
        # The import finished before the kill: then all of it is there, never a part.
        assert after["clients"] == before["clients"] + ROWS
        assert after["policies"] == before["policies"] + ROWS
        outcomes.add("complete")
        break
    assert "previous" in outcomes, "no import was killed midway; raise ROWS"
    verify = _kraft(workspace, "audit", "verify")
    assert verify.returncode == 0, verify.stderr
