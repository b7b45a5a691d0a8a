"""Variance of an open period: the pacing forecasts (kraft.analysis.pacing) of the KPIs that grow
through the period like a count, handed to kraft.analysis.variance, so that a part period is not
held against whole ones (see that module's docstring). Apart from variance.py because pacing
reads variance's helpers."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal

from sqlalchemy.engine import Connection

from kraft.analysis.pacing import Method, forecasts, is_open
from kraft.analysis.variance import DEFAULT_TOLERANCE, Variance, variances
from kraft.framework.model import Framework
from kraft.metrics.spec import Catalogue
from kraft.periods import Calendar, Period


def paced_values(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    as_of: date | None,
    catalogue: Catalogue | None,
    rm_ids: Collection[str] | None = None,
) -> dict[tuple[str, str], Decimal | None] | None:
    """The forecasts of the KPIs paced as counts, by (rm_id, kpi_id); None when the period is
    not open on the as-of date (nothing to pace: its values are whole)."""
    if as_of is None or not is_open(period, as_of):
        return None
    paced = forecasts(conn, framework, calendar, period, as_of, rm_ids, catalogue)
    return {
        (f.rm_id, f.kpi_id): f.forecast
        for f in paced
        if f.method is not None and f.method is not Method.to_date
    }


def variances_as_of(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    as_of: date | None,
    catalogue: Catalogue | None,
    *,
    rm_ids: Collection[str] | None = None,
    team_id: str | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
) -> list[Variance]:
    """kraft.analysis.variance.variances, an open period's counts and sums by their forecast."""
    paced = paced_values(conn, framework, calendar, period, as_of, catalogue, rm_ids)
    return variances(
        conn, framework, calendar, period, rm_ids=rm_ids, team_id=team_id, tolerance=tolerance,
        paced=paced,
    )  # fmt: skip
