"""The targets editor: the current targets the user may see, with their history; a form to set
a target for the company (admin), a team or an RM in scope; and a page per version to change
or delete it.

All the rules and the writing are kraft.core.targets (shared with the API): this module turns form
fields into its calls and its refusals into the page. A form carries the version's ETag; when
someone else changed the target since the form was opened, the page says so and shows the
current version with the values that were typed, so nothing is lost. After a change the page
links to the scorecard or team page whose score it moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kraft.core import targets as target_cases
from kraft.core.access import Scope
from kraft.core.inputs import parse_decimal
from kraft.errors import KraftError
from kraft.formatting import plain
from kraft.framework.model import Framework, Role
from kraft.reports.values import format_value
from kraft.scoring.target_table import TargetInput
from kraft.store.metadata import operational
from kraft.store.roster import is_scored, rm_names, team_names
from kraft.web.deps import CsrfForm, PageScope, RowId, SiteDep
from kraft.web.errors import status_of
from kraft.web.render import render_page
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
        team_rows = [
            (t, name)
            for t, name in sorted(team_names(conn).items())
            if scope.can_edit_targets("team", t)
        ]
        rms = conn.execute(
            sa.select(RMS.c.rm_id, RMS.c.name)
            .where(scope.rm_filter(RMS.c.rm_id), is_scored())
            .order_by(RMS.c.rm_id)
        )
        rm_rows = [(r.rm_id, r.name) for r in rms if scope.can_edit_targets("rm", r.rm_id)]
    choices = [Choice("org", "The company")] if scope.can_edit_targets("org", "org") else []
    choices += [Choice(f"team:{t}", f"Team {t} · {name}") for t, name in team_rows]
    choices += [Choice(f"rm:{r}", f"RM {r} · {name}") for r, name in rm_rows]
    return choices


def _names(site: Site) -> dict[tuple[str, str], str]:
    with site.read() as conn:
        teams = {("team", t): name for t, name in team_names(conn).items()}
        rms = {("rm", r): name for r, name in rm_names(conn).items()}
    return {**teams, **rms, ("org", "org"): "The company"}


def _may_change(scope: Scope, version: target_cases.TargetVersion) -> bool:
    """Whether the version's form is offered: the current version of a scope the user sets
    targets for (target_cases.may_set_target decides again when the form is sent)."""
    s = version.stored
    return version.status == "current" and scope.can_edit_targets(s.scope_type, s.scope_id)


def _shown(framework: Framework, version: target_cases.TargetVersion) -> dict[str, str]:
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
        versions = target_cases.target_versions(
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
        item = TargetInput(
            scope_type=scope_type,
            scope_id=scope_id,
            kpi_id=kpi_id,
            from_period=from_period.strip() or None,
            to_period=to_period.strip() or None,
            target=_required(parse_decimal(target, "target", required=True)),
            threshold=parse_decimal(threshold, "threshold", required=False),
        )
        version = target_cases.create_target(site, scope, item)
    except KraftError as exc:
        return _list_page(
            request, site, scope, message=exc.message, form=form, status_code=status_of(exc)
        )
    return RedirectResponse(f"/targets/{version.stored.target_id}?saved=set", status_code=303)


def _required(value: Decimal | None) -> Decimal:
    assert value is not None  # parse_decimal(required=True) gives a value or refuses
    return value


def _history(
    site: Site, scope: Scope, version: target_cases.TargetVersion
) -> list[target_cases.TargetVersion]:
    s = version.stored
    with site.read() as conn:
        return [
            v
            for v in target_cases.target_versions(
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
    version: target_cases.TargetVersion,
    *,
    message: str = "",
    saved: str = "",
    warnings: list[str] | None = None,
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
        "warnings": warnings or [],
        "affected": (link, words),
        "form": form
        or {
            "target": plain(s.target),
            "threshold": plain(s.threshold) if s.threshold is not None else "",
        },
    }
    return render_page(request, "targets_edit.html.j2", context, status_code=status_code)


@router.get("/targets/{target_id}", response_class=HTMLResponse)
def version_page(
    request: Request, site: SiteDep, scope: SetterScope, target_id: RowId, saved: str = ""
) -> HTMLResponse:
    with site.read() as conn:
        version = target_cases.get_target(conn, site.framework, scope, target_id)
        warnings = (
            target_cases.signed_off_warning(conn, site.calendar, [version.stored]) if saved else []
        )
    notes = {
        "set": "Saved: the new target is in force.",
        "changed": "Saved: this version replaces the one before it.",
        "deleted": "Deleted: the scope now falls back to the team's, the company's or the "
        "framework's target.",
    }
    said = notes.get(saved, "")
    return _version_page(
        request, site, scope, version, saved=said, warnings=warnings if said else []
    )


def _current_of(
    site: Site, scope: Scope, version: target_cases.TargetVersion
) -> target_cases.TargetVersion | None:
    """The current version of the same scope, KPI and range (None: it was deleted)."""
    return next((v for v in _history(site, scope, version) if v.status == "current"), None)


@router.post("/targets/{target_id}", dependencies=[CsrfForm])
def change_target(
    request: Request,
    site: SiteDep,
    scope: SetterScope,
    target_id: RowId,
    etag: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "change",
    target: Annotated[str, Form()] = "",
    threshold: Annotated[str, Form()] = "",
) -> Response:
    """Change (a new version) or delete the version the form was opened on, if it still is
    what the form's ETag says."""
    form = {"target": target, "threshold": threshold}
    with site.read() as conn:
        opened = target_cases.get_target(conn, site.framework, scope, target_id)  # 404 out of scope
    try:
        if action == "delete":
            target_cases.delete_target(site, scope, target_id, etag)
            return RedirectResponse(f"/targets/{target_id}?saved=deleted", status_code=303)
        new = target_cases.replace_target(
            site,
            scope,
            target_id,
            etag,
            target=_required(parse_decimal(target, "target", required=True)),
            threshold=parse_decimal(threshold, "threshold", required=False),
        )
    except KraftError as exc:
        if status_of(exc) in (409, 412):  # someone else changed or deleted it meanwhile
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
            message=exc.message,
            form=form,
            status_code=status_of(exc),
        )
    return RedirectResponse(f"/targets/{new.stored.target_id}?saved=changed", status_code=303)
