"""The audit log for admins: every entry newest first, filtered and paginated, each old and new
value shown as indented JSON, and whether the hash chain is intact (kraft.store.audit.verify,
recomputed on every view: an edited or deleted entry shows at once)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from kraft.core.access import Scope
from kraft.errors import KraftError
from kraft.store import audit
from kraft.store.audit import AuditEntry, AuditFilter
from kraft.web.deps import PageScope, SiteDep
from kraft.web.render import render_page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


def only_admins(scope: PageScope) -> Scope:
    if not scope.is_admin:
        raise HTTPException(403, "Only an admin may read the audit log.")
    return scope


AdminScope = Annotated[Scope, Depends(only_admins)]


def readable(value: str | None) -> str:
    """A stored value (canonical JSON) as indented JSON; text that is not JSON as it is."""
    if value is None:
        return ""
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return value


def parse_day(text: str, field: str) -> date | None:
    """A filter's date, or None when empty; bad input is one sentence naming the field."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise KraftError(f"{field} {text!r} is not a date; write it as YYYY-MM-DD.") from None


def filter_of(
    actor: str, action: str, object_type: str, object_id: str, since: str, until: str
) -> AuditFilter:
    return AuditFilter(
        actor=actor.strip() or None,
        action=action.strip() or None,
        object_type=object_type.strip() or None,
        object_id=object_id.strip() or None,
        since=parse_day(since, "From"),
        until=parse_day(until, "To"),
    )


@dataclass(frozen=True)
class Shown:
    entry: AuditEntry
    old: str
    new: str


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    site: SiteDep,
    scope: AdminScope,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since: Annotated[str, Query(alias="from")] = "",
    until: Annotated[str, Query(alias="to")] = "",
    page: str = "1",
) -> HTMLResponse:
    form = {
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "from": since,
        "to": until,
    }
    message, status = "", 200
    number = int(page) if page.strip().isdigit() and int(page) > 0 else 1
    try:
        narrowed = filter_of(actor, action, object_type, object_id, since, until)
    except KraftError as exc:
        message, status, narrowed = exc.message, 422, None
    with site.read() as conn:
        problems = audit.verify(conn)
        actions, types = audit.kinds(conn)
        found: list[AuditEntry] = []
        total = 0
        if narrowed is not None:
            found, total = audit.search(
                conn, narrowed, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
            )
    pages = max(1, -(-total // PAGE_SIZE))
    kept = {k: v for k, v in form.items() if v}

    def link(n: int) -> str:
        return "/admin/audit?" + urlencode({**kept, "page": n})

    context: dict[str, Any] = {
        "form": form,
        "message": message,
        "problems": problems,
        "actions": actions,
        "types": types,
        "entries": [Shown(e, readable(e.old_value), readable(e.new_value)) for e in found],
        "total": total,
        "page": number,
        "pages": pages,
        "previous": link(number - 1) if number > 1 else "",
        "next": link(number + 1) if number < pages else "",
        "first": (number - 1) * PAGE_SIZE + 1,
    }
    return render_page(request, "audit.html.j2", context, status_code=status)
