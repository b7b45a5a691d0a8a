"""docs/data-contract.md, generated from the schema module (`make docs`); a test keeps it current."""

from __future__ import annotations

from kraft.schema.tables import (
    TABLES,
    Column,
    ColumnType,
    DateOrder,
    NoCycle,
    RequiredWhen,
    ScoreWithinScale,
    Table,
)

INTRO = """\
# The import contract

What `kraft import` reads: one file per table, named `<table>.csv` (or `<table>.parquet`, or a
sheet named `<table>` in an `.xlsx` workbook), whatever the name's case (`Policies.csv`, a sheet
`Leads`). Generated from `src/kraft/schema/tables.py`, the one description of these tables that
the database, the import validation and the demo book read. An export in another layout (other
file and column names, day-first dates, its own status words) is imported through a mapping
file: see [mapping.md](mapping.md).

## File rules

- CSV: UTF-8 (a byte-order mark is accepted), comma separated, a header row, RFC 4180 quoting
  (a `"` inside a quoted value is written `""`).
- Dates `YYYY-MM-DD`; months `YYYY-MM`; periods `2026-03`, `2026-Q1`, `2026` (with a fiscal year
  that does not start in January: `FY2026-Q1`, `FY2026`, named by the year the fiscal year ends).
- Empty cell = null. IDs are text (leading zeros are kept).
- Booleans `true/false`, `1/0`, `yes/no` (any case). Decimals use `.`, no thousands separators,
  any number of decimal places (float exports write many): each is stored to 6 places, rounded
  half to even from its digits as written (a Parquet or workbook float by its shortest form), and
  the import summary counts, per table and column, the values this rounding changed.
- Enum values match whatever their case and with spaces or hyphens for underscores (`In Force`,
  `in-force` and `IN_FORCE` are `in_force`); they are stored as the contract writes them.
- **required** marks a column that must be in the header and filled in every row.
  A reference must exist in the database or anywhere in the same import (any file order).
- Columns the contract does not know are ignored with a warning. A file in a named folder, or a
  workbook's sheet, that names no table is skipped and listed in the summary (also of a dry run);
  a file named on its own that names no table is refused.
- Only regular files are read. A FIFO, socket, device, link to nothing or folder named like a
  table file (`policies.csv/`) in a named folder is skipped and named in the summary ("claims.csv
  in DIR is not a regular file (a FIFO); skipped"); one named on its own is refused. A link to a
  regular file is read.
- Caps on what a file may cost (a larger one is refused in a sentence naming the file and the
  cap; split it): every file at most the import size cap (1 GiB, `--max-bytes`); a CSV line at
  most 2 MB and a header cell at most 128 kB; a Parquet file at most 20 M rows, and what it
  unpacks to (its pages, and its columns decoded, measured before anything is decoded) at most
  the import size cap — a 150 kB file of one value repeated 1.4 M times is refused; an .xlsx
  workbook at most 512 MB unpacked, no part packed over 200 times.

## How an import behaves

- `kraft import PATH... [--as-of DATE] [--mode upsert|replace] [--dry-run] [--errors-out FILE]
  [--mapping FILE]` (a mapping: [mapping.md](mapping.md); default the workspace's `mapping`).
- **All or nothing**: every file of the batch is validated together; with any problem nothing is
  written and the command exits 1, printing the total and the problems grouped by file, column
  and kind (the biggest 20 groups), each with its count, three example rows and the fix, in the
  mapping's words where a mapping would fix it (`policies.csv column start_date: 80 values like
  "29/01/2025" … (rows 2, 3, 4, …): is not written YYYY-MM-DD (a date in another form); if your
  export writes day/month/year, add `date_format: "%d/%m/%Y"` to this column's mapping`). The
  import page and the API's result (`groups`) carry the same groups; `--errors-out FILE` writes
  every problem, a row each, as CSV. A killed import leaves the database as it was.
- **upsert** (default) inserts new keys and updates changed rows; importing the same file twice
  changes nothing. **replace** makes each imported table hold exactly the file's rows; rows of
  other tables that still reference a removed key reject the import.
- The **data as-of date** is `--as-of`, or else the latest event date in the data (issue,
  cancel, created, closed, intimation, settled and completed dates, and the `date` and `month`
  columns; never a scheduled date such as an end or due date).
- Every import is recorded in the audit log with its files' SHA-256 checksums and row counts.
"""


def _type(column: Column) -> str:
    if column.type is ColumnType.enum:
        return "one of: " + ", ".join(f"`{v}`" for v in column.enum)
    return {
        ColumnType.id: "id (text)",
        ColumnType.text: "text",
        ColumnType.date: "date",
        ColumnType.month: "month",
        ColumnType.period: "period",
        ColumnType.bool: "boolean",
        ColumnType.decimal: "decimal",
        ColumnType.int: "whole number",
    }[column.type]


def _rules(column: Column) -> str:
    parts = []
    if column.ref:
        parts.append(f"→ `{column.ref}`")
    if column.min is not None and column.max is not None:
        parts.append(f"{column.min}–{column.max}")
    elif column.min is not None:
        parts.append(f"≥ {column.min}")
    if column.default is not None:
        parts.append(f"default `{column.default}`")
    if column.unique:
        parts.append("unique when present")
    return "; ".join(parts)


def _check(check: object) -> str:
    if isinstance(check, DateOrder):
        sign = ">" if check.strict else "≥"
        return f"`{check.later}` {sign} `{check.earlier}` when both are set"
    if isinstance(check, RequiredWhen):
        values = " or ".join(f"`{v}`" for v in check.values)
        return f"`{check.column}` is required when `{check.when}` is {values}"
    if isinstance(check, ScoreWithinScale):
        return (
            f"`{check.score}` lies within [`{check.low}`, `{check.high}`], and "
            f"`{check.high}` > `{check.low}`"
        )
    if isinstance(check, NoCycle):
        return f"following `{check.parent}` never returns to the same row (no cycles)"
    raise TypeError(check)


def _table(spec: Table) -> str:
    lines = [f"\n## {spec.name}\n"]
    if spec.meaning:
        lines.append(f"{spec.meaning[0].upper()}{spec.meaning[1:]}.\n")
    lines.append(f"Key: {', '.join(f'`{k}`' for k in spec.key)}.\n")
    lines.append("\n| column | type | required | rules | meaning |\n|---|---|---|---|---|\n")
    for column in spec.columns:
        required = "**required**" if column.required else ""
        lines.append(
            f"| `{column.name}` | {_type(column)} | {required} | {_rules(column)} | "
            f"{column.meaning} |\n"
        )
    checks = [_check(c) for c in spec.checks]
    if checks:
        lines.append("\nChecks: " + "; ".join(checks) + ".\n")
    return "".join(lines)


def render() -> str:
    return INTRO + "".join(_table(spec) for spec in TABLES)


if __name__ == "__main__":
    print(render(), end="")
