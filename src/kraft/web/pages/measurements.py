"""Manual measurements: the values no system records (DATA.md `measurements`), entered by the
people the framework names (`entered_by`) for the RMs in their scope, never about themselves
unless the framework lets the RM rated enter it.

The checks, the writing, the audit entry and the re-score are kraft.core.measurements (shared with the
API). A change form carries the row's ETag: if someone else changed or deleted the measurement
since the form was opened, the page says so, shows what is stored now and keeps what was typed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kraft.core import measurements as measurement_cases
from kraft.core.access import Scope
from kraft.core.inputs import parse_decimal
from kraft.errors import KraftError
from kraft.formatting import plain
from kraft.framework.model import KPI, KpiKind
from kraft.reports.values import format_value, unit_label
from kraft.store.metadata import operational
from kraft.store.roster import is_scored
from kraft.web.deps import CsrfForm, PageScope, SiteDep
from kraft.web.errors import status_of
from kraft.web.render import render_page
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)

RMS = operational["relationship_managers"]
SHOWN_ROWS = 500
STALE = (
    "This measurement was changed by someone else since you opened it; nothing was saved. What "
    "is stored now is shown, with the values you typed kept in the form: check them and save "
    "again."
)
GONE = (
    "This measurement was deleted by someone else since you opened it; nothing was saved. Your "
    "values are kept in the form below: enter it again if it is still right."
)

GONE_ALREADY = "This measurement was deleted by someone else since you opened it; nothing to do."


def _manual(site: Site) -> list[KPI]:
    return [kpi for _, kpi in site.framework.kpis() if kpi.kind is KpiKind.manual]


def _people(site: Site, scope: Scope) -> list[tuple[str, str]]:
    """(rm_id, name) of the scored RMs in the user's scope."""
    with site.read() as conn:
        rows = conn.execute(
            sa.select(RMS.c.rm_id, RMS.c.name)
            .where(scope.rm_filter(RMS.c.rm_id), is_scored())
            .order_by(RMS.c.rm_id)
        ).all()
    return [(r.rm_id, r.name) for r in rows]


def _value(value: Decimal, kpi: KPI | None, currency: str) -> str:
    return format_value(value, kpi.unit if kpi else None, currency)


