"""Pages of the review cycle: the reviews in the user's scope, the review of an RM's period (the
scorecard in brief, the state, the forms of the steps the user may take, the signed snapshot and
"data changed since sign-off"), and calibration for admins and managers.

Every rule is kraft.scoring.review's; a form carries the review's version, so a step taken on a
stale page changes nothing and the page says so (409), showing the review as it is now. When the
period's values can still change (kraft.core.settling), the start and sign-off forms say why and
carry the confirmation box the step needs; values kept provisional by open claims alone get a
note.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kraft.core.access import Scope, visible_rm
from kraft.core.home import home_periods, reviews_due
from kraft.core.inputs import parse_period
from kraft.core.reviews import StepInput, take_review_step
from kraft.core.settling import open_claims_note, settling_of, unsettled_reason
from kraft.errors import ConfirmationRequiredError, KraftError
from kraft.formatting import fixed
from kraft.framework.model import Role
from kraft.reports.values import stored_figure
from kraft.scoring import calibration as cal
from kraft.scoring import review as rv
from kraft.scoring.stored import numeric
from kraft.store.roster import rm_name
from kraft.web.deps import CsrfForm, PageScope, SiteDep
from kraft.web.errors import status_of
from kraft.web.render import render_page
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)


STEP_TITLES = {
    rv.Step.start: "Start the review",
    rv.Step.comment: "Manager's comments",
    rv.Step.adjust: "Adjust the rating",
    rv.Step.submit: "Submit the review to the RM",
    rv.Step.self_assess: "Self-assessment",
    rv.Step.acknowledge: "Acknowledge the review",
    rv.Step.sign_off: "Sign off (freezes the scorecard)",
    rv.Step.reopen: "Reopen the review",
}
DONE = {
    rv.Step.start: "The review is started.",
    rv.Step.comment: "The comments are saved.",
    rv.Step.adjust: "The rating adjustment is saved.",
    rv.Step.submit: "The review is submitted to the RM.",
    rv.Step.self_assess: "The self-assessment is saved.",
    rv.Step.acknowledge: "The review is acknowledged.",
    rv.Step.sign_off: "The review is signed off; its scorecard is frozen.",
    rv.Step.reopen: "The review is reopened.",
}


def _labels(site: Site) -> dict[int, str]:
    return {b.rating: b.label for b in site.framework.rating_bands}


def _review_page(
    request: Request,
    site: Site,
    scope: Scope,
    rm_id: str,
    label: str,
    *,
    message: str = "",
    done: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with site.read() as conn:
        visible_rm(conn, scope, rm_id)
        found = rv.get_review(conn, rm_id, label)
        who = rv.parties(conn, scope.user, rm_id)
        card = rv.scorecard_content(conn, site.framework, rm_id, label)
        steps = rv.allowed_steps(conn, scope.user, rm_id, found)
        snapshot = rv.get_snapshot(conn, found.snapshot_id) if found and found.snapshot_id else None
        changes = rv.changes_since_sign_off(conn, site.framework, found) if found else None
        name = rm_name(conn, rm_id)
        settling = settling_of(site.settings)
        unsettled = unsettled_reason(conn, settling, label)
        claims_note = open_claims_note(conn, site.framework, settling, rm_id, label)
    if card is None and found is None:
        raise HTTPException(404, f"There is no scorecard of {rm_id} for {label} to review.")
    kras = {k.id: k for k in site.framework.kras}
    context: dict[str, Any] = {
        "rm_id": rm_id,
        "name": name,
        "period": label,
        "card": card,
        "kra_titles": {k: v.title for k, v in kras.items()},
        "review": rv.seen_by(found, who) if found else None,
        "state_words": found.state.words if found else "not started",
        "steps": steps,
        "titles": STEP_TITLES,
        "labels": _labels(site),
        "bands": site.framework.rating_bands,
        "snapshot": snapshot,
        "snapshot_intact": rv.snapshot_intact(snapshot) if snapshot else None,
        "changes": changes,
        "unsettled": unsettled,
        "claims_note": claims_note,
        "message": message,
        "done": done,
        "form": form or {},
        "score": _score,
        "numeric": numeric,
        "figure": partial(stored_figure, site.framework),
    }
    return render_page(request, "review.html.j2", context, status_code=status_code)


def _score(value: Any) -> str:
    return fixed(numeric(value))


@router.get("/reviews", response_class=HTMLResponse)
def reviews_page(
    request: Request, site: SiteDep, scope: PageScope, period: str = "", state: str = ""
) -> HTMLResponse:
    """The reviews of the RMs in the user's scope (an RM: their own), and who has a scorecard
    for the period (by default the last closed quarter) but no review of it yet."""
    label = parse_period(site.calendar, period, "period").label if period else None
    chosen = None
    if state:
        try:
            chosen = rv.State(state)
        except ValueError:
            raise HTTPException(422, f"state: {state!r} is not a review state.") from None
    with site.read() as conn:
        found = rv.list_reviews(conn, period=label, rm_ids=scope.rm_ids, state=chosen)
        closed = home_periods(conn, site.calendar).closed
        due_label = label or (closed.label if closed else None)
        to_start = (
            [d for d in reviews_due(conn, scope, due_label) if d.state is None] if due_label else []
        )
    return render_page(
        request,
        "review.html.j2",
        {"listing": found, "labels": _labels(site), "filters": {"period": period, "state": state},
         "states": list(rv.State), "to_start": to_start, "due_period": due_label},
    )  # fmt: skip


@router.get("/rms/{rm_id}/reviews/{period}", response_class=HTMLResponse)
def review_page(
    request: Request, site: SiteDep, scope: PageScope, rm_id: str, period: str, done: str = ""
) -> HTMLResponse:
    label = parse_period(site.calendar, period, "period").label
    try:
        said = DONE[rv.Step(done)] if done else ""
    except ValueError:
        said = ""
    return _review_page(request, site, scope, rm_id, label, done=said)


@router.post("/rms/{rm_id}/reviews/{period}", dependencies=[CsrfForm])
def review_step(
    request: Request,
    site: SiteDep,
    scope: PageScope,
    rm_id: str,
    period: str,
    step: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    rating: Annotated[str, Form()] = "",
    confirm_provisional: Annotated[str, Form()] = "",
) -> Response:
    """One step from the page's forms; a refusal shows the page again with the sentence."""
    label = parse_period(site.calendar, period, "period").label
    try:
        chosen = rv.Step(step)
    except ValueError:
        raise HTTPException(422, f"step: {step!r} is not a review step.") from None
    with site.read() as conn:
        visible_rm(conn, scope, rm_id)
        who = rv.parties(conn, scope.user, rm_id)
    form = {"step": step, "text": text, "rating": rating}
    if not who & rv.TRANSITIONS[chosen].parties:
        raise HTTPException(403, f"Taking the step {chosen} of this review is not yours to do.")
    try:
        expected = int(version) if version.strip() else None
        given = None if rating.strip().lower() in ("", "none") else int(rating)
    except ValueError:
        return _review_page(
            request, site, scope, rm_id, label, form=form, status_code=422,
            message="The rating is not a number; choose one of the ratings.",
        )  # fmt: skip
    try:
        confirmed = bool(confirm_provisional.strip())
        step_input = StepInput(text, given, expected_version=expected, confirmed=confirmed)
        take_review_step(site, scope, rm_id, label, chosen, step_input)
    except (rv.ReviewError, ConfirmationRequiredError) as error:
        status = status_of(error)
        if status == 412:
            status = 409  # a page shows the review as it is now, with what was typed kept
        return _review_page(
            request, site, scope, rm_id, label, form=form, status_code=status,
            message=error.message,
        )  # fmt: skip
    return RedirectResponse(f"/rms/{rm_id}/reviews/{label}?done={chosen}", status_code=303)


