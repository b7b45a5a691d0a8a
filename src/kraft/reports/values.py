"""A KPI value or target as a person reads it, by the KPI's unit."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from kraft.formatting import DASH, exact_in_unit, fixed, fixed_percent, in_unit, number
from kraft.framework.model import Direction, Framework, Unit
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


SCORE_FIGURES = frozenset({"score", "capped_at"})
UNIT_FIGURES = frozenset({"value", "target", "threshold"})


def stored_figure(framework: Framework, item: str, field: str, value: object) -> str:
    """A figure of a stored scorecard (a review's snapshot: "KPI <id>", "value", "95.4128…")
    as shown: scores with 2 decimals, coverage as a percent, a KPI's value, target and
    threshold in its unit, other numbers plain; words as they are."""
    if value is None:
        return DASH
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return str(value)
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not found.is_finite():
        return str(value)
    kpi_id = item.removeprefix("KPI ") if item.startswith("KPI ") else None
    if kpi_id is not None and field in UNIT_FIGURES:
        kpi = next((k for _, k in framework.kpis() if k.id == kpi_id), None)
        return shown_value(found, kpi.unit if kpi else None, framework.currency)
    if field in SCORE_FIGURES:
        return fixed(found)
    if field == "coverage":
        return fixed_percent(found)
    return number(found, framework.currency)


def unit_label(unit: Unit | None) -> str:
    return UNIT_LABELS[unit] if unit else "—"


def direction_label(direction: Direction | None) -> str:
    return DIRECTION_LABELS[direction] if direction else "—"


def grain_label(grain: Grain | None) -> str:
    return GRAIN_LABELS[grain] if grain else "—"
