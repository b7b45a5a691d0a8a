"""Numbers as the pages show them: the templates' `shown`, the reports' rounding by name (scores
to 2 decimals, coverage to 1, KPI values to at most 2 in their unit), from kraft.formatting."""

from __future__ import annotations

from decimal import Decimal

from kraft.formatting import DASH, fixed, fixed_percent, number, percent_range, signed
from kraft.framework.model import KPI
from kraft.reports.values import shown_value


class Shown:
    """What a template formats numbers with, in the framework's currency."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def score(self, number: float | Decimal | None) -> str:
        return fixed(number)

    def coverage(self, number: float | Decimal | None) -> str:
        return fixed_percent(number)

    def interval(self, bounds: tuple[float, float] | None) -> str:
        return DASH if bounds is None else percent_range(*bounds)

    def signed(self, number: float | Decimal | None) -> str:
        return signed(number)

    def value(self, kpi: KPI | None, number: float | Decimal | None) -> str:
        return shown_value(number, kpi.unit if kpi else None, self.currency)

    def number(self, value: float | Decimal | None) -> str:
        return number(value, self.currency)
