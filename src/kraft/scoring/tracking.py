"""Which KPIs a workspace tracks, and from which period it scores (KPIS.md "Scoring defaults").

A KPI is "not tracked" when a table that supplies the rows it counts, sums, averages or takes
as its numerator has never held a row in the workspace, or when kraft.toml turns it off
(`untracked_kpis`). Which table feeds which KPI is read from the metric catalogue (the facts of
its numerator's measures, through derived metrics), never listed by hand.

Scoring starts when the history allows: the first scored period is kraft.toml's
`first_scored_period`, else the quarter one year after the quarter holding the earliest
issue_date (a year of book to compare with), and never before the first month in which every
tracked table holds a row (a CRM export that starts later pushes it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.errors import KraftError
from kraft.framework.model import Framework, KpiKind
from kraft.ingest.status import received_tables
from kraft.ingest.validate import q
from kraft.metrics.spec import Catalogue
from kraft.periods import Calendar, Period
from kraft.schema.tables import TABLES
from kraft.scoring.scorecard import GoalLookup, Scorer
from kraft.workspace import Settings

# Tables that describe who and whom, not what was done: they never make a KPI untracked.
NEVER_UNTRACKING = frozenset(
    {"relationship_managers", "teams", "clients", "policy_servicing", "rm_team_history"}
)
NUMERATOR_WORD = "abcdefghijklmnopqrstuvwxyz_0123456789"


def metric_tables(
    catalogue: Catalogue, metric: str, seen: frozenset[str] = frozenset()
) -> set[str]:
    """The tables whose rows a metric counts, sums, averages or takes as numerator."""
    spec = catalogue.metrics.get(metric)
    if spec is None or metric in seen:
        return set()
    if spec.derived is not None:
        found: set[str] = set()
        for word in _words(spec.derived):
            if word in catalogue.metrics:
                found |= metric_tables(catalogue, word, seen | {metric})
        return found
    assert spec.numerator is not None
    names = [w for w in _words(spec.numerator) if w in spec.measures]
    return {catalogue.facts[spec.measures[n].fact].table for n in names} - NEVER_UNTRACKING


def _words(text: str) -> list[str]:
    words, current = [], ""
    for char in text.lower() + " ":
        if char in NUMERATOR_WORD:
            current += char
        elif current:
            words.append(current)
            current = ""
    return words


def kpi_tables(framework: Framework, catalogue: Catalogue) -> dict[str, set[str]]:
    """Each computed KPI of the framework with the tables that feed it."""
    return {
        kpi.id: metric_tables(catalogue, kpi.metric)
        for _, kpi in framework.kpis()
        if kpi.kind is KpiKind.computed and kpi.metric
    }


@dataclass(frozen=True)
class Tracking:
    """What the workspace tracks: the tables never imported, and each untracked KPI with why."""

    missing_tables: tuple[str, ...]  # contract tables feeding a KPI that never held a row
    untracked: dict[str, str] = field(default_factory=dict)  # kpi_id → reason

    @property
    def kpis(self) -> frozenset[str]:
        return frozenset(self.untracked)

    def as_dict(self) -> dict[str, object]:
        return {
            "tables_never_imported": list(self.missing_tables),
            "untracked_kpis": self.untracked,
        }


def tracking(
    framework: Framework, catalogue: Catalogue, received: Collection[str], off: Iterable[str] = ()
) -> Tracking:
    """The untracked KPIs of the framework, given the tables that ever held a row and the KPIs
    kraft.toml turns off."""
    feeds = kpi_tables(framework, catalogue)
    missing = sorted({t for tables in feeds.values() for t in tables} - set(received))
    untracked: dict[str, str] = {}
    for kpi_id, tables in feeds.items():
        absent = sorted(tables - set(received))
        if absent:
            untracked[kpi_id] = "no rows ever imported into " + ", ".join(absent)
    known = {kpi.id for _, kpi in framework.kpis()}
    for kpi_id in off:
        if kpi_id in known:
            untracked[kpi_id] = "turned off in kraft.toml (untracked_kpis)"
    order = [kpi.id for _, kpi in framework.kpis()]
    ordered = {k: untracked[k] for k in order if k in untracked}
    return Tracking(tuple(missing), ordered)


def workspace_tracking(
    conn: Connection, framework: Framework, catalogue: Catalogue, off: Iterable[str] = ()
) -> Tracking:
    """The workspace's tracking. A database that never held an operational row says nothing
    of what is tracked (its data may be a Parquet folder `kraft compute --engine spark
    --source` reads): then only kraft.toml's untracked_kpis count."""
    received = received_tables(conn)
    if not received - NEVER_UNTRACKING:
        received = {t.name for t in TABLES}
    return tracking(framework, catalogue, received, off)


