"""API: the review cycle (kraft.scoring.review) and calibration (kraft.scoring.calibration).

GET /rms/{rm_id}/reviews/{period} gives the review (null before it is started) with its ETag
(the version), the steps the caller may take, and for a signed review its snapshot's hash and
the differences since sign-off. A step is POST /rms/{rm_id}/reviews/{period}/{step} with JSON
{"text": …, "rating": …}; every step but start needs If-Match with the ETag (428 without, 412
when stale: nothing changes). 403: not the caller's step to take; 409: not from this state, or a
start or sign-off of a period whose values can still change without "confirm_provisional": true
(the GET's `unsettled` says why; the confirmation is kept on the review and audited); 422: a
missing reason or text, or a rating the framework does not have. Another RM's review is
404, as a missing RM is. Calibration is for admins (everyone) and managers (their teams).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from kraft.core.access import Scope, visible_rm
from kraft.core.inputs import parse_period
from kraft.core.reviews import StepInput, take_review_step
from kraft.core.settling import open_claims_note, settling_of, unsettled_reason
from kraft.errors import KraftError
from kraft.framework.model import Role
from kraft.scoring import calibration as cal
from kraft.scoring import review as rv
from kraft.web.deps import ApiScope, SiteDep
from kraft.web.site import Site

router = APIRouter(tags=["reviews"])

IfMatch = Annotated[
    str | None, Header(description="the ETag from GET /api/v1/rms/{rm_id}/reviews/{period}")
]


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(
        default=None, description="comment, self-assessment, or the reason (adjust, reopen)"
    )
    rating: int | None = Field(default=None, description="adjust: the rating given; null: none")
    confirm_provisional: bool = Field(
        default=False,
        description="start, sign-off: confirm that the period's values may still change (it is "
        "open, or ended within the longest grace window before the data's as-of date); "
        "without it such a step answers 409 and changes nothing",
    )


class ChangeOut(BaseModel):
    item: str
    field: str
    signed: Any
    now: Any


class ReviewOut(BaseModel):
    rm_id: str
    period: str
    review: dict[str, Any] | None = Field(description="null: not started")
    allowed_steps: list[str]
    snapshot_sha256: str | None = None
    changes_since_sign_off: list[ChangeOut] | None = None
    unsettled: str | None = Field(
        default=None,
        description="why the period's values can still change (a start or sign-off then needs "
        "confirm_provisional); null: settled",
    )
    provisional_note: str | None = Field(
        default=None,
        description="values still provisional past every grace window (claims not yet settled): "
        "a note, no confirmation needed",
    )


def review_out(site: Site, conn: Connection, scope: Scope, rm_id: str, period: str) -> ReviewOut:
    found = rv.get_review(conn, rm_id, period)
    who = rv.parties(conn, scope.user, rm_id)
    settling = settling_of(site.settings)
    out = ReviewOut(
        rm_id=rm_id,
        period=period,
        review=rv.seen_by(found, who) if found else None,
        allowed_steps=[str(s) for s in rv.allowed_steps(conn, scope.user, rm_id, found)],
        unsettled=unsettled_reason(conn, settling, period),
        provisional_note=open_claims_note(conn, site.framework, settling, rm_id, period),
    )
    if found is not None and found.snapshot_id is not None:
        snapshot = rv.get_snapshot(conn, found.snapshot_id)
        out.snapshot_sha256 = snapshot.content_hash if snapshot else None
        changes = rv.changes_since_sign_off(conn, site.framework, found) or []
        out.changes_since_sign_off = [
            ChangeOut(item=c.item, field=c.field, signed=c.signed, now=c.now) for c in changes
        ]
    return out


def _version(if_match: str | None, url: str) -> int:
    if if_match is None or not if_match.strip():
        raise HTTPException(
            428, f"A review step needs an If-Match header with the review's ETag; GET {url} first."
        )
    tag = if_match.split(",")[0].strip().removeprefix("W/").strip('"')
    try:
        return int(tag)
    except ValueError:
        raise HTTPException(
            412, "The If-Match header is not this review's ETag; GET the review and try again."
        ) from None


@router.get("/reviews", response_model=list[dict[str, Any]])
def reviews(
    site: SiteDep, scope: ApiScope, period: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """The reviews of the RMs in the caller's scope (an RM: their own), by period and state."""
    chosen = None
    if state is not None:
        try:
            chosen = rv.State(state)
        except ValueError:
            raise HTTPException(
                422, f"state: {state!r} is not one of {', '.join(s for s in rv.State)}."
            ) from None
    label = parse_period(site.calendar, period, "period").label if period else None
    with site.read() as conn:
        found = rv.list_reviews(conn, period=label, rm_ids=scope.rm_ids, state=chosen)
        return [rv.seen_by(r, rv.parties(conn, scope.user, r.rm_id)) for r in found]


