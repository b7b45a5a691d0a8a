"""The scorecard report's lines (KRA, KPI, driver, at-risk) and how their numbers read.

kraft.reports.scorecard assembles them from what is stored and renders them; the numbers read
as the CLI shows them (kraft.formatting; a KPI's unit: kraft.reports.values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from kraft.analysis.pacing import Forecast
from kraft.analysis.variance import Basis, Change, Comparison, Flag, Variance
from kraft.formatting import DASH, fixed, fixed_percent, percent_range, plain, signed_short
from kraft.framework.model import KPI
from kraft.reports.charts import TrendPoint
from kraft.reports.values import shown_value

FLAG_WORDS = {Flag.favourable: " fav", Flag.unfavourable: " unfav"}  # as `kraft variance` says


# -- the report's data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiLine:
    """One KPI of the scorecard: the stored score row, its interval, variance and trend."""

    kpi_id: str
    name: str
    kpi: KPI
    actual: Decimal | None
    volume: Decimal | None
    target: Decimal | None
    threshold: Decimal | None
    target_source: str | None
    score: Decimal | None
    status: str
    provisional: bool
    interval: tuple[float, float] | None  # Wilson 95 %, in percent
    variance: Variance | None
    trend: tuple[TrendPoint, ...]
    shown: dict[str, str] = field(default_factory=dict)  # the cells as the report shows them


@dataclass(frozen=True)
class KraLine:
    kra_id: str
    number: int
    title: str
    weight: Decimal
    score: Decimal | None
    status: str  # scored, capped at 60, not scored, not applicable
    kpis: tuple[KpiLine, ...]


@dataclass(frozen=True)
class DriverLine:
    kpi_id: str
    name: str
    kra_title: str
    score_before: Decimal | None
    score_after: Decimal | None
    contribution_before: Decimal
    contribution_after: Decimal
    delta: Decimal


@dataclass(frozen=True)
class AtRiskLine:
    kpi_id: str
    name: str
    forecast: Forecast
    shown: dict[str, str]


@dataclass(frozen=True)
class ScorecardReport:
    framework_title: str
    currency: str
    rm_id: str
    name: str | None
    team_id: str | None
    team_name: str | None
    period: str
    grain: str
    previous_period: str
    overall: Decimal | None
    previous_overall: Decimal | None
    rating: int | None
    rating_label: str | None
    rating_capped_at: Decimal | None
    coverage: Decimal | None
    provisional: bool
    as_of: date | None
    open: bool
    kras: tuple[KraLine, ...]
    drivers: tuple[DriverLine, ...]
    at_risk: tuple[AtRiskLine, ...]
    trends: dict[str, Any] | None = None  # every KPI's trend: one Vega-Lite spec

    @property
    def overall_shown(self) -> str:
        return fixed(self.overall)

    @property
    def coverage_shown(self) -> str:
        return fixed_percent(self.coverage)

    @property
    def rating_shown(self) -> str:
        if self.rating is None:
            return "—"
        capped = " (capped by a gate)" if self.rating_capped_at is not None else ""
        return f"{self.rating} {self.rating_label}{capped}"

    @property
    def kpis(self) -> list[KpiLine]:
        return [line for kra in self.kras for line in kra.kpis]


# -- numbers as shown (kraft.formatting, as the CLI shows them) ----------------------------------


def change_text(c: Comparison, kpi: KPI | None, currency: str) -> str:
    """The change against the reference as it means something (kraft.analysis.variance): “at
    cap (120)” against a target, “+5.2 pp” for a % KPI, “−₹3,000” in the KPI's unit where values
    can be ≤ 0 (no percent of such a base), else “+15.2 %”."""
    if c.difference is None:
        return "—"
    if c.cap is not None:
        return f"at cap ({plain(c.cap)})"
    if c.change is Change.points:
        return f"{signed_short(c.difference)} pp"
    if c.change is Change.absolute or c.percent is None:
        sign = "+" if c.difference > 0 else "-" if c.difference < 0 else ""
        return sign + shown_value(abs(c.difference), kpi.unit if kpi else None, currency)
    return f"{signed_short(c.percent)} %"


def comparison_text(kpi: KPI, c: Comparison | None, currency: str) -> str:
    """“+15.2 % fav”, the change against the reference; “—” without one; an open period's
    forecast compared says so."""
    if c is None or c.reference is None or c.difference is None:
        return "—"
    basis = " (forecast)" if c.basis is Basis.forecast else ""
    return change_text(c, kpi, currency) + basis + (FLAG_WORDS[c.flag] if c.flag else "")


def trend_text(kpi: KPI, trend: Sequence[TrendPoint], currency: str) -> str:
    """The values oldest first, as the Markdown report lists them: 90 % → 95 % → 97.5 %."""
    shown = [shown_value(p.value, kpi.unit, currency) for p in trend if p.value is not None]
    return " → ".join(shown) if shown else "—"


def interval_text(interval: tuple[float, float] | None) -> str:
    return DASH if interval is None else percent_range(*interval)


def kra_status(score: Decimal | None, capped_at: Decimal | None, present: bool) -> str:
    if not present:
        return "not applicable"
    if score is None:
        return "not scored"
    if capped_at is not None:
        return f"capped at {plain(capped_at)}"
    return "scored"
