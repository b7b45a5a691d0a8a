"""One database URL: a DuckDB file in the workspace by default, or PostgreSQL for a team."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from kraft.errors import KraftError

SUPPORTED = ("duckdb", "postgresql")
# DuckDB takes up to 80 % of the machine's memory by default; kraft keeps it to a budget and lets
# large imports and computes spill to disk instead (KRAFT_DUCKDB_MEMORY overrides it).
DUCKDB_MEMORY_LIMIT = "800MB"


def _engine_options(url: str, read_only: bool) -> dict[str, Any]:
    if make_url(url).get_backend_name() != "duckdb":
        return {}
    limit = os.environ.get("KRAFT_DUCKDB_MEMORY", DUCKDB_MEMORY_LIMIT)
    options: dict[str, Any] = {"config": {"memory_limit": limit}}
    if read_only:  # many readers of one file may share it (a snapshot of the server's)
        options["read_only"] = True
    return {"connect_args": options}


def resolve_url(url: str, base_dir: Path) -> str:
    """A DuckDB file path is taken relative to the workspace; other URLs are kept as given."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise KraftError(
            f"database_url {url!r} is not a database URL; use duckdb:///kraft.duckdb or "
            "postgresql+psycopg://user@host/db."
        ) from None
    if parsed.get_backend_name() not in SUPPORTED:
        raise KraftError(
            f"database_url {url!r} names an unsupported database; kraft runs on DuckDB "
            "(duckdb:///file.duckdb) and PostgreSQL (postgresql+psycopg://...)."
        )
    if parsed.get_backend_name() == "duckdb" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute():
            parsed = parsed.set(database=str((base_dir / path).resolve()))
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """Owns the engine for the workspace's one database URL."""

    def __init__(self, url: str, *, read_only: bool = False, shown_as: str | None = None) -> None:
        """`shown_as`: how messages name it (a snapshot is named as the database it copies)."""
        self.url = url
        self.shown_as = shown_as
        try:
            self.engine: Engine = sa.create_engine(url, **_engine_options(url, read_only))
        except (ArgumentError, NoSuchModuleError) as exc:
            raise KraftError(f"Cannot use database_url {url!r}: {exc}.") from None
        self.dialect = self.engine.dialect.name

    @property
    def is_duckdb(self) -> bool:
        return self.dialect == "duckdb"

    @property
    def display_url(self) -> str:
        return self.shown_as or self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: everything inside commits together or not at all."""
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._connect() as conn:
            yield conn

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if "lock" in (first if isinstance(exc, sa.exc.OperationalError) else str(exc)).lower():
                raise _locked(self, exc) from None
            if isinstance(exc, sa.exc.OperationalError):
                raise KraftError(_connect_error(self, exc)) from None
            raise
        try:
            yield conn
        finally:
            conn.close()

    def dispose(self) -> None:
        self.engine.dispose()

    def copy_to(self, path: Path) -> None:
        """A consistent copy of this DuckDB database, every table, in a new file (the caller
        holds the writer, so no write lands halfway)."""
        with self.connect() as conn:
            name = conn.exec_driver_sql("SELECT current_database()").scalar_one()
            quoted = str(path).replace("'", "''")
            conn.exec_driver_sql(f"ATTACH '{quoted}' AS kraft_snapshot")
            try:
                conn.exec_driver_sql(f'COPY FROM DATABASE "{name}" TO kraft_snapshot')
                conn.commit()
            finally:
                conn.rollback()
                conn.exec_driver_sql("DETACH kraft_snapshot")
                conn.commit()


@dataclass(frozen=True)
class RunningServer:
    """The `kraft serve` that holds a DuckDB file, as its marker beside the file says."""

    pid: int
    url: str
    token_file: Path  # its local token (readable by the workspace's owner only)


class DatabaseLockedError(KraftError):
    """Another process (on DuckDB: `kraft serve`, or another command) holds the database;
    `server` names it when it is kraft's server."""

    def __init__(self, message: str, server: RunningServer | None = None) -> None:
        super().__init__(message)
        self.server = server


def _connect_error(db: Database, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"Cannot connect to {db.display_url} ({first}); check that the database is running."


def server_marker(db: Database) -> Path | None:
    """The file `kraft serve` writes beside a DuckDB file while it holds it (its PID and URL),
    so that a command refused by the lock can say where the server is."""
    database = db.engine.url.database
    if not db.is_duckdb or database in (None, "", ":memory:"):
        return None
    return Path(f"{database}.serve")


def token_file(marker: Path) -> Path:
    """Where `kraft serve` keeps the local token of the commands run beside it."""
    return marker.with_name(marker.name + ".token")


def _locked(db: Database, exc: Exception) -> DatabaseLockedError:
    holder = re.search(r"lock is held in (\S+) \(PID (\d+)\)", str(exc))
    marker = server_marker(db)
    if holder and marker is not None and marker.exists():
        try:
            server = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            server = {}
        if str(server.get("pid")) == holder[2]:
            return DatabaseLockedError(
                f"`kraft serve` (PID {holder[2]}, {server.get('url')}) holds the database "
                f"{db.engine.url.database}; make this change through its pages or its API "
                "(/api/v1, e.g. POST /api/v1/imports), or stop the server and try again.",
                RunningServer(int(holder[2]), str(server.get("url")), token_file(marker)),
            )
    who = f" ({Path(holder[1]).name}, PID {holder[2]})" if holder else ""
    return DatabaseLockedError(
        f"The database file {db.engine.url.database} is in use by another process{who}; "
        "stop that process (or, while `kraft serve` runs, do this through its API) and try again."
    )


def workspace_database(root: Path, url: str) -> Database:
    """The database of a workspace, its relative DuckDB path taken from the workspace folder."""
    return Database(resolve_url(url, root))
