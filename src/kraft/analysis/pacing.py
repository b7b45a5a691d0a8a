"""Pacing: where each KPI of an open period will land at its end.

A period is open when it holds the data's as-of date and has not ended (as_of < its last day;
the same rule as the engine's provisional values). Forecasts, by the KPI's unit:

- additive KPIs (count, currency, and count per month, whose to-date value is the count so far ÷
  the period's months, so it grows like a count): by last year's seasonality where the RM has a
  value for every month of the same period last year, else by run rate.
  run rate = to date × days in the period ÷ days elapsed (as-of day included).
  seasonal = to date × last year's period total ÷ last year's total to the same point, where last
  year's total to the same point is the sum of its months before the as-of month plus the as-of
  month's value × the share of that month elapsed (as-of day ÷ days in the month). That is the
  issue's "to date + last year's remaining months × (this year's to date ÷ last year's to date)".
  When last year's total to the same point is 0 (nothing to scale from), run rate.
- ratios whose cases are fixed on the period's first day while their successes accumulate
  (referral_rate: referrers ÷ active clients at the start; new_business_acquisition_rate): the
  value grows like a count, so it is paced like one (from the catalogue: the denominator is a
  first-day snapshot, the numerator is counted by an event date).
- due-based ratios (client_retention_rate, renewal_rate_after_education: the metric names its
  `decided` measure in the catalogue): the rate over what has come due so far and whose outcome is
  known, numerator ÷ decided × scale, where decided counts the due cases renewed or past their
  grace on the as-of date (stored in the value's `extra`). The value to date counts a case still
  inside its grace as not renewed (provisional); the forecast leaves it out of both numerator and
  denominator, and what is not yet due counts in neither: never as lost. Nothing decided yet: no
  forecast. The volume is the decided cases.
- other ratios, means and scores: the value to date.

Status: "on track" when the forecast is at or better than the target (scaled to the period for
counts and sums, by the TargetBook), else "at risk"; a ratio or mean whose volume to date is
under the KPI's minimum volume is "insufficient volume" (too few cases to call it), a KPI with no
value "no data", one with no target anywhere "no target".

The alerts built on these forecasts are in kraft.analysis.alerts.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.analysis.variance import event_dated, same_period_last_year, valued_scorecard_kpis
from kraft.formatting import to_decimal
from kraft.framework.model import KPI, Framework, Unit
from kraft.metrics.spec import Catalogue
from kraft.periods import Calendar, Grain, Period, month_end, months_between
from kraft.scoring.methods import ZERO, Goal, better_or_equal
from kraft.scoring.runner import load_people, load_targets
from kraft.scoring.stored import RmValues, StoredValue, load_rm_values
from kraft.scoring.targets import TargetBook

ADDITIVE_UNITS = {Unit.count, Unit.currency, Unit.count_per_month}


class Method(StrEnum):
    run_rate = "run rate"
    seasonal = "seasonal"
    due_so_far = "due so far"
    to_date = "to date"


class Pace(StrEnum):
    on_track = "on track"
    at_risk = "at risk"
    insufficient_volume = "insufficient volume"
    no_data = "no data"
    no_target = "no target"


def is_open(period: Period, as_of: date) -> bool:
    return period.start <= as_of < period.end


def accumulating(kpi: KPI, catalogue: Catalogue | None) -> bool:
    """Does the KPI's value grow through the period like a count (see the module docstring)?"""
    if kpi.unit in ADDITIVE_UNITS:
        return True
    if catalogue is None or kpi.metric is None:
        return False
    metric = catalogue.metrics.get(kpi.metric)
    if metric is None or metric.numerator is None or metric.denominator is None:
        return False
    numerator = metric.measures.get(metric.numerator)
    denominator = metric.measures.get(metric.denominator)
    if numerator is None or denominator is None:
        return False
    return (
        event_dated(catalogue.facts[numerator.fact])
        and catalogue.facts[denominator.fact].when.snapshot == "first_day"
    )


def decided_measure(kpi: KPI, catalogue: Catalogue | None) -> str | None:
    """The measure of a due-based ratio's decided cases (catalogue: the metric's `decided`)."""
    if catalogue is None or kpi.metric is None:
        return None
    metric = catalogue.metrics.get(kpi.metric)
    return metric.decided if metric is not None else None


def due_rate(numerator: Decimal | None, decided: Decimal | None, scale: Decimal) -> Decimal | None:
    """A due-based ratio over the decided cases only (None when none is decided yet)."""
    if numerator is None or decided is None or decided <= ZERO:
        return None
    return scale * numerator / decided


def run_rate(to_date: Decimal, period: Period, as_of: date) -> Decimal:
    """To date × days in the period ÷ days elapsed (the as-of day included)."""
    days = (period.end - period.start).days + 1
    elapsed = (as_of - period.start).days + 1
    return to_date * Decimal(days) / Decimal(elapsed)


def month_position(period: Period, as_of: date) -> tuple[int, Decimal]:
    """(complete months of the period before the as-of month, share of the as-of month elapsed)."""
    index = months_between(period.start, as_of)
    return index, Decimal(as_of.day) / Decimal(month_end(as_of).day)


def seasonal(
    to_date: Decimal,
    last_year: Sequence[Decimal | None],
    months_before: int,
    month_share: Decimal,
) -> Decimal | None:
    """To date × last year's total ÷ last year's total to the same point; None (run rate instead)
    when a month of last year is missing or nothing had happened by that point last year."""
    if not last_year or months_before >= len(last_year) or any(v is None for v in last_year):
        return None
    months = [v for v in last_year if v is not None]
    so_far = sum(months[:months_before], ZERO) + months[months_before] * month_share
    if so_far <= ZERO:
        return None
    return to_date * sum(months, ZERO) / so_far


