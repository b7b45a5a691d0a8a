"""Shared fixtures: the seed document beside the repo, and the CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KRAFT_SHARED", REPO.parent / "shared"))
SEED = SHARED / "seed" / "relationship-manager-insurance-kra-kpi.txt"


@pytest.fixture
def seed_text() -> str:
    if not SEED.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the seed document is missing at {SEED}; CI must have ../shared")
        pytest.skip(f"the seed document is not at {SEED} (set KRAFT_SHARED)")
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _no_ambient_workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never pick up a developer's workspace from the environment or the folders above."""
    monkeypatch.delenv("KRAFT_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
