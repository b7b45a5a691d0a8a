"""Docs generated from code must match what is committed (`make docs` regenerates them), and the
README's commands work as printed."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.framework import format_doc
from kraft.schema import contract_doc

from conftest import REPO


def test_framework_format_doc_is_current() -> None:
    committed = (REPO / "docs" / "framework-format.md").read_text(encoding="utf-8")
    assert committed == format_doc.render(), "run `make docs` and commit docs/framework-format.md"


def test_data_contract_doc_is_current() -> None:
    committed = (REPO / "docs" / "data-contract.md").read_text(encoding="utf-8")
    assert committed == contract_doc.render(), "run `make docs` and commit docs/data-contract.md"


def test_readme_links_the_format_doc_and_names_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/framework-format.md" in readme
    assert "make demo" in readme and "make test" in readme


def readme_demo_commands() -> list[list[str]]:
    """The commands the README gives to try after `make demo`, as argument lists."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("Then try:\n\n```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def test_the_readme_demo_commands_run_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each runs on a demo workspace whose last closed quarter is the README's (`serve`, which
    would not return, only as far as its --help)."""
    commands = readme_demo_commands()
    assert len(commands) >= 5
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    demo = ["demo", "demo-workspace", "--rms", "8", "--months", "12", "--start", "2025-12"]
    made = runner.invoke(app, [*demo, "--no-reports"])
    assert made.exit_code == 0, made.output
    for command in commands:
        assert command[:3] == [".venv/bin/kraft", "-w", "demo-workspace"], command
        args = command[1:] + (["--help"] if command[3] == "serve" else [])
        result = runner.invoke(app, args, env={"COLUMNS": "100"})
        assert result.exit_code == 0, f"{shlex.join(command)}:\n{result.output}"
