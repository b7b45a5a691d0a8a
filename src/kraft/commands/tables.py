"""Tables that fit the terminal: every column at least as wide as its longest word, so that
rich wraps cells between words only (never "insuff/icient"); on a narrow terminal the columns a
command marks as spare are hidden (`--wide` shows them all, at their full width) and, as a last
resort, long words end in "…" rather than break across lines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

Cell = str | Text

# The --wide option of a command whose table hides spare columns on a narrow terminal.
WideOption = Annotated[
    bool,
    typer.Option(
        "--wide", help="Every column at its full width, however wide the terminal (`less -S`)."
    ),
]

# The table's frame: a border before every column and after the last, one space either side.
_PADDING = 2


@dataclass(frozen=True)
class Column:
    """A table column and how it gives way on a narrow terminal.

    `numeric` columns are right-aligned; `whole` ones (ids, numbers, dates) stay on one line;
    `spare` > 0 marks a column hidden when the terminal is too narrow, the highest first."""

    header: str
    numeric: bool = False
    whole: bool = False
    spare: int = 0

    @property
    def one_line(self) -> bool:
        return self.numeric or self.whole


def table_of(
    columns: Iterable[str | Column], title: str | None = None, *, wide: bool = False
) -> FittedTable:
    """A table for the terminal: plain names are text columns that wrap between words."""
    return FittedTable(columns, title, wide=wide)


def column_of(spec: str | Column) -> Column:
    return spec if isinstance(spec, Column) else Column(spec)


@dataclass(frozen=True)
class _Need:
    """A column's widths: the least without breaking a word, and its longest line."""

    least: int
    full: int


class FittedTable:
    """A table that fits the width it is printed at (see the module's docstring)."""

    def __init__(
        self, columns: Iterable[str | Column], title: str | None = None, *, wide: bool = False
    ) -> None:
        self.columns = [column_of(c) for c in columns]
        self.title = title
        self.wide = wide
        self.rows: list[tuple[Cell, ...]] = []
        self.section_ends: set[int] = set()

    def add_row(self, *cells: Cell | None) -> None:
        row = tuple("" if c is None else c for c in cells)
        self.rows.append(row + ("",) * (len(self.columns) - len(row)))

    def add_section(self) -> None:
        """A line under the last row added."""
        if self.rows:
            self.section_ends.add(len(self.rows) - 1)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        needs = [self._need(i) for i in range(len(self.columns))]
        if self.wide:  # every column at its full width, wider than the terminal if need be
            full = [n.full for n in needs]
            table = self._table(range(len(needs)), full)
            yield from console.render(table, options.update_width(sum(full) + _frame(len(full))))
            return
        shown = _shown(self.columns, needs, options.max_width)
        widths = _widths([needs[i] for i in shown], options.max_width - _frame(len(shown)))
        yield self._table(shown, widths)
        hidden = [c.header for i, c in enumerate(self.columns) if i not in shown]
        if hidden:
            yield Text(
                f"Hidden to fit {options.max_width} columns: {', '.join(hidden)} "
                "(--wide shows every column).",
                style="dim",
                no_wrap=False,
                overflow="fold",
            )

    def _need(self, index: int) -> _Need:
        """The column's widths; a one-line column's header may still wrap between words."""
        column = self.columns[index]
        cells = [_plain(row[index]) for row in self.rows]
        full = max(_longest(_lines_of(column.header)), _longest(_lines_of(*cells)), 1)
        header_least = max(_longest(_words_of(column.header)), 1)
        if column.one_line:
            return _Need(max(header_least, _longest(_lines_of(*cells))), full)
        return _Need(max(header_least, _longest(_words_of(*cells))), full)

    def _table(self, shown: Sequence[int], widths: Sequence[int]) -> Table:
        table = Table(title=self.title)
        for index, width in zip(shown, widths, strict=True):
            column = self.columns[index]
            table.add_column(
                Text(column.header, no_wrap=False),
                justify="right" if column.numeric else "left",
                no_wrap=column.one_line,
                overflow="ellipsis",
                width=width,
            )
        for number, row in enumerate(self.rows):
            table.add_row(*(row[i] for i in shown), end_section=number in self.section_ends)
        return table


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _lines_of(*texts: str) -> list[str]:
    return [line for text in texts for line in text.splitlines()]


def _words_of(*texts: str) -> list[str]:
    return [word for text in texts for word in text.split()]


def _longest(parts: Iterable[str]) -> int:
    return max((cell_len(part) for part in parts), default=0)


def _frame(columns: int) -> int:
    """The characters a table of this many columns spends on borders and padding."""
    return columns * (1 + _PADDING) + 1


def _shown(columns: Sequence[Column], needs: Sequence[_Need], width: int) -> list[int]:
    """The columns that fit without breaking words, spare ones hidden (highest first) until
    they do or none is left to hide."""
    shown = list(range(len(columns)))
    spare = sorted((i for i, c in enumerate(columns) if c.spare), key=lambda i: -columns[i].spare)
    for index in spare:
        if sum(needs[i].least for i in shown) + _frame(len(shown)) <= width:
            break
        shown.remove(index)
    return shown


def _widths(needs: Sequence[_Need], room: int) -> list[int]:
    """Each column's width within `room`: its full width if all fit; else its least, the room
    left going a character at a time to the column whose longest cell takes the most lines
    (rows are as tall as their tallest cell); else, as a last resort, the widest narrowed until
    they fit (their long words then end in "…")."""
    widths = [n.least for n in needs]
    if sum(n.full for n in needs) <= room:
        return [n.full for n in needs]
    left = room - sum(widths)
    if left < 0:
        return _narrowed(widths, room)
    for _ in range(left):
        wanting = [i for i, n in enumerate(needs) if widths[i] < n.full]
        tallest = max(wanting, key=lambda i: (_lines(needs[i].full, widths[i]), -needs[i].full))
        widths[tallest] += 1
    return widths


def _lines(length: int, width: int) -> int:
    """About how many lines a text of this length takes at this width."""
    return -(-length // max(width, 1))


def _narrowed(widths: list[int], room: int) -> list[int]:
    narrowed = list(widths)
    while sum(narrowed) > room and max(narrowed) > 1:
        widest = narrowed.index(max(narrowed))
        narrowed[widest] -= 1
    return narrowed
