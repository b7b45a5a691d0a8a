"""Turn a validated batch into typed rows, count what changes, and write it in one transaction.

DuckDB: the staging tables live in the target connection, so rows move with one INSERT ... SELECT.
PostgreSQL: rows move by COPY through a temporary CSV file, and deletes go through a temporary
key table. Either way the caller's transaction commits everything or nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from kraft.ingest.tolerance import rounded
from kraft.ingest.validate import Batch, q, raw, run, scalar, typed
from kraft.schema.tables import TABLES_BY_NAME, ColumnType, Table


@dataclass
class TableChange:
    table: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
        }


def typed_name(table: str) -> str:
    return q(f"typed_{table}")


def _on_key(spec: Table, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in spec.key)


def stage_typed(batch: Batch) -> None:
    """typed_<table>: the batch's rows in the stored types, defaults applied."""
    for name in batch.tables:
        spec = TABLES_BY_NAME[name]
        columns = ", ".join(f"{typed(c, q(c.name))} AS {q(c.name)}" for c in spec.columns)
        run(
            batch.con,
            f"CREATE OR REPLACE TEMP TABLE {typed_name(name)} AS SELECT {columns} FROM {raw(name)}",
        )


def rounded_values(batch: Batch) -> dict[str, dict[str, int]]:
    """Per table and decimal column, how many values storing rounds (DATA.md: the import summary
    counts them); only the columns with any."""
    counts: dict[str, dict[str, int]] = {}
    for name in batch.tables:
        columns = [c.name for c in TABLES_BY_NAME[name].columns if c.type is ColumnType.decimal]
        if not columns:
            continue
        found = batch.con.execute(
            "SELECT "
            + ", ".join(f"count(*) FILTER (WHERE {rounded(q(c))})" for c in columns)
            + f" FROM {raw(name)}"
        ).fetchall()[0]
        by_column = {c: int(n) for c, n in zip(columns, found, strict=True) if n}
        if by_column:
            counts[name] = by_column
    return counts


def diff(batch: Batch) -> dict[str, TableChange]:
    """Per table: rows new, changed, unchanged, and (replace) removed, against the database."""
    changes: dict[str, TableChange] = {}
    for name in batch.tables:
        spec = TABLES_BY_NAME[name]
        existing = batch.existing(name)
        differs = " OR ".join(f"t.{q(c.name)} IS DISTINCT FROM e.{q(c.name)}" for c in spec.columns)
        run(
            batch.con,
            f"CREATE OR REPLACE TEMP TABLE {q('change_' + name)} AS "
            f"SELECT {', '.join('t.' + q(k) for k in spec.key)}, "
            f"CASE WHEN e.__present IS NULL THEN 'inserted' WHEN {differs} THEN 'updated' "
            f"ELSE 'unchanged' END AS change FROM {typed_name(name)} t "
            f"LEFT JOIN (SELECT *, true AS __present FROM {existing}) e ON {_on_key(spec, 't', 'e')}",
        )
        counts = dict(
            batch.con.execute(
                f"SELECT change, count(*) FROM {q('change_' + name)} GROUP BY change"
            ).fetchall()
        )
        change = TableChange(
            name,
            inserted=counts.get("inserted", 0),
            updated=counts.get("updated", 0),
            unchanged=counts.get("unchanged", 0),
        )
        if batch.replace:
            change.removed = int(
                scalar(
                    batch.con,
                    f"SELECT count(*) FROM {existing} e WHERE NOT EXISTS (SELECT 1 FROM "
                    f"{typed_name(name)} t WHERE {_on_key(spec, 't', 'e')})",
                )
            )
        changes[name] = change
    return changes


def write_duckdb(batch: Batch, changes: dict[str, TableChange]) -> None:
    """Apply the batch to the DuckDB tables, inside the caller's transaction."""
    for name in batch.tables:
        spec = TABLES_BY_NAME[name]
        target = q(name)
        columns = ", ".join(q(c.name) for c in spec.columns)
        change = changes[name]
        if batch.replace:
            if change.inserted or change.updated or change.removed:
                run(batch.con, f"DELETE FROM {target}")
                run(
                    batch.con,
                    f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {typed_name(name)}",
                )
            continue
        if change.updated:
            run(
                batch.con,
                f"DELETE FROM {target} e USING {q('change_' + name)} c "
                f"WHERE c.change = 'updated' AND {_on_key(spec, 'e', 'c')}",
            )
        if change.inserted or change.updated:
            run(
                batch.con,
                f"INSERT INTO {target} ({columns}) SELECT {', '.join('t.' + q(c.name) for c in spec.columns)} "
                f"FROM {typed_name(name)} t JOIN {q('change_' + name)} c ON {_on_key(spec, 't', 'c')} "
                "WHERE c.change IN ('inserted', 'updated')",
            )


