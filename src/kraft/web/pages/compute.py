"""The compute trigger: start `kraft compute` as a background job of the server and watch its
progress on a page that refreshes itself (no script needed), beside the recent compute runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kraft.core.access import Scope
from kraft.errors import KraftError
from kraft.web.deps import CsrfForm, PageScope, SiteDep
from kraft.web.errors import status_of
from kraft.web.forms import BOOLEAN
from kraft.web.jobs import GRAINS, ComputeJobs, compute_request, recent_runs
from kraft.web.render import render_page
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)

REFRESH_SECONDS = 2


def only_computers(scope: PageScope) -> Scope:
    if not scope.can_compute:
        raise HTTPException(403, "Only an admin may run a compute.")
    return scope


ComputerScope = Annotated[Scope, Depends(only_computers)]


def _page(
    request: Request,
    site: Site,
    *,
    message: str = "",
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    jobs = ComputeJobs.of(request.app)
    with site.read() as conn:
        runs = recent_runs(conn)
    context = {
        "message": message,
        "form": form or {"grain": "all", "score": "true"},
        "grains": list(GRAINS),
        "running": jobs.running(),
        "jobs": jobs.recent()[:10],
        "runs": runs,
    }
    return render_page(request, "compute.html.j2", context, status_code=status_code)


@router.get("/compute", response_class=HTMLResponse)
def compute_page(request: Request, site: SiteDep, scope: ComputerScope) -> HTMLResponse:
    return _page(request, site)


@router.post("/compute", dependencies=[CsrfForm])
def start_compute(
    request: Request,
    site: SiteDep,
    scope: ComputerScope,
    first: Annotated[str, Form(alias="from")] = "",
    last: Annotated[str, Form(alias="to")] = "",
    grain: Annotated[str, Form()] = "all",
    as_of: Annotated[str, Form()] = "",
    score: Annotated[str, Form()] = "",
) -> Response:
    """Start the job and go to its page; a refusal (bad field, one already running) is shown
    on the form with everything entered kept."""
    form = {"from": first, "to": last, "grain": grain, "as_of": as_of, "score": score}
    try:
        compute = compute_request(site, first, last, grain, as_of)
        job = ComputeJobs.of(request.app).start(
            site,
            compute,
            grain=grain,
            score=BOOLEAN.get(score.strip().lower(), True),
            actor=scope.actor,
        )
    except KraftError as exc:
        return _page(request, site, message=exc.message, status_code=status_of(exc), form=form)
    return RedirectResponse(f"/compute/jobs/{job.job_id}", status_code=303)


@router.get("/compute/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, scope: ComputerScope) -> HTMLResponse:
    job = ComputeJobs.of(request.app).get(job_id)
    if job is None:
        raise HTTPException(404, "There is no such compute job (the server keeps the last few).")
    headers = {} if job.finished else {"Cache-Control": "no-store"}
    context = {"job": job, "refresh": None if job.finished else REFRESH_SECONDS}
    return render_page(request, "compute_job.html.j2", context, headers=headers)