@router.get("/rms/{rm_id}/reviews/{period}", response_model=ReviewOut)
def review(
    rm_id: str, period: str, response: Response, site: SiteDep, scope: ApiScope
) -> ReviewOut:
    """The review of the RM's period (null before it is started), with its ETag."""
    label = parse_period(site.calendar, period, "period").label
    with site.read() as conn:
        visible_rm(conn, scope, rm_id)
        out = review_out(site, conn, scope, rm_id, label)
    if out.review is not None:
        response.headers["ETag"] = f'"{out.review["version"]}"'
    return out


@router.post("/rms/{rm_id}/reviews/{period}/{step}", response_model=ReviewOut)
def take_step(
    rm_id: str,
    period: str,
    step: str,
    body: StepIn,
    response: Response,
    site: SiteDep,
    scope: ApiScope,
    if_match: IfMatch = None,
) -> ReviewOut:
    """Take a step: start, comment, adjust, submit, self-assess, acknowledge, sign-off or
    reopen (If-Match: the review's ETag, for every step but start)."""
    try:
        chosen = rv.Step(step)
    except ValueError:
        raise HTTPException(
            404, f"There is no review step {step!r}; use one of {', '.join(s for s in rv.Step)}."
        ) from None
    label = parse_period(site.calendar, period, "period").label
    url = f"/api/v1/rms/{rm_id}/reviews/{label}"
    with site.read() as conn:
        visible_rm(conn, scope, rm_id)
        who = rv.parties(conn, scope.user, rm_id)
    if not who & rv.TRANSITIONS[chosen].parties:
        raise HTTPException(403, _refusal(chosen, rm_id, label))
    version = None if chosen is rv.Step.start else _version(if_match, url)
    given = StepInput(
        text=body.text,
        rating=body.rating,
        expected_version=version,
        confirmed=body.confirm_provisional,
    )
    take_review_step(site, scope, rm_id, label, chosen, given)
    with site.read() as conn:
        out = review_out(site, conn, scope, rm_id, label)
    assert out.review is not None
    response.headers["ETag"] = f'"{out.review["version"]}"'
    return out


def _refusal(step: rv.Step, rm_id: str, period: str) -> str:
    allowed = " or ".join(rv.PARTY_WORDS[p] for p in sorted(rv.TRANSITIONS[step].parties))
    return f"Only {allowed} may {step} the review of {rm_id} for {period}; you are not."


@router.get("/calibration")
def calibration(
    site: SiteDep,
    scope: ApiScope,
    period: str | None = None,
    target_distribution: str | None = None,
    flag_gap: str | None = None,
) -> dict[str, Any]:
    """The period's ratings by manager and team, computed and final, with the managers flagged
    (their RMs' mean score gap at least `flag_gap` points, default 5) and, if given, the gap to
    a target distribution (percent per rating, highest first: 10,20,40,20,10)."""
    if scope.role is Role.rm:
        raise HTTPException(404, "There is no such page, or it is not yours to see.")
    try:
        threshold = Decimal(flag_gap) if flag_gap else cal.DEFAULT_GAP_THRESHOLD
    except InvalidOperation:
        raise HTTPException(422, f"flag_gap: {flag_gap!r} is not a number.") from None
    if not threshold.is_finite() or threshold <= 0:
        raise HTTPException(422, "flag_gap: give a number of score points above 0.")
    try:
        target = (
            cal.parse_target_distribution(target_distribution, site.framework)
            if target_distribution
            else None
        )
    except KraftError as error:
        raise HTTPException(
            422, error.message.replace("--target-distribution", "target_distribution")
        ) from None
    with site.read() as conn:
        label = (
            parse_period(site.calendar, period, "period").label
            if period
            else cal.latest_scored_period(conn, site.calendar)
        )
        if label is None:
            raise HTTPException(404, "There are no scores yet; an admin runs the compute first.")
        try:
            result = cal.calibrate(
                conn, site.framework, label, rm_ids=scope.rm_ids, target=target,
                gap_threshold=threshold,
            )  # fmt: skip
        except KraftError as error:
            raise HTTPException(404, error.message) from None
    return result.public()
