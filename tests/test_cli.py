"""The CLI end to end through Typer's runner: output, exit codes, and no traceback on bad input."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.framework.loader import dump_framework, load_builtin, parse_framework


def run(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    return result.exit_code, output


def test_help_lists_the_commands(runner: CliRunner) -> None:
    code, output = run(runner, "--help")
    assert code == 0
    for command in ("init", "framework"):
        assert command in output
    code, output = run(runner, "framework", "--help")
    for command in ("show", "validate", "render", "new"):
        assert command in output


def test_version(runner: CliRunner) -> None:
    assert run(runner, "--version") == (0, "kraft 0.1.0\n")


def test_init_then_validate_in_the_workspace(runner: CliRunner, tmp_path: Path) -> None:
    code, output = run(runner, "init", "ws", "--fiscal-year-start-month", "4")
    assert code == 0 and "Created a kraft workspace" in output
    assert "fiscal_year_start_month = 4" in (tmp_path / "ws" / "kraft.toml").read_text()
    code, output = run(runner, "init", "ws")
    assert code == 0 and "settings are unchanged" in output
    code, output = run(runner, "--workspace", "ws", "framework", "validate")
    assert code == 0
    assert "insurance_rm: 40 KPIs in 10 KRAs pass every SMART and structure rule." in output


def test_init_refuses_an_unknown_framework(runner: CliRunner, tmp_path: Path) -> None:
    code, output = run(runner, "init", "ws", "--framework", "nope")
    assert code == 1
    assert "Framework 'nope' is neither a built-in" in output
    assert not (tmp_path / "ws").exists()


def test_commands_use_the_workspace_framework(runner: CliRunner, tmp_path: Path) -> None:
    fw = load_builtin("insurance_rm").model_copy(update={"role": "Bancassurance RM"})
    (tmp_path / "custom.yaml").write_text(dump_framework(fw))
    run(runner, "init", ".", "--framework", "custom.yaml")
    code, output = run(runner, "framework", "render")
    assert code == 0 and output.startswith("# Bancassurance RM KRA/KPI\n")


def test_explicit_missing_workspace_is_one_sentence(runner: CliRunner) -> None:
    code, output = run(runner, "--workspace", "nowhere", "framework", "show")
    assert code == 1
    assert "nowhere is not a kraft workspace (it has no kraft.toml); run `kraft init" in output


def test_show_prints_the_tree(runner: CliRunner) -> None:
    code, output = run(runner, "framework", "show")
    assert code == 0
    assert "Relationship Manager In Insurance KRA/KPI" in output
    assert "6. Team Collaboration and Leadership" in output and "team leaders only" in output
    assert "Example: Client Retention Strategy Implementation" in output
    assert output.count("target ") == 40


def test_render_html_to_a_file(runner: CliRunner, tmp_path: Path) -> None:
    code, output = run(
        runner, "framework", "render", "--format", "html", "--detailed", "-o", "out/fw.html"
    )
    assert code == 0 and "Wrote the insurance_rm framework document (html)" in output
    html = (tmp_path / "out" / "fw.html").read_text()
    assert "<h1>Relationship Manager In Insurance KRA/KPI</h1>" in html
    assert "SMART definitions" in html


def test_render_rejects_an_unknown_format(runner: CliRunner) -> None:
    code, output = run(runner, "framework", "render", "--format", "docx")
    assert code == 2 and "docx" in output


def test_validate_reports_a_broken_framework_as_a_table(runner: CliRunner, tmp_path: Path) -> None:
    fw = load_builtin("insurance_rm")
    kras = list(fw.kras)
    kras[0] = kras[0].model_copy(update={"weight": Decimal(14)})
    (tmp_path / "broken.yaml").write_text(
        dump_framework(fw.model_copy(update={"kras": tuple(kras)}))
    )
    code, output = run(runner, "framework", "validate", "broken.yaml")
    assert code == 1
    assert "error\tKRA weights\tframework\tKRA weights sum to 99, not 100\t" in output
    assert "1 error(s), 0 warning(s) in 40 KPIs" in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id: [unclosed\n", "line 2, column 1: YAML syntax error"),
        ("", "is empty"),
        ("- a\n- b\n", "must be a YAML mapping"),
        (
            "id: x\nrole: r\ntitle: t\nkras: []\n",
            "line 4, field kras: Tuple should have at least 1 item",
        ),
    ],
)
def test_validate_broken_yaml_without_traceback(
    runner: CliRunner, tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "bad.yaml").write_text(content)
    code, output = run(runner, "framework", "validate", "bad.yaml")
    assert code == 1
    assert "bad.yaml" in output and message in output


def test_validate_a_missing_file(runner: CliRunner) -> None:
    code, output = run(runner, "framework", "validate", "missing.yaml")
    assert code == 1 and "missing.yaml: no such file; check the path." in output


def test_new_writes_a_starter_that_fails_until_filled(runner: CliRunner, tmp_path: Path) -> None:
    code, output = run(runner, "framework", "new", "--role", "Claims Manager", "-o", "cm.yaml")
    assert code == 0 and "kraft framework validate cm.yaml" in output
    starter = parse_framework((tmp_path / "cm.yaml").read_text(), source="cm.yaml")
    assert starter.id == "claims_manager" and starter.role == "Claims Manager"
    code, output = run(runner, "framework", "validate", "cm.yaml")
    assert code == 1
    for rule in ("Specific", "Measurable", "Achievable", "Relevant", "Time-bound"):
        assert rule in output
    code, output = run(runner, "framework", "new", "--role", "Claims Manager", "-o", "cm.yaml")
    assert code == 1 and "already exists; choose another path or pass --force" in output


def test_an_unexpected_error_is_one_line_not_a_traceback(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: object, **__: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("kraft.commands.framework.render_framework_document", explode)
    code, output = run(runner, "framework", "render")
    assert code == 2
    assert "Internal error: ZeroDivisionError: boom" in output and "KRAFT_DEBUG=1" in output


@pytest.mark.parametrize(
    "command",
    [
        ("framework", "render", "--format", "md", "--detailed"),  # written whole to stdout
        ("framework", "show"),  # printed by rich
    ],
)
def test_a_closed_pipe_ends_the_command_quietly(command: tuple[str, ...]) -> None:
    """`kraft … | head -1`: when the reader stops, kraft stops as Unix tools do: exit 0, nothing
    on stderr (no "Error: Cannot write", no traceback)."""
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader is gone before kraft writes anything
    done = subprocess.run(
        [sys.executable, "-m", "kraft", *command],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    os.close(write)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
