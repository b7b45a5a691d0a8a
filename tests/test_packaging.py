"""The wheel carries the YAML and templates: install it into a fresh venv and render from there."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conftest import REPO

PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]


@pytest.mark.slow
def test_wheel_installs_and_renders_in_a_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [*PIP_WHEEL, "-w", str(dist), str(REPO)],
        check=True,
    )
    wheel = next(dist.glob("kraft-*.whl"))
    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)], check=True
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    result = subprocess.run(
        [str(bin_dir / "kraft"), "framework", "render", "--format", "html", "-o", "fw.html"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    html = (work / "fw.html").read_text(encoding="utf-8")
    assert "<h1>Relationship Manager In Insurance KRA/KPI</h1>" in html
    assert html.count("<li>") == 40 + 4 + 3
    validate = subprocess.run(
        [str(bin_dir / "kraft"), "framework", "validate"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
