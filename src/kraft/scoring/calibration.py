"""Calibration of one period's ratings: the distribution by manager and by team, computed and
final, the managers whose final ratings sit far from what their RMs' computed scores earn, and
(only when one is given: never by default) the gap to a target distribution.

Per RM rated in the period: the computed rating is the stored one (frozen at sign-off for a
signed review), the final rating is the review's (kraft.scoring.review: the adjustment, or the
computed rating once signed off) and, where there is none, the computed rating: an RM nobody
adjusted keeps what the scores give.

"Far", as a calibration committee reads it: the *score gap* of an RM is how many overall-score
points their computed score lies outside the band of their final rating (positive when the final
rating is more generous than the score, negative when it is harsher; 0 when the final rating is
the computed one or its band holds the score, so an adjustment of a score at a band's edge
costs almost nothing). A manager's leniency is the mean score gap over all the RMs they manage
who are rated (unadjusted ones count as 0): a systematic tilt, not one exception. A manager is
flagged when its absolute value is at least the threshold (default 5 points, a quarter of the
width of the default Meets band). The mean rating shift (final − computed, in rating steps) is
shown beside it.

The manager of an RM is their line manager: the leader of the nearest team at or above the RM's
own team whose leader is of role manager (never the RM themselves).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.errors import KraftError
from kraft.framework.model import Framework, RatingBand
from kraft.periods import Calendar, Grain
from kraft.scoring.review import State, list_reviews
from kraft.scoring.stored import as_of_date
from kraft.store.metadata import scores
from kraft.store.roster import RMS, rm_names, rm_records, team_names, team_tree

DEFAULT_GAP_THRESHOLD = Decimal(5)
HUNDRED = Decimal(100)
STEP = Decimal("0.01")  # overall scores are rounded to 2 decimals


@dataclass(frozen=True)
class RatedRm:
    rm_id: str
    name: str | None
    team_id: str | None
    manager_id: str | None
    score: Decimal | None
    computed: int
    final: int
    state: State | None
    adjusted: bool
    gap: Decimal


@dataclass(frozen=True)
class Group:
    """The ratings of a manager's or a team's RMs (or the whole scope's)."""

    kind: str  # manager, team, all
    group_id: str | None
    name: str | None
    rms: int
    computed: dict[int, int]
    final: dict[int, int]
    adjusted: int
    signed_off: int
    mean_shift: Decimal | None
    mean_gap: Decimal | None
    flagged: bool = False


@dataclass(frozen=True)
class BandGap:
    rating: int
    label: str
    target_percent: Decimal
    target_rms: Decimal
    computed_rms: int
    final_rms: int
    final_percent: Decimal
    gap_rms: Decimal  # final − target, in RMs
    gap_percent: Decimal  # final − target, in percentage points


@dataclass(frozen=True)
class Calibration:
    period: str
    bands: list[tuple[int, str]]
    total: Group
    by_manager: list[Group]
    by_team: list[Group]
    rated: list[RatedRm]
    gap_threshold: Decimal
    target: list[BandGap] | None = None
    not_rated: int = 0

    def public(self) -> dict[str, Any]:
        """As JSON-ready values (decimals as numbers)."""
        public: dict[str, Any] = _public(self)
        return public


def _public(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, State):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _public(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_public(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _public(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def parse_target_distribution(text: str, framework: Framework) -> list[Decimal]:
    """ "10,20,40,20,10": one percent per rating band, highest rating first, summing to 100."""
    bands = framework.rating_bands
    example = ",".join(["10", "20", "40", "20", "10"]) if len(bands) == 5 else "…"
    parts = [p.strip() for p in text.split(",")]
    try:
        numbers = [Decimal(p) for p in parts]
    except ArithmeticError:
        numbers = []
    if not numbers or any(not n.is_finite() or n < 0 for n in numbers):
        raise KraftError(
            f"--target-distribution {text!r} is not a list of percents; write one per rating "
            f"band, highest rating first, e.g. {example}."
        )
    if len(numbers) != len(bands):
        raise KraftError(
            f"--target-distribution has {len(numbers)} numbers and framework {framework.id} has "
            f"{len(bands)} rating bands; give one percent per band, highest rating first "
            f"({', '.join(b.label for b in bands)})."
        )
    if sum(numbers) != HUNDRED:
        raise KraftError(
            f"--target-distribution sums to {sum(numbers)}, not 100; make the percents add up."
        )
    return numbers


def latest_scored_period(conn: Connection, calendar: Calendar) -> str | None:
    """The quarter calibration opens on: the latest one rated and closed by the data's as-of
    date (its ratings can no longer move), else the latest rated one."""
    labels = conn.execute(
        sa.select(scores.c.period)
        .distinct()
        .where(
            scores.c.grain == Grain.quarter.value,
            scores.c.level == "overall",
            scores.c.rating.is_not(None),
        )
    ).scalars()
    rated = sorted((calendar.parse(str(label)) for label in labels), key=lambda p: p.start)
    as_of = as_of_date(conn)
    closed = [p for p in rated if as_of is not None and p.closed_by(as_of)]
    chosen = closed or rated
    return chosen[-1].label if chosen else None


def line_managers(conn: Connection) -> dict[str, str | None]:
    """rm_id → their line manager's rm_id (see the module's docstring), None where none."""
    tree = team_tree(conn)
    people = rm_records(conn)
    managers = {p.rm_id for p in people if p.role == "manager"}
    found: dict[str, str | None] = {}
    for person in people:
        leaders = (tree.teams[team].leader_rm_id for team in tree.ancestors(person.team_id))
        found[person.rm_id] = next(
            (leader for leader in leaders if leader in managers and leader != person.rm_id), None
        )
    return found


def score_gap(
    score: Decimal | None, final: int, computed: int, bands: Sequence[RatingBand]
) -> Decimal:
    """Overall-score points between the score and the band of the final rating (see above)."""
    if final == computed or score is None:
        return Decimal(0)
    ordered = sorted(bands, key=lambda b: b.min_score)
    for index, band in enumerate(ordered):
        if band.rating != final:
            continue
        low = None if index == 0 else band.min_score
        high = ordered[index + 1].min_score - STEP if index + 1 < len(ordered) else None
        if low is not None and score < low:
            return low - score
        if high is not None and score > high:
            return high - score
        return Decimal(0)
    return Decimal(0)


def _mean(numbers: Sequence[Decimal]) -> Decimal | None:
    return sum(numbers, Decimal(0)) / len(numbers) if numbers else None


def _group(
    kind: str,
    group_id: str | None,
    name: str | None,
    members: list[RatedRm],
    threshold: Decimal | None,
) -> Group:
    computed: dict[int, int] = {}
    final: dict[int, int] = {}
    for m in members:
        computed[m.computed] = computed.get(m.computed, 0) + 1
        final[m.final] = final.get(m.final, 0) + 1
    mean_gap = _mean([m.gap for m in members])
    return Group(
        kind,
        group_id,
        name,
        len(members),
        computed,
        final,
        sum(1 for m in members if m.adjusted),
        sum(1 for m in members if m.state is State.signed_off),
        _mean([Decimal(m.final - m.computed) for m in members]),
        mean_gap,
        threshold is not None and mean_gap is not None and abs(mean_gap) >= threshold,
    )


def calibrate(
    conn: Connection,
    framework: Framework,
    period: str,
    *,
    rm_ids: Collection[str] | None = None,
    target: Sequence[Decimal] | None = None,
    gap_threshold: Decimal = DEFAULT_GAP_THRESHOLD,
) -> Calibration:
    """The period's calibration over every rated RM (or those of `rm_ids`)."""
    rows = conn.execute(
        sa.select(scores.c.rm_id, scores.c.score, scores.c.rating, RMS.c.name, RMS.c.team_id)
        .select_from(scores.outerjoin(RMS, RMS.c.rm_id == scores.c.rm_id))
        .where(scores.c.period == period, scores.c.level == "overall")
        .order_by(scores.c.rm_id)
    ).all()
    if not rows:
        raise KraftError(
            f"Period {period} has no scores; run `kraft compute` or choose a scored period."
        )
    wanted = None if rm_ids is None else set(rm_ids)
    by_rm = {r.rm_id: r for r in list_reviews(conn, period=period)}
    managers = line_managers(conn)
    names = rm_names(conn)
    teams = team_names(conn)
    rated: list[RatedRm] = []
    not_rated = 0
    for r in rows:
        if wanted is not None and r.rm_id not in wanted:
            continue
        review = by_rm.get(r.rm_id)
        signed = review is not None and review.state is State.signed_off
        computed = review.computed_rating if signed and review else r.rating
        score = review.computed_score if signed and review else r.score
        if computed is None:
            not_rated += 1
            continue
        score = None if score is None else Decimal(str(score))
        final = review.final_rating if review and review.final_rating is not None else computed
        rated.append(
            RatedRm(
                r.rm_id, r.name, r.team_id, managers.get(r.rm_id), score, int(computed), int(final),
                review.state if review else None,
                bool(review and review.adjusted_rating is not None and final != computed),
                score_gap(score, int(final), int(computed), framework.rating_bands),
            )
        )  # fmt: skip
    by_manager: dict[str | None, list[RatedRm]] = {}
    by_team: dict[str | None, list[RatedRm]] = {}
    for m in rated:
        by_manager.setdefault(m.manager_id, []).append(m)
        by_team.setdefault(m.team_id, []).append(m)
    return Calibration(
        period,
        [(b.rating, b.label) for b in framework.rating_bands],
        _group("all", None, None, rated, None),
        [
            _group("manager", k, names.get(k) if k else "no manager", v, gap_threshold)
            for k, v in sorted(by_manager.items(), key=lambda kv: kv[0] or "~")
        ],
        [
            _group("team", k, teams.get(k) if k else "no team", v, None)
            for k, v in sorted(by_team.items(), key=lambda kv: kv[0] or "~")
        ],
        rated,
        gap_threshold,
        _band_gaps(framework, rated, target) if target is not None else None,
        not_rated,
    )


def _band_gaps(
    framework: Framework, rated: list[RatedRm], target: Sequence[Decimal]
) -> list[BandGap]:
    n = len(rated)
    gaps = []
    for band, percent in zip(framework.rating_bands, target, strict=True):
        computed = sum(1 for m in rated if m.computed == band.rating)
        final = sum(1 for m in rated if m.final == band.rating)
        target_rms = Decimal(n) * percent / HUNDRED
        final_percent = Decimal(final) * HUNDRED / n if n else Decimal(0)
        gaps.append(
            BandGap(
                band.rating, band.label, percent, target_rms, computed, final, final_percent,
                Decimal(final) - target_rms, final_percent - percent,
            )
        )  # fmt: skip
    return gaps
