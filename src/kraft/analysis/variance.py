"""Variance analysis: each KPI's actual against its target, the previous period, the same period
last year and the team median; and the drivers of a change in the overall score.

Every comparison gives the difference (actual − reference, in the KPI's unit) and, where a
relative change means something, the difference in percent of |reference|. It does not for a %
KPI, whose change is told in percentage points (the difference), nor for a KPI whose values can
be negative or cross zero (a KPI scored by the linear method: loss_ratio_improvement,
market_penetration_growth_rate, team_performance_improvement_rate; or any comparison with a value
≤ 0 on either side): a percent of a small or negative base says nothing, so the difference alone
is given. Against the target, an actual whose KPI score is at the score's cap (120 by default)
is said to be at the cap: "+772 %" above a target adds nothing to the score. A flag is raised
when the difference is beyond the tolerance (default ±10 % of |reference|; with a reference of 0, any difference): "favourable" when
the actual is the better of the two by the KPI's direction (for a ↓ KPI, lower), "unfavourable"
otherwise. Both sides are flagged: a manager wants to hear of a KPI far above target too. Within
the tolerance, nothing is flagged (the same ±10 % as scoring's "on track" and key_metric_variance).

The KPIs analysed are those of the RM's scorecard for the period (grain no longer than the period;
KRA 6 only for leaders) that have a stored value; score-derived KPIs have none in kpi_values and
are left to the scorecard. The team median is over the scored RMs (role rm) whose team_id is the
RM's team, the RM included, with a value for that KPI and period.

Drivers: a KPI's contribution to the overall score is
    KRA weight ÷ Σ weights of the scored KRAs × KPI weight ÷ Σ weights of the KRA's scored KPIs
    × KPI score,
so that the contributions add up to the overall score (before its one rounding). Where a gate caps
a KRA's score, its KPIs' contributions shrink by capped ÷ uncapped, so the sum still holds. It is
computed as KRA weight ÷ Σ W × KRA score × (w × s) ÷ Σ (w × s) over the KRA's scored KPIs, which is
the same thing and needs no uncapped score. A KPI not scored in a period contributes 0 to it.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.engine import Connection

from kraft.formatting import to_decimal
from kraft.framework.model import KPI, KRA, AppliesTo, Framework, KpiKind, ScoringMethod, Unit
from kraft.metrics.spec import Fact
from kraft.periods import Calendar, Period, add_months
from kraft.schema.tables import TABLES, ColumnType
from kraft.scoring.methods import ZERO, Goal, Status, better_or_equal, score
from kraft.scoring.runner import load_people, load_targets
from kraft.scoring.scorecard import KpiScore, KraScore, Person, Scorecard, in_scorecard
from kraft.scoring.stored import (
    StoredValue,
    load_rm_values,
    numeric,
    stored_score_rows,
)
from kraft.scoring.targets import TargetBook

HUNDRED = Decimal(100)
DEFAULT_TOLERANCE = Decimal("0.1")  # ±10 % of |reference|


# -- shared by variance, pacing and what-if ------------------------------------------------------


def valued_scorecard_kpis(
    framework: Framework, period: Period, person: Person
) -> list[tuple[KRA, KPI]]:
    """The KPIs of the person's scorecard for the period that kpi_values holds: those whose
    grain fits the period, KRA 6 only for leaders, no score-derived KPI. Unlike the KPIs scoring
    reads (kraft.scoring.leaderboard.scorecard_kpis), no gate KPI of a longer grain."""
    return [
        (kra, kpi)
        for kra, kpi in framework.kpis()
        if in_scorecard(kpi, period)
        and kpi.kind is not KpiKind.score
        and (kra.applies_to is not AppliesTo.team_leaders or person.leads is not None)
    ]


def event_dated(fact: Fact) -> bool:
    """Does the fact meet periods by a date on which something happened (DATA.md's event dates,
    not a due or end date, nor a month column)?"""
    column = fact.when.date
    if column is None:
        return False
    table_name, _, name = column.rpartition(".")
    table = next((t for t in TABLES if t.name == (table_name or fact.table)), None)
    if table is None or name not in table.column_names:
        return False
    return name in table.event_dates and table.column(name).type is ColumnType.date


def same_period_last_year(calendar: Calendar, period: Period) -> Period:
    return calendar.period(period.grain, add_months(period.start, -12))


# -- variance -------------------------------------------------------------------------------------


class Flag(StrEnum):
    favourable = "favourable"
    unfavourable = "unfavourable"


class Change(StrEnum):
    """How a difference is told (see the module's docstring)."""

    relative = "relative"  # and in percent of |reference|
    points = "points"  # a % KPI: the difference is in percentage points
    absolute = "absolute"  # may be ≤ 0 or cross zero: the difference only, in the KPI's unit


class Basis(StrEnum):
    """Which value of the RM a comparison takes."""

    actual = "actual"  # a closed period's value
    to_date = "to date"  # an open period's value so far (a rate or mean)
    forecast = "forecast"  # an open period's forecast for the whole period (a count or sum)


CAPPED_METHODS = {ScoringMethod.ratio, ScoringMethod.inverse, ScoringMethod.linear}


@dataclass(frozen=True)
class Comparison:
    """The actual (or forecast) against one reference value."""

    reference: Decimal | None
    difference: Decimal | None  # actual − reference, in the KPI's unit
    percent: Decimal | None  # difference ÷ |reference| × 100, for a relative change only
    flag: Flag | None  # beyond the tolerance, and which way
    change: Change = Change.relative
    cap: Decimal | None = None  # against the target: the score's cap, when the actual is at it
    basis: Basis = Basis.actual


def change_kind(kpi: KPI, actual: Decimal, reference: Decimal) -> Change:
    """Percentage points for a % KPI; the difference alone where values can be ≤ 0."""
    if kpi.unit is Unit.percent:
        return Change.points
    if kpi.scoring is ScoringMethod.linear or actual <= ZERO or reference <= ZERO:
        return Change.absolute
    return Change.relative


def at_cap(kpi: KPI, actual: Decimal, goal: Goal) -> Decimal | None:
    """The KPI's score cap, when the actual scores it (beyond the target by the cap's margin)."""
    if kpi.scoring not in CAPPED_METHODS or not better_or_equal(kpi, actual, goal.target):
        return None
    return kpi.cap if score(kpi, actual, goal) >= kpi.cap else None


def compare(
    kpi: KPI,
    actual: Decimal | None,
    reference: Decimal | None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
    *,
    goal: Goal | None = None,
    basis: Basis = Basis.actual,
) -> Comparison:
    """Actual against reference: flagged when |actual − reference| > tolerance × |reference|;
    with the goal (against the target), whether the actual is at the score's cap."""
    if actual is None or reference is None:
        return Comparison(reference, None, None, None, basis=basis)
    difference = actual - reference
    change = change_kind(kpi, actual, reference)
    percent = difference / abs(reference) * HUNDRED if change is Change.relative else None
    flag = None
    if abs(difference) > tolerance * abs(reference):
        flag = Flag.favourable if better_or_equal(kpi, actual, reference) else Flag.unfavourable
    cap = at_cap(kpi, actual, goal) if goal is not None else None
    return Comparison(reference, difference, percent, flag, change, cap, basis)


@dataclass(frozen=True)
class Variance:
    """One KPI of one RM in one period, against its four references."""

    rm_id: str
    kpi_id: str
    kra_id: str
    period: str
    actual: Decimal
    provisional: bool
    target: Comparison
    previous: Comparison
    last_year: Comparison
    team_median: Comparison
    previous_period: str
    last_year_period: str
    forecast: Decimal | None = None  # an open period's forecast, where it is compared

    @property
    def basis(self) -> Basis:
        return self.target.basis

    @property
    def flagged(self) -> bool:
        return any(
            c.flag is not None
            for c in (self.target, self.previous, self.last_year, self.team_median)
        )


def median(values: Iterable[Decimal | None]) -> Decimal | None:
    """The median of the values given (nulls left out); None when there are none."""
    present = sorted(v for v in values if v is not None)
    return statistics.median(present) if present else None


def quartiles(values: Iterable[Decimal]) -> tuple[Decimal, Decimal, Decimal] | None:
    """The 25th, 50th and 75th percentiles (linear between ranks), None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None

    def at(share: Decimal) -> Decimal:
        position = share * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return at(Decimal("0.25")), at(Decimal("0.5")), at(Decimal("0.75"))


def variances(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    *,
    rm_ids: Collection[str] | None = None,
    team_id: str | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
    paced: Mapping[tuple[str, str], Decimal | None] | None = None,
) -> list[Variance]:
    """Every KPI of every scored RM (or those named, or a team's) with a value in the period;
    `paced`: an open period's forecasts by (rm_id, kpi_id) of the KPIs compared by forecast."""
    people, parents = load_people(conn)
    book = TargetBook(framework, load_targets(conn), parents)
    chosen = [
        p
        for p in people
        if (rm_ids is None or p.rm_id in rm_ids) and (team_id is None or p.team_id == team_id)
    ]
    previous = calendar.previous(period)
    last_year = same_period_last_year(calendar, period)
    # This period's values of the chosen RMs and of their teams' members (the team medians),
    # not of the whole company: a scorecard asks for one RM.
    narrowed = rm_ids is not None or team_id is not None
    now = load_rm_values(conn, [period.label], rm_ids=_needed(chosen, people) if narrowed else None)
    before = load_rm_values(
        conn, [previous.label, last_year.label], rm_ids=[p.rm_id for p in chosen]
    )
    now_values = now.get(period.label, {})
    team_of = {p.rm_id: p.team_id for p in people}
    team_median = TeamMedians(people, now_values)
    found: list[Variance] = []
    for person in chosen:
        own = now_values.get(person.rm_id)
        if not own:
            continue
        earlier = before.get(previous.label, {}).get(person.rm_id, {})
        year_ago = before.get(last_year.label, {}).get(person.rm_id, {})
        for kra, kpi in valued_scorecard_kpis(framework, period, person):
            stored = own.get(kpi.id)
            actual = to_decimal(stored.value) if stored is not None else None
            if stored is None or actual is None:
                continue
            goal = choice.goal if (choice := book(person, kpi, period)) else None
            forecast = paced.get((person.rm_id, kpi.id)) if paced is not None else None
            references = (
                goal,
                _value(earlier, kpi.id),
                _value(year_ago, kpi.id),
                team_median(team_of[person.rm_id], kpi.id),
            )
            target, before_now, year, mid = _compared(
                kpi, actual, forecast, paced is not None, references, tolerance
            )
            found.append(
                Variance(
                    person.rm_id, kpi.id, kra.id, period.label, actual, stored.provisional,
                    target, before_now, year, mid, previous.label, last_year.label, forecast,
                )
            )  # fmt: skip
    return found


class TeamMedians:
    """The median of a KPI's values over a team's members this period, each worked out once."""

    def __init__(
        self, people: Collection[Person], values: Mapping[str, Mapping[str, StoredValue]]
    ) -> None:
        self.values = values
        self.members: dict[str | None, list[str]] = {}
        for person in people:
            self.members.setdefault(person.team_id, []).append(person.rm_id)
        self.found: dict[tuple[str, str], Decimal | None] = {}

    def __call__(self, team: str | None, kpi_id: str) -> Decimal | None:
        if team is None:
            return None
        if (team, kpi_id) not in self.found:
            self.found[(team, kpi_id)] = median(
                to_decimal(stored.value)
                for rm in self.members.get(team, [])
                if (stored := self.values.get(rm, {}).get(kpi_id)) is not None
            )
        return self.found[(team, kpi_id)]


def _needed(chosen: Collection[Person], people: Collection[Person]) -> set[str] | None:
    """The RMs chosen and their teams' members; None when that is everyone."""
    teams = {p.team_id for p in chosen if p.team_id is not None}
    needed = {p.rm_id for p in chosen} | {p.rm_id for p in people if p.team_id in teams}
    return None if len(needed) >= len(people) else needed  # everyone: no list to send


def _compared(
    kpi: KPI,
    actual: Decimal,
    forecast: Decimal | None,
    open_period: bool,
    references: tuple[Goal | None, Decimal | None, Decimal | None, Decimal | None],
    tolerance: Decimal,
) -> tuple[Comparison, Comparison, Comparison, Comparison]:
    """Against the target, the previous period, last year and the team median: an open
    period's forecast where there is one (a count or sum), else the value (see the docstring)."""
    goal, previous, last_year, team_median = references
    own = Basis.to_date if open_period else Basis.actual
    basis, value = (Basis.forecast, forecast) if forecast is not None else (own, actual)
    target = goal.target if goal else None
    return (
        compare(kpi, value, target, tolerance, goal=goal, basis=basis),
        compare(kpi, value, previous, tolerance, basis=basis),
        compare(kpi, value, last_year, tolerance, basis=basis),
        compare(kpi, actual, team_median, tolerance, basis=own),
    )


def _value(values: Mapping[str, StoredValue], kpi_id: str) -> Decimal | None:
    stored = values.get(kpi_id)
    return to_decimal(stored.value) if stored is not None else None


# -- drivers --------------------------------------------------------------------------------------


def contributions(card: Scorecard) -> dict[str, Decimal]:
    """Each scored KPI's share of the overall score (see the module's docstring); they sum to the
    overall score before rounding."""
    scored_kras = [k for k in card.kras if k.score is not None]
    total_weight = sum((k.weight for k in scored_kras), ZERO)
    result: dict[str, Decimal] = {}
    if total_weight == ZERO:
        return result
    for kra in scored_kras:
        assert kra.score is not None
        items = [k for k in card.kpis if k.kra_id == kra.kra_id and k.score is not None]
        weighted = sum((k.weight * k.score for k in items if k.score is not None), ZERO)
        for item in items:
            assert item.score is not None
            share = item.weight * item.score / weighted if weighted != ZERO else ZERO
            result[item.kpi_id] = kra.weight / total_weight * kra.score * share
    return result


@dataclass(frozen=True)
class Driver:
    """How much one KPI moved the overall score between two periods."""

    kpi_id: str
    kra_id: str
    score_before: Decimal | None
    score_after: Decimal | None
    contribution_before: Decimal
    contribution_after: Decimal

    @property
    def delta(self) -> Decimal:
        return self.contribution_after - self.contribution_before


def drivers(before: Scorecard | None, after: Scorecard) -> list[Driver]:
    """Every KPI scored in either scorecard, largest absolute change of contribution first."""
    was = contributions(before) if before is not None else {}
    now = contributions(after)
    old = {k.kpi_id: k for k in before.kpis} if before is not None else {}
    new = {k.kpi_id: k for k in after.kpis}
    found = []
    for kpi_id in dict.fromkeys([*now, *was]):
        item = new.get(kpi_id) or old[kpi_id]
        found.append(
            Driver(
                kpi_id,
                item.kra_id,
                old[kpi_id].score if kpi_id in old else None,
                new[kpi_id].score if kpi_id in new else None,
                was.get(kpi_id, ZERO),
                now.get(kpi_id, ZERO),
            )
        )
    return sorted(found, key=lambda d: (-abs(d.delta), d.kpi_id))


def stored_scorecard(conn: Connection, rm_id: str, period: Period) -> Scorecard | None:
    """A scorecard rebuilt from the `scores` table (KPI, KRA and overall rows), if there is one."""
    rows = stored_score_rows(conn, period.label, [rm_id]).get(rm_id, [])
    overall = next((r for r in rows if r.level == "overall"), None)
    if overall is None:
        return None
    kpis = [
        KpiScore(
            kra_id=r.kra_id,
            kpi_id=r.item_id,
            actual=to_decimal(r.actual),
            volume=to_decimal(r.volume),
            status=Status(r.status),
            provisional=bool(r.provisional),
            score=numeric(r.score),
            weight=numeric(r.weight) or Decimal(1),
        )
        for r in rows
        if r.level == "kpi"
    ]
    kras = [
        KraScore(
            kra_id=r.item_id,
            weight=numeric(r.weight) or ZERO,
            score=numeric(r.score),
            uncapped=None,
            scored_kpis=sum(1 for k in kpis if k.kra_id == r.item_id and k.score is not None),
            applicable_kpis=sum(1 for k in kpis if k.kra_id == r.item_id),
            capped_at=numeric(r.capped_at),
        )
        for r in rows
        if r.level == "kra"
    ]
    return Scorecard(
        rm_id,
        period,
        kpis,
        kras,
        overall=numeric(overall.score),
        rating=overall.rating,
        rating_label=overall.rating_label,
        coverage=numeric(overall.coverage) or ZERO,
    )
