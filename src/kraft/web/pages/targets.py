"""The targets editor: the current targets the user may see, with their history; a form to set
a target for the company (admin), a team or an RM in scope; and a page per version to change
or delete it.

All the rules and the writing are kraft.web.edits (shared with the API): this module turns form
fields into its calls and its refusals into the page. A form carries the version's ETag; when
someone else changed the target since the form was opened, the page says so and shows the
current version with the values that were typed, so nothing is lost. After a change the page
links to the scorecard or team page whose score it moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kraft.framework.model import Framework, Role
from kraft.reports.values import format_value
from kraft.store.metadata import operational
from kraft.web import edits
from kraft.web.deps import CsrfForm, PageScope, SiteDep
from kraft.web.render import render_page
from kraft.web.scope import Scope
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)

RMS = operational["relationship_managers"]
TEAMS = operational["teams"]
STALE = (
    "This target was changed by someone else since you opened it; nothing was saved. The "
    "current version is shown, with the values you typed kept in the form: check them and "
    "save again."
)


def only_target_setters(scope: PageScope) -> Scope:
    if scope.role is Role.rm:
        raise HTTPException(
            403, "Targets are set by managers and admins; an RM cannot change them."
        )
    return scope


SetterScope = Annotated[Scope, Depends(only_target_setters)]


def number(text: str, field: str, *, required: bool) -> Decimal | None:
    """A form's decimal; 422 naming the field when it is not one."""
    cleaned = text.strip().replace(",", "")
    if not cleaned:
        if required:
            raise HTTPException(422, f"{field}: give a number.")
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise HTTPException(422, f"{field}: {text.strip()!r} is not a number.") from None
    if not value.is_finite():
        raise HTTPException(422, f"{field}: {text.strip()!r} is not a number.")
    return value


def affected_page(scope_type: str, scope_id: str, period: str | None) -> tuple[str, str]:
    """(link, words) of the page whose score a target of the scope moves."""
    query = f"?period={period}" if period else ""
    if scope_type == "rm":
        return f"/rms/{scope_id}{query}", f"the scorecard of {scope_id}"
    if scope_type == "team":
        return f"/teams/{scope_id}{query}", f"the team page of {scope_id}"
    return f"/{query}", "the company overview"


@dataclass(frozen=True)
class Choice:
    value: str  # org, team:T003, rm:RM0002
    label: str


def scope_choices(site: Site, scope: Scope) -> list[Choice]:
    """The scopes the user may set targets for: the company (admin), teams and RMs in scope
    (never the user's own record)."""
    with site.read() as conn:
        teams = conn.execute(sa.select(TEAMS.c.team_id, TEAMS.c.name).order_by(TEAMS.c.team_id))
        team_rows = [
            (r.team_id, r.name) for r in teams if scope.can_edit_targets("team", r.team_id)
        ]
        rms = conn.execute(
            sa.select(RMS.c.rm_id, RMS.c.name)
            .where(scope.rm_filter(RMS.c.rm_id), sa.func.coalesce(RMS.c.role, "rm") == "rm")
            .order_by(RMS.c.rm_id)
        )
        rm_rows = [(r.rm_id, r.name) for r in rms if scope.can_edit_targets("rm", r.rm_id)]
    choices = [Choice("org", "The company")] if scope.can_edit_targets("org", "org") else []
    choices += [Choice(f"team:{t}", f"Team {t} · {name}") for t, name in team_rows]
    choices += [Choice(f"rm:{r}", f"RM {r} · {name}") for r, name in rm_rows]
    return choices


def _names(site: Site) -> dict[tuple[str, str], str]:
    with site.read() as conn:
        teams = {
            ("team", r[0]): r[1] for r in conn.execute(sa.select(TEAMS.c.team_id, TEAMS.c.name))
        }
        rms = {("rm", r[0]): r[1] for r in conn.execute(sa.select(RMS.c.rm_id, RMS.c.name))}
    return {**teams, **rms, ("org", "org"): "The company"}


def _may_change(scope: Scope, version: edits.TargetVersion) -> bool:
    """Whether the version's form is offered: the current version of a scope the user sets
    targets for (edits.may_set_target decides again when the form is sent)."""
    s = version.stored
    return version.status == "current" and scope.can_edit_targets(s.scope_type, s.scope_id)


def _shown(framework: Framework, version: edits.TargetVersion) -> dict[str, str]:
    """The version's numbers as people read them (85 %, ₹1,500,000)."""
    try:
        unit = framework.kpi(version.stored.kpi_id).unit
    except KeyError:
        unit = None
    return {
        "target": format_value(version.stored.target, unit, framework.currency),
        "threshold": format_value(version.stored.threshold, unit, framework.currency),
    }


def _kpi_names(framework: Framework) -> dict[str, str]:
    return {kpi.id: kpi.name for _, kpi in framework.kpis()}


