"""API: manual measurements (DATA.md `measurements`: rm_id, kpi_id, period, value, note).

A measurement is addressed by its key, /measurements/{rm_id}/{kpi_id}/{period}. The contract has
no version column, so the ETag is a hash of the row's content: PUT and DELETE need `If-Match`
with it (412 when stale, and nothing changes; 428 without). Values are checked as the import
checks them, and against the KPI (manual, entered per its grain, within its unit's range). Who
may enter a KPI is the framework's `entered_by`, within the user's scope and never about
oneself unless the framework lets the RM rated enter it (management_decision_impact: the
manager). Each change is audited, refreshes the RM's manual values and re-scores every RM
(kraft.core.measurements).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from kraft.core import measurements as measurement_cases
from kraft.core.measurements import Measurement
from kraft.web.deps import ApiScope, SiteDep

router = APIRouter(tags=["measurements"])

IfMatch = Annotated[
    str | None,
    Header(description="the ETag from GET /api/v1/measurements/{rm_id}/{kpi_id}/{period}"),
]


class MeasurementOut(BaseModel):
    rm_id: str
    kpi_id: str
    period: str
    value: float
    note: str | None


class MeasurementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rm_id: str
    kpi_id: str = Field(description="a manual KPI of the framework")
    period: str = Field(description="a period of the KPI's grain, e.g. 2025-Q4")
    value: Decimal
    note: str | None = Field(default=None, description="evidence or source")


class MeasurementChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Decimal
    note: str | None = Field(default=None, description="evidence or source")


def measurement_out(m: Measurement) -> MeasurementOut:
    return MeasurementOut(
        rm_id=m.rm_id, kpi_id=m.kpi_id, period=m.period, value=float(m.value), note=m.note
    )


def _headers(response: Response, m: Measurement) -> MeasurementOut:
    response.headers["ETag"] = m.etag
    response.headers["Location"] = m.url
    return measurement_out(m)


@router.get("/measurements", response_model=list[MeasurementOut])
def measurements(
    site: SiteDep,
    scope: ApiScope,
    rm_id: str | None = None,
    kpi_id: str | None = None,
    period: str | None = None,
) -> list[MeasurementOut]:
    """The measurements of the RMs in the user's scope (an RM: their own), by RM, KPI, period."""
    with site.read() as conn:
        found = measurement_cases.list_measurements(
            conn, scope, rm_id=rm_id, kpi_id=kpi_id, period=period
        )
    return [measurement_out(m) for m in found]


@router.post("/measurements", response_model=MeasurementOut, status_code=201)
def create(
    body: MeasurementIn, response: Response, site: SiteDep, scope: ApiScope
) -> MeasurementOut:
    """Enter a measurement (409 when the RM, KPI and period have one: PUT changes it)."""
    found = measurement_cases.add_measurement(
        site,
        scope,
        rm_id=body.rm_id,
        kpi_id=body.kpi_id,
        period=body.period,
        value=body.value,
        note=body.note,
    )
    return _headers(response, found)


@router.get("/measurements/{rm_id}/{kpi_id}/{period}", response_model=MeasurementOut)
def measurement(
    rm_id: str, kpi_id: str, period: str, response: Response, site: SiteDep, scope: ApiScope
) -> MeasurementOut:
    """One measurement, with its ETag (for PUT and DELETE)."""
    with site.read() as conn:
        found = measurement_cases.get_measurement(conn, scope, rm_id, kpi_id, period)
    response.headers["ETag"] = found.etag
    return measurement_out(found)


@router.put("/measurements/{rm_id}/{kpi_id}/{period}", response_model=MeasurementOut)
def change(
    rm_id: str,
    kpi_id: str,
    period: str,
    body: MeasurementChange,
    response: Response,
    site: SiteDep,
    scope: ApiScope,
    if_match: IfMatch = None,
) -> MeasurementOut:
    """Change the value and note (If-Match: the ETag; 412 when stale, 428 without)."""
    changed = Measurement(rm_id, kpi_id, period, body.value, body.note)
    found = measurement_cases.change_measurement(site, scope, changed, if_match)
    return _headers(response, found)


@router.delete("/measurements/{rm_id}/{kpi_id}/{period}", status_code=204)
def delete(
    rm_id: str,
    kpi_id: str,
    period: str,
    site: SiteDep,
    scope: ApiScope,
    if_match: IfMatch = None,
) -> Response:
    """Delete the measurement (If-Match: the ETag; 412 when stale, 428 without); the deleted
    content stays in the audit log."""
    measurement_cases.delete_measurement(site, scope, rm_id, kpi_id, period, if_match)
    return Response(status_code=204)
