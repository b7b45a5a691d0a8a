"""The review cycle's steps: each one checked against the state machine and who may take it
(kraft.scoring.review), written with the next version, and audited (action `review.<step>`,
object `review` `<rm_id>/<period>`) in the step's transaction. The one path for the CLI, the
review page and the API: `take_review_step`.

Starting or signing off a review of a period whose values can still change (kraft.core.settling)
needs the user's explicit confirmation: without it the step is refused (ConfirmationRequiredError,
nothing written); with it the sentence confirmed is kept on the review (start_confirmation,
sign_off_confirmation, beside who took the step and when) and in the step's audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.core.access import Scope, visible_rm
from kraft.core.context import Kraft
from kraft.core.settling import Settling, settling_of, unsettled_reason
from kraft.errors import ConfirmationRequiredError
from kraft.framework.model import Framework
from kraft.scoring.review import (
    NoReviewError,
    Review,
    ReviewError,
    StaleReviewError,
    State,
    Step,
    canonical,
    check_step,
    check_version,
    content_hash,
    get_review,
    parties,
    required_text,
    scorecard_content,
    stored_number,
    utc_now,
)
from kraft.store import audit
from kraft.store.metadata import review_snapshots, reviews, scores
from kraft.store.users import User


@dataclass(frozen=True)
class StepInput:
    """What a step is taken with: its text (the comment, the self-assessment, or the reason of an
    adjustment or a reopening), an adjustment's rating (None: back to the computed one), and the
    version of the review it was taken on (every step but start names one); `confirmed`: the
    user confirms a start or sign-off on values that may still change."""

    text: str | None = None
    rating: int | None = None
    expected_version: int | None = None
    confirmed: bool = False


CONFIRMING = {Step.start: "Starting", Step.sign_off: "Signing off"}


def confirmation(
    conn: Connection, settling: Settling, step: Step, rm_id: str, period: str, confirmed: bool
) -> str | None:
    """The sentence a start or sign-off confirms (None: the period's values are settled);
    refused when the period can still change and the user did not confirm."""
    reason = unsettled_reason(conn, settling, period)
    if reason is None:
        return None
    if not confirmed:
        raise ConfirmationRequiredError(
            f"{CONFIRMING[step]} the review of {rm_id} for {period} needs your confirmation "
            f"because {reason}; nothing was changed: confirm with --confirm-provisional (kraft "
            f'review {step}), the box on the review page, or "confirm_provisional": true (API).'
        )
    return f"Confirmed: {reason}."


def _overall(conn: Connection, rm_id: str, period: str) -> Any:
    row = conn.execute(
        sa.select(scores.c.grain, scores.c.score, scores.c.rating).where(
            scores.c.rm_id == rm_id, scores.c.period == period, scores.c.level == "overall"
        )
    ).first()
    if row is None:
        raise NoReviewError(
            f"{rm_id} has no scorecard for {period}; run `kraft compute`, or choose a scored "
            "period of a scored RM."
        )
    return row


def _lock(conn: Connection) -> None:
    """On PostgreSQL, starting reviews waits for each other (DuckDB has the one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE reviews IN SHARE ROW EXCLUSIVE MODE"))


def _audit(
    conn: Connection, actor: str, step: Step, rm_id: str, period: str, old: Any, new: Any
) -> None:
    audit.append(
        conn,
        actor=actor,
        action=f"review.{step}",
        object_type="review",
        object_id=f"{rm_id}/{period}",
        old=old,
        new=new,
    )


def _update(conn: Connection, review: Review, values: dict[str, Any]) -> Review:
    """Write the step's values with the next version, only over the version read."""
    done = conn.execute(
        reviews.update()
        .where(reviews.c.review_id == review.review_id, reviews.c.version == review.version)
        .values(**values, version=review.version + 1, updated_at=utc_now())
    )
    if done.rowcount != 1:
        raise StaleReviewError(
            f"The review of {review.key} was changed by someone else at the same time, so "
            "nothing was changed; read it again and redo the step."
        )
    found = get_review(conn, review.rm_id, review.period)
    assert found is not None
    return found


def _step(
    conn: Connection,
    user: User,
    rm_id: str,
    period: str,
    step: Step,
    expected_version: int | None,
) -> Review | None:
    review = get_review(conn, rm_id, period)
    check_step(step, review, parties(conn, user, rm_id), rm_id, period)
    check_version(review, expected_version)
    return review


def _who(user: User) -> str:
    return user.email


def start(
    conn: Connection,
    framework: Framework,
    user: User,
    rm_id: str,
    period: str,
    *,
    actor: str,
    settling: Settling,
    confirmed: bool = False,
) -> Review:
    """Open the review of a scored RM's period, in draft (confirmed, when its values may still
    change)."""
    _lock(conn)
    _step(conn, user, rm_id, period, Step.start, None)
    card = _overall(conn, rm_id, period)
    confirmed_text = confirmation(conn, settling, Step.start, rm_id, period, confirmed)
    review_id = int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(reviews.c.review_id), 0) + 1)
        ).scalar_one()
    )
    now = utc_now()
    conn.execute(
        reviews.insert().values(
            review_id=review_id,
            rm_id=rm_id,
            period=period,
            grain=card.grain,
            state=str(State.draft),
            version=1,
            computed_score=card.score,
            computed_rating=card.rating,
            started_by=_who(user),
            started_at=now,
            updated_at=now,
            start_confirmation=confirmed_text,
        )
    )
    found = get_review(conn, rm_id, period)
    assert found is not None
    _audit(
        conn, actor, Step.start, rm_id, period, None,
        {"state": str(State.draft), "version": 1, "computed_rating": card.rating,
         "computed_score": stored_number(card.score), "framework": framework.id,
         **_confirmed(confirmed_text)},
    )  # fmt: skip
    return found


