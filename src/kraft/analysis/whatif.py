"""What-if: an RM's scorecard re-scored with one KPI's value replaced, and for a ratio KPI how
many more successes would reach its target.

The scorecard is scored twice by the same Scorer and TargetBook as `kraft compute` (from the
stored values), once as stored and once with the KPI's value replaced; key_metric_variance
follows from the first pass as usual, so it moves with the replaced KPI. For a leader,
team_performance_improvement_rate (which needs every member's scorecard) stays as stored in the
scores table. The KPI keeps its stored volume (a ratio under its minimum volume stays
"insufficient volume") and provisional flag; where it had no value (no cases), the value given
stands without a volume.

Successes needed, for a KPI whose value is numerator ÷ denominator × 100 (counts, ↑): the
smallest whole k that brings the value to the target t. How the denominator moves comes from the
catalogue's measures:
- growing: numerator and denominator are counted over the same rows, which meet the period by an
  event date (a lead closed, a response given, a check done): a success is a new row in both, and
  k = ceil((t·d − 100·n) ÷ (100 − t)); with t ≥ 100 and a failure already counted, no k suffices;
  with d = 0, one success gives a value (100 %).
- fixed: otherwise the denominator is a population already known (clients due for renewal,
  policies in force, trainings due): a success converts one of its cases, k = ceil(t·d ÷ 100 − n);
  unreachable when it would need more than the d − n cases left; with d = 0, nothing to convert.
Already at or above target: 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.analysis.variance import event_dated
from kraft.errors import KraftError
from kraft.formatting import to_decimal
from kraft.framework.model import KPI, AppliesTo, Direction, Framework, KpiKind, Unit
from kraft.metrics.spec import Catalogue
from kraft.periods import Period
from kraft.scoring.methods import HUNDRED, ZERO, Status
from kraft.scoring.runner import load_people, load_targets
from kraft.scoring.scorecard import (
    TEAM_PERFORMANCE_IMPROVEMENT,
    Person,
    Scorecard,
    Scorer,
    Value,
    in_scorecard,
)
from kraft.scoring.stored import StoredValue, load_rm_values
from kraft.scoring.targets import TargetBook
from kraft.scoring.tracking import ScoringPolicy
from kraft.store.metadata import scores
from kraft.store.roster import rm_record

COUNTING = {"count", "count_distinct"}
NON_NEGATIVE = {Unit.count, Unit.count_per_month, Unit.currency, Unit.days}


TeamKpi = tuple[Decimal | None, Decimal | None, bool] | None  # actual, volume, provisional


class Growth(StrEnum):
    growing = "growing"  # each success is a new case: numerator and denominator both grow
    fixed = "fixed"  # the denominator is a known population: a success converts one of its cases


@dataclass(frozen=True)
class RatioShape:
    """A KPI that is a share of counted cases, with its measures' names (for the output)."""

    numerator: str
    denominator: str
    growth: Growth


def ratio_shape(kpi: KPI, catalogue: Catalogue) -> RatioShape | None:
    """The KPI as successes ÷ cases × 100, if it is one (a computed ↑ percent of two counts)."""
    if (
        kpi.kind is not KpiKind.computed
        or kpi.metric is None
        or kpi.unit is not Unit.percent
        or kpi.direction is Direction.lower_is_better
    ):
        return None
    metric = catalogue.metrics.get(kpi.metric)
    if metric is None or metric.denominator is None or metric.numerator is None:
        return None
    numerator = metric.measures.get(metric.numerator)
    denominator = metric.measures.get(metric.denominator)
    if (
        metric.scale != 100
        or numerator is None
        or denominator is None
        or numerator.agg not in COUNTING
        or denominator.agg not in COUNTING
    ):
        return None
    growing = numerator.fact == denominator.fact and event_dated(catalogue.facts[denominator.fact])
    return RatioShape(
        metric.numerator, metric.denominator, Growth.growing if growing else Growth.fixed
    )


