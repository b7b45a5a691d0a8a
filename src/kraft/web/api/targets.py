"""API: targets per company, team and RM, with their history.

A target is a version: POST adds one, PUT adds the one that replaces it (the same scope, KPI and
periods; `If-Match` with the ETag from GET, a stale one answers 412 and adds nothing), DELETE
adds a deletion record (also with `If-Match`), after which the team's, the company's or the
framework's target applies again. Nothing is ever overwritten: `?history=true` lists every
version with its status (current, replaced, deleted). Each change is audited and re-scores every
RM (kraft.core.targets). Who may: an admin anywhere; a manager for their teams and those teams' RMs
(not themselves); an RM reads the targets that apply to them and changes none.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from kraft.core import targets as target_cases
from kraft.core.targets import TargetVersion
from kraft.scoring.target_table import TargetInput
from kraft.web.api.catalog import number
from kraft.web.deps import ApiScope, RowId, SiteDep

router = APIRouter(tags=["targets"])

IfMatch = Annotated[str | None, Header(description="the ETag from GET /api/v1/targets/{target_id}")]


class TargetOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    target_id: int
    scope_type: str = Field(description="org, team or rm")
    scope_id: str
    kpi_id: str
    from_: str | None = Field(alias="from", description="first period it applies to")
    to: str | None = Field(description="last period it applies to")
    grain: str | None = Field(description="the KPI's grain: the target is per such period")
    target: float
    threshold: float | None
    recorded_at: datetime
    recorded_by: str
    source: str
    status: str = Field(description="current, replaced (by replaced_by) or deleted")
    replaced_by: int | None
    warnings: list[str] = Field(
        default_factory=list,
        description="after POST, PUT or DELETE: the periods with signed-off reviews the change "
        "re-rates (their snapshots stay as signed)",
    )


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    scope_type: Literal["org", "team", "rm"] = "org"
    scope_id: str | None = Field(default=None, description="the team_id or rm_id; org: omit")
    kpi_id: str
    period: str | None = Field(default=None, description="one period, e.g. 2026-Q1 or 2026")
    from_: str | None = Field(default=None, alias="from", description="first period")
    to: str | None = Field(default=None, description="last period")
    target: Decimal = Field(description="the target per grain period")
    threshold: Decimal | None = Field(default=None, description="the least acceptable value")


class TargetChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Decimal = Field(description="the target per grain period")
    threshold: Decimal | None = Field(default=None, description="the least acceptable value")


def target_out(version: TargetVersion) -> TargetOut:
    s = version.stored
    return TargetOut(
        target_id=s.target_id,
        scope_type=s.scope_type,
        scope_id=s.scope_id,
        kpi_id=s.kpi_id,
        from_=s.from_period,
        to=s.to_period,
        grain=version.grain,
        target=float(s.target),
        threshold=number(s.threshold),
        recorded_at=s.recorded_at,
        recorded_by=s.recorded_by,
        source=s.source,
        status=version.status,
        replaced_by=version.replaced_by,
        warnings=list(version.warnings),
    )


def _headers(response: Response, version: TargetVersion) -> TargetOut:
    response.headers["ETag"] = version.etag
    response.headers["Location"] = version.url
    return target_out(version)


@router.get("/targets", response_model=list[TargetOut])
def targets(
    site: SiteDep,
    scope: ApiScope,
    kpi_id: str | None = None,
    scope_type: str | None = None,
    scope_id: str | None = None,
    history: bool = False,
) -> list[TargetOut]:
    """The target versions the user may see (the company's, their teams' and those above, their
    RMs'), newest first: the current ones, or with `history` every version."""
    if scope_type is not None and scope_type not in ("org", "team", "rm"):
        raise HTTPException(422, f"scope_type: {scope_type!r} is not org, team or rm.")
    with site.read() as conn:
        found = target_cases.target_versions(
            conn,
            site.framework,
            scope,
            kpi_id=kpi_id,
            scope_type=scope_type,
            scope_id=scope_id,
            history=history,
        )
    return [target_out(v) for v in found]


@router.post("/targets", response_model=TargetOut, status_code=201)
def create(body: TargetIn, response: Response, site: SiteDep, scope: ApiScope) -> TargetOut:
    """Add a target version for the company (admin), a team or an RM; re-scores every RM."""
    if body.period is not None and (body.from_ is not None or body.to is not None):
        raise HTTPException(422, "period: give period, or from and to, not both.")
    item = TargetInput(
        scope_type=body.scope_type,
        scope_id=body.scope_id or "",
        kpi_id=body.kpi_id,
        from_period=body.period or body.from_,
        to_period=body.period or body.to,
        target=body.target,
        threshold=body.threshold,
    )
    version = target_cases.create_target(site, scope, item, origin="api")
    return _headers(response, version)


@router.get("/targets/{target_id}", response_model=TargetOut)
def target(target_id: RowId, response: Response, site: SiteDep, scope: ApiScope) -> TargetOut:
    """One version, with its ETag (for PUT and DELETE)."""
    with site.read() as conn:
        version = target_cases.get_target(conn, site.framework, scope, target_id)
    response.headers["ETag"] = version.etag
    return target_out(version)


@router.put("/targets/{target_id}", response_model=TargetOut)
def replace(
    target_id: RowId,
    body: TargetChange,
    response: Response,
    site: SiteDep,
    scope: ApiScope,
    if_match: IfMatch = None,
) -> TargetOut:
    """Replace the current version with a new one of other numbers (If-Match: its ETag; 412
    when stale, 428 without); the new version is returned. Re-scores every RM."""
    version = target_cases.replace_target(
        site,
        scope,
        target_id,
        if_match,
        target=body.target,
        threshold=body.threshold,
        origin="api",
    )
    return _headers(response, version)


@router.delete("/targets/{target_id}", response_model=TargetOut)
def delete(target_id: RowId, site: SiteDep, scope: ApiScope, if_match: IfMatch = None) -> TargetOut:
    """Withdraw the current version (If-Match: its ETag) with a deletion record: the scope
    falls back to the team's, the company's or the framework's target. Re-scores every RM."""
    return target_out(target_cases.delete_target(site, scope, target_id, if_match))