def _confirmed(text: str | None) -> dict[str, str]:
    """The confirmation in an audit entry, when the step needed one."""
    return {} if text is None else {"confirmed": text}


def _computed(conn: Connection, review: Review) -> dict[str, Any]:
    """The computed score and rating as stored now (until the sign-off freezes them)."""
    card = _overall(conn, review.rm_id, review.period)
    return {"computed_score": card.score, "computed_rating": card.rating}


def comment(
    conn: Connection,
    user: User,
    rm_id: str,
    period: str,
    text: str,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Review:
    """Write (or rewrite) the manager's comments while the review is in draft."""
    review = _step(conn, user, rm_id, period, Step.comment, expected_version)
    assert review is not None
    comments = required_text(text, "comment")
    found = _update(conn, review, {"manager_comments": comments, **_computed(conn, review)})
    _audit(
        conn, actor, Step.comment, rm_id, period,
        {"manager_comments": review.manager_comments, "version": review.version},
        {"manager_comments": comments, "version": found.version},
    )  # fmt: skip
    return found


def adjust(
    conn: Connection,
    framework: Framework,
    user: User,
    rm_id: str,
    period: str,
    given: StepInput,
    *,
    actor: str,
) -> Review:
    """Set the rating the manager gives instead of the computed one (None: back to the computed
    rating), with the reason (the step's text), which is mandatory."""
    rating = given.rating
    review = _step(conn, user, rm_id, period, Step.adjust, given.expected_version)
    assert review is not None
    bands = {b.rating: b.label for b in framework.rating_bands}
    if rating is not None and rating not in bands:
        choices = ", ".join(f"{r} ({label})" for r, label in bands.items())
        raise ReviewError(
            f"Rating {rating} is not a rating of framework {framework.id}; use {choices}."
        )
    why = required_text(given.text or "", "reason for the adjustment")
    computed = _computed(conn, review)
    values = {
        **computed,
        "adjusted_rating": rating,
        "final_rating": rating,
        "adjustment_reason": why,
        "adjusted_by": _who(user),
        "adjusted_at": utc_now(),
    }
    found = _update(conn, review, values)
    _audit(
        conn, actor, Step.adjust, rm_id, period,
        {"adjusted_rating": review.adjusted_rating, "reason": review.adjustment_reason,
         "version": review.version},
        {"adjusted_rating": rating, "computed_rating": computed["computed_rating"], "reason": why,
         "version": found.version},
    )  # fmt: skip
    return found


def submit(
    conn: Connection,
    user: User,
    rm_id: str,
    period: str,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Review:
    """The manager's review is done: it goes to the RM (it needs the manager's comments)."""
    review = _step(conn, user, rm_id, period, Step.submit, expected_version)
    assert review is not None
    if not review.manager_comments:
        raise ReviewError(
            f"The review of {rm_id} for {period} has no comments yet; the manager writes them "
            "before submitting it."
        )
    found = _update(
        conn,
        review,
        {"state": str(State.reviewed), "reviewed_by": _who(user), "reviewed_at": utc_now(),
         **_computed(conn, review)},
    )  # fmt: skip
    _transition_audit(conn, actor, Step.submit, review, found)
    return found


def self_assess(
    conn: Connection,
    user: User,
    rm_id: str,
    period: str,
    text: str,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Review:
    """The RM's own assessment of the period (rewritable until they acknowledge)."""
    review = _step(conn, user, rm_id, period, Step.self_assess, expected_version)
    assert review is not None
    assessment = required_text(text, "self-assessment")
    found = _update(
        conn,
        review,
        {"state": str(State.self_assessed), "self_assessment": assessment,
         "self_assessed_by": _who(user), "self_assessed_at": utc_now()},
    )  # fmt: skip
    _audit(
        conn, actor, Step.self_assess, rm_id, period,
        {"state": str(review.state), "self_assessment": review.self_assessment,
         "version": review.version},
        {"state": str(found.state), "self_assessment": assessment, "version": found.version},
    )  # fmt: skip
    return found


def acknowledge(
    conn: Connection,
    user: User,
    rm_id: str,
    period: str,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Review:
    """The RM has read the manager's review and rating."""
    review = _step(conn, user, rm_id, period, Step.acknowledge, expected_version)
    assert review is not None
    found = _update(
        conn,
        review,
        {"state": str(State.acknowledged), "acknowledged_by": _who(user),
         "acknowledged_at": utc_now()},
    )  # fmt: skip
    _transition_audit(conn, actor, Step.acknowledge, review, found)
    return found


def sign_off(
    conn: Connection,
    framework: Framework,
    user: User,
    rm_id: str,
    period: str,
    *,
    actor: str,
    settling: Settling,
    expected_version: int | None = None,
    confirmed: bool = False,
) -> Review:
    """Freeze the scorecard as stored now in a snapshot and close the review (confirmed, when
    its values may still change)."""
    review = _step(conn, user, rm_id, period, Step.sign_off, expected_version)
    assert review is not None
    confirmed_text = confirmation(conn, settling, Step.sign_off, rm_id, period, confirmed)
    content = scorecard_content(conn, framework, rm_id, period)
    if content is None:
        raise NoReviewError(
            f"{rm_id} has no scorecard for {period} any more; run `kraft compute` first."
        )
    text = canonical(content)
    digest = content_hash(text)
    snapshot_id = int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(review_snapshots.c.snapshot_id), 0) + 1)
        ).scalar_one()
    )
    now = utc_now()
    conn.execute(
        review_snapshots.insert().values(
            snapshot_id=snapshot_id,
            review_id=review.review_id,
            rm_id=rm_id,
            period=period,
            taken_at=now,
            taken_by=_who(user),
            framework_id=framework.id,
            framework_version=framework.version,
            run_id=content["run_id"],
            values_run_id=content["values_run_id"],
            content=text,
            content_hash=digest,
        )
    )
    rating = content["overall"]["rating"]
    score = content["overall"]["score"]
    final = review.adjusted_rating if review.adjusted_rating is not None else rating
    found = _update(
        conn,
        review,
        {"state": str(State.signed_off), "signed_off_by": _who(user), "signed_off_at": now,
         "snapshot_id": snapshot_id, "computed_rating": rating,
         "computed_score": None if score is None else Decimal(score), "final_rating": final,
         "sign_off_confirmation": confirmed_text},
    )  # fmt: skip
    _audit(
        conn, actor, Step.sign_off, rm_id, period,
        {"state": str(review.state), "version": review.version},
        {"state": str(found.state), "version": found.version, "final_rating": final,
         "computed_rating": rating, "snapshot_id": snapshot_id, "snapshot_sha256": digest,
         "framework": f"{framework.id} {framework.version}", **_confirmed(confirmed_text)},
    )  # fmt: skip
    return found


