"""Alerts: the KPIs of RMs that need attention now, of three kinds.

- at risk: in the open period, the pacing forecast (kraft.analysis.pacing) is worse than target.
- below threshold two periods running: the period asked and the one before it. A closed period
  is read from the scores table: status "below threshold", or a provisional score (an observation
  window still open) whose actual is worse than its threshold. In the open period every score is
  provisional and a count to date falls short of any whole-period threshold, so there the
  forecast is held against the threshold instead.
- provisional, closing soon: a value still provisional on the as-of date whose closing day comes
  within the next N days (14 by default) while it is still worse than its target, so that there
  is something left to win before it becomes final. The engine keeps a value provisional while
  its period is open (as_of < the period's last day) and, for a metric with `provisional_when`,
  while a row may still change it. The closing day is the last day on which the value can still
  change: the period's last day, or for a row watched by a `:as_of < X` term (the catalogue's
  renewal grace window: a due policy not yet renewed, X = end_date + renewal_grace_days, the
  last day a renewal may start and count) the latest X of those rows. A value kept provisional
  by a row with no such term (an open claim: it stays open until it is settled) has no closing
  day and is not alerted. The periods looked at are the one asked and those before it of its
  grain that ended at most 366 days before the as-of date (the longest grace kraft.toml allows).
  A KPI already at risk in the open period is not repeated as closing soon.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlglot import exp

from kraft.analysis.pacing import ADDITIVE_UNITS, Method, Pace, forecasts, is_open
from kraft.analysis.variance import valued_scorecard_kpis
from kraft.formatting import to_decimal
from kraft.framework.model import KPI, Framework
from kraft.metrics import snippets
from kraft.metrics.compile.plans import FactPlan
from kraft.metrics.compiler import Compiler, metrics_needed
from kraft.metrics.spec import Catalogue, Measure
from kraft.periods import Calendar, Period, month_index
from kraft.scoring.methods import Status, better_or_equal
from kraft.scoring.runner import load_people, load_targets
from kraft.scoring.stored import load_rm_values, numeric
from kraft.scoring.targets import TargetBook
from kraft.store.metadata import scores

CLOSING_DAYS = 14
LOOKBACK_DAYS = 366  # renewal_grace_days is at most 366 (kraft.workspace.Settings)
DIALECTS = {"duckdb": "duckdb", "postgresql": "postgres"}


class AlertKind(StrEnum):
    at_risk = "at risk"
    below_threshold_twice = "below threshold two periods running"
    closing_soon = "provisional, closing soon"


@dataclass(frozen=True)
class Alert:
    """One KPI of one RM that needs attention in a period."""

    rm_id: str
    kpi_id: str
    kra_id: str
    period: str
    kind: AlertKind
    actual: Decimal | None  # the value to date (at risk, closing soon) or the period's actual
    target: Decimal | None
    threshold: Decimal | None
    forecast: Decimal | None = None  # at risk: the forecast at the period's end
    method: Method | None = None
    previous_period: str | None = None  # below threshold twice: the period before
    previous_actual: Decimal | None = None
    closes_on: date | None = None  # closing soon: the last day the value can still change
    pending: int | None = None  # closing soon: rows still inside their window (due policies)


@dataclass(frozen=True)
class Closing:
    """Ask for the closing-soon alerts: the catalogue's parameters (kraft.toml's
    renewal_grace_days, free_look_days) and how many days ahead to look."""

    parameters: Mapping[str, int]
    within_days: int = CLOSING_DAYS


def below_threshold(
    kpi: KPI, status: str | None, actual: Decimal | None, threshold: object
) -> bool:
    """A scored KPI worse than its threshold (a provisional one judged on its actual)."""
    if status == Status.below_threshold:
        return True
    if status != Status.provisional or actual is None or threshold is None:
        return False
    return not better_or_equal(kpi, actual, Decimal(str(threshold)))


def alerts(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    as_of: date,
    catalogue: Catalogue | None = None,
    *,
    closing: Closing | None = None,
) -> list[Alert]:
    """At-risk KPIs (open period) and KPIs below threshold in the period and the one before;
    with `closing` (and the catalogue), also the provisional values closing soon. Sorted by RM,
    kind, then the framework's KPI order."""
    order = {kpi.id: i for i, (_, kpi) in enumerate(framework.kpis())}
    paced = forecasts(conn, framework, calendar, period, as_of, catalogue=catalogue)
    found = [
        Alert(
            f.rm_id,
            f.kpi_id,
            f.kra_id,
            f.period,
            AlertKind.at_risk,
            f.to_date,
            f.target,
            f.threshold,
            forecast=f.forecast,
            method=f.method,
        )
        for f in paced
        if f.status is Pace.at_risk
    ]
    previous = calendar.previous(period)
    open_now = is_open(period, as_of)
    stored = _stored_below(
        conn, framework, [previous.label] if open_now else [previous.label, period.label]
    )
    now: dict[tuple[str, str], Alert] = {}
    if open_now:
        for f in paced:
            kpi = framework.kpi(f.kpi_id)
            if (
                f.status is not Pace.insufficient_volume
                and f.forecast is not None
                and f.threshold is not None
                and not better_or_equal(kpi, f.forecast, f.threshold)
            ):
                now[(f.rm_id, f.kpi_id)] = Alert(
                    f.rm_id, f.kpi_id, f.kra_id, period.label, AlertKind.below_threshold_twice,
                    f.to_date, f.target, f.threshold, forecast=f.forecast, method=f.method,
                )  # fmt: skip
    else:
        for (label, rm_id, kpi_id), alert in stored.items():
            if label == period.label:
                now[(rm_id, kpi_id)] = alert
    for (rm_id, kpi_id), alert in now.items():
        before = stored.get((previous.label, rm_id, kpi_id))
        if before is not None:
            found.append(
                replace(alert, previous_period=previous.label, previous_actual=before.actual)
            )
    if closing is not None and catalogue is not None:
        at_risk = {(a.rm_id, a.kpi_id, a.period) for a in found if a.kind is AlertKind.at_risk}
        found += closing_soon(
            conn, framework, calendar, period, as_of, catalogue, closing, skip=at_risk
        )
    kinds = list(AlertKind)
    return sorted(
        found,
        key=lambda a: (a.rm_id, kinds.index(a.kind), a.period, order.get(a.kpi_id, 0)),
    )


