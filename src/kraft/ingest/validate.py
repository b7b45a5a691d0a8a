"""Set-wise validation of an import batch: SQL in DuckDB over the raw text of every file.

Each rule of the contract becomes one query over a whole staged table that returns the offending
rows; nothing loops over rows in Python. References are checked against the state the database
will have after the import (its rows, plus or instead of the batch's), whatever the file order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from kraft.ingest.tolerance import decimal_value
from kraft.periods import Calendar
from kraft.schema.tables import (
    TABLES,
    TABLES_BY_NAME,
    Column,
    ColumnType,
    DateOrder,
    NoCycle,
    RequiredWhen,
    ScoreWithinScale,
    Table,
)
from kraft.store.metadata import DECIMAL_PLACES

ROW = "__row"  # the source row number staged beside every raw row
FILE = "__file"  # the source file

MAX_PROBLEMS = 1_000_000  # kept for --errors-out; the count is always exact


@dataclass(frozen=True)
class Problem:
    source: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    fix: str | None = None  # known where the problem is found (a renamed column); else grouped

    def __str__(self) -> str:
        where = self.source
        if self.row is not None:
            where += f" row {self.row}"
        if self.column:
            where += f", column {self.column}"
        shown = f'"{self.value}" ' if self.value is not None else ""
        return f"{where}: {shown}{self.message}"


def run(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Execute a statement and consume its result (DuckDB keeps a pending result otherwise)."""
    con.execute(sql).fetchall()


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The first column of the only row (fetchone would leave DuckDB's result pending)."""
    rows = con.execute(sql).fetchall()
    return rows[0][0] if rows else None


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A SQL string literal of trusted text (schema names, fixed messages)."""
    return "'" + text.replace("'", "''") + "'"


def raw(table: str) -> str:
    return q(f"raw_{table}")


DATE_RE = r"\d{4}-\d{2}-\d{2}"
MONTH_RE = r"\d{4}-(0[1-9]|1[0-2])"
DECIMAL_RE = r"-?\d{1,18}(\.\d+)?"  # any places: stored to DECIMAL_PLACES (tolerance.py)
INT_RE = r"-?\d{1,9}"
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


def period_regex(calendar: Calendar) -> str:
    prefix = "FY" if calendar.fiscal else ""
    return rf"{MONTH_RE}|{prefix}\d{{4}}-Q[1-4]|{prefix}\d{{4}}"


def well_formed(column: Column, value: str, calendar: Calendar) -> str | None:
    """SQL condition that a non-null raw value has the column's syntax; None for free text."""
    match column.type:
        case ColumnType.date:
            return (
                f"(regexp_full_match({value}, {lit(DATE_RE)}) AND "
                f"try_strptime({value}, '%Y-%m-%d') IS NOT NULL)"
            )
        case ColumnType.month:
            return f"regexp_full_match({value}, {lit(MONTH_RE)})"
        case ColumnType.period:
            return f"regexp_full_match({value}, {lit(period_regex(calendar))})"
        case ColumnType.bool:
            words = ", ".join(lit(w) for w in (*TRUE_WORDS, *FALSE_WORDS))
            return f"lower({value}) IN ({words})"
        case ColumnType.decimal:
            return f"regexp_full_match({value}, {lit(DECIMAL_RE)})"
        case ColumnType.int:
            return f"regexp_full_match({value}, {lit(INT_RE)})"
        case ColumnType.enum:
            return f"{value} IN ({', '.join(lit(v) for v in column.enum)})"
        case _:
            return None


def syntax_message(column: Column, calendar: Calendar) -> str:
    match column.type:
        case ColumnType.date:
            return "is not a date (expected YYYY-MM-DD)"
        case ColumnType.month:
            return "is not a month (expected YYYY-MM)"
        case ColumnType.period:
            return f"is not a period (expected {calendar.label_forms()})"
        case ColumnType.bool:
            return "is not a boolean (expected true/false, 1/0 or yes/no)"
        case ColumnType.decimal:
            return "is not a number (expected digits with . for decimals, no thousands separators)"
        case ColumnType.int:
            return "is not a whole number"
        case ColumnType.enum:
            return f"is not one of: {', '.join(column.enum)}"
        case _:
            return "is not valid"


SHAPED_DATE = (
    r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}|\d{5}(\.0+)?|\d{1,2}[ \-][A-Za-z]{3,9}[ \-]\d{2,4}"
)
SEPARATED_NUMBER = r"-?\d{1,3}([,. ']\d{2,3})+([.,]\d+)?|-?\d+,\d+"


