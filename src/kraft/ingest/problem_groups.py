"""A rejected batch's problems by file, column and kind, each with its count, examples and fix.

704 problems read as one list bury the three kinds behind the first twenty rows; grouped, each
kind is one line a person can act on. The one grouping for the command line, the JSON result,
the import page and the API; --errors-out still lists every row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kraft.ingest.fixes import fix_for
from kraft.ingest.validate import Problem
from kraft.schema.tables import TABLES_BY_NAME

EXAMPLES = 3
SAMPLE = 200  # distinct values a fix looks at: 10/01/2025 reads both ways, 13/01/2025 does not
SHOWN_GROUPS = 20
_PARENTHESIS = re.compile(r"^(must be .*) \([^()]*\)$")  # a row's value: "must be after x (…)"
_ROW_TAIL = re.compile(r"^(duplicates the key \S+|is already the \S+|is outside the scale) .*$")


def kind_of(message: str) -> str:
    """The problem without the parts naming one row's values, so that like problems group."""
    return _ROW_TAIL.sub(r"\1", _PARENTHESIS.sub(r"\1", message))


@dataclass
class ProblemGroup:
    """The problems of one kind in one file and column (column None: the file's own)."""

    source: str
    column: str | None
    problem: str
    count: int = 0
    examples: list[Problem] = field(default_factory=list)
    fix: str = ""
    sample: set[str] = field(default_factory=set, repr=False)

    def sentence(self) -> str:
        """One line: where, how many, like what, and the fix."""
        where = f"{self.source} column {self.column}" if self.column else self.source or "import"
        values = [f'"{p.value}"' for p in self.examples if p.value is not None]
        rows = [str(p.row) for p in self.examples if p.row is not None]
        like = f" like {', '.join(values)}" if values else ""
        label = "row" if len(rows) == 1 and self.count == 1 else "rows"
        more = ", …" if self.count > len(rows) else ""
        at = f" ({label} {', '.join(rows)}{more})" if rows else ""
        noun = "value" if values else "problem"
        counted = f"{self.count:,} {noun}{'' if self.count == 1 else 's'}"
        fix = f"; {self.fix}" if self.fix else ""
        return f"{where}: {counted}{like}{at}: {self.problem}{fix}."

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.source or None,
            "column": self.column,
            "problem": self.problem,
            "count": self.count,
            "examples": [{"row": p.row, "value": p.value} for p in self.examples],
            "fix": self.fix,
        }


def _table_of(source: str, tables: Mapping[str, str]) -> str | None:
    """The table a file was read as; by its name when the reader did not say (a file not read)."""
    if source in tables:
        return tables[source]
    stem = Path(source.split("[")[0]).stem.lower()
    return stem if stem in TABLES_BY_NAME else None


def group_problems(
    problems: Sequence[Problem], tables: Mapping[str, str] | None = None
) -> list[ProblemGroup]:
    """Problems grouped by (file, column, kind) in the order each group first appears, each
    with its count, first examples and one fix; `tables` names the table of each file."""
    groups: dict[tuple[str, str | None, str], ProblemGroup] = {}
    for p in problems:
        kind, _, own_fix = kind_of(p.message).partition("; ")  # the contract's fix after a ;
        key = (p.source, p.column, kind)
        fix = p.fix or own_fix
        group = groups.setdefault(key, ProblemGroup(p.source, p.column, kind, fix=fix))
        group.count += 1
        if len(group.examples) < EXAMPLES:
            group.examples.append(p)
        if p.value is not None and len(group.sample) < SAMPLE:
            group.sample.add(p.value)
    for group in groups.values():
        if not group.fix:
            values = sorted(group.sample)
            table = _table_of(group.source, tables or {})
            group.fix = fix_for(table, group.column, group.problem, values)
        first = group.examples[0]
        if (
            first.message.partition("; ")[0] != group.problem
        ):  # the row's own words: which other row, what value
            group.fix += f" (the first: {first})"
    return list(groups.values())


def biggest_first(groups: Sequence[ProblemGroup]) -> list[ProblemGroup]:
    return sorted(groups, key=lambda g: -g.count)


def summary_lines(
    groups: Sequence[ProblemGroup], total: int, shown: int = SHOWN_GROUPS
) -> list[str]:
    """The biggest groups, a sentence each, and how many problems the rest hold."""
    ordered = biggest_first(groups)
    lines = [g.sentence() for g in ordered[:shown]]
    rest = ordered[shown:]
    if rest:
        more = total - sum(g.count for g in ordered[:shown])
        lines.append(f"{more:,} more problems in {len(rest)} more groups.")
    return lines
