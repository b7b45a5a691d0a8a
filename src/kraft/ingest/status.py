"""What the workspace database holds: row counts, the data as-of date, periods, last import."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.ingest.validate import q
from kraft.periods import Calendar, Grain
from kraft.schema.tables import TABLES
from kraft.store.metadata import import_runs


def earliest_event_date(conn: Connection) -> date | None:
    parts = [f"SELECT min({q(c)}) AS d FROM {q(t.name)}" for t in TABLES for c in t.event_dates]
    value = conn.execute(sa.text(f"SELECT min(d) FROM ({' UNION ALL '.join(parts)}) AS e")).scalar()
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def last_import(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(import_runs).order_by(import_runs.c.import_id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return {
        "import_id": row.import_id,
        "finished_at": row.finished_at.isoformat(timespec="seconds"),
        "actor": row.actor,
        "mode": row.mode,
        "as_of": row.as_of.isoformat() if row.as_of else None,
        "as_of_source": row.as_of_source,
        "files": json.loads(row.files),
        "tables": json.loads(row.summary),
    }


def status(conn: Connection, calendar: Calendar) -> dict[str, Any]:
    """The database part of `kraft status`; keys are stable for scripts."""
    latest = last_import(conn)
    as_of = date.fromisoformat(latest["as_of"]) if latest and latest["as_of"] else None
    first = earliest_event_date(conn)
    periods: dict[str, Any] = {"first": None, "last": None, "months": 0}
    if first and as_of and first <= as_of:
        months = list(calendar.periods(Grain.month, first, as_of))
        periods = {"first": months[0].label, "last": months[-1].label, "months": len(months)}
    return {
        "tables": table_counts(conn),
        "as_of": as_of.isoformat() if as_of else None,
        "periods": periods,
        "last_import": latest,
    }


def table_counts(conn: Connection) -> dict[str, int]:
    return {
        t.name: int(conn.execute(sa.text(f"SELECT count(*) FROM {q(t.name)}")).scalar() or 0)
        for t in TABLES
    }


def received_tables(conn: Connection) -> set[str]:
    """The contract tables that have ever held a row: those holding rows now, and those any
    import inserted rows into (import_runs keeps every import's per-table counts, so a table
    emptied by a later `--mode replace` still counts as received)."""
    found: set[str] = set()
    for (summary,) in conn.execute(sa.select(import_runs.c.summary)):
        for name, counts in json.loads(summary).items():
            if isinstance(counts, dict) and int(counts.get("inserted", 0) or 0) > 0:
                found.add(name)
    for t in TABLES:  # rows written another way: one row is enough to know
        if (
            t.name not in found
            and conn.execute(sa.text(f"SELECT 1 FROM {q(t.name)} LIMIT 1")).first()
        ):
            found.add(t.name)
    return found