def shaped_message(column: Column, value: str, calendar: Calendar) -> str:
    """SQL: the syntax message, saying what a value is when it is a date or number written
    another way: "is not a number" only for what is not a number (DATA.md File rules)."""
    plain = lit(syntax_message(column, calendar))
    if column.type is ColumnType.date:
        shaped = lit("is not written YYYY-MM-DD (a date in another form)")
        pattern = SHAPED_DATE
    elif column.type is ColumnType.decimal:
        shaped = lit("is written with other separators (expected digits with . for decimals)")
        pattern = SEPARATED_NUMBER
    else:
        return plain
    other = f"regexp_full_match({value}, {lit(pattern)}) AND NOT regexp_full_match({value}, {lit(DATE_RE)})"
    return f"CASE WHEN {other} THEN {shaped} ELSE {plain} END"


def typed(column: Column, value: str) -> str:
    """SQL turning a well-formed raw value (or its default) into the stored type."""
    if column.default is not None:
        value = f"coalesce({value}, {lit(column.default)})"
    match column.type:
        case ColumnType.date:
            return f"CAST({value} AS DATE)"
        case ColumnType.month:
            return f"CAST({value} || '-01' AS DATE)"
        case ColumnType.bool:
            trues = ", ".join(lit(w) for w in TRUE_WORDS)
            return f"CASE WHEN {value} IS NULL THEN NULL ELSE lower({value}) IN ({trues}) END"
        case ColumnType.decimal:
            return f"CAST({decimal_value(value)} AS DECIMAL(24, {DECIMAL_PLACES}))"
        case ColumnType.int:
            return f"CAST({value} AS INTEGER)"
        case _:
            return value


@dataclass
class Batch:
    """What the validator needs to know about the import and the database around it."""

    con: duckdb.DuckDBPyConnection
    tables: list[str]  # staged as raw_<table>
    existing: Callable[[str], str]  # relation holding a table's rows in the database now
    replace: bool
    calendar: Calendar
    manual_kpis: Collection[str]


@dataclass(frozen=True)
class RowRule:
    """A check of one row on its own: the message for `column` where `where` holds."""

    column: str | None
    value: str
    message: str
    where: str
    rank: int


def _problems_sql(batch: Batch) -> Iterator[str]:
    """SELECT statements returning (source, row, col, value, message, rank)."""
    for name in batch.tables:
        spec = TABLES_BY_NAME[name]
        row_rules: list[RowRule] = []
        rules = (
            *_column_rules(batch, spec),
            *_table_rules(batch, spec),
            *_reference_rules(batch, spec),
        )
        for rule in rules:
            if isinstance(rule, RowRule):
                row_rules.append(rule)
            else:
                yield rule
        if row_rules:
            yield _one_scan(name, row_rules)
        yield from _key_rules(batch, spec)


def _one_scan(table: str, rules: list[RowRule]) -> str:
    """All row rules of a table in one pass: only rows breaking some rule are expanded."""
    checks = [f"coalesce({rule.where}, false)" for rule in rules]
    structs = ", ".join(
        f"{{'col': {lit(rule.column) if rule.column else 'NULL'}, "
        f"'value': CAST({rule.value} AS VARCHAR), 'message': {rule.message}, "
        f"'rank': {rule.rank}, 'bad': {check}}}"
        for rule, check in zip(rules, checks, strict=True)
    )
    return (
        "SELECT source, row, p.col AS col, p.value AS value, p.message AS message, p.rank AS rank "
        f"FROM (SELECT {q(FILE)} AS source, {q(ROW)} AS row, unnest([{structs}]) AS p "
        f"FROM {raw(table)} WHERE {' OR '.join(checks)}) AS bad_rows WHERE p.bad"
    )


def _select(
    table: str, column: str | None, value: str, message: str, where: str, rank: int
) -> RowRule:
    return RowRule(column, value, message, where, rank)