def successes_needed(
    numerator: Decimal, denominator: Decimal, target: Decimal, growth: Growth
) -> int | None:
    """The fewest more successes that bring numerator ÷ denominator × 100 to the target; None
    when no number of them can (see the module's docstring)."""
    n, d, t = numerator, denominator, target
    if growth is Growth.fixed:
        if d <= ZERO:
            return None
        k = max(math.ceil(t * d / HUNDRED - n), 0)
        return k if n + k <= d else None
    if d <= ZERO:
        return 1 if t <= HUNDRED else None
    if t >= HUNDRED:
        return 0 if n * HUNDRED >= t * d else None
    return max(math.ceil((t * d - HUNDRED * n) / (HUNDRED - t)), 0)


@dataclass(frozen=True)
class Outcome:
    """One KPI's place in a scorecard, and the scorecard's totals."""

    actual: Decimal | None
    status: Status
    kpi_score: Decimal | None
    kra_score: Decimal | None
    overall: Decimal | None
    rating: int | None
    rating_label: str | None
    coverage: Decimal
    rating_capped_at: int | None = None  # a gate held the rating down


@dataclass(frozen=True)
class Successes:
    numerator: Decimal
    denominator: Decimal
    target: Decimal
    shape: RatioShape
    needed: int | None


@dataclass(frozen=True)
class WhatIf:
    rm_id: str
    period: str
    kpi_id: str
    kra_id: str
    value: Decimal
    before: Outcome
    after: Outcome
    successes: Successes | None
    team_kpi_as_stored: bool  # a leader: team_performance_improvement_rate as stored


