"""API: the audit log for admins (403 for anyone else), with the audit page's filters; with
verify=true, the hash chain is recomputed and its problems listed."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from kraft.store import audit
from kraft.store.audit import AuditEntry, AuditFilter
from kraft.web.deps import ROW_ID_MAX, ApiScope, SiteDep

router = APIRouter(tags=["audit"])


class AuditEntryOut(BaseModel):
    seq: int
    recorded_at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str | None
    old_value: Any = None
    new_value: Any = None
    prev_hash: str
    hash: str


class ChainOut(BaseModel):
    intact: bool
    problems: list[str]


class AuditPage(BaseModel):
    total: int
    limit: int
    offset: int
    entries: list[AuditEntryOut]
    chain: ChainOut | None = None


def _value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        seq=entry.seq,
        recorded_at=entry.recorded_at,
        actor=entry.actor,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        old_value=_value(entry.old_value),
        new_value=_value(entry.new_value),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


@router.get("/audit", response_model=AuditPage)
def audit_log(
    site: SiteDep,
    scope: ApiScope,
    actor: Annotated[str | None, Query(description="any part of the actor")] = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: Annotated[date | None, Query(alias="from", description="first UTC day")] = None,
    until: Annotated[date | None, Query(alias="to", description="last UTC day")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=ROW_ID_MAX)] = 0,
    verify: Annotated[bool, Query(description="recompute the hash chain")] = False,
) -> AuditPage:
    """The entries that match, newest first; values as the JSON they were written as."""
    if not scope.is_admin:
        raise HTTPException(403, "Only an admin may read the audit log.")
    narrowed = AuditFilter(actor, action, object_type, object_id, since, until)
    with site.read() as conn:
        found, total = audit.search(conn, narrowed, limit=limit, offset=offset)
        problems = audit.verify(conn) if verify else None
    return AuditPage(
        total=total,
        limit=limit,
        offset=offset,
        entries=[entry_out(e) for e in found],
        chain=None if problems is None else ChainOut(intact=not problems, problems=problems),
    )