def _column_rules(batch: Batch, spec: Table) -> Iterator[RowRule]:
    for index, column in enumerate(spec.columns):
        v = q(column.name)
        rank = index
        if column.required and column.default is None:
            yield _select(
                spec.name, column.name, "NULL", lit("is required but empty"), f"{v} IS NULL", rank
            )
        check = well_formed(column, v, batch.calendar)
        if check is not None:
            yield _select(
                spec.name,
                column.name,
                v,
                shaped_message(column, v, batch.calendar),
                f"{v} IS NOT NULL AND NOT ({check})",
                rank,
            )
        number = (
            decimal_value(v)
            if column.type is ColumnType.decimal
            else f"TRY_CAST({v} AS DECIMAL(38, {DECIMAL_PLACES}))"
        )
        ok = f"{v} IS NOT NULL AND ({check})" if check else f"{v} IS NOT NULL"
        if column.min is not None:
            yield _select(
                spec.name,
                column.name,
                v,
                lit(f"must be at least {column.min}"),
                f"{ok} AND {number} < {column.min}",
                rank,
            )
        if column.max is not None:
            yield _select(
                spec.name,
                column.name,
                v,
                lit(f"must be at most {column.max}"),
                f"{ok} AND {number} > {column.max}",
                rank,
            )


def _valid(spec: Table, name: str, calendar: Calendar) -> str:
    column = spec.column(name)
    check = well_formed(column, q(name), calendar)
    return f"({q(name)} IS NOT NULL AND {check})" if check else f"{q(name)} IS NOT NULL"


def _table_rules(batch: Batch, spec: Table) -> Iterator[RowRule | str]:
    cal = batch.calendar
    for check in spec.checks:
        if isinstance(check, DateOrder):
            later, earlier = q(check.later), q(check.earlier)
            rank = spec.column_names.index(check.later)
            # TRY_CAST: DuckDB evaluates every side of AND, so a malformed date must not throw.
            bad = (
                f"TRY_CAST({later} AS DATE) {'<=' if check.strict else '<'} "
                f"TRY_CAST({earlier} AS DATE)"
            )
            relation = "after" if check.strict else "on or after"
            message = f"'must be {relation} {check.earlier} (' || {earlier} || ')'"
            yield _select(
                spec.name,
                check.later,
                later,
                message,
                f"{_valid(spec, check.later, cal)} AND {_valid(spec, check.earlier, cal)} AND {bad}",
                rank,
            )
        elif isinstance(check, RequiredWhen):
            rank = spec.column_names.index(check.column)
            values = ", ".join(lit(v) for v in check.values)
            message = f"'is required when {check.when} is ' || {q(check.when)}"
            yield _select(
                spec.name,
                check.column,
                "NULL",
                message,
                f"{q(check.column)} IS NULL AND {q(check.when)} IN ({values})",
                rank,
            )
        elif isinstance(check, ScoreWithinScale):
            yield from _scale_rules(batch, spec, check)
    if spec.name == "measurements":
        allowed = ", ".join(lit(k) for k in sorted(batch.manual_kpis)) or "NULL"
        names = ", ".join(sorted(batch.manual_kpis)) or "none in this framework"
        yield _select(
            spec.name,
            "kpi_id",
            q("kpi_id"),
            lit(f"is not a manual KPI of the framework (expected one of: {names})"),
            f"{q('kpi_id')} IS NOT NULL AND {q('kpi_id')} NOT IN ({allowed})",
            spec.column_names.index("kpi_id"),
        )
    for column in spec.columns:
        if column.unique:
            yield from _unique_when_present(batch, spec, column)


def _scale_rules(batch: Batch, spec: Table, check: ScoreWithinScale) -> Iterator[RowRule]:
    """Messages quote the scale as written (or its default), the checks compare numbers."""
    cal = batch.calendar
    low_col, high_col = spec.column(check.low), spec.column(check.high)
    low_text = f"coalesce({q(check.low)}, {lit(low_col.default or '')})"
    high_text = f"coalesce({q(check.high)}, {lit(high_col.default or '')})"
    low, high = f"TRY_CAST({low_text} AS DOUBLE)", f"TRY_CAST({high_text} AS DOUBLE)"
    score = f"TRY_CAST({q(check.score)} AS DOUBLE)"
    scales_ok = (
        f"({q(check.low)} IS NULL OR {_valid(spec, check.low, cal)}) AND "
        f"({q(check.high)} IS NULL OR {_valid(spec, check.high, cal)})"
    )
    yield _select(
        spec.name,
        check.high,
        high_text,
        f"'must be greater than {check.low} (' || {low_text} || ')'",
        f"{scales_ok} AND {high} <= {low}",
        spec.column_names.index(check.high),
    )
    yield _select(
        spec.name,
        check.score,
        q(check.score),
        f"'is outside the scale ' || {low_text} || ' to ' || {high_text}",
        f"{scales_ok} AND {_valid(spec, check.score, cal)} AND {high} > {low} AND "
        f"({score} < {low} OR {score} > {high})",
        spec.column_names.index(check.score),
    )