def _stored_below(
    conn: Connection, framework: Framework, labels: list[str]
) -> dict[tuple[str, str, str], Alert]:
    """The KPI scores below threshold in the periods named, by (period, rm_id, kpi_id)."""
    known = {kpi.id for _, kpi in framework.kpis()}
    c = scores.c
    rows = conn.execute(
        sa.select(
            c.rm_id, c.period, c.item_id, c.kra_id, c.status, c.actual, c.target, c.threshold
        ).where(c.level == "kpi", c.period.in_(labels))
    )
    found: dict[tuple[str, str, str], Alert] = {}
    for r in rows:
        if r.item_id not in known:
            continue  # scored under another framework
        actual = to_decimal(r.actual)
        if below_threshold(framework.kpi(r.item_id), r.status, actual, r.threshold):
            found[(r.period, r.rm_id, r.item_id)] = Alert(
                r.rm_id, r.item_id, r.kra_id, r.period, AlertKind.below_threshold_twice,
                actual, numeric(r.target), numeric(r.threshold),
            )  # fmt: skip
    return found


# -- provisional, closing soon --------------------------------------------------------------


def window_end(condition: exp.Expr) -> exp.Expr | None:
    """X of a `:as_of < X` (or `X > :as_of`) term of a provisional_when filter: the row is
    pending while the as-of date is before X. None when the filter has no such term."""
    for node in condition.find_all(exp.LT, exp.GT):
        this, other = node.this, node.expression
        if isinstance(node, exp.GT):
            this, other = other, this
        if (
            isinstance(this, exp.Placeholder)
            and this.name == "as_of"
            and isinstance(other, exp.Expr)
        ):
            return other
    return None


