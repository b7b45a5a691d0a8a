"""The operational tables as Parquet: one `<table>.parquet` per table of the contract, typed by
the schema module, so that a lake, Spark (`kraft compute --engine spark`) or `kraft import` reads
them back exactly.

Types: ids, text, enums and period labels are strings; dates and months (a month's first day)
are Parquet dates; booleans are booleans; decimals are decimal(24, 6) (as the database keeps
them); integers are int32.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.engine import Connection

from kraft.errors import KraftError
from kraft.schema.tables import TABLES, ColumnType, Table
from kraft.store.database import Database
from kraft.store.metadata import DECIMAL_PLACES

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.id: pa.string(),
    ColumnType.text: pa.string(),
    ColumnType.enum: pa.string(),
    ColumnType.period: pa.string(),
    ColumnType.date: pa.date32(),
    ColumnType.month: pa.date32(),
    ColumnType.bool: pa.bool_(),
    ColumnType.decimal: pa.decimal128(24, DECIMAL_PLACES),
    ColumnType.int: pa.int32(),
}
BATCH_ROWS = 200_000


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, ARROW_TYPES[c.type], nullable=not c.required) for c in table.columns]
    )


def table_path(directory: Path, table: str) -> Path:
    return directory / f"{table}.parquet"


def export_parquet(db: Database, directory: Path, *, force: bool = False) -> dict[str, int]:
    """Write every operational table to `directory/<table>.parquet`; rows written per table.

    A folder that holds anything refuses the export unless `force` (then only the tables'
    files are replaced). Each file is written beside its final name and renamed when complete,
    so a failed export never leaves a half-written table under a table's name.
    """
    if directory.exists() and not directory.is_dir():
        raise KraftError(f"{directory} is a file; give a folder to write the Parquet tables in.")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise KraftError(
            f"{directory} is not empty; choose an empty or new folder, or add --force to "
            "replace the tables' files in it."
        )
    directory.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with db.connect() as conn:
        for table in TABLES:
            schema = arrow_schema(table)
            final = table_path(directory, table.name)
            partial = final.with_name(f".{final.name}.partial")
            rows = 0
            try:
                with pq.ParquetWriter(partial, schema) as writer:
                    for batch in _batches(conn, table, schema):
                        writer.write_batch(batch)
                        rows += batch.num_rows
                os.replace(partial, final)
            finally:
                partial.unlink(missing_ok=True)
            counts[table.name] = rows
        conn.rollback()
    return counts


def _batches(conn: Connection, table: Table, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The table's rows in the schema's types: through Arrow on DuckDB, in batches elsewhere."""
    columns = ", ".join(f'"{c}"' for c in table.column_names)
    sql = f'SELECT {columns} FROM "{table.name}"'
    if conn.dialect.name == "duckdb":
        driver: Any = conn.connection.driver_connection
        for batch in driver.sql(sql).to_arrow_reader(BATCH_ROWS):
            yield from pa.Table.from_batches([batch]).cast(schema).to_batches()
        return
    result = conn.exec_driver_sql(sql)
    names = table.column_names
    while rows := result.fetchmany(BATCH_ROWS):
        data = {name: [row[i] for row in rows] for i, name in enumerate(names)}
        yield pa.RecordBatch.from_pydict(data, schema=schema)