def _key_expr(spec: Table, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{q(k)}" for k in spec.key)


def _key_rules(batch: Batch, spec: Table) -> Iterator[str]:
    """Keys unique within the batch (all files of the table together).

    A hash aggregate finds the duplicated keys first; only their rows are ordered to name the
    first occurrence, so a clean table costs one scan.
    """
    keys = _key_expr(spec)
    shown = " || '/' || ".join(f"coalesce({q(k)}, '')" for k in spec.key)
    label = "/".join(spec.key)
    not_null = " AND ".join(f"{q(k)} IS NOT NULL" for k in spec.key)
    yield (
        f"SELECT source, row, {lit(spec.key[-1] if len(spec.key) > 1 else spec.key[0])} AS col, "
        f"value, 'duplicates the key {label} of ' || first_source || ' row ' || first_row "
        f"AS message, -1 AS rank FROM ("
        f"SELECT {q(FILE)} AS source, {q(ROW)} AS row, {shown} AS value, "
        f"first_value({q(FILE)}) OVER w AS first_source, first_value({q(ROW)}) OVER w AS "
        f"first_row, row_number() OVER w AS n FROM {raw(spec.name)} WHERE {not_null} "
        f"AND ({keys}) IN (SELECT ({keys}) FROM {raw(spec.name)} WHERE {not_null} "
        f"GROUP BY {keys} HAVING count(*) > 1) "
        f"WINDOW w AS (PARTITION BY {keys} ORDER BY {q(FILE)}, {q(ROW)})) AS keyed WHERE n > 1"
    )


def final_keys(batch: Batch, table: str) -> str:
    """SQL for the key values the referenced table will hold after the import."""
    spec = TABLES_BY_NAME[table]
    key = q(spec.key[0])
    existing = f"SELECT {key} AS k FROM {batch.existing(table)}"
    if table not in batch.tables:
        return existing
    staged = f"SELECT {key} AS k FROM {raw(table)} WHERE {key} IS NOT NULL"
    return staged if batch.replace else f"{staged} UNION {existing}"


def _reference_rules(batch: Batch, spec: Table) -> Iterator[RowRule]:
    for index, column in enumerate(spec.columns):
        if column.ref is None:
            continue
        target = TABLES_BY_NAME[column.ref]
        v = q(column.name)
        message = lit(
            f"is not a known {target.key[0]} (not in {target.name} in the database or in this import); "
            f"import that {target.name} row too or correct the id"
        )
        yield _select(
            spec.name,
            column.name,
            v,
            message,
            f"{v} IS NOT NULL AND {v} NOT IN ({final_keys(batch, column.ref)})",
            index,
        )


def _unique_when_present(batch: Batch, spec: Table, column: Column) -> Iterator[str]:
    v, key = q(column.name), q(spec.key[0])
    rank = spec.column_names.index(column.name)
    yield (
        f"SELECT source, row, {lit(column.name)} AS col, value, "
        f"'is already the {column.name} of {spec.key[0]} ' || other AS message, {rank} AS rank "
        f"FROM (SELECT {q(FILE)} AS source, {q(ROW)} AS row, {v} AS value, "
        f"first_value({key}) OVER w AS other, row_number() OVER w AS n "
        f"FROM {raw(spec.name)} WHERE {v} IS NOT NULL "
        f"WINDOW w AS (PARTITION BY lower({v}) ORDER BY {q(FILE)}, {q(ROW)})) WHERE n > 1"
    )
    if not batch.replace:
        existing = batch.existing(spec.name)
        yield (
            f"SELECT r.{q(FILE)}, r.{q(ROW)}, {lit(column.name)}, r.{v}, "
            f"'is already the {column.name} of {spec.key[0]} ' || e.{key} || "
            f"' in the database', {rank} FROM {raw(spec.name)} r JOIN {existing} e "
            f"ON lower(r.{v}) = lower(e.{v}) AND r.{key} <> e.{key} "
            f"WHERE r.{v} IS NOT NULL AND e.{key} NOT IN (SELECT {key} FROM {raw(spec.name)} "
            f"WHERE {key} IS NOT NULL)"
        )


def find_problems(batch: Batch) -> tuple[int, list[Problem]]:
    """The total number of problems and (up to MAX_PROBLEMS of) them, in file and row order."""
    statements = list(_problems_sql(batch))
    problems: list[Problem] = []
    total = 0
    if statements:
        union = " UNION ALL ".join(f"({s})" for s in statements)
        run(batch.con, f"CREATE OR REPLACE TEMP TABLE import_problems AS {union}")
        total = int(scalar(batch.con, "SELECT count(*) FROM import_problems"))
        rows = batch.con.execute(
            "SELECT source, row, col, value, message FROM import_problems "
            f"ORDER BY source, row, rank, col LIMIT {MAX_PROBLEMS}"
        ).fetchall()
        problems = [Problem(*r) for r in rows]
        run(batch.con, "DROP TABLE import_problems")
    extra = _cycle_problems(batch) + _removed_reference_problems(batch)
    return total + len(extra), problems + extra


def _cycle_problems(batch: Batch) -> list[Problem]:
    """Team parents must not loop. Teams are few, so the walk runs over the fetched edges."""
    for spec in TABLES:
        for check in spec.checks:
            if isinstance(check, NoCycle) and spec.name in batch.tables:
                return _cycles(batch, spec, check.parent)
    return []


def _cycles(batch: Batch, spec: Table, parent: str) -> list[Problem]:
    key, par = q(spec.key[0]), q(parent)
    staged = f"SELECT {key} AS k, {par} AS p FROM {raw(spec.name)}"
    existing = f"SELECT {key} AS k, CAST({par} AS VARCHAR) AS p FROM {batch.existing(spec.name)}"
    final = (
        staged
        if batch.replace
        else f"{staged} UNION ALL ({existing} WHERE {key} NOT IN (SELECT {key} FROM "
        f"{raw(spec.name)}))"
    )
    edges = dict(batch.con.execute(f"SELECT k, p FROM ({final}) WHERE k IS NOT NULL").fetchall())
    rows = {
        k: (source, row)
        for k, source, row in batch.con.execute(
            f"SELECT {key}, {q(FILE)}, {q(ROW)} FROM {raw(spec.name)}"
        ).fetchall()
    }
    problems: list[Problem] = []
    reported: set[str] = set()
    for start in edges:
        path = [start]
        node = edges.get(start)
        while node is not None and node not in path and len(path) <= len(edges):
            path.append(node)
            node = edges.get(node)
        if node == start and start not in reported:
            cycle = [*path, start]
            reported.update(path)
            culprit = next((k for k in path if k in rows), start)
            source, row = rows.get(culprit, (f"{spec.name} (database)", None))
            problems.append(
                Problem(
                    source,
                    row,
                    parent,
                    edges[culprit],
                    f"makes a cycle of {spec.name} ({' → '.join(cycle)}); a team cannot be "
                    "its own ancestor",
                )
            )
    return problems


def _removed_reference_problems(batch: Batch) -> list[Problem]:
    """With --mode replace, rows left in the database must not lose what they reference."""
    if not batch.replace:
        return []
    problems = []
    for spec in TABLES:
        if spec.name in batch.tables:
            continue  # its staged rows were checked above; its old rows are replaced
        for column in spec.columns:
            if column.ref is None or column.ref not in batch.tables:
                continue
            v = q(column.name)
            rows = batch.con.execute(
                f"SELECT {v}, count(*) FROM {batch.existing(spec.name)} WHERE {v} IS NOT NULL "
                f"AND {v} NOT IN ({final_keys(batch, column.ref)}) GROUP BY {v} ORDER BY {v} "
                "LIMIT 20"
            ).fetchall()
            target = TABLES_BY_NAME[column.ref]
            for value, count in rows:
                problems.append(
                    Problem(
                        f"{column.ref} (replace)",
                        None,
                        target.key[0],
                        str(value),
                        f"is removed by replacing {column.ref}, but {count} {spec.name} row(s) "
                        f"in the database still reference it; keep it in the file or replace "
                        f"{spec.name} too",
                    )
                )
    return problems
