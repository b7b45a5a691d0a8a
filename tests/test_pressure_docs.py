"""docs/operations.md names only real commands: every `kraft …` line in its code blocks is a
command of the CLI, with options it has."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from kraft.cli import app as cli

from conftest import REPO

DOC = REPO / "docs" / "operations.md"
GROUPS = ("db", "users", "audit", "framework", "report", "export", "targets", "initiative")


def _invocations() -> list[list[str]]:
    """The words after each `kraft` in the doc's code blocks (workspace option left out)."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    found = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            for match in re.finditer(r"(?:^\s*|/bin/|&&\s*)kraft((?: [^|&;<>`#]+)+)", line):
                words = shlex.split(match[1].split("#")[0])
                if words[:1] == ["-w"]:
                    words = words[2:]
                if words and not words[0].startswith(("-", "/", "$")) and "." not in words[0]:
                    found.append(words)
    return found


INVOCATIONS = _invocations()


def test_the_doc_runs_kraft_commands() -> None:
    named = {w[0] for w in INVOCATIONS}
    assert {"init", "import", "compute", "serve", "db", "users", "status"} <= named


@pytest.mark.parametrize("words", INVOCATIONS, ids=" ".join)
def test_each_command_and_option_exists(words: list[str]) -> None:
    path = words[:2] if words[0] in GROUPS else words[:1]
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, f"`kraft {' '.join(path)}` is not a command: {result.output}"
    for option in (w.split("=")[0] for w in words if w.startswith("--")):
        assert option in result.output, f"`kraft {' '.join(path)}` has no option {option}"