# -- the first scored period --------------------------------------------------------------------


def _first_day(conn: Connection, table: str, columns: Iterable[str]) -> date | None:
    parts = [f"SELECT min({q(c)}) AS d FROM {q(table)}" for c in columns]
    if not parts:
        return None
    value = conn.execute(sa.text(f"SELECT min(d) FROM ({' UNION ALL '.join(parts)}) AS e")).scalar()
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def default_first_scored(
    calendar: Calendar, earliest_issue: date | None, tables_start: Iterable[date]
) -> Period | None:
    """The quarter one year after the quarter holding the earliest issue_date, moved on to the
    first quarter starting on or after the first month in which every tracked table holds a
    row. None without policies."""
    if earliest_issue is None:
        return None
    quarter = calendar.quarter(earliest_issue)
    for _ in range(4):
        quarter = calendar.quarter(_next_day(quarter.end))
    starts = [calendar.month(d).start for d in tables_start]
    if starts and max(starts) > quarter.start:
        latest = max(starts)
        quarter = calendar.quarter(latest)
        if quarter.start < latest:
            quarter = calendar.quarter(_next_day(quarter.end))
    return quarter


def _next_day(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def first_scored_period(
    conn: Connection,
    calendar: Calendar,
    framework: Framework,
    catalogue: Catalogue,
    setting: str | None,
    off: Iterable[str] = (),
) -> Period | None:
    """kraft.toml's first_scored_period, else the default rule over the data."""
    if setting:
        try:
            return calendar.parse(setting)
        except ValueError as exc:
            raise KraftError(
                f"kraft.toml, setting first_scored_period: {exc}; correct the value."
            ) from None
    state = workspace_tracking(conn, framework, catalogue, off)
    tracked_tables = {
        t
        for kpi_id, tables in kpi_tables(framework, catalogue).items()
        if kpi_id not in state.untracked
        for t in tables
    }
    dates = {t.name: t.event_dates for t in TABLES}
    starts = [d for t in sorted(tracked_tables) if (d := _first_day(conn, t, dates.get(t, ())))]
    earliest = _first_day(conn, "policies", ("issue_date",))
    return default_first_scored(calendar, earliest, starts)


@dataclass(frozen=True)
class ScoringPolicy:
    """What a workspace's settings and data ask of scoring beyond the framework."""

    untracked: frozenset[str] = frozenset()
    first_scored: date | None = None  # periods starting before this are computed, not scored
    loss_ratio_min_earned_premium: Decimal = Decimal(0)

    def scores(self, period: Period) -> bool:
        return self.first_scored is None or period.start >= self.first_scored

    def scorer(self, framework: Framework, goals: GoalLookup) -> Scorer:
        """The scorer that scores as the stored scoring does (not tracked, minimum volumes):
        for what-if and the alerts' forecasts as for `kraft compute`."""
        return Scorer(framework, goals, self.untracked, self.loss_ratio_min_earned_premium)


def scoring_policy(
    conn: Connection,
    framework: Framework,
    catalogue: Catalogue,
    calendar: Calendar,
    settings: Settings,
) -> ScoringPolicy:
    """The workspace's scoring policy as its settings and data say now."""
    off = settings.untracked_kpis
    state = workspace_tracking(conn, framework, catalogue, off)
    first = first_scored_period(
        conn, calendar, framework, catalogue, settings.first_scored_period, off
    )
    return ScoringPolicy(
        state.kpis,
        first.start if first is not None else None,
        settings.loss_ratio_min_earned_premium,
    )


def scored_from(period: Period | None, label: str, calendar: Calendar) -> bool:
    """Whether a period (by label) starts on or after the first scored period (None: all are)."""
    if period is None:
        return True
    try:
        return calendar.parse(label).start >= period.start
    except ValueError:
        return False
