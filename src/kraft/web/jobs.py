"""Compute jobs of `kraft serve`: `kraft compute` (KPI values, then scores) in a background
thread of the server, with its progress for the job's page and the API.

A compute takes seconds to minutes, longer than a request should wait, so the request starts a
job and answers at once; the job holds the site's one writer while it runs (an import waits for
it, and it waits for an import). Only one compute runs at a time: a second is refused (409)
rather than queued, since it would recompute the same values. Jobs are kept in the server's
memory (the last few, for their pages); the compute_runs table is the lasting record.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import Connection

from kraft.core.compute import compute_and_score
from kraft.core.inputs import parse_date, parse_period
from kraft.errors import ConflictError, InvalidInputError, KraftError
from kraft.metrics.runner import ComputeRequest
from kraft.periods import Grain
from kraft.store.metadata import compute_runs
from kraft.web.site import Site

log = logging.getLogger("kraft.web.jobs")

GRAINS = {
    "all": (Grain.month, Grain.quarter, Grain.year),
    "month": (Grain.month,),
    "quarter": (Grain.quarter,),
    "year": (Grain.year,),
}
KEPT_JOBS = 20  # finished jobs kept for their pages
_REGISTRY_LOCK = threading.Lock()


class JobState(StrEnum):
    waiting = "waiting"  # for the writer: an import or another write is running
    running = "running"
    done = "done"
    failed = "failed"


@dataclass
class ComputeJob:
    job_id: str
    actor: str
    request: ComputeRequest
    score: bool
    grain: str
    created_at: datetime
    state: JobState = JobState.waiting
    phase: str = "Waiting for the writer (another change is being written)"
    done: int = 0
    total: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in (JobState.done, JobState.failed)

    @property
    def percent(self) -> int | None:
        """Progress of the KPI computation in percent (None before it has a step count)."""
        if self.state is JobState.done:
            return 100
        if not self.total:
            return None
        return min(100, int(100 * self.done / self.total))

    def public(self) -> dict[str, Any]:
        """The job as the API answers it."""
        return {
            "job_id": self.job_id,
            "state": str(self.state),
            "phase": self.phase,
            "percent": self.percent,
            "done": self.done,
            "total": self.total,
            "actor": self.actor,
            "request": {
                "from": self.request.first,
                "to": self.request.last,
                "grain": self.grain,
                "as_of": self.request.as_of.isoformat() if self.request.as_of else None,
                "score": self.score,
            },
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "started_at": self.started_at.isoformat(timespec="seconds")
            if self.started_at
            else None,
            "finished_at": self.finished_at.isoformat(timespec="seconds")
            if self.finished_at
            else None,
            "result": self.result,
            "error": self.error,
            "url": f"/api/v1/compute/jobs/{self.job_id}",
            "page": f"/compute/jobs/{self.job_id}",
        }


def compute_request(
    site: Site, first: str | None, last: str | None, grain: str, as_of: str | None
) -> ComputeRequest:
    """The request from a form's or the API's fields, each checked with one sentence."""
    first, last = (first or "").strip() or None, (last or "").strip() or None
    for label, name in ((first, "From"), (last, "To")):
        if label is not None:
            parse_period(site.calendar, label, name)
    if grain not in GRAINS:
        raise InvalidInputError(f"The grain {grain!r} is not month, quarter, year or all.")
    as_of_date = parse_date(as_of, "The as-of date")
    return ComputeRequest(as_of=as_of_date, first=first, last=last, grains=GRAINS[grain])


class ComputeJobs:
    """The server's compute jobs: at most one unfinished, the last KEPT_JOBS finished."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, ComputeJob] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, app: FastAPI) -> ComputeJobs:
        """The app's registry (one per app, made on first use)."""
        with _REGISTRY_LOCK:
            jobs = getattr(app.state, "compute_jobs", None)
            if jobs is None:
                jobs = app.state.compute_jobs = cls()
        assert isinstance(jobs, ComputeJobs)
        return jobs

    def get(self, job_id: str) -> ComputeJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def recent(self) -> list[ComputeJob]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def running(self) -> ComputeJob | None:
        with self._lock:
            return next((j for j in self._jobs.values() if not j.finished), None)

    def start(
        self, site: Site, request: ComputeRequest, *, grain: str, score: bool, actor: str
    ) -> ComputeJob:
        """Start a compute in the background; 409 while another one is unfinished."""
        with self._lock:
            busy = next((j for j in self._jobs.values() if not j.finished), None)
            if busy is not None:
                raise ConflictError(
                    f"A compute is already running (job {busy.job_id}, started by {busy.actor}); "
                    "wait for it to finish and try again."
                )
            job = ComputeJob(
                secrets.token_hex(8),
                actor,
                request,
                score,
                grain,
                datetime.now(UTC).replace(tzinfo=None),
            )
            self._jobs[job.job_id] = job
            finished = [k for k, j in self._jobs.items() if j.finished]
            for key in finished[: max(0, len(finished) - KEPT_JOBS)]:
                del self._jobs[key]
        thread = threading.Thread(
            target=_run, args=(site, job), name=f"kraft-compute-{job.job_id}", daemon=True
        )
        thread.start()
        return job


def _run(site: Site, job: ComputeJob) -> None:
    """The job's thread: compute and score as `kraft compute` does (kraft.core.compute)."""

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    def phase(name: str) -> None:
        if job.state is JobState.waiting:  # the writer is ours now
            job.state, job.started_at = JobState.running, datetime.now(UTC).replace(tzinfo=None)
        job.phase = name

    try:
        outcome = compute_and_score(
            site,
            job.request,
            actor=job.actor,
            score=job.score,
            progress=progress,
            on_phase=phase,
        )
        job.result = {k: v for k, v in outcome.summary("").items() if k != "framework"}
        job.phase = "Done"
        job.state = JobState.done
    except KraftError as exc:
        job.error, job.phase, job.state = exc.message, "Failed", JobState.failed
    except Exception:
        log.exception("compute job %s failed", job.job_id)
        job.error = "The compute failed on the server; the error is in its log."
        job.phase, job.state = "Failed", JobState.failed
    finally:
        job.finished_at = datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class RunRow:
    """One row of compute_runs, as the compute page lists it."""

    run_id: int
    started_at: datetime
    finished_at: datetime
    actor: str
    engine: str
    as_of: date
    first_period: str
    last_period: str
    grains: str
    kpis: int
    rows: int

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def recent_runs(conn: Connection, limit: int = 15) -> list[RunRow]:
    """The newest compute runs, from every process that computed (CLI and server)."""
    query = sa.select(compute_runs).order_by(compute_runs.c.run_id.desc()).limit(limit)
    return [RunRow(**row._mapping) for row in conn.execute(query)]