def _list_page(
    request: Request,
    site: Site,
    scope: Scope,
    *,
    kpi: str = "",
    history: bool = False,
    message: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    framework = site.framework
    with site.read() as conn:
        versions = edits.target_versions(
            conn, framework, scope, kpi_id=kpi or None, history=history
        )
    context: dict[str, Any] = {
        "versions": versions,
        "shown": {v.stored.target_id: _shown(framework, v) for v in versions},
        "changeable": {v.stored.target_id for v in versions if _may_change(scope, v)},
        "names": _names(site),
        "kpi_names": _kpi_names(framework),
        "kpis": [(k.id, k.name, k.grain.value if k.grain else "") for _, k in framework.kpis()],
        "choices": scope_choices(site, scope),
        "kpi": kpi,
        "history": history,
        "message": message,
        "form": form or {},
    }
    return render_page(request, "targets.html.j2", context, status_code=status_code)


@router.get("/targets", response_class=HTMLResponse)
def targets_page(
    request: Request, site: SiteDep, scope: SetterScope, kpi: str = "", history: str = ""
) -> HTMLResponse:
    return _list_page(request, site, scope, kpi=kpi, history=history in ("1", "true", "on"))


@router.post("/targets", dependencies=[CsrfForm])
def set_target(
    request: Request,
    site: SiteDep,
    scope: SetterScope,
    target_scope: Annotated[str, Form(alias="scope")] = "",
    kpi_id: Annotated[str, Form()] = "",
    from_period: Annotated[str, Form()] = "",
    to_period: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    threshold: Annotated[str, Form()] = "",
) -> Response:
    """A new target version; a refusal keeps the form as typed."""
    form = {
        "scope": target_scope,
        "kpi_id": kpi_id,
        "from_period": from_period,
        "to_period": to_period,
        "target": target,
        "threshold": threshold,
    }
    scope_type, _, scope_id = target_scope.partition(":")
    try:
        version = edits.create_target(
            site,
            scope,
            scope_type=scope_type,
            scope_id=scope_id or ("org" if scope_type == "org" else None),
            kpi_id=kpi_id,
            from_period=from_period.strip() or None,
            to_period=to_period.strip() or None,
            target=_required(number(target, "target", required=True)),
            threshold=number(threshold, "threshold", required=False),
        )
    except HTTPException as exc:
        return _list_page(
            request, site, scope, message=str(exc.detail), form=form, status_code=exc.status_code
        )
    return RedirectResponse(f"/targets/{version.stored.target_id}?saved=set", status_code=303)


def _required(value: Decimal | None) -> Decimal:
    assert value is not None  # number(required=True) gives a value or refuses
    return value


def _history(site: Site, scope: Scope, version: edits.TargetVersion) -> list[edits.TargetVersion]:
    s = version.stored
    with site.read() as conn:
        return [
            v
            for v in edits.target_versions(
                conn,
                site.framework,
                scope,
                kpi_id=s.kpi_id,
                scope_type=s.scope_type,
                scope_id=s.scope_id,
                history=True,
            )
            if (v.stored.from_period, v.stored.to_period) == (s.from_period, s.to_period)
        ]


def _version_page(
    request: Request,
    site: Site,
    scope: Scope,
    version: edits.TargetVersion,
    *,
    message: str = "",
    saved: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    s = version.stored
    link, words = affected_page(s.scope_type, s.scope_id, s.to_period or s.from_period)
    history = _history(site, scope, version)
    framework = site.framework
    context: dict[str, Any] = {
        "version": version,
        "shown": _shown(framework, version),
        "history": history,
        "history_shown": {v.stored.target_id: _shown(framework, v) for v in history},
        "names": _names(site),
        "kpi_names": _kpi_names(framework),
        "changeable": _may_change(scope, version),
        "message": message,
        "saved": saved,
        "affected": (link, words),
        "form": form
        or {
            "target": edits.plain_decimal(s.target),
            "threshold": edits.plain_decimal(s.threshold) if s.threshold is not None else "",
        },
    }
    return render_page(request, "targets_edit.html.j2", context, status_code=status_code)


@router.get("/targets/{target_id}", response_class=HTMLResponse)
def version_page(
    request: Request, site: SiteDep, scope: SetterScope, target_id: edits.RowId, saved: str = ""
) -> HTMLResponse:
    with site.read() as conn:
        version = edits.get_target(conn, site.framework, scope, target_id)
    notes = {
        "set": "Saved: the new target is in force.",
        "changed": "Saved: this version replaces the one before it.",
        "deleted": "Deleted: the scope now falls back to the team's, the company's or the "
        "framework's target.",
    }
    return _version_page(request, site, scope, version, saved=notes.get(saved, ""))


def _current_of(
    site: Site, scope: Scope, version: edits.TargetVersion
) -> edits.TargetVersion | None:
    """The current version of the same scope, KPI and range (None: it was deleted)."""
    return next((v for v in _history(site, scope, version) if v.status == "current"), None)


@router.post("/targets/{target_id}", dependencies=[CsrfForm])
def change_target(
    request: Request,
    site: SiteDep,
    scope: SetterScope,
    target_id: edits.RowId,
    etag: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "change",
    target: Annotated[str, Form()] = "",
    threshold: Annotated[str, Form()] = "",
) -> Response:
    """Change (a new version) or delete the version the form was opened on, if it still is
    what the form's ETag says."""
    form = {"target": target, "threshold": threshold}
    with site.read() as conn:
        opened = edits.get_target(conn, site.framework, scope, target_id)  # 404 out of scope
    try:
        if action == "delete":
            edits.delete_target(site, scope, target_id, etag)
            return RedirectResponse(f"/targets/{target_id}?saved=deleted", status_code=303)
        new = edits.replace_target(
            site,
            scope,
            target_id,
            etag,
            target=_required(number(target, "target", required=True)),
            threshold=number(threshold, "threshold", required=False),
        )
    except HTTPException as exc:
        if exc.status_code in (409, 412):  # someone else changed or deleted it meanwhile
            current = _current_of(site, scope, opened)
            if current is None:
                gone = (
                    "This target was deleted by someone else since you opened it; nothing was "
                    "saved. Set it again on the targets page if it is still needed (your values: "
                    f"target {target or '—'}, threshold {threshold or '—'})."
                )
                return _version_page(
                    request, site, scope, opened, message=gone, form=form, status_code=409
                )
            return _version_page(
                request, site, scope, current, message=STALE, form=form, status_code=409
            )
        return _version_page(
            request,
            site,
            scope,
            opened,
            message=str(exc.detail),
            form=form,
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/targets/{new.stored.target_id}?saved=changed", status_code=303)