def forecast_value(
    kpi: KPI,
    to_date: Decimal | None,
    period: Period,
    as_of: date,
    last_year: Sequence[Decimal | None] = (),
    *,
    grows: bool | None = None,
) -> tuple[Decimal | None, Method | None]:
    """The KPI's value at the period's end, and how it was forecast (`grows`: paced like a
    count; by default for count, currency and per-month units)."""
    if to_date is None:
        return None, None
    if not (grows if grows is not None else kpi.unit in ADDITIVE_UNITS):
        return to_date, Method.to_date
    months_before, share = month_position(period, as_of)
    by_season = seasonal(to_date, last_year, months_before, share)
    if by_season is not None:
        return by_season, Method.seasonal
    return run_rate(to_date, period, as_of), Method.run_rate


def pace(kpi: KPI, forecast: Decimal | None, volume: Decimal | None, goal: Goal | None) -> Pace:
    """On track when the forecast is at or better than the target, else at risk."""
    if forecast is None:
        return Pace.no_data
    if kpi.unit not in ADDITIVE_UNITS and volume is not None and volume < kpi.min_volume:
        return Pace.insufficient_volume
    if goal is None:
        return Pace.no_target
    return Pace.on_track if better_or_equal(kpi, forecast, goal.target) else Pace.at_risk


@dataclass(frozen=True)
class Forecast:
    rm_id: str
    kpi_id: str
    kra_id: str
    period: str
    to_date: Decimal | None
    forecast: Decimal | None
    method: Method | None
    target: Decimal | None
    threshold: Decimal | None
    volume: Decimal | None
    status: Pace


def forecasts(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    as_of: date,
    rm_ids: Collection[str] | None = None,
    catalogue: Catalogue | None = None,
) -> list[Forecast]:
    """Every KPI of every scored RM (or those named) with values in the period; [] when the
    period is not open. Without the catalogue, only counts and sums are paced as counts."""
    if not is_open(period, as_of):
        return []
    people, parents = load_people(conn)
    chosen = [p for p in people if rm_ids is None or p.rm_id in rm_ids]
    book = TargetBook(framework, load_targets(conn), parents)
    ids = [p.rm_id for p in chosen]
    now = load_rm_values(conn, [period.label], rm_ids=ids).get(period.label, {})
    last = same_period_last_year(calendar, period)
    months = [m.label for m in calendar.periods(Grain.month, last.start, last.end)]
    history = load_rm_values(conn, months, rm_ids=ids)
    grows = {kpi.id: accumulating(kpi, catalogue) for _, kpi in framework.kpis()}
    due_based = {
        kpi.id: name for _, kpi in framework.kpis() if (name := decided_measure(kpi, catalogue))
    }
    decided = decided_counts(conn, period.label, ids, due_based)
    found: list[Forecast] = []
    for person in chosen:
        own = now.get(person.rm_id)
        if not own:
            continue
        for kra, kpi in valued_scorecard_kpis(framework, period, person):
            stored = own.get(kpi.id, StoredValue(None, None, None, False))
            to_date, volume = to_decimal(stored.value), to_decimal(stored.denominator)
            last_year = [_value(history, m, person.rm_id, kpi.id) for m in months]
            if kpi.id in due_based and catalogue is not None and kpi.metric is not None:
                scale = Decimal(str(catalogue.metrics[kpi.metric].scale))
                volume = decided.get((person.rm_id, kpi.id))
                value = due_rate(to_decimal(stored.numerator), volume, scale)
                method = Method.due_so_far if value is not None else None
            else:
                value, method = forecast_value(
                    kpi, to_date, period, as_of, last_year, grows=grows[kpi.id]
                )
            choice = book(person, kpi, period)
            goal = choice.goal if choice else None
            found.append(
                Forecast(
                    person.rm_id,
                    kpi.id,
                    kra.id,
                    period.label,
                    to_date,
                    value,
                    method,
                    goal.target if goal else None,
                    goal.threshold if goal else None,
                    volume,
                    pace(kpi, value, volume, goal),
                )
            )
    return found


def decided_counts(
    conn: Connection, label: str, rm_ids: Collection[str], measures: dict[str, str]
) -> dict[tuple[str, str], Decimal | None]:
    """(rm_id, kpi_id) → the decided cases of each due-based KPI in the period, from `extra`."""
    if not measures or not rm_ids:
        return {}
    query = sa.text(
        "SELECT entity_id, kpi_id, extra FROM kpi_values WHERE entity_type = 'rm' "
        "AND period = :p AND kpi_id IN :k AND entity_id IN :r"
    ).bindparams(sa.bindparam("k", expanding=True), sa.bindparam("r", expanding=True))
    found: dict[tuple[str, str], Decimal | None] = {}
    for rm_id, kpi_id, extra in conn.execute(
        query, {"p": label, "k": sorted(measures), "r": sorted(rm_ids)}
    ):
        number = json.loads(extra).get(measures[kpi_id]) if extra else None
        found[(rm_id, kpi_id)] = to_decimal(number)
    return found


def _value(values: RmValues, label: str, rm_id: str, kpi_id: str) -> Decimal | None:
    stored = values.get(label, {}).get(rm_id, {}).get(kpi_id)
    return to_decimal(stored.value) if stored is not None else None