def copy_from_postgres(pg: Any, con: duckdb.DuckDBPyConnection, table: str, workdir: Path) -> str:
    """Copy a PostgreSQL table into the DuckDB staging connection; returns the relation name."""
    spec = TABLES_BY_NAME[table]
    columns = ", ".join(q(c.name) for c in spec.columns)
    path = workdir / f"db_{table}.csv"
    with (
        pg.cursor() as cur,
        path.open("wb") as out,
        cur.copy(f"COPY (SELECT {columns} FROM {q(table)}) TO STDOUT WITH (FORMAT csv)") as copy,
    ):
        for chunk in copy:
            out.write(chunk)
    types = ", ".join(
        f"{_sql_literal(c.name)}: {_sql_literal(_duck_type(c))}" for c in spec.columns
    )
    relation = q(f"db_{table}")
    run(
        con,
        f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT * FROM read_csv("
        f"{_sql_literal(str(path))}, columns={{{types}}}, header=false, auto_detect=false, "
        "delim=',', quote='\"', escape='\"')",
    )
    path.unlink()
    return relation


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _duck_type(column: Any) -> str:
    from kraft.schema.tables import ColumnType
    from kraft.store.metadata import DECIMAL_PLACES

    return {
        ColumnType.date: "DATE",
        ColumnType.month: "DATE",
        ColumnType.bool: "BOOLEAN",
        ColumnType.decimal: f"DECIMAL(24, {DECIMAL_PLACES})",
        ColumnType.int: "INTEGER",
    }.get(column.type, "VARCHAR")


def write_postgres(batch: Batch, changes: dict[str, TableChange], pg: Any) -> None:
    """Apply the batch to PostgreSQL with COPY, inside the caller's transaction."""
    with tempfile.TemporaryDirectory(prefix="kraft-import-") as tmp:
        workdir = Path(tmp)
        for name in batch.tables:
            spec = TABLES_BY_NAME[name]
            change = changes[name]
            columns = ", ".join(q(c.name) for c in spec.columns)
            with pg.cursor() as cur:
                if batch.replace:
                    if not (change.inserted or change.updated or change.removed):
                        continue
                    cur.execute(f"DELETE FROM {q(name)}")
                    selection = f"SELECT {columns} FROM {typed_name(name)}"
                else:
                    if change.updated:
                        keys = ", ".join(q(k) for k in spec.key)
                        key_file = workdir / f"del_{name}.csv"
                        run(
                            batch.con,
                            f"COPY (SELECT {keys} FROM {q('change_' + name)} WHERE change = "
                            f"'updated') TO {_sql_literal(str(key_file))} (HEADER false)",
                        )
                        cur.execute(
                            f"CREATE TEMP TABLE kraft_delete ON COMMIT DROP AS "
                            f"SELECT {keys} FROM {q(name)} WITH NO DATA"
                        )
                        _copy_file(cur, f"kraft_delete ({keys})", key_file)
                        cur.execute(
                            f"DELETE FROM {q(name)} e USING kraft_delete d WHERE "
                            f"{_on_key(spec, 'e', 'd')}"
                        )
                        cur.execute("DROP TABLE kraft_delete")
                    if not (change.inserted or change.updated):
                        continue
                    selection = (
                        f"SELECT {', '.join('t.' + q(c.name) for c in spec.columns)} FROM "
                        f"{typed_name(name)} t JOIN {q('change_' + name)} c ON "
                        f"{_on_key(spec, 't', 'c')} WHERE c.change IN ('inserted', 'updated')"
                    )
                rows_file = workdir / f"rows_{name}.csv"
                run(
                    batch.con,
                    f"COPY ({selection}) TO {_sql_literal(str(rows_file))} (HEADER false)",
                )
                _copy_file(cur, f"{q(name)} ({columns})", rows_file)
                cur.execute(f"ANALYZE {q(name)}")  # fresh statistics for the queries to come


def _copy_file(cur: Any, target: str, path: Path) -> None:
    with path.open("rb") as source, cur.copy(f"COPY {target} FROM STDIN WITH (FORMAT csv)") as copy:
        while chunk := source.read(1 << 20):
            copy.write(chunk)
    path.unlink()