@dataclass(frozen=True)
class Window:
    """The still-open rows behind one RM's value for one period."""

    closes_on: date
    pending: int


def _parameters(values: Mapping[str, int | date]) -> dict[str, exp.Expr]:
    return {
        name: exp.cast(exp.Literal.string(value.isoformat()), "DATE")
        if isinstance(value, date)
        else exp.Literal.number(value)
        for name, value in values.items()
    }


def _windowed(catalogue: Catalogue, metric_name: str) -> tuple[Measure, exp.Expr] | None:
    """The metric's provisional_when and its window end, when both are plain enough to read
    from a date-attributed fact (no subquery in the filter, no period-bound column)."""
    watch = catalogue.metrics[metric_name].provisional_when
    if watch is None or watch.filter is None:
        return None
    fact = catalogue.facts[watch.fact]
    tree = snippets.parse(watch.filter, f"{metric_name}.provisional_when")
    end = window_end(tree)
    if end is None or fact.when.date is None or tree.find(exp.Query) is not None:
        return None
    for name in snippets.column_names(tree, fact.table):
        derived = fact.columns.get(name)
        if derived and snippets.placeholders(snippets.parse(derived, name)) & {
            "period_start",
            "period_end",
        }:
            return None
    return watch, end


def pending_windows(
    conn: Connection,
    catalogue: Catalogue,
    metric_name: str,
    period: Period,
    parameters: Mapping[str, int | date],
) -> dict[str, Window] | None:
    """Per RM, the latest window end and the count of the metric's rows still pending in the
    period (the same fact, filter and parameters as the engine's provisional test); None when
    the metric's provisional rows have no closing day."""
    windowed = _windowed(catalogue, metric_name)
    if windowed is None:
        return None
    watch, end = windowed
    assert watch.filter is not None  # _windowed read it
    fact = catalogue.facts[watch.fact]
    base = fact.table
    dialect = DIALECTS.get(conn.dialect.name, conn.dialect.name)
    compiler = Compiler(catalogue, parameters, dialect)
    # the window end is a term of the filter: staging the filter's columns stages its columns
    watched = Measure(fact=watch.fact, agg="count", filter=watch.filter)
    plan = FactPlan(watch.fact, fact, {(metric_name, "pending"): watched})
    stage = compiler.stage_select(plan).subquery("s")
    values = _parameters(parameters)

    def over_stage(tree: exp.Expr) -> exp.Expr:
        bare = snippets.unqualify(snippets.substitute(tree, values), base)
        return bare.transform(
            lambda n: (
                exp.column(n.name, table="s") if isinstance(n, exp.Column) and not n.table else n
            )
        )

    condition = over_stage(snippets.parse(watch.filter, metric_name))
    key = exp.column("__month_key", table="s")
    query = (
        exp.select(
            exp.alias_(exp.column("__rm", table="s"), "rm_id"),
            exp.alias_(exp.Max(this=over_stage(end)), "closes_on"),
            exp.alias_(exp.Count(this=exp.Star()), "pending"),
        )
        .from_(stage)
        .where(
            exp.and_(
                condition,
                exp.Between(
                    this=key,
                    low=exp.Literal.number(month_index(period.start)),
                    high=exp.Literal.number(month_index(period.end)),
                ),
            )
        )
        .group_by(exp.column("__rm", table="s"))
    )
    found: dict[str, Window] = {}
    for rm_id, closes_on, pending in conn.exec_driver_sql(query.sql(dialect)):
        if closes_on is not None:
            day = closes_on if isinstance(closes_on, date) else date.fromisoformat(str(closes_on))
            found[str(rm_id)] = Window(day, int(pending))
    return found


