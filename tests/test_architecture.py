"""The architecture is kept by import-linter's contracts in pyproject.toml (docs/architecture.md):
the layers, lowest first, and no import cycle at any depth. The real package keeps them; a copy
of it with an upward import, or with a cycle, planted in it breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src" / "kraft"
LINT = Path(sys.executable).parent / "lint-imports"


def lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with pyproject.toml's contracts, over the kraft found in package_parent."""
    return subprocess.run(
        [str(LINT), str(REPO / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"},
        cwd=package_parent,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(SOURCE, tmp_path / "kraft", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_package_keeps_its_layers_and_has_no_cycle() -> None:
    done = lint(SOURCE.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_an_upward_import_breaks_the_layers(copy: Path) -> None:
    periods = copy / "kraft" / "periods.py"
    periods.write_text(periods.read_text() + "\nfrom kraft.web import app as _app  # planted\n")
    done = lint(copy)
    assert done.returncode == 1, done.stdout
    assert "kraft.periods -> kraft.web.app" in done.stdout
    assert "web / CLI BROKEN" in done.stdout  # the layers' contract (and the cycle it makes)


def test_an_indirect_upward_import_breaks_the_layers(copy: Path) -> None:
    """metrics reaches the core through a module of its own layer: still upward."""
    planted = copy / "kraft" / "metrics" / "planted.py"
    planted.write_text("from kraft.core import context as _context\n")
    done = lint(copy)
    assert done.returncode == 1, done.stdout
    assert "kraft.metrics.planted -> kraft.core.context" in done.stdout


def test_a_cycle_between_modules_of_one_layer_is_found(copy: Path) -> None:
    scoring = copy / "kraft" / "scoring"
    (scoring / "first_planted.py").write_text("from kraft.scoring import second_planted\n")
    (scoring / "second_planted.py").write_text("from kraft.scoring import first_planted\n")
    done = lint(copy)
    assert done.returncode == 1, done.stdout
    assert "No import cycles, at any depth BROKEN" in done.stdout
    assert "first_planted" in done.stdout and "second_planted" in done.stdout