def _list_page(
    request: Request,
    site: Site,
    scope: Scope,
    *,
    kpi: str = "",
    rm: str = "",
    period: str = "",
    message: str = "",
    done: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    framework = site.framework
    manual = {k.id: k for k in _manual(site)}
    people = _people(site, scope)
    names = dict(people)
    with site.read() as conn:
        rows = measurement_cases.list_measurements(
            conn, scope, rm_id=rm or None, kpi_id=kpi or None, period=period or None
        )
    entry_forms = []
    for k in manual.values():
        allowed = [(r, n) for r, n in people if scope.can_enter_measurement(k, r)]
        if allowed:
            entry_forms.append({"kpi": k, "unit": unit_label(k.unit), "rms": allowed})
    context: dict[str, Any] = {
        "rows": rows[:SHOWN_ROWS],
        "total": len(rows),
        "shown_values": {
            (m.rm_id, m.kpi_id, m.period): _value(m.value, manual.get(m.kpi_id), framework.currency)
            for m in rows[:SHOWN_ROWS]
        },
        "changeable": {
            (m.rm_id, m.kpi_id, m.period)
            for m in rows[:SHOWN_ROWS]
            if m.kpi_id in manual and scope.can_enter_measurement(manual[m.kpi_id], m.rm_id)
        },
        "manual": manual,
        "names": names,
        "entry_forms": entry_forms,
        "filters": {"kpi": kpi, "rm": rm, "period": period},
        "message": message,
        "done": done,
        "form": form or {},
    }
    return render_page(request, "measurements.html.j2", context, status_code=status_code)


@router.get("/measurements", response_class=HTMLResponse)
def measurements_page(
    request: Request,
    site: SiteDep,
    scope: PageScope,
    kpi: str = "",
    rm: str = "",
    period: str = "",
    deleted: str = "",
) -> HTMLResponse:
    done = f"Deleted the measurement {deleted}; every RM was scored again." if deleted else ""
    return _list_page(request, site, scope, kpi=kpi, rm=rm, period=period, done=done)


@router.post("/measurements", dependencies=[CsrfForm])
def add(
    request: Request,
    site: SiteDep,
    scope: PageScope,
    rm_id: Annotated[str, Form()] = "",
    kpi_id: Annotated[str, Form()] = "",
    period: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Enter a new measurement; a refusal keeps the form as typed."""
    form = {"rm_id": rm_id, "kpi_id": kpi_id, "period": period, "value": value, "note": note}
    try:
        entered = measurement_cases.add_measurement(
            site,
            scope,
            rm_id=rm_id.strip(),
            kpi_id=kpi_id.strip(),
            period=period.strip(),
            value=_required(parse_decimal(value, "value", required=True)),
            note=note,
        )
    except KraftError as exc:
        return _list_page(
            request, site, scope, message=exc.message, form=form, status_code=status_of(exc)
        )
    return RedirectResponse(_page_url(entered) + "?saved=added", status_code=303)


def _required(value: Decimal | None) -> Decimal:
    assert value is not None  # parse_decimal(required=True) gives a value or refuses
    return value


def _page_url(m: measurement_cases.Measurement) -> str:
    return f"/measurements/{m.rm_id}/{m.kpi_id}/{m.period}"


def _edit_page(
    request: Request,
    site: Site,
    scope: Scope,
    found: measurement_cases.Measurement,
    *,
    message: str = "",
    saved: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    manual = {k.id: k for k in _manual(site)}
    kpi = manual.get(found.kpi_id)
    names = dict(_people(site, scope))
    context: dict[str, Any] = {
        "m": found,
        "kpi": kpi,
        "kpi_name": kpi.name if kpi else found.kpi_id,
        "rm_name": names.get(found.rm_id, ""),
        "shown_value": _value(found.value, kpi, site.framework.currency),
        "unit": unit_label(kpi.unit) if kpi else "",
        "changeable": kpi is not None and scope.can_enter_measurement(kpi, found.rm_id),
        "message": message,
        "saved": saved,
        "scorecard": f"/rms/{found.rm_id}?period={found.period}",
        "form": form or {"value": plain(found.value), "note": found.note or ""},
    }
    return render_page(request, "measurements_edit.html.j2", context, status_code=status_code)


@router.get("/measurements/{rm_id}/{kpi_id}/{period}", response_class=HTMLResponse)
def measurement_page(
    request: Request,
    site: SiteDep,
    scope: PageScope,
    rm_id: str,
    kpi_id: str,
    period: str,
    saved: str = "",
) -> HTMLResponse:
    with site.read() as conn:
        found = measurement_cases.get_measurement(conn, scope, rm_id, kpi_id, period)
    notes = {
        "added": "Saved the new measurement; every RM was scored again.",
        "changed": "Saved the change; every RM was scored again.",
    }
    return _edit_page(request, site, scope, found, saved=notes.get(saved, ""))


@router.post("/measurements/{rm_id}/{kpi_id}/{period}", dependencies=[CsrfForm])
def change(
    request: Request,
    site: SiteDep,
    scope: PageScope,
    rm_id: str,
    kpi_id: str,
    period: str,
    etag: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "change",
    value: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Change or delete the measurement the form was opened on, if it still is what the
    form's ETag says."""
    form = {"value": value, "note": note}
    with site.read() as conn:
        opened = measurement_cases.get_measurement(
            conn, scope, rm_id, kpi_id, period
        )  # 404 out of scope
    try:
        if action == "delete":
            measurement_cases.delete_measurement(site, scope, rm_id, kpi_id, period, etag)
            key = f"of {kpi_id} for {rm_id} in {period}"
            return RedirectResponse(f"/measurements?deleted={key}", status_code=303)
        asked = measurement_cases.Measurement(
            rm_id, kpi_id, period, _required(parse_decimal(value, "value", required=True)), note
        )
        changed = measurement_cases.change_measurement(site, scope, asked, etag)
    except KraftError as exc:
        if status_of(exc) in (404, 412):  # someone else changed or deleted it meanwhile
            with site.read() as conn:
                now = measurement_cases.list_measurements(
                    conn, scope, rm_id=rm_id, kpi_id=kpi_id, period=opened.period
                )
            if now:
                return _edit_page(
                    request, site, scope, now[0], message=STALE, form=form, status_code=409
                )
            if action == "delete":
                return _list_page(request, site, scope, message=GONE_ALREADY, status_code=409)
            kept = {"rm_id": rm_id, "kpi_id": kpi_id, "period": period, **form}
            return _list_page(request, site, scope, message=GONE, form=kept, status_code=409)
        return _edit_page(
            request,
            site,
            scope,
            opened,
            message=exc.message,
            form=form,
            status_code=status_of(exc),
        )
    return RedirectResponse(_page_url(changed) + "?saved=changed", status_code=303)