def reopen(
    conn: Connection,
    user: User,
    rm_id: str,
    period: str,
    reason: str,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Review:
    """Send the review back to draft (an admin, with a reason); the RM's acknowledgement and the
    sign-off are cleared, an earlier snapshot is kept (review_snapshots), and the final rating is
    the adjustment again, if any."""
    review = _step(conn, user, rm_id, period, Step.reopen, expected_version)
    assert review is not None
    why = required_text(reason, "reason for reopening")
    found = _update(
        conn,
        review,
        {"state": str(State.draft), "reopen_reason": why, "reopened_by": _who(user),
         "reopened_at": utc_now(), "acknowledged_by": None, "acknowledged_at": None,
         "signed_off_by": None, "signed_off_at": None, "snapshot_id": None,
         "sign_off_confirmation": None, "final_rating": review.adjusted_rating, **_computed(conn, review)},
    )  # fmt: skip
    _audit(
        conn, actor, Step.reopen, rm_id, period,
        {"state": str(review.state), "version": review.version, "final_rating": review.final_rating,
         "snapshot_id": review.snapshot_id},
        {"state": str(found.state), "version": found.version, "reason": why},
    )  # fmt: skip
    return found


def _transition_audit(conn: Connection, actor: str, step: Step, old: Review, new: Review) -> None:
    _audit(
        conn, actor, step, old.rm_id, old.period,
        {"state": str(old.state), "version": old.version},
        {"state": str(new.state), "version": new.version},
    )  # fmt: skip


def take_step(
    conn: Connection,
    framework: Framework,
    scope: Scope,
    rm_id: str,
    period: str,
    step: Step,
    given: StepInput,
    *,
    settling: Settling,
) -> Review:
    """Any step by name as the scope's user (the pages' forms and the API's POSTs); the audit
    log names the scope's actor."""
    user, actor, text = scope.user, scope.actor, given.text
    expected_version = given.expected_version
    if step is Step.start:
        return start(
            conn, framework, user, rm_id, period, actor=actor, settling=settling,
            confirmed=given.confirmed,
        )  # fmt: skip
    if step is Step.comment:
        return comment(
            conn, user, rm_id, period, text or "", actor=actor, expected_version=expected_version
        )
    if step is Step.adjust:
        return adjust(conn, framework, user, rm_id, period, given, actor=actor)
    if step is Step.submit:
        return submit(conn, user, rm_id, period, actor=actor, expected_version=expected_version)
    if step is Step.self_assess:
        return self_assess(
            conn, user, rm_id, period, text or "", actor=actor, expected_version=expected_version
        )
    if step is Step.acknowledge:
        return acknowledge(
            conn, user, rm_id, period, actor=actor, expected_version=expected_version
        )
    if step is Step.sign_off:
        return sign_off(
            conn, framework, user, rm_id, period, actor=actor, settling=settling,
            expected_version=expected_version, confirmed=given.confirmed,
        )  # fmt: skip
    return reopen(
        conn, user, rm_id, period, text or "", actor=actor, expected_version=expected_version
    )


def take_review_step(
    kraft: Kraft, scope: Scope, rm_id: str, period: str, step: Step, given: StepInput
) -> Review:
    """Take a step of the RM's review of the period as the scope's user, in one transaction;
    every step but start names the version it was taken on (a stale one changes nothing)."""
    with kraft.write() as conn:
        visible_rm(conn, scope, rm_id)
        if step is not Step.start and (
            given.expected_version is None or get_review(conn, rm_id, period) is None
        ):
            raise StaleReviewError(
                f"The review of {rm_id} for {period} has changed since it was read (or there is "
                "none to change), so nothing was changed; read it again and redo the step."
            )
        return take_step(
            conn, kraft.framework, scope, rm_id, period, step, given,
            settling=settling_of(kraft.settings),
        )  # fmt: skip
