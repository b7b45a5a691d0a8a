"""An import batch, all or nothing: stage, validate set-wise, diff, write, record, audit.

The whole batch is one database transaction. Any problem rejects the batch before anything is
written; a process killed midway leaves the database as it was, because nothing commits until
the end.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, cast

import duckdb
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.errors import KraftError
from kraft.ingest.problem_groups import SHOWN_GROUPS, group_problems, summary_lines
from kraft.ingest.sources import RawTable, text_select
from kraft.ingest.validate import Batch, Problem, find_problems, q, run
from kraft.ingest.write import (
    TableChange,
    copy_from_postgres,
    diff,
    rounded_values,
    stage_typed,
    write_duckdb,
    write_postgres,
)
from kraft.periods import Calendar
from kraft.schema.tables import TABLES
from kraft.store import audit
from kraft.store.database import Database
from kraft.store.metadata import import_runs


class Mode(Enum):
    """upsert: insert new keys, update changed rows; replace: each table holds exactly the file."""

    upsert = "upsert"
    replace = "replace"


class ImportRejectedError(KraftError):
    """The batch has problems; nothing was written."""

    def __init__(
        self, total: int, problems: list[Problem], tables: dict[str, str] | None = None
    ) -> None:
        self.groups = group_problems(problems, tables)
        shown = min(len(self.groups), SHOWN_GROUPS)
        more = f" The {shown} biggest groups:" if len(self.groups) > shown else ""
        super().__init__(
            f"The import was rejected: {total} problem(s) in {len(self.groups)} group(s) by "
            f"file, column and kind; nothing was written.{more}"
        )
        self.total = total
        self.problems = problems
        self.details = summary_lines(self.groups, total)


@dataclass
class ImportResult:
    changes: dict[str, TableChange]
    as_of: date | None
    as_of_source: str
    dry_run: bool
    import_id: int | None = None
    warnings: list[str] = field(default_factory=list)
    # decimals stored rounded to 6 places, per table and column; files and sheets naming no table
    rounded: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    mapping: dict[str, str] | None = None

    def summary(self) -> dict[str, dict[str, int]]:
        return {name: change.as_dict() for name, change in self.changes.items()}


def _ordered(raws: list[RawTable]) -> dict[str, list[int]]:
    """Per table in contract order, the indexes of its sources in `raws`."""
    grouped: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(raws):
        grouped[item.table].append(index)
    return {t.name: grouped[t.name] for t in TABLES if t.name in grouped}


def _register(
    con: duckdb.DuckDBPyConnection, raws: list[RawTable], tables: dict[str, list[int]]
) -> None:
    """raw_<table>: every source of the table as contract text, materialised once for the checks."""
    for name, indexes in tables.items():
        selects = []
        for index in indexes:
            con.register(f"arrow_{index}", raws[index].data)
            selects.append(text_select(raws[index], q(f"arrow_{index}")))
        run(
            con,
            f"CREATE OR REPLACE TEMP TABLE {q('raw_' + name)} AS {' UNION ALL '.join(selects)}",
        )
        for index in indexes:
            con.unregister(f"arrow_{index}")
            raws[index].release()


@contextmanager
def _staging(db: Database, conn: Connection) -> Iterator[tuple[duckdb.DuckDBPyConnection, Any]]:
    """A DuckDB connection for staging: the target's own on DuckDB, an in-memory one otherwise."""
    driver = conn.connection.driver_connection
    if db.is_duckdb:
        yield cast(duckdb.DuckDBPyConnection, driver), None
        return
    con = duckdb.connect()
    try:
        yield con, driver
    finally:
        con.close()


@dataclass(frozen=True)
class ImportOptions:
    """How a batch is imported: the mode, the data's as-of date (None: the latest event date), a
    dry run (validated and diffed, nothing written), who the audit log names, the calendar (None:
    calendar months), the manual KPIs whose measurements the batch may hold, and what the reading
    skipped (for the summary)."""

    mode: Mode = Mode.upsert
    as_of: date | None = None
    dry_run: bool = False
    actor: str = "cli"
    calendar: Calendar | None = None
    manual_kpis: Collection[str] = ()
    skipped: Collection[str] = ()  # files and sheets that named no table (reported, not read)
    mapping: dict[str, str] | None = None  # the mapping file applied, and its sha256 (audited)


