"""GET /api/v1/health: whether the server answers and reaches its database, and whether it
has read ahead what the first pages need (kraft.web.warm); for load balancers, monitoring and
benchmarks. No sign-in: it says nothing about the data."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kraft import __version__
from kraft.web.deps import SiteDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    version: str
    database: str  # duckdb or postgresql
    read_ahead: Literal["done", "running", "off"]


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(request: Request, site: SiteDep) -> JSONResponse:
    """200 when the database answers, 503 when it does not."""
    warmer = getattr(request.app.state, "warmer", None)
    read_ahead = "off" if warmer is None else ("running" if warmer.running else "done")
    try:
        with site.db.connect() as conn:
            conn.execute(sa.text("SELECT 1")).scalar()
        status: Literal["ok", "unavailable"] = "ok"
    except Exception:  # any failure to reach the database is what this endpoint reports
        status = "unavailable"
    body = Health(status=status, version=__version__, database=site.db.dialect,
                  read_ahead=read_ahead)  # fmt: skip
    return JSONResponse(body.model_dump(), status_code=200 if status == "ok" else 503)