def parse_value(kpi: KPI, text: str, shape: RatioShape | None) -> Decimal:
    """--value in the KPI's unit, within the range its unit allows."""
    try:
        value = Decimal(text.strip().rstrip("%").strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise KraftError(f"--value {text!r} is not a number; give the KPI's value, e.g. 85.")
    bounded = shape is not None or kpi.unit is Unit.score_0_100
    if bounded and not ZERO <= value <= HUNDRED:
        raise KraftError(
            f"--value {text} is outside 0 to 100 for {kpi.id}; give a value from 0 to 100."
        )
    if kpi.unit in NON_NEGATIVE and value < ZERO:
        raise KraftError(f"--value {text} is negative; {kpi.id} cannot be, give 0 or more.")
    return value


def card_values(stored: Mapping[str, StoredValue]) -> dict[str, Value]:
    """The stored values as the Scorer reads them."""
    return {kpi_id: Value(v.value, v.denominator, v.provisional) for kpi_id, v in stored.items()}


def _outcome(card: Scorecard, kpi_id: str) -> Outcome:
    item = next(k for k in card.kpis if k.kpi_id == kpi_id)
    kra = next((k for k in card.kras if k.kra_id == item.kra_id), None)
    return Outcome(
        item.actual,
        item.status,
        item.score,
        kra.score if kra else None,
        card.overall,
        card.rating,
        card.rating_label,
        card.coverage,
        card.rating_capped_at,
    )


def what_if(
    conn: Connection,
    framework: Framework,
    catalogue: Catalogue,
    rm_id: str,
    period: Period,
    kpi_id: str,
    value_text: str,
    policy: ScoringPolicy | None = None,
) -> WhatIf:
    """Score the RM's scorecard for the period as stored and with the KPI's value replaced."""
    kpi_of = {kpi.id: (kra, kpi) for kra, kpi in framework.kpis()}
    if kpi_id not in kpi_of:
        raise KraftError(
            f"--kpi {kpi_id!r} is not a KPI of the framework {framework.id}; "
            "see `kraft framework show` for the KPI ids."
        )
    kra, kpi = kpi_of[kpi_id]
    if not in_scorecard(kpi, period):
        grain = kpi.grain.value if kpi.grain else "no"
        raise KraftError(
            f"--kpi {kpi_id} is scored per {grain}, so it is not on the {period.grain} "
            f"scorecard of {period.label}; give a {grain} as --period."
        )
    shape = ratio_shape(kpi, catalogue)
    value = parse_value(kpi, value_text, shape)
    people, parents = load_people(conn)
    person = next((p for p in people if p.rm_id == rm_id), None)
    if person is None:
        _unknown_rm(conn, rm_id)
    assert person is not None
    if kra.applies_to is AppliesTo.team_leaders and person.leads is None:
        raise KraftError(
            f"--kpi {kpi_id} is for team leaders only, and RM {rm_id} leads no team; "
            "choose another KPI."
        )
    stored = load_rm_values(conn, [period.label], rm_ids=[rm_id]).get(period.label, {}).get(rm_id)
    if not stored:
        raise KraftError(
            f"RM {rm_id} has no values for {period.label}, so no scorecard; choose a period "
            "with data, or run `kraft compute`."
        )
    book = TargetBook(framework, load_targets(conn), parents)
    scorer = (policy or ScoringPolicy()).scorer(framework, book)
    values = card_values(stored)
    team_kpi = stored_team_kpi(conn, person, period)

    before = score_card(scorer, person, period, values, team_kpi)
    item = next(k for k in before.kpis if k.kpi_id == kpi_id)
    replaced = dict(values)
    old = values.get(kpi_id)
    known = old is not None and old.value is not None  # else no cases: no volume to keep
    replaced[kpi_id] = Value(
        float(value),
        old.denominator if old is not None and known else None,
        old.provisional if old is not None else False,
    )
    override = (value, item.volume, item.provisional) if kpi.kind is KpiKind.score else None
    after = score_card(scorer, person, period, replaced, team_kpi, kpi_id, override)

    successes = None
    own = stored.get(kpi_id)
    choice = book(person, kpi, period)
    if shape is not None and own is not None and choice is not None:
        n, d = to_decimal(own.numerator), to_decimal(own.denominator)
        if n is not None and d is not None:
            target = choice.goal.target
            successes = Successes(n, d, target, shape, successes_needed(n, d, target, shape.growth))
    return WhatIf(
        rm_id,
        period.label,
        kpi_id,
        kra.id,
        value,
        _outcome(before, kpi_id),
        _outcome(after, kpi_id),
        successes,
        team_kpi is not None and any(k.kpi_id == TEAM_PERFORMANCE_IMPROVEMENT for k in before.kpis),
    )


def score_card(
    scorer: Scorer,
    person: Person,
    period: Period,
    values: dict[str, Value],
    team_kpi: TeamKpi,
    kpi_id: str | None = None,
    override: tuple[Decimal, Decimal | None, bool] | None = None,
) -> Scorecard:
    """The scorecard from these values (first pass, the leader's team KPI as stored, an
    overridden score-derived KPI, finish): what-if and the forecast scorecard of the alerts."""
    card = scorer.first_pass(person, period, values)
    index = {k.kpi_id: i for i, k in enumerate(card.kpis)}
    if team_kpi is not None and TEAM_PERFORMANCE_IMPROVEMENT in index:
        actual, volume, provisional = team_kpi
        scorer.rescore(
            card, index[TEAM_PERFORMANCE_IMPROVEMENT], actual, volume, provisional, person
        )
    if override is not None and kpi_id in index:
        actual, volume, provisional = override
        scorer.rescore(card, index[kpi_id], actual, volume, provisional, person)
    return scorer.finish(card, values)


def stored_team_kpi(conn: Connection, person: Person, period: Period) -> TeamKpi:
    """A leader's team_performance_improvement_rate as the scores table has it."""
    if person.leads is None:
        return None
    c = scores.c
    row = conn.execute(
        sa.select(c.actual, c.volume, c.provisional).where(
            c.rm_id == person.rm_id,
            c.period == period.label,
            c.level == "kpi",
            c.item_id == TEAM_PERFORMANCE_IMPROVEMENT,
        )
    ).first()
    if row is None:
        return (None, None, False)
    return (to_decimal(row.actual), to_decimal(row.volume), bool(row.provisional))


def forecast_values(
    values: Mapping[str, Value], forecasts: Mapping[str, Decimal | None]
) -> dict[str, Value]:
    """The values with each KPI's value replaced by its forecast (volume and provisional flag
    kept, as what-if keeps them), for scoring the scorecard the period is heading for."""
    replaced = dict(values)
    for kpi_id, forecast in forecasts.items():
        old = values.get(kpi_id)
        if forecast is not None and old is not None and old.value is not None:
            replaced[kpi_id] = Value(float(forecast), old.denominator, old.provisional)
    return replaced


def _unknown_rm(conn: Connection, rm_id: str) -> None:
    record = rm_record(conn, rm_id)
    if record is None:
        raise KraftError(
            f"--rm {rm_id!r} is not in relationship_managers; give the rm_id of an RM."
        )
    raise KraftError(
        f"--rm {rm_id} has the role {record.role} and is not scored; give the rm_id of an RM."
    )