def run_import(db: Database, raws: list[RawTable], options: ImportOptions) -> ImportResult:
    mode, as_of, dry_run = options.mode, options.as_of, options.dry_run
    batch_tables = _ordered(raws)
    if not batch_tables:
        raise KraftError(
            "Nothing to import: no file names a table of the import contract.",
            details=[f"{skipped}." for skipped in options.skipped],
        )
    started = datetime.now(UTC).replace(tzinfo=None)
    with (
        db.connect() as conn,
        tempfile.TemporaryDirectory(prefix="kraft-stage-") as tmp,
        _staging(db, conn) as (con, pg),
    ):
        copied: dict[str, str] = {}

        def existing(table: str) -> str:
            if pg is None:
                return f"main.{q(table)}"
            if table not in copied:
                copied[table] = copy_from_postgres(pg, con, table, Path(tmp))
            return copied[table]

        try:
            # Staged before the transaction begins: they are temporary tables, and DuckDB lets
            # go of the source rows only at the end of the transaction that read them.
            _register(con, raws, batch_tables)
            batch = Batch(
                con,
                list(batch_tables),
                existing,
                mode is Mode.replace,
                options.calendar or Calendar(1),
                options.manual_kpis,
            )
            transaction = conn.begin()
            try:
                total, problems = find_problems(batch)
                if total:
                    raise ImportRejectedError(total, problems, {r.source: r.table for r in raws})
                rounded = rounded_values(batch)
                stage_typed(batch)
                changes = diff(batch)
                result = ImportResult(changes, as_of, "--as-of", dry_run)
                result.rounded, result.skipped = rounded, list(options.skipped)
                result.mapping = options.mapping
                if dry_run:
                    transaction.rollback()
                else:
                    if pg is None:
                        write_duckdb(batch, changes)
                    else:
                        write_postgres(batch, changes, pg)
                    _finish(conn, result, raws, mode, options.actor, started)
                    transaction.commit()
            except BaseException:
                if transaction.is_active:
                    transaction.rollback()
                raise
        finally:
            _drop_staging(con, list(batch_tables))
    return result


def _drop_staging(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    for name in tables:
        run(con, f"DROP TABLE IF EXISTS {q('raw_' + name)}")
        for prefix in ("typed_", "change_"):
            run(con, f"DROP TABLE IF EXISTS {q(prefix + name)}")


def latest_event_date(conn: Connection) -> date | None:
    """DATA.md: the latest event date in the data (never a scheduled date)."""
    parts = [
        f"SELECT max({q(column)}) AS d FROM {q(t.name)}" for t in TABLES for column in t.event_dates
    ]
    value = conn.execute(
        sa.text(f"SELECT max(d) FROM ({' UNION ALL '.join(parts)}) AS events")
    ).scalar()
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _finish(
    conn: Connection,
    result: ImportResult,
    raws: list[RawTable],
    mode: Mode,
    actor: str,
    started: datetime,
) -> None:
    latest = latest_event_date(conn)
    if result.as_of is None:
        result.as_of, result.as_of_source = latest, "latest event date"
    elif latest is not None and latest > result.as_of:
        result.warnings.append(
            f"the data holds event dates up to {latest}, after --as-of {result.as_of}; "
            "check the export date"
        )
    files = [
        {"file": r.source, "table": r.table, "rows": r.rows, "sha256": r.checksum} for r in raws
    ]
    next_id = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(import_runs.c.import_id), 0))
    ).scalar()
    result.import_id = int(next_id or 0) + 1
    finished = datetime.now(UTC).replace(tzinfo=None)
    conn.execute(
        import_runs.insert().values(
            import_id=result.import_id,
            started_at=started,
            finished_at=finished,
            actor=actor,
            mode=mode.value,
            as_of=result.as_of,
            as_of_source=result.as_of_source,
            files=json.dumps(files),
            summary=json.dumps(result.summary()),
        )
    )
    new: dict[str, Any] = {
        "mode": mode.value,
        "as_of": result.as_of.isoformat() if result.as_of else None,
        "files": files,
        "tables": result.summary(),
    }
    if result.rounded:
        new["rounded"] = result.rounded
    if result.skipped:
        new["skipped"] = result.skipped
    if result.mapping:
        new["mapping"] = result.mapping
    audit.append(
        conn,
        actor=actor,
        action="import",
        object_type="import",
        object_id=str(result.import_id),
        new=new,
    )
