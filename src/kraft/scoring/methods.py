"""A KPI's score (0 to its cap) and status from its actual, target and threshold (KPIS.md).

Everything is Decimal; nothing is rounded here (the overall score is rounded once, at the end).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from kraft.framework.model import KPI, Direction, ScoringMethod

ZERO = Decimal(0)
HUNDRED = Decimal(100)
TOLERANCE = Decimal("0.1")  # "within ±10 % of target" (key_metric_variance, status on track)


class Status(StrEnum):
    above_target = "above target"  # at or better than target
    on_track = "on track"  # worse than target by at most 10 % of it
    below_target = "below target"
    below_threshold = "below threshold"  # worse than the threshold, whatever the score
    insufficient_volume = "insufficient volume"  # shown, not scored
    no_data = "no data"  # null value: not scored
    not_tracked = "not tracked"  # its table never held a row, or kraft.toml turns it off
    not_applicable = "not applicable"  # e.g. a leader-only KPI for an RM who leads no team
    provisional = "provisional"  # scored, but the value can still change (open window)


SCORED = {
    Status.above_target,
    Status.on_track,
    Status.below_target,
    Status.below_threshold,
    Status.provisional,
}


@dataclass(frozen=True)
class Goal:
    """The target and threshold that apply to one scorecard, already scaled to its length."""

    target: Decimal
    threshold: Decimal | None


def _clamp(value: Decimal, cap: Decimal) -> Decimal:
    return min(max(value, ZERO), cap)


def better_or_equal(kpi: KPI, actual: Decimal, reference: Decimal) -> bool:
    if kpi.direction is Direction.lower_is_better:
        return actual <= reference
    return actual >= reference


def within_tolerance(actual: Decimal, target: Decimal) -> bool:
    """|actual − target| ≤ 10 % of |target|; with a target of 0, only 0 itself."""
    return abs(actual - target) <= TOLERANCE * abs(target)


def met_or_near(kpi: KPI, actual: Decimal, target: Decimal) -> bool:
    """At or better than target, or within ±10 % of it (key_metric_variance's test)."""
    return better_or_equal(kpi, actual, target) or within_tolerance(actual, target)


def score(kpi: KPI, actual: Decimal, goal: Goal) -> Decimal:
    """The KPI score by the KPI's method (KPIS.md, "KPI score")."""
    cap, target = kpi.cap, goal.target
    method = kpi.scoring
    if method is ScoringMethod.ratio:
        if target == ZERO:  # nothing asked: any non-negative actual meets it in full
            return cap if actual >= ZERO else ZERO
        return _clamp(actual / target * HUNDRED, cap)
    if method is ScoringMethod.inverse:
        if actual == ZERO:
            return cap
        return _clamp(target / actual * HUNDRED, cap)
    if method is ScoringMethod.zero_target:
        if actual <= ZERO:
            return HUNDRED
        return Decimal(50) if actual == 1 else ZERO
    if method is ScoringMethod.linear:
        threshold = goal.threshold
        if threshold is None or threshold == target:
            return HUNDRED if better_or_equal(kpi, actual, target) else ZERO
        return _clamp(Decimal(80) + Decimal(20) * (actual - threshold) / (target - threshold), cap)
    if method is ScoringMethod.bands:
        points = ZERO
        for band in sorted(kpi.bands, key=lambda b: b.min):
            if actual >= band.min:
                points = band.points
        return min(points, cap)
    return HUNDRED if better_or_equal(kpi, actual, target) else ZERO  # binary


def performance_status(kpi: KPI, actual: Decimal, goal: Goal) -> Status:
    """Where a scored actual stands against threshold and target."""
    if goal.threshold is not None and not better_or_equal(kpi, actual, goal.threshold):
        return Status.below_threshold
    if better_or_equal(kpi, actual, goal.target):
        return Status.above_target
    if within_tolerance(actual, goal.target):
        return Status.on_track
    return Status.below_target