@router.get("/calibration", response_class=HTMLResponse)
def calibration_page(
    request: Request,
    site: SiteDep,
    scope: PageScope,
    period: str = "",
    target: str = "",
    flag_gap: str = "",
) -> HTMLResponse:
    """Calibration of a period for an admin (everyone) or a manager (their teams)."""
    if scope.role is Role.rm:
        raise HTTPException(404, "There is no such page, or it is not yours to see.")
    problem = ""
    parsed = None
    try:
        threshold = Decimal(flag_gap) if flag_gap.strip() else cal.DEFAULT_GAP_THRESHOLD
        if not threshold.is_finite() or threshold <= 0:
            raise InvalidOperation
    except InvalidOperation:
        threshold, problem = cal.DEFAULT_GAP_THRESHOLD, "The flag gap must be a number above 0."
    if target.strip():
        try:
            parsed = cal.parse_target_distribution(target, site.framework)
        except KraftError as error:
            problem = error.message.replace("--target-distribution", "The target distribution")
    with site.read() as conn:
        label = (
            parse_period(site.calendar, period, "period").label
            if period
            else cal.latest_scored_period(conn, site.calendar)
        )
        result = None
        if label is not None:
            try:
                result = cal.calibrate(
                    conn, site.framework, label, rm_ids=scope.rm_ids, target=parsed,
                    gap_threshold=threshold,
                )  # fmt: skip
            except KraftError as error:
                problem = error.message
    return render_page(
        request,
        "calibration.html.j2",
        {"result": result, "period": label or "", "target": target, "flag_gap": flag_gap,
         "problem": problem, "threshold": threshold},
        status_code=422 if problem and result is None and label else 200,
    )  # fmt: skip