def _undated(catalogue: Catalogue, metric_name: str) -> bool:
    """Does the metric stay provisional on rows with no closing day (an open claim)? A derived
    metric is counted so whenever a metric it reads has a provisional_when: its windows lie in
    two periods, and kraft does not alert on them."""
    metric = catalogue.metrics[metric_name]
    if metric.derived:
        inputs = [n for n in metrics_needed(catalogue, [metric_name]) if n != metric_name]
        return any(catalogue.metrics[n].provisional_when is not None for n in inputs)
    return metric.provisional_when is not None and _windowed(catalogue, metric_name) is None


def closing_soon(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    as_of: date,
    catalogue: Catalogue,
    closing: Closing,
    *,
    skip: Collection[tuple[str, str, str]] = (),
) -> list[Alert]:
    """The provisional values of the period asked and the periods of its grain before it whose
    closing day is within `closing.within_days` after the as-of date and that are still worse
    than target (see the module docstring); `skip`: (rm_id, kpi_id, period) already alerted."""
    horizon = as_of + timedelta(days=closing.within_days)
    first = as_of - timedelta(days=LOOKBACK_DAYS)
    candidates = [
        p
        for p in calendar.periods(period.grain, first, period.end)
        if p.start <= as_of and p.end >= first
    ]
    if not candidates:
        return []
    values = load_rm_values(conn, [p.label for p in candidates])
    people, parents = load_people(conn)
    book = TargetBook(framework, load_targets(conn), parents)
    parameters: dict[str, int | date] = {**closing.parameters, "as_of": as_of}
    windows: dict[tuple[str, str], dict[str, Window] | None] = {}
    found: list[Alert] = []
    for p in candidates:
        by_rm = values.get(p.label, {})
        open_now = is_open(p, as_of)
        for person in people:
            own = by_rm.get(person.rm_id, {})
            for kra, kpi in valued_scorecard_kpis(framework, p, person):
                stored = own.get(kpi.id)
                if stored is None or not stored.provisional or stored.value is None:
                    continue
                if (person.rm_id, kpi.id, p.label) in skip:
                    continue
                closing_day = _closing_day(
                    conn, catalogue, kpi.metric, p, person.rm_id, open_now, parameters, windows
                )
                if closing_day is None or not as_of < closing_day[0] <= horizon:
                    continue
                day, pending = closing_day
                actual = to_decimal(stored.value)
                volume = to_decimal(stored.denominator)
                if (
                    kpi.unit not in ADDITIVE_UNITS
                    and volume is not None
                    and volume < kpi.min_volume
                ):
                    continue  # too few cases to call
                choice = book(person, kpi, p)
                goal = choice.goal if choice else None
                if goal is None or actual is None or better_or_equal(kpi, actual, goal.target):
                    continue
                found.append(
                    Alert(
                        person.rm_id,
                        kpi.id,
                        kra.id,
                        p.label,
                        AlertKind.closing_soon,
                        actual,
                        goal.target,
                        goal.threshold,
                        closes_on=day,
                        pending=pending,
                    )
                )
    return found


def _closing_day(
    conn: Connection,
    catalogue: Catalogue,
    metric: str | None,
    period: Period,
    rm_id: str,
    open_now: bool,
    parameters: dict[str, int | date],
    windows: dict[tuple[str, str], dict[str, Window] | None],
) -> tuple[date, int | None] | None:
    """The day the RM's provisional value of the period closes, and how many cases are still in
    their window: the open period's last day, or the last window of its pending cases
    (`windows` keeps each metric's windows per period); None when nothing dates it (an open
    claim)."""
    day: date | None = period.end if open_now else None
    pending = None
    if metric is not None and metric in catalogue.metrics:
        if _undated(catalogue, metric):
            return None
        if catalogue.metrics[metric].provisional_when is not None:
            key = (metric, period.label)
            if key not in windows:
                windows[key] = pending_windows(conn, catalogue, metric, period, parameters)
            window = (windows[key] or {}).get(rm_id)
            if window is not None:
                day = max(day, window.closes_on) if day else window.closes_on
                pending = window.pending
    return None if day is None else (day, pending)
