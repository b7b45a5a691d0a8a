"""Every table the CLI prints fits the terminal's width and breaks no word across lines.

The helper (kraft.commands.tables) is checked on its own at fixed widths; then the commands that
print tables run over a small demo workspace at COLUMNS=60, 80 and 120: no table line is wider
than the terminal, and every word a table line shows is a word of the same command's output on
a terminal wide enough for everything (so no "insuff" / "icient"). At 80 columns and more no
word is even shortened with "…"; at 60 a word may be, as the last resort.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from kraft.cli import app
from kraft.commands.tables import Column, FittedTable
from web_support import build_demo

BOX = re.compile(r"[│┃┏┓┗┛┡┩└┘├┤┼╇╋━─┳┻┴┬╈]")
PERIOD = "2025-Q4"
FLAGS = "insufficient volume ×5, wide interval ×1, provisional"
NAMES = ("Gaurav Kulkarni", "Lakshmi Deshpande", "Meera Chatterjee")


def _board(wide: bool = False) -> FittedTable:
    table = FittedTable(
        [
            Column("#", numeric=True),
            Column("RM", whole=True),
            Column("name", spare=1),
            Column("team", whole=True, spare=3),
            Column("overall", numeric=True),
            "rating",
            Column("coverage", numeric=True, spare=2),
            "flags",
        ],
        "Overall leaderboard",
        wide=wide,
    )
    for rank, name in enumerate(NAMES, 1):
        table.add_row(
            str(rank), f"RM000{rank}", name, "T004", "97.15", "1 Unsatisfactory", "88.0 %", FLAGS
        )
    return table


def _printed(table: FittedTable, width: int) -> list[str]:
    buffer = io.StringIO()
    Console(file=buffer, width=width, soft_wrap=True, markup=False).print(table)
    return buffer.getvalue().splitlines()


def _words(lines: list[str]) -> set[str]:
    return set(BOX.sub(" ", "\n".join(lines)).split())


VOCABULARY = _words(_printed(_board(), 1000))  # every word, each whole on one line


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_table_fits_and_wraps_between_words(width: int) -> None:
    lines = _printed(_board(), width)
    table_lines = [line for line in lines if BOX.search(line)]
    assert table_lines and all(len(line) <= width for line in lines), "\n".join(lines)
    assert _words(table_lines) <= VOCABULARY, "\n".join(lines)
    assert "insufficient" in _words(table_lines) and "Unsatisfactory" in _words(table_lines)


@pytest.mark.parametrize(
    ("width", "hidden"), [(80, "team"), (60, "name, team, coverage"), (200, None)]
)
def test_spare_columns_give_way_highest_first_and_a_note_says_so(
    width: int, hidden: str | None
) -> None:
    lines = _printed(_board(), width)
    note = " ".join(line.strip() for line in lines if not BOX.search(line))
    if hidden is None:
        assert "Hidden" not in note
        return
    assert f"Hidden to fit {width} columns: {hidden} (--wide shows every column)." in note
    header = next(line for line in lines if "RM" in line)
    assert all(f" {name} " not in header for name in hidden.split(", "))


def test_wide_shows_every_column_on_one_line_however_narrow() -> None:
    lines = _printed(_board(wide=True), 60)
    assert any(FLAGS in line and "Meera Chatterjee" in line and "T004" in line for line in lines)


def test_the_last_resort_shortens_a_word_and_never_splits_it() -> None:
    lines = _printed(_board(), 30)
    assert all(len(line) <= 30 for line in lines), "\n".join(lines)
    for word in _words([line for line in lines if BOX.search(line)]):
        assert word in VOCABULARY or any(w.startswith(word.rstrip("…")) for w in VOCABULARY)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("width") / "demo")


COMMANDS = {
    "scores": ["scores"],
    "scores --kpi": ["scores", "--kpi", "client_retention_rate"],
    "status": ["status"],
    "explain": ["explain", "--rm", "RM0002", "--kpi", "client_retention_rate", "--period", PERIOD],
    "targets list": ["targets", "list"],
    "measurements list": ["measurements", "list", "--rm", "RM0002"],
    "audit list": ["audit", "list"],
    "variance": ["variance", "--period", PERIOD, "--rm", "RM0002"],
    "drivers": ["drivers", "--rm", "RM0002", "--period", PERIOD],
    "whatif": ["whatif", "--rm", "RM0002", "--period", PERIOD, "--kpi", "client_retention_rate", "--value", "90"],
    "calibration": ["calibration", "--period", PERIOD],
    "initiative impact": ["initiative", "impact", "INIT-RETENTION"],
    "users list": ["users", "list"],
}  # fmt: skip


def _run(root: Path, args: list[str], width: int) -> list[str]:
    result = CliRunner().invoke(app, ["-w", str(root), *args], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_table_fits_60_80_and_120_columns(demo: Path, command: str) -> None:
    args = COMMANDS[command]
    known = _words(_run(demo, args, 1000))
    for width in (60, 80, 120):
        lines = _run(demo, args, width)
        table_lines = [line for line in lines if BOX.search(line)]
        assert table_lines, f"{command} printed no table"
        too_wide = [line for line in table_lines if len(line) > width]
        assert not too_wide, f"{command} at {width} columns:\n" + "\n".join(too_wide)
        unknown = _words(table_lines) - known
        if width < 80:
            unknown = {word for word in unknown if not word.endswith("…")}
        assert not unknown, f"{command} at {width} columns breaks {sorted(unknown)}:\n" + "\n".join(
            lines
        )
