"""API: compute jobs. POST /api/v1/compute starts `kraft compute` (values, then scores) in the
background and answers 202 with the job's URL; GET the job for its progress and result."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from kraft.core.access import Scope
from kraft.web.deps import ApiScope, SiteDep
from kraft.web.jobs import ComputeJobs, compute_request, recent_runs

router = APIRouter(tags=["compute"])


class ComputeOrder(BaseModel):
    """What to compute; every field may be left out (then: everything, as `kraft compute`)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    first: str | None = Field(default=None, alias="from", description="First period, e.g. 2025-Q1")
    last: str | None = Field(default=None, alias="to", description="Last period, e.g. 2025-12")
    grain: Literal["all", "month", "quarter", "year"] = "all"
    as_of: str | None = Field(default=None, description="Data as-of date (YYYY-MM-DD)")
    score: bool = Field(default=True, description="Score every RM from the new values")


class JobRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    first: str | None = Field(alias="from")
    last: str | None = Field(alias="to")
    grain: str
    as_of: str | None
    score: bool


class Job(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    job_id: str
    state: Literal["waiting", "running", "done", "failed"]
    phase: str
    percent: int | None
    done: int
    total: int
    actor: str
    request: JobRequest
    created_at: str
    started_at: str | None
    finished_at: str | None
    result: dict[str, Any] | None = Field(
        description="run_id, as_of, first_period, last_period, kpis, values, scorecards, scores"
    )
    error: str | None
    url: str
    page: str


class Run(BaseModel):
    run_id: int
    started_at: str
    finished_at: str
    actor: str
    engine: str
    as_of: str
    first_period: str
    last_period: str
    grains: str
    kpis: int
    rows: int


def _computer(scope: Scope) -> None:
    if not scope.can_compute:
        raise HTTPException(403, "Only an admin may run or watch a compute.")


def _job(raw: dict[str, Any]) -> Job:
    return Job.model_validate(raw)


@router.post(
    "/compute",
    status_code=202,
    response_model=Job,
    response_model_by_alias=True,
    responses={409: {"description": "A compute is already running"}},
)
def start_compute(
    request: Request, site: SiteDep, scope: ApiScope, order: ComputeOrder | None = None
) -> JSONResponse:
    """Start a compute job (admin only); 409 while another one runs. Poll the URL it gives."""
    _computer(scope)
    order = order or ComputeOrder()
    compute = compute_request(site, order.first, order.last, order.grain, order.as_of)
    job = ComputeJobs.of(request.app).start(
        site, compute, grain=order.grain, score=order.score, actor=scope.actor
    )
    body = _job(job.public()).model_dump(mode="json", by_alias=True)
    return JSONResponse(body, status_code=202, headers={"Location": body["url"]})


@router.get("/compute/jobs/{job_id}", response_model=Job, response_model_by_alias=True)
def get_job(request: Request, job_id: str, scope: ApiScope) -> Job:
    """The job's state, progress and (when done) its result; 404 for an unknown job."""
    _computer(scope)
    job = ComputeJobs.of(request.app).get(job_id)
    if job is None:
        raise HTTPException(404, "There is no such compute job (the server keeps the last few).")
    return _job(job.public())


@router.get("/compute/runs", response_model=list[Run])
def list_runs(site: SiteDep, scope: ApiScope, limit: int = 15) -> list[Run]:
    """The newest compute runs (compute_runs), from the CLI and the server alike."""
    _computer(scope)
    if not 1 <= limit <= 500:
        raise HTTPException(422, "limit must be from 1 to 500.")
    with site.read() as conn:
        runs = recent_runs(conn, limit)
    return [
        Run(
            run_id=r.run_id,
            started_at=r.started_at.isoformat(timespec="seconds"),
            finished_at=r.finished_at.isoformat(timespec="seconds"),
            actor=r.actor,
            engine=r.engine,
            as_of=r.as_of.isoformat(),
            first_period=r.first_period,
            last_period=r.last_period,
            grains=r.grains,
            kpis=r.kpis,
            rows=r.rows,
        )
        for r in runs
    ]
