"""The append-only audit log: every entry carries the hash of the one before it.

An entry is written in the same transaction as the change it records. `verify` recomputes the
chain: an edited entry breaks its own hash, a deleted one breaks the sequence or the next entry's
link, and deleting the newest entries is caught by the head row written with every entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.store.metadata import audit_head, audit_log

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    """What an entry records, the link to the entry before it included: what its hash covers."""

    seq: int
    recorded_at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str | None
    old_value: str | None
    new_value: str | None
    prev_hash: str


@dataclass(frozen=True)
class AuditEntry(AuditRecord):
    """An entry as stored: its record and the hash over it."""

    hash: str


def _canonical(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(record: AuditRecord) -> str:
    payload = json.dumps(
        [
            record.seq,
            record.recorded_at.isoformat(timespec="microseconds"),
            record.actor,
            record.action,
            record.object_type,
            record.object_id,
            record.old_value,
            record.new_value,
            record.prev_hash,
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None = None,
    old: Any = None,
    new: Any = None,
) -> AuditEntry:
    """Write one entry in the caller's transaction and move the head to it."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE audit_head IN EXCLUSIVE MODE"))
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).first()
    seq, prev_hash = (int(head.seq) + 1, str(head.hash)) if head else (1, GENESIS)
    recorded_at = datetime.now(UTC).replace(tzinfo=None)
    old_value, new_value = _canonical(old), _canonical(new)
    digest = entry_hash(
        AuditRecord(
            seq, recorded_at, actor, action, object_type, object_id, old_value, new_value, prev_hash
        )
    )
    conn.execute(
        audit_log.insert().values(
            seq=seq,
            recorded_at=recorded_at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            old_value=old_value,
            new_value=new_value,
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    conn.execute(audit_head.delete())
    conn.execute(audit_head.insert().values(id=1, seq=seq, hash=digest))
    return AuditEntry(
        seq,
        recorded_at,
        actor,
        action,
        object_type,
        object_id,
        old_value,
        new_value,
        prev_hash,
        digest,
    )


def entries(
    conn: Connection, *, limit: int | None = None, action: str | None = None
) -> list[AuditEntry]:
    """Newest first."""
    query = sa.select(audit_log).order_by(audit_log.c.seq.desc())
    if action:
        query = query.where(audit_log.c.action == action)
    if limit:
        query = query.limit(limit)
    return [AuditEntry(**row._mapping) for row in conn.execute(query)]


def verify(conn: Connection) -> list[str]:
    """Every break in the chain, as sentences; empty when the log is intact."""
    problems: list[str] = []
    expected_seq, prev_hash = 1, GENESIS
    rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.seq))
    for row in rows:
        entry = AuditEntry(**row._mapping)
        if entry.seq != expected_seq:
            problems.append(
                f"entry {expected_seq}"
                + (f" to {entry.seq - 1}" if entry.seq - 1 > expected_seq else "")
                + " is missing (deleted)"
            )
        if entry.prev_hash != prev_hash:
            problems.append(f"entry {entry.seq} does not link to the entry before it")
        recomputed = entry_hash(entry)
        if recomputed != entry.hash:
            problems.append(f"entry {entry.seq} was changed after it was written")
        expected_seq, prev_hash = entry.seq + 1, entry.hash
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).first()
    last_seq = expected_seq - 1
    if head is None:
        if last_seq:
            problems.append("the audit head is missing")
    elif int(head.seq) != last_seq or str(head.hash) != prev_hash:
        if int(head.seq) > last_seq:
            problems.append(f"entries {last_seq + 1} to {head.seq} are missing (deleted)")
        else:
            problems.append("the audit head does not match the last entry")
    return problems


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page and GET /api/v1/audit narrow the log by; None: any. The actor matches
    on any part (case-insensitive: "cli:" finds every command-line change); the others exactly.
    Dates are UTC days, both included."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: date | None = None
    until: date | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        c = audit_log.c
        found: list[sa.ColumnElement[bool]] = []
        if self.actor:
            found.append(sa.func.lower(c.actor).contains(self.actor.lower(), autoescape=True))
        if self.action:
            found.append(c.action == self.action)
        if self.object_type:
            found.append(c.object_type == self.object_type)
        if self.object_id:
            found.append(c.object_id == self.object_id)
        if self.since:
            found.append(c.recorded_at >= datetime.combine(self.since, time.min))
        if self.until:
            found.append(c.recorded_at < datetime.combine(self.until + timedelta(days=1), time.min))
        return found


def search(
    conn: Connection, narrowed: AuditFilter, *, limit: int, offset: int = 0
) -> tuple[list[AuditEntry], int]:
    """One page of the entries that match, newest first, and how many match in all."""
    where = narrowed.where()
    total = conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(*where)).scalar()
    query = (
        sa.select(audit_log)
        .where(*where)
        .order_by(audit_log.c.seq.desc())
        .limit(limit)
        .offset(offset)
    )
    return [AuditEntry(**row._mapping) for row in conn.execute(query)], int(total or 0)


def kinds(conn: Connection) -> tuple[list[str], list[str]]:
    """The actions and the object types the log holds, for choosing a filter."""
    c = audit_log.c
    actions = conn.execute(sa.select(c.action).distinct().order_by(c.action)).scalars().all()
    types = conn.execute(sa.select(c.object_type).distinct().order_by(c.object_type))
    return list(actions), list(types.scalars().all())
