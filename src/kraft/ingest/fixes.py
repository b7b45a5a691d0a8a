"""The fix for a group of validation problems, in the mapping's words where a mapping would fix it.

A person reading "80 values like 29/01/2025 are not YYYY-MM-DD" needs the next step, not the rule
again: the fix looks at the shape of the values as written (day-first dates, status words, Y/N
flags, thousands separators) and names the mapping entry that reads them (docs/mapping.md). The
words it knows are those of `kraft mapping suggest` (mapping_words, mapping_dates): one list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kraft.ingest.mapping_dates import patterns_reading
from kraft.ingest.mapping_words import FALSE_WORDS, TRUE_WORDS, column_names, enum_value, normalised
from kraft.schema.tables import TABLES_BY_NAME, Column, ColumnType, Table

SERIAL = re.compile(r"\d{5}(\.0+)?")  # a spreadsheet's day number (45678 is 2025-01-20)
COMMA_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{2,3})*,\d{3}(\.\d+)?")  # 1,25,000.50 and 1,250.50
DOT_THOUSANDS = re.compile(r"-?\d{1,3}(\.\d{3})+(,\d+)?")  # 1.250,50
DECIMAL_COMMA = re.compile(r"-?\d+,\d+")  # 1250,50
SPACE_THOUSANDS = re.compile(r"-?\d{1,3}( \d{3})+([.,]\d+)?")  # 1 250.50
_PARTS = {"%d": "day", "%m": "month", "%Y": "year", "%y": "two-digit year", "%b": "month name"}


def _yaml(word: str) -> str:
    """A source word as a YAML key: quoted, so that Y, No and 01 stay words."""
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _column(table: str | None, column: str | None) -> Column | None:
    spec = TABLES_BY_NAME.get(table or "")
    if spec is None or column is None or column not in spec.column_names:
        return None
    return spec.column(column)


def _spoken(pattern: str) -> str:
    """%d/%m/%Y as day/month/year."""
    return re.sub(r"%[dmYyb]", lambda m: _PARTS[m.group(0)], pattern)


def date_fix(values: Sequence[str]) -> str:
    """The date_format that reads the values; both orders when both read them (05/03/2024)."""
    if values and all(SERIAL.fullmatch(v) for v in values):
        return (
            "these are spreadsheet day numbers, not dates: format the column as a date "
            "(YYYY-MM-DD) in the workbook or the export and import again"
        )
    patterns = [p for p in patterns_reading(list(values)) if "%H" not in p]
    if not patterns:
        return "write these dates as YYYY-MM-DD (2025-01-29), or give the column a date_format"
    first, *others = patterns
    month_first = first.replace("%d", "%D").replace("%m", "%d").replace("%D", "%m")
    if first.startswith("%d") and month_first in others:
        return (
            f"the values read both ways: if your export writes {_spoken(first)}, add "
            f'`date_format: "{first}"` to this column\'s mapping; if it writes '
            f'{_spoken(month_first)}, add `date_format: "{month_first}"`'
        )
    return f'if your export writes {_spoken(first)}, add `date_format: "{first}"` to this column\'s mapping'


def enum_fix(column: Column | None, values: Sequence[str]) -> str:
    """A value map from the source's words to the contract's values (TODO where none is known)."""
    if column is None or column.type is not ColumnType.enum:
        return "write one of the contract's values"
    words = list(dict.fromkeys(values))[:12]
    pairs = ", ".join(f"{_yaml(w)}: {enum_value(column, w) or 'TODO'}" for w in words)
    return (
        f"add `values: {{{pairs}}}` to this column's mapping, each word mapped to one of: "
        f"{', '.join(column.enum)}"
    )


def bool_fix(values: Sequence[str]) -> str:
    """true_words and false_words for the source's flags."""
    words = list(dict.fromkeys(values))
    trues = [w for w in words if w.lower() in TRUE_WORDS]
    falses = [w for w in words if w.lower() in FALSE_WORDS]
    unknown = [w for w in words if w not in trues and w not in falses]
    parts = []
    if trues:
        parts.append(f"`true_words: [{', '.join(trues)}]`")
    if falses:
        parts.append(f"`false_words: [{', '.join(falses)}]`")
    if unknown:
        parts.append(f"each of {', '.join(_yaml(w) for w in unknown)} to true_words or false_words")
    return f"add {' and '.join(parts)} to the table's mapping (the other word of each pair too)"


def number_fix(values: Sequence[str]) -> str:
    """The separators a mapping removes, else how a contract number is written."""
    if any(DOT_THOUSANDS.fullmatch(v) for v in values):
        return 'add `decimal_separator: ","` and `thousands_separator: "."` to the table\'s mapping'
    if any(COMMA_THOUSANDS.fullmatch(v) for v in values):
        return 'add `thousands_separator: ","` to the table\'s mapping'
    if any(SPACE_THOUSANDS.fullmatch(v) for v in values):
        return 'add `thousands_separator: " "` to the table\'s mapping'
    if any(DECIMAL_COMMA.fullmatch(v) for v in values):
        return 'add `decimal_separator: ","` to the table\'s mapping'
    return "write digits with . for decimals and no other characters (1250.50)"


def renamed_column_fix(table: Table, column: str, header: Sequence[str]) -> str | None:
    """How to map a header column that looks like a missing required one (through the words of
    `kraft mapping suggest`); None when none looks like it."""
    names = column_names(table, table.column(column))
    alike = [h for h in header if normalised(h) in names]
    if not alike:
        return None
    return (
        f'its column "{alike[0]}" looks like it: add `{column}: {alike[0]}` under '
        f"tables.{table.name}.columns of a mapping file (docs/mapping.md), or rename the column"
    )


def fix_for(table: str | None, column: str | None, problem: str, values: Sequence[str]) -> str:
    """One sentence: how to fix a group of problems of one kind, from their values as written."""
    spec = _column(table, column)
    if problem.startswith("is not written YYYY-MM-DD"):
        return date_fix(values)
    if problem.startswith("is not one of"):
        return enum_fix(spec, values)
    if problem.startswith("is not a boolean"):
        return bool_fix(values)
    if problem.startswith(("is written with", "is not a number")):
        return number_fix(values)
    if problem.startswith("a required column missing"):
        return f"add the column {column} (the data contract lists every table's columns)"
    if problem.startswith("is required but empty"):
        return f"give every row a {column}, or map the column from the export's own"
    if problem.startswith("is required when "):
        when = problem.removeprefix("is required when ").split(" is ")[0]
        return f"give these rows a {column}, or correct their {when}"
    if problem.startswith("duplicates the key"):
        return "keep one row for each key in the batch's files"
    if problem.startswith("is already the"):
        return f"give each row its own {column}, or leave it empty"
    return "correct these values in the export (the data contract lists the column's rules)"
