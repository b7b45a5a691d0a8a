"""A KPI value or target as a person reads it, by the KPI's unit."""

from __future__ import annotations

from decimal import Decimal

from kraft.formatting import exact_in_unit, in_unit
from kraft.framework.model import Direction, Unit
from kraft.periods import Grain

UNIT_LABELS = {
    Unit.percent: "%",
    Unit.count: "count",
    Unit.count_per_month: "count per month",
    Unit.currency: "currency",
    Unit.days: "days",
    Unit.score_0_100: "score 0–100",
    Unit.points: "percentage points",
}
DIRECTION_LABELS = {
    Direction.higher_is_better: "higher is better",
    Direction.lower_is_better: "lower is better",
}
GRAIN_LABELS = {Grain.month: "monthly", Grain.quarter: "quarterly", Grain.year: "yearly"}


def format_value(value: Decimal | None, unit: Unit | None, currency: str) -> str:
    """A value in its unit, as given: no rounding (85.5 %, ₹12,34,567.50, 20 days)."""
    return exact_in_unit(value, unit.value if unit else None, currency)


def shown_value(value: float | Decimal | None, unit: Unit | None, currency: str) -> str:
    """A KPI value as shown: at most 2 decimals, half up, in its unit and by its size (85.5 %,
    ₹999.50, ₹12,34,567, 20 days); kraft.formatting.in_unit."""
    return in_unit(value, unit.value if unit else None, currency)


def unit_label(unit: Unit | None) -> str:
    return UNIT_LABELS[unit] if unit else "—"


def direction_label(direction: Direction | None) -> str:
    return DIRECTION_LABELS[direction] if direction else "—"


def grain_label(grain: Grain | None) -> str:
    return GRAIN_LABELS[grain] if grain else "—"
