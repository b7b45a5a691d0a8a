"""The review cycle of one RM's scorecard for one period: every state, who may move it, the
scorecard snapshot and what changed since (the steps that write are kraft.core.reviews).

States and steps (the rated RM is the RM whose scorecard it is; a manager is a user of role
manager whose RM record leads the RM's team or a team above it, never the RM themselves; an
admin is the HR / performance admin who runs the cycle):

    start         (none)                                  → draft          manager, admin
    comment       draft                                   → draft          manager, admin
    adjust        draft                                   → draft          manager, admin (reason)
    submit        draft                                   → reviewed       manager, admin
    self-assess   reviewed, self_assessed                 → self_assessed  the rated RM
    acknowledge   self_assessed                           → acknowledged   the rated RM
    sign-off      acknowledged                            → signed_off     manager, admin
    reopen        reviewed … signed_off                   → draft          admin (reason)

The manager writes comments and may adjust the rating (any band of the framework, or back to
none) with a reason that is mandatory; submit hands the review to the RM, who writes a
self-assessment (and may rewrite it) and then acknowledges; the sign-off freezes the scorecard
(KPI values, targets, thresholds, scores, KRA and overall scores, rating, framework name and
version, compute runs) as canonical JSON with its SHA-256 in review_snapshots. A later compute
changes the scores table, never a snapshot: `changes_since_sign_off` lists the differences.

`final_rating` is the adjusted rating as soon as there is one, else the computed rating once
signed off, else none (what `kraft export scores` writes beside `rating`). The computed rating
on the review follows the stored scores until the sign-off freezes it.

Every step writes one audit entry (action `review.<step>`, object `review` `<rm_id>/<period>`)
in the step's transaction, and bumps `version`: a step given an older version changes nothing
(StaleReviewError), so two people acting at once never overwrite each other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
)
from kraft.formatting import plain
from kraft.framework.model import Framework, Role
from kraft.store.metadata import kpi_values, review_snapshots, reviews, scores
from kraft.store.roster import managed_by
from kraft.store.users import User

TEXT_LIMIT = 5000  # characters a comment, self-assessment or reason may have


class State(StrEnum):
    draft = "draft"
    reviewed = "reviewed"
    self_assessed = "self_assessed"
    acknowledged = "acknowledged"
    signed_off = "signed_off"

    @property
    def words(self) -> str:
        return STATE_WORDS[self]


STATE_WORDS = {
    State.draft: "draft (the manager is reviewing)",
    State.reviewed: "reviewed by the manager (waiting for the RM's self-assessment)",
    State.self_assessed: "self-assessed (waiting for the RM's acknowledgement)",
    State.acknowledged: "acknowledged by the RM (waiting for sign-off)",
    State.signed_off: "signed off",
}


class Step(StrEnum):
    start = "start"
    comment = "comment"
    adjust = "adjust"
    submit = "submit"
    self_assess = "self-assess"
    acknowledge = "acknowledge"
    sign_off = "sign-off"
    reopen = "reopen"


class Party(StrEnum):
    """How a user stands to the RM reviewed."""

    manager = "manager"
    admin = "admin"
    rated = "the RM rated"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[State | None]  # None: no review yet
    target: State
    parties: frozenset[Party]


STAFF = frozenset({Party.manager, Party.admin})
TRANSITIONS: dict[Step, Transition] = {
    Step.start: Transition(frozenset({None}), State.draft, STAFF),
    Step.comment: Transition(frozenset({State.draft}), State.draft, STAFF),
    Step.adjust: Transition(frozenset({State.draft}), State.draft, STAFF),
    Step.submit: Transition(frozenset({State.draft}), State.reviewed, STAFF),
    Step.self_assess: Transition(
        frozenset({State.reviewed, State.self_assessed}),
        State.self_assessed,
        frozenset({Party.rated}),
    ),
    Step.acknowledge: Transition(
        frozenset({State.self_assessed}), State.acknowledged, frozenset({Party.rated})
    ),
    Step.sign_off: Transition(frozenset({State.acknowledged}), State.signed_off, STAFF),
    Step.reopen: Transition(
        frozenset({State.reviewed, State.self_assessed, State.acknowledged, State.signed_off}),
        State.draft,
        frozenset({Party.admin}),
    ),
}
PARTY_WORDS = {
    Party.manager: "a manager of the RM's team",
    Party.admin: "an admin",
    Party.rated: "the RM rated",
}


class ReviewError(ConflictError):
    """A step refused by the state machine or its checks (a conflict with the review's state)."""


class NotAllowedError(ReviewError, ForbiddenError):
    """The user may not take this step for this RM."""


class StaleReviewError(ReviewError, StaleVersionError):
    """The review changed since the version the caller read."""


class NoReviewError(ReviewError, NotFoundError):
    """The RM has no review (or no scorecard) for the period."""


class ReviewInputError(ReviewError, InvalidInputError):
    """A text or rating the step cannot take."""


@dataclass(frozen=True)
class Review:
    review_id: int
    rm_id: str
    period: str
    grain: str
    state: State
    version: int
    computed_score: Decimal | None
    computed_rating: int | None
    adjusted_rating: int | None
    final_rating: int | None
    adjustment_reason: str | None
    adjusted_by: str | None
    adjusted_at: datetime | None
    manager_comments: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    self_assessment: str | None
    self_assessed_by: str | None
    self_assessed_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    signed_off_by: str | None
    signed_off_at: datetime | None
    snapshot_id: int | None
    reopen_reason: str | None
    reopened_by: str | None
    reopened_at: datetime | None
    started_by: str
    started_at: datetime
    updated_at: datetime
    start_confirmation: str | None = None  # what the starter confirmed (values may change)
    sign_off_confirmation: str | None = None  # what the signer confirmed

    @property
    def key(self) -> str:
        return f"{self.rm_id}/{self.period}"

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def public(self) -> dict[str, Any]:
        """The review as JSON-ready values (dates ISO, the score a string)."""
        out: dict[str, Any] = {}
        for name in Review.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat(timespec="seconds")
            elif isinstance(value, Decimal):
                value = plain(value)
            elif isinstance(value, State):
                value = str(value)
            out[name] = value
        return out


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    review_id: int
    taken_at: datetime
    taken_by: str
    framework_id: str
    framework_version: str
    run_id: int | None
    values_run_id: int | None
    content: dict[str, Any]
    content_hash: str


@dataclass(frozen=True)
class Change:
    """One figure of a signed scorecard that is different now."""

    item: str  # "overall", "KRA <id>", "KPI <id>", "framework"
    field: str
    signed: Any
    now: Any


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _review(row: Any) -> Review:
    values = dict(row._mapping)
    values["state"] = State(values["state"])
    if values["computed_score"] is not None and not isinstance(values["computed_score"], Decimal):
        values["computed_score"] = Decimal(str(values["computed_score"]))
    return Review(**values)


def get_review(conn: Connection, rm_id: str, period: str) -> Review | None:
    row = conn.execute(
        sa.select(reviews).where(reviews.c.rm_id == rm_id, reviews.c.period == period)
    ).first()
    return None if row is None else _review(row)


def list_reviews(
    conn: Connection,
    *,
    period: str | None = None,
    rm_ids: frozenset[str] | None = None,
    state: State | None = None,
) -> list[Review]:
    """Reviews by period then RM; `rm_ids` narrows them (None: every RM)."""
    query = sa.select(reviews).order_by(reviews.c.period, reviews.c.rm_id)
    if period is not None:
        query = query.where(reviews.c.period == period)
    if rm_ids is not None:
        if not rm_ids:
            return []
        query = query.where(reviews.c.rm_id.in_(sorted(rm_ids)))
    if state is not None:
        query = query.where(reviews.c.state == str(state))
    return [_review(r) for r in conn.execute(query)]


def final_ratings(conn: Connection, periods: list[str] | None = None) -> dict[tuple[str, str], int]:
    """(rm_id, period) → final rating, for the reviews that have one."""
    query = sa.select(reviews.c.rm_id, reviews.c.period, reviews.c.final_rating).where(
        reviews.c.final_rating.is_not(None)
    )
    if periods is not None:
        query = query.where(reviews.c.period.in_(periods))
    return {(r.rm_id, r.period): int(r.final_rating) for r in conn.execute(query)}


# -- who may do what ----------------------------------------------------------------------------


def parties(conn: Connection, user: User, rm_id: str) -> frozenset[Party]:
    """How the user stands to the RM: admin, a manager above them, the RM themselves."""
    if not user.active:
        return frozenset()
    if user.role is Role.admin:
        return frozenset({Party.admin})
    found: set[Party] = set()
    if user.rm_id == rm_id:
        found.add(Party.rated)
    elif user.role is Role.manager and user.rm_id and rm_id in managed_by(conn, user.rm_id).rm_ids:
        found.add(Party.manager)
    return frozenset(found)


def allowed_steps(conn: Connection, user: User, rm_id: str, review: Review | None) -> list[Step]:
    """The steps the user may take on the review now (for the forms a page shows)."""
    who = parties(conn, user, rm_id)
    state = review.state if review else None
    return [s for s, t in TRANSITIONS.items() if state in t.sources and who & t.parties]


def check_step(
    step: Step, review: Review | None, who: frozenset[Party], rm_id: str, period: str
) -> None:
    """The one gate: the step must start from the review's state, and be the user's to take."""
    transition = TRANSITIONS[step]
    if not who & transition.parties:
        allowed = " or ".join(PARTY_WORDS[p] for p in sorted(transition.parties))
        raise NotAllowedError(
            f"Only {allowed} may {step} the review of {rm_id} for {period}; you are not."
        )
    state = review.state if review else None
    if state not in transition.sources:
        if review is None:
            raise NoReviewError(
                f"{rm_id} has no review for {period}; a manager starts it with "
                f"`kraft review start --rm {rm_id} --period {period}`."
            )
        if step is Step.start:
            raise ReviewError(f"The review of {rm_id} for {period} exists already ({state}).")
        starts = ", ".join(str(s) for s in sorted(s for s in transition.sources if s))
        raise ReviewError(
            f"The review of {rm_id} for {period} is {review.state.words}; {step} needs it to be "
            f"{starts}."
        )


def check_version(review: Review | None, expected: int | None) -> None:
    if review is not None and expected is not None and expected != review.version:
        raise StaleReviewError(
            f"The review of {review.key} has changed since you read it (version {expected}, now "
            f"{review.version}), so nothing was changed; read it again and redo the step."
        )


def required_text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ReviewInputError(f"The {what} is empty; write it (it is mandatory for this step).")
    if len(text) > TEXT_LIMIT:
        raise ReviewInputError(
            f"The {what} has {len(text):,} characters; keep it within {TEXT_LIMIT:,}."
        )
    return text


HIDDEN_IN_DRAFT = ("manager_comments", "adjusted_rating", "final_rating", "adjustment_reason",
                   "adjusted_by", "adjusted_at")  # fmt: skip


def seen_by(review: Review, who: frozenset[Party]) -> dict[str, Any]:
    """The review as the user may read it: while it is in draft, the RM rated does not see the
    manager's work in progress (comments, adjustment), only that the review is under way."""
    public = review.public()
    if review.state is State.draft and who == {Party.rated}:
        for name in HIDDEN_IN_DRAFT:
            public[name] = None
    return public


# -- the scorecard as stored, and its snapshot --------------------------------------------------


def stored_number(value: Any) -> Any:
    """A stored number in canonical JSON: NUMERIC as a plain decimal string, a double as it
    prints (repr), so that the same scorecard gives the same bytes on both databases."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, float):
        return repr(value)
    return value


def scorecard_content(
    conn: Connection, framework: Framework, rm_id: str, period: str
) -> dict[str, Any] | None:
    """The stored scorecard of the RM and period (the scores table's rows with the KPI values'
    numerators and denominators), as the snapshot keeps it; None when it is not scored."""
    rows = conn.execute(
        sa.select(scores).where(scores.c.rm_id == rm_id, scores.c.period == period)
    ).all()
    overall = next((r for r in rows if r.level == "overall"), None)
    if overall is None:
        return None
    values = {
        r.kpi_id: r
        for r in conn.execute(
            sa.select(
                kpi_values.c.kpi_id,
                kpi_values.c.numerator,
                kpi_values.c.denominator,
                kpi_values.c.provisional,
            ).where(
                kpi_values.c.entity_type == "rm",
                kpi_values.c.entity_id == rm_id,
                kpi_values.c.period == period,
            )
        )
    }
    kpis: dict[str, Any] = {}
    kras: dict[str, Any] = {}
    for r in rows:
        if r.level == "kra":
            kras[r.item_id] = {
                "score": stored_number(r.score),
                "weight": stored_number(r.weight),
                "capped_at": stored_number(r.capped_at),
            }
        elif r.level == "kpi":
            stored = values.get(r.item_id)
            kpis[r.item_id] = {
                "kra_id": r.kra_id,
                "value": stored_number(r.actual),
                "numerator": stored_number(stored.numerator) if stored else None,
                "denominator": stored_number(stored.denominator) if stored else None,
                "volume": stored_number(r.volume),
                "provisional": bool(r.provisional),
                "target": stored_number(r.target),
                "threshold": stored_number(r.threshold),
                "target_source": r.target_source,
                "score": stored_number(r.score),
                "status": r.status,
                "weight": stored_number(r.weight),
            }
    return {
        "rm_id": rm_id,
        "period": period,
        "grain": overall.grain,
        "framework": {"id": framework.id, "version": framework.version, "title": framework.title},
        "run_id": overall.run_id,
        "values_run_id": overall.values_run_id,
        "overall": {
            "score": stored_number(overall.score),
            "rating": overall.rating,
            "rating_label": overall.rating_label,
            "coverage": stored_number(overall.coverage),
            "provisional": bool(overall.provisional),
            "rating_capped_at": stored_number(overall.capped_at),
        },
        "kras": kras,
        "kpis": kpis,
    }


def canonical(content: Mapping[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def get_snapshot(conn: Connection, snapshot_id: int) -> Snapshot | None:
    row = conn.execute(
        sa.select(review_snapshots).where(review_snapshots.c.snapshot_id == snapshot_id)
    ).first()
    if row is None:
        return None
    values = dict(row._mapping)
    for name in ("rm_id", "period"):
        values.pop(name)
    values["content"] = json.loads(values["content"])
    return Snapshot(**values)


def snapshots_of(conn: Connection, review_id: int) -> list[Snapshot]:
    """Every snapshot of a review, oldest first (a reopened review keeps its earlier ones)."""
    ids = (
        conn.execute(
            sa.select(review_snapshots.c.snapshot_id)
            .where(review_snapshots.c.review_id == review_id)
            .order_by(review_snapshots.c.snapshot_id)
        )
        .scalars()
        .all()
    )  # read whole first: DuckDB drops a result when the next query runs
    return [s for i in ids if (s := get_snapshot(conn, int(i))) is not None]


def snapshot_intact(snapshot: Snapshot) -> bool:
    """Whether the stored content still has the hash written (and audited) at sign-off."""
    return content_hash(canonical(snapshot.content)) == snapshot.content_hash


def _flat(content: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    flat: dict[tuple[str, str], Any] = {
        ("framework", "id"): content["framework"]["id"],
        ("framework", "version"): content["framework"]["version"],
    }
    for name, value in content["overall"].items():
        flat[("overall", name)] = value
    for kra_id, fields in content["kras"].items():
        for name, value in fields.items():
            flat[(f"KRA {kra_id}", name)] = value
    for kpi_id, fields in content["kpis"].items():
        for name, value in fields.items():
            flat[(f"KPI {kpi_id}", name)] = value
    return flat


def differences(signed: Mapping[str, Any], current: Mapping[str, Any] | None) -> list[Change]:
    """The figures of the signed scorecard that differ now (the compute runs' ids are not
    figures: a recompute that gives the same numbers changes nothing)."""
    if current is None:
        return [Change("overall", "scorecard", "stored", "no longer stored (run kraft compute)")]
    before, after = _flat(signed), _flat(current)
    order = list(before) + [k for k in after if k not in before]
    return [
        Change(item, field, before.get((item, field)), after.get((item, field)))
        for item, field in order
        if before.get((item, field)) != after.get((item, field))
    ]


def changes_since_sign_off(
    conn: Connection, framework: Framework, review: Review
) -> list[Change] | None:
    """The differences between the signed snapshot and the scorecard stored now; None when the
    review is not signed off."""
    if review.state is not State.signed_off or review.snapshot_id is None:
        return None
    snapshot = get_snapshot(conn, review.snapshot_id)
    if snapshot is None:
        raise ReviewError(f"The snapshot of the review of {review.key} is missing.")
    return differences(
        snapshot.content, scorecard_content(conn, framework, review.rm_id, review.period)
    )


# -- the steps -----------------------------------------------------------------------------------
