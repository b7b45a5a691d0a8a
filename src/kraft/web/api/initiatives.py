"""API: initiatives and their measured impact, for managers and admins.

The impact is kraft.analysis.initiative.initiative_impact, the same JSON as `kraft initiative
impact --format json`. Its figures are sums over the whole company's RMs (a control group needs
them); a manager gets the group's ids only for the RMs of their scope, and an RM is refused the
collection (403), as they are the leaderboards.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from kraft.core.access import Scope, no_such
from kraft.errors import KraftError
from kraft.framework.model import Role
from kraft.metrics.spec import load_catalogue
from kraft.store.metadata import operational
from kraft.web.deps import ApiScope, SiteDep

router = APIRouter(tags=["initiatives"])

INITIATIVES = operational["initiatives"]
PARTICIPANTS = operational["initiative_participants"]


class Initiative(BaseModel):
    initiative_id: str
    name: str
    start_date: date
    end_date: date | None
    description: str | None
    participants: int = Field(description="RMs who carry it out")


class Impact(BaseModel):
    """As `kraft initiative impact --format json` writes it."""

    initiative: dict[str, Any]
    as_of: str
    window: dict[str, Any]
    groups: dict[str, Any] = Field(
        description="participants and non_participants: figures before and after the start"
    )
    kpis: list[dict[str, Any]]
    difference_in_differences: dict[str, Any] = Field(
        description="of the client retention rate, in points, with its bootstrap interval"
    )
    provisional: bool
    conclusion: str


def _managers_only(scope: Scope) -> None:
    if scope.role is Role.rm:
        raise HTTPException(403, "Initiatives and their impact are for managers and admins.")


@router.get("/initiatives", response_model=list[Initiative])
def initiatives(site: SiteDep, scope: ApiScope) -> list[Initiative]:
    """Every initiative, newest start first, with how many RMs carry it out."""
    _managers_only(scope)
    count = (
        sa.select(sa.func.count())
        .where(PARTICIPANTS.c.initiative_id == INITIATIVES.c.initiative_id)
        .scalar_subquery()
    )
    query = sa.select(INITIATIVES, count.label("participants")).order_by(
        INITIATIVES.c.start_date.desc(), INITIATIVES.c.initiative_id
    )
    with site.read() as conn:
        return [Initiative(**r._mapping) for r in conn.execute(query)]


@router.get("/initiatives/{initiative_id}/impact", response_model=Impact)
def impact(
    initiative_id: str,
    site: SiteDep,
    scope: ApiScope,
    window: Annotated[str, Query(description="months before and after the start: 3m, 6m")] = "6m",
    resamples: Annotated[int, Query(ge=100, le=100_000)] = 2000,
    seed: Annotated[int, Query(ge=0, le=2**63 - 1, description="bootstrap seed")] = 0,
) -> Impact:
    """Participants against non-participants, before and after the start: the example's KPIs
    and the difference in differences of client retention with a bootstrap 95 % interval."""
    from kraft.analysis.initiative import ImpactOptions, initiative_impact, parse_window

    _managers_only(scope)
    try:
        months = parse_window(window)
    except KraftError:
        raise HTTPException(
            422, f"window: {window!r} is not a number of months; write e.g. 3m, 6m or 12m."
        ) from None
    with site.read() as conn:
        known = conn.execute(
            sa.select(INITIATIVES.c.initiative_id).where(
                INITIATIVES.c.initiative_id == initiative_id
            )
        ).first()
    if known is None:
        raise no_such("initiative", initiative_id)
    result = initiative_impact(
        site.db,
        load_catalogue(),
        site.compute_parameters,
        initiative_id,
        ImpactOptions(months, resamples, seed),
        example=site.framework.example,
    ).to_json()
    for group in result["groups"].values():
        group["rm_ids"] = [rm for rm in group["rm_ids"] if scope.can_see_rm(rm)]
    return Impact(**result)
