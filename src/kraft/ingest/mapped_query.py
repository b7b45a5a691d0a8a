"""A mapping's `query:` source: a table's rows read from the insurer's database.

The query runs in a read-only transaction (PostgreSQL) or on a read-only connection without
file access (DuckDB), with the URL, and so the credentials, taken from an environment variable
the mapping names; a mapping never holds them. Only the command line and kraft.toml's mapping
run queries: a mapping that came through the web is refused before anything connects.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from kraft.ingest.mapping import MappingError
from kraft.ingest.sources import _cell_text

QUERY_BACKENDS = ("postgresql", "duckdb")
# the drivers whose server-side cursors keep a query to one statement
POSTGRESQL_DRIVERS = ("psycopg", "psycopg2")
FETCH_ROWS = 50_000


def read_query(key: str, query: str, variable: str) -> pa.Table:
    """The query's rows as text columns named as the query names them."""
    engine = _engine(key, variable)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                names, columns = _read_columns(key, conn, query)
            finally:
                transaction.rollback()
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise MappingError(
            f"{key}.query failed on the database ({first}); a query source is one SELECT, "
            "run read-only: check the query and the database user's rights."
        ) from None
    finally:
        engine.dispose()
    return pa.table({n: pa.array(columns[i], pa.string()) for i, n in enumerate(names)})


def _read_columns(
    key: str, conn: sa.Connection, query: str
) -> tuple[list[str], list[list[str | None]]]:
    """On PostgreSQL the query runs in a read-only transaction through a server-side cursor:
    its DECLARE takes exactly one statement, so `COMMIT; INSERT ...` cannot end the read-only
    transaction and write, and the query's text is sent as written (a `%` in a LIKE is a `%`)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        driver: Any = conn.connection.dbapi_connection
        cursor = driver.cursor("kraft_query_source")
        cursor.execute(query)
    else:
        cursor = conn.exec_driver_sql(query).cursor
    if cursor.description is None:
        raise MappingError(f"{key}.query returns no rows; write a SELECT.")
    names = [str(column[0]) for column in cursor.description]
    columns: list[list[str | None]] = [[] for _ in names]
    while batch := cursor.fetchmany(FETCH_ROWS):
        for row in batch:
            for i, value in enumerate(row):
                columns[i].append(_text(value))
    cursor.close()
    return names, columns


def _engine(key: str, variable: str) -> sa.Engine:
    url = os.environ.get(variable)
    if not url:
        raise MappingError(
            f"{key}.database: the environment variable {variable} is not set; set it to the "
            "database's URL (postgresql+psycopg://user@host/db) before importing."
        )
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise MappingError(
            f"{key}.database: ${variable} is not a database URL; write one like "
            "postgresql+psycopg://user@host/db."
        ) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in QUERY_BACKENDS:
        raise MappingError(
            f"{key}.database: ${variable} names a {backend} database; kraft queries PostgreSQL "
            "and DuckDB."
        )
    if backend == "postgresql" and driver not in POSTGRESQL_DRIVERS:
        raise MappingError(
            f"{key}.database: ${variable} names the {driver} driver; kraft reads PostgreSQL "
            "through psycopg: write postgresql+psycopg://user@host/db."
        )
    options: dict[str, Any] = {}
    if backend == "duckdb":
        options["connect_args"] = {
            "read_only": True,
            "config": {"enable_external_access": False},
        }
    try:
        return sa.create_engine(parsed, **options)
    except (ImportError, SQLAlchemyError) as exc:
        raise MappingError(
            f"{key}.database: ${variable}'s database cannot be opened ({exc})."
        ) from None


def _text(value: object) -> str | None:
    if isinstance(value, Decimal):
        return format(value, "f")
    return _cell_text(value)
