"""Scorecards: one RM and one period; KPI scores, KRA scores, overall score, coverage and rating.

The rules are KPIS.md's "Scoring defaults". A scorecard holds the KPIs whose grain is no longer
than its period. Score-derived KPIs come in a second pass: key_metric_variance from the RM's own
first-pass statuses, then team_performance_improvement_rate for each leader from the members'
overall scores (members first; leaders of the deepest teams before the leaders above them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from functools import wraps
from typing import ParamSpec, TypeVar

from kraft.formatting import CENT
from kraft.framework.model import KPI, KRA, AppliesTo, Framework, KpiKind, Unit
from kraft.periods import Period
from kraft.scoring.methods import (
    HUNDRED,
    ZERO,
    Goal,
    Status,
    better_or_equal,
    met_or_near,
    performance_status,
    score,
)

KEY_METRIC_VARIANCE = "key_metric_variance"
TEAM_PERFORMANCE_IMPROVEMENT = "team_performance_improvement_rate"
LOSS_RATIO_IMPROVEMENT = "loss_ratio_improvement"
ALWAYS_SCORED_UNITS = {Unit.count, Unit.currency, Unit.count_per_month}  # counts and sums
# Means of three and the like do not terminate: scores are computed with 50 significant digits,
# and the overall is rounded as its exact value would be. An exact rational overall that lies
# within 1e-30 of a half cent is one (its denominator would need 30 digits otherwise), so a
# value that far short of a half (79.99499…9 for an exact 79.995) rounds up like the half.
PRECISION = Context(prec=50)
P = ParamSpec("P")
R = TypeVar("R")
HALF_CENT_TOLERANCE = Decimal("1e-30")


def round_overall(exact: Decimal) -> Decimal:
    """Half-up to 2 decimals, once, as KPIS.md says, of the exact value."""
    return (exact + HALF_CENT_TOLERANCE).quantize(CENT, rounding=ROUND_HALF_UP)


def _precise(method: Callable[P, R]) -> Callable[P, R]:
    """Run a scoring step in the 50-digit context."""

    @wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(PRECISION):
            return method(*args, **kwargs)

    return run


KNOWN_SCORES = 500_000  # scored (KPI, value, goal) combinations remembered


@dataclass(frozen=True, slots=True)
class Value:
    """A KPI value as kpi_values stores it."""

    value: float | None
    denominator: float | None
    provisional: bool


@dataclass(frozen=True)
class Person:
    """An RM as scoring sees them: whom they lead decides KRA 6 and their team's members."""

    rm_id: str
    team_id: str | None
    leads: str | None = None  # the team this RM leads, if any
    leads_depth: int = 0  # depth of that team below the top (deeper teams are scored first)


@dataclass(frozen=True, eq=False)
class TargetChoice:
    """The goal a scorecard uses, and where it came from (for explaining the score).

    Compared by identity: a goal lookup hands out one object per target version and length, so
    that the scorer can remember what a value scored against it.
    """

    goal: Goal
    source: str  # framework, org, team:<id> or rm
    target_id: int | None = None


GoalLookup = Callable[[Person, KPI, Period], TargetChoice | None]


@dataclass(slots=True, eq=False)
class KpiScore:
    """A KPI's place in a scorecard. Made once per (KPI, value, goal) and shared between
    scorecards, so never changed after it is made; compared by identity."""

    kra_id: str
    kpi_id: str
    actual: Decimal | None
    volume: Decimal | None
    status: Status
    provisional: bool = False
    score: Decimal | None = None
    weight: Decimal = Decimal(1)
    choice: TargetChoice | None = None


@dataclass
class KraScore:
    kra_id: str
    weight: Decimal
    score: Decimal | None  # after any gate
    uncapped: Decimal | None
    scored_kpis: int
    applicable_kpis: int
    capped_at: Decimal | None = None
    provisional: bool = False  # one of its KPIs' values can still change


@dataclass
class Scorecard:
    rm_id: str
    period: Period
    kpis: list[KpiScore]
    kras: list[KraScore] = field(default_factory=list)
    overall: Decimal | None = None  # rounded half-up to 2 decimals, once
    rating: int | None = None
    rating_label: str | None = None
    rating_capped_at: int | None = None
    coverage: Decimal = ZERO  # percent of the applicable weight that is scored


_DECIMALS: dict[float, Decimal] = {}


def _decimal(number: float | None) -> Decimal | None:
    """The stored double as the decimal it prints as (85.0, 66.66666666666667)."""
    if number is None:
        return None
    known = _DECIMALS.get(number)
    if known is None:
        known = Decimal(repr(number))
        if len(_DECIMALS) < 100_000:  # counts, round percents and volumes repeat
            _DECIMALS[number] = known
    return known


def earned_premium_volume(extra: str) -> float | None:
    """loss_ratio_improvement's volume: the smaller earned premium of its two periods (its
    `extra` holds both loss ratios' denominators); None when either is unknown."""
    try:
        found = json.loads(extra)
        earned = [found.get("loss_ratio_denominator"), found.get("previous_loss_ratio_denominator")]
    except (ValueError, AttributeError):
        return None
    if any(e is None for e in earned):
        return None
    return float(min(earned))


def _caps_kra(kpi: KPI) -> bool:
    return kpi.gate is not None and kpi.gate.kind == "kra_score_cap"


def in_scorecard(kpi: KPI, period: Period) -> bool:
    return kpi.grain is not None and kpi.grain.months <= period.months


def kpi_score(
    kra: KRA,
    kpi: KPI,
    actual: Decimal | None,
    volume: Decimal | None,
    provisional: bool,
    choice: TargetChoice | None,
) -> KpiScore:
    """One KPI of a scorecard: its status and, when it can be scored, its score."""
    weight = kpi.weight if kpi.weight is not None else Decimal(1)
    if actual is None:
        return KpiScore(kra.id, kpi.id, actual, volume, Status.no_data, provisional, None, weight)
    if kpi.unit not in ALWAYS_SCORED_UNITS and volume is not None and volume < kpi.min_volume:
        return KpiScore(
            kra.id, kpi.id, actual, volume, Status.insufficient_volume, provisional, None, weight
        )
    if choice is None:  # no target anywhere: shown, not scored
        return KpiScore(
            kra.id, kpi.id, actual, volume, Status.not_applicable, provisional, None, weight
        )
    status = Status.provisional if provisional else performance_status(kpi, actual, choice.goal)
    return KpiScore(
        kra.id, kpi.id, actual, volume, status, provisional, score(kpi, actual, choice.goal),
        weight, choice,
    )  # fmt: skip


@dataclass(frozen=True)
class _Slot:
    """A KPI's place in the scorecards of one length, with what scoring asks of it each time."""

    kra: KRA
    kpi: KPI
    leaders_only: bool
    derived: bool  # a score-derived KPI, filled in the second pass


class Scorer:
    """Scores every RM for every period from their KPI values and the goals that apply."""

    def __init__(
        self,
        framework: Framework,
        goals: GoalLookup,
        untracked: Collection[str] = (),
        min_earned_premium: Decimal = ZERO,
    ) -> None:
        self.framework = framework
        self.goals = goals
        self.untracked = frozenset(untracked)
        self.min_earned_premium = min_earned_premium
        self._kpis = framework.kpis()
        self._kra_of = {kpi.id: kra for kra, kpi in self._kpis}
        self._kpi_of = {kpi.id: kpi for _, kpi in self._kpis}
        self._bands = sorted(framework.rating_bands, key=lambda b: b.min_score, reverse=True)
        self._slots: dict[int, list[_Slot]] = {}
        self._known: dict[tuple[object, ...], KpiScore] = {}
        self._known_kras: dict[tuple[object, ...], tuple[KraScore, Decimal, int | None]] = {}
        self._kra_gates = {
            kra.id: [kpi for kpi in kra.kpis if kpi.gate is not None] for kra in framework.kras
        }

    def _slots_for(self, period: Period) -> list[_Slot]:
        months = period.months
        if months not in self._slots:
            self._slots[months] = [
                _Slot(
                    kra,
                    kpi,
                    kra.applies_to is AppliesTo.team_leaders,
                    kpi.kind is KpiKind.score,
                )
                for kra, kpi in self._kpis
                if in_scorecard(kpi, period)
            ]
        return self._slots[months]

    # -- first pass ---------------------------------------------------------------------------

    @_precise
    def first_pass(self, person: Person, period: Period, values: Mapping[str, Value]) -> Scorecard:
        kpis: list[KpiScore] = []
        known = self._known
        for slot in self._slots_for(period):
            kra, kpi = slot.kra, slot.kpi
            if slot.leaders_only and person.leads is None:
                kpis.append(KpiScore(kra.id, kpi.id, None, None, Status.not_applicable))
                continue
            if slot.derived:
                kpis.append(KpiScore(kra.id, kpi.id, None, None, Status.no_data))
                continue
            if kpi.id in self.untracked:  # applicable (coverage counts it), never scored
                kpis.append(KpiScore(kra.id, kpi.id, None, None, Status.not_tracked))
                continue
            value = values.get(kpi.id)
            if value is None:
                kpis.append(kpi_score(kra, kpi, None, None, False, None))
                continue
            choice = self.goals(person, kpi, period) if value.value is not None else None
            # The same value against the same goal scores the same: counts and round rates
            # repeat across RMs and periods. KpiScores are never changed once made.
            key = (kpi.id, value.value, value.denominator, value.provisional, choice)
            item = known.get(key)
            if item is None:
                item = kpi_score(
                    kra,
                    kpi,
                    _decimal(value.value),
                    _decimal(value.denominator),
                    value.provisional,
                    choice,
                )
                if len(known) < KNOWN_SCORES:
                    known[key] = item
            if kpi.id == LOSS_RATIO_IMPROVEMENT:
                item = self._enough_premium(item)
            kpis.append(item)
        card = Scorecard(person.rm_id, period, kpis)
        self._key_metric_variance(person, card)
        return card

    def _enough_premium(self, item: KpiScore) -> KpiScore:
        """loss_ratio_improvement on too little earned premium (either period) is noise:
        insufficient volume, not scored."""
        volume = item.volume
        if item.score is None or volume is None or volume >= self.min_earned_premium:
            return item
        return KpiScore(
            item.kra_id, item.kpi_id, item.actual, volume, Status.insufficient_volume,
            item.provisional, None, item.weight,
        )  # fmt: skip

    def _key_metric_variance(self, person: Person, card: Scorecard) -> None:
        """Share of the scored computed and manual KPIs at, better than, or near target."""
        index = next((i for i, k in enumerate(card.kpis) if k.kpi_id == KEY_METRIC_VARIANCE), None)
        if index is None:
            return
        counted = [
            k
            for k in card.kpis
            if k.score is not None
            and self._kpi_of[k.kpi_id].kind in (KpiKind.computed, KpiKind.manual)
        ]
        met = sum(
            1
            for k in counted
            if k.actual is not None
            and k.choice is not None
            and met_or_near(self._kpi_of[k.kpi_id], k.actual, k.choice.goal.target)
        )
        actual = Decimal(met) / Decimal(len(counted)) * HUNDRED if counted else None
        provisional = any(k.provisional for k in counted)
        self.rescore(card, index, actual, Decimal(len(counted)), provisional, person)

    @_precise
    def rescore(
        self,
        card: Scorecard,
        index: int,
        actual: Decimal | None,
        volume: Decimal | None,
        provisional: bool,
        person: Person,
    ) -> None:
        """Put a score-derived KPI's value into the scorecard and score it."""
        old = card.kpis[index]
        kra = self._kra_of[old.kpi_id]
        kpi = self._kpi_of[old.kpi_id]
        choice = self.goals(person, kpi, card.period) if actual is not None else None
        key = (kpi.id, actual, volume, provisional, choice)
        item = self._known.get(key)
        if item is None:
            item = kpi_score(kra, kpi, actual, volume, provisional, choice)
            if len(self._known) < KNOWN_SCORES:
                self._known[key] = item
        card.kpis[index] = item

    # -- KRA, overall, rating -----------------------------------------------------------------

    @_precise
    def finish(self, card: Scorecard, values: Mapping[str, Value]) -> Scorecard:
        """KRA scores (with gates), overall score, coverage and rating."""
        by_kra: dict[str, list[KpiScore]] = {}
        for item in card.kpis:
            if item.status is not Status.not_applicable:
                by_kra.setdefault(item.kra_id, []).append(item)
        kras: list[KraScore] = []
        applicable_weight = covered = ZERO
        rating_cap: int | None = None
        known = self._known_kras
        for kra in self.framework.kras:
            items = by_kra.get(kra.id)
            if not items:
                continue
            # A KRA's result follows from its KPI scores (remembered objects, compared by
            # identity) and, for a score-cap gate, whether the gate's KPI is above 0.
            gates = self._kra_gates[kra.id]
            tripped = tuple(self._tripped(kpi, values) for kpi in gates if _caps_kra(kpi))
            key = (kra.id, tuple(items), tripped)
            found = known.get(key)
            if found is None:
                found = self._kra_score(kra, items, gates, tripped)
                if len(known) < KNOWN_SCORES:
                    known[key] = found
            result, share, cap = found
            applicable_weight += kra.weight
            covered += share
            if cap is not None:
                rating_cap = cap if rating_cap is None else min(rating_cap, cap)
            kras.append(result)
        card.kras = kras
        card.coverage = covered / applicable_weight * HUNDRED if applicable_weight else ZERO
        weighted = [k for k in kras if k.score is not None]
        total_weight = sum((k.weight for k in weighted), ZERO)
        if not weighted or total_weight == 0:
            card.overall = card.rating = card.rating_label = None
            return card
        overall = sum((k.weight * k.score for k in weighted if k.score is not None), ZERO)
        card.overall = round_overall(overall / total_weight)
        band = next(b for b in self._bands if card.overall >= b.min_score or b is self._bands[-1])
        rating = band.rating
        if rating_cap is not None and rating > rating_cap:
            rating = rating_cap
            card.rating_capped_at = rating_cap
        card.rating = rating
        card.rating_label = next((b.label for b in self._bands if b.rating == rating), band.label)
        return card

    @staticmethod
    def _tripped(kpi: KPI, values: Mapping[str, Value]) -> bool:
        value = values.get(kpi.id)
        return value is not None and value.value is not None and value.value > 0

    @staticmethod
    def _kra_score(
        kra: KRA, items: list[KpiScore], gates: list[KPI], tripped: tuple[bool, ...]
    ) -> tuple[KraScore, Decimal, int | None]:
        """The KRA's score after its gates, its weighted share of coverage, and a rating cap."""
        scored = [k for k in items if k.score is not None]
        share = kra.weight * Decimal(len(scored)) / Decimal(len(items))
        uncapped = None
        if scored:
            total = sum((k.weight for k in scored), ZERO)
            if total > 0:
                uncapped = sum((k.weight * k.score for k in scored if k.score), ZERO) / total
        result = KraScore(
            kra.id,
            kra.weight,
            uncapped,
            uncapped,
            len(scored),
            len(items),
            provisional=any(k.provisional for k in items),
        )
        rating_cap: int | None = None
        trips = iter(tripped)
        for kpi in gates:
            gate = kpi.gate
            assert gate is not None
            if _caps_kra(kpi):
                if next(trips) and result.score is not None:
                    if result.score > gate.cap:
                        result.score = gate.cap
                    result.capped_at = gate.cap
                continue
            gated = next((k for k in items if k.kpi_id == kpi.id), None)
            threshold = gated.choice.goal.threshold if gated and gated.choice else None
            if (
                gated is not None
                and gated.actual is not None
                and threshold is not None
                and not better_or_equal(kpi, gated.actual, threshold)
            ):
                cap = int(gate.cap)
                rating_cap = cap if rating_cap is None else min(rating_cap, cap)
        return result, share, rating_cap

    # -- the whole run ------------------------------------------------------------------------

    def score_all(
        self,
        people: Iterable[Person],
        periods: list[Period],
        values: Mapping[tuple[str, str], Mapping[str, Value]],
        previous: Mapping[str, str | None],
    ) -> list[Scorecard]:
        """Every scorecard of `score_periods`, in one list."""
        return [
            card
            for cards in self.score_periods(
                people,
                periods,
                lambda p: {r: v for (r, lab), v in values.items() if lab == p.label},
                previous,
            )
            for card in cards
        ]

    def score_periods(
        self,
        people: Iterable[Person],
        periods: list[Period],
        values_of: Callable[[Period], Mapping[str, Mapping[str, Value]]],
        previous: Mapping[str, str | None],
    ) -> Iterator[list[Scorecard]]:
        """The scorecards of each period in turn (periods of a grain oldest first).

        An RM with values in a period gets its scorecard. `values_of(period)` maps rm_id to
        that RM's KPI values; `previous` maps a period label to the label before it. Members
        are scored before leaders, and leaders of deeper teams before those above them; only
        the overall scores are kept from one period to the next (for team improvement).
        """
        people = list(people)
        members: dict[str, list[str]] = {}
        for person in people:
            if person.team_id is not None:
                members.setdefault(person.team_id, []).append(person.rm_id)
        leaders = sorted((p for p in people if p.leads is not None), key=lambda p: -p.leads_depth)
        overall: dict[tuple[str, str], Decimal | None] = {}
        for period in periods:
            values = values_of(period)
            cards: dict[str, Scorecard] = {}
            for person in people:
                own = values.get(person.rm_id)
                if own is None:
                    continue
                card = self.first_pass(person, period, own)
                cards[person.rm_id] = card
                if person.leads is None:
                    self.finish(card, own)
                    overall[(person.rm_id, period.label)] = card.overall
            before = previous.get(period.label)
            for leader in leaders:
                leader_card = cards.get(leader.rm_id)
                if leader_card is None:
                    continue
                assert leader.leads is not None
                team = [m for m in members.get(leader.leads, []) if m != leader.rm_id]
                self._team_improvement(leader, leader_card, team, cards, overall, before)
                self.finish(leader_card, values[leader.rm_id])
                overall[(leader.rm_id, period.label)] = leader_card.overall
            yield list(cards.values())

    def _team_improvement(
        self,
        leader: Person,
        card: Scorecard,
        team: list[str],
        cards: Mapping[str, Scorecard],
        overall: Mapping[tuple[str, str], Decimal | None],
        before: str | None,
    ) -> None:
        index = next(
            (i for i, k in enumerate(card.kpis) if k.kpi_id == TEAM_PERFORMANCE_IMPROVEMENT), None
        )
        if index is None:
            return
        now_scores: list[Decimal] = []
        then_scores: list[Decimal] = []
        provisional = False
        for member in team:
            now = overall.get((member, card.period.label))
            then = overall.get((member, before)) if before else None
            if now is None or then is None:
                continue
            now_scores.append(now)
            then_scores.append(then)
            provisional = provisional or any(k.provisional for k in cards[member].kpis)
        actual: Decimal | None = None
        if then_scores:
            count = Decimal(len(then_scores))
            mean_then = sum(then_scores, ZERO) / count
            mean_now = sum(now_scores, ZERO) / count
            if mean_then != 0:
                actual = (mean_now - mean_then) / mean_then * HUNDRED
        self.rescore(card, index, actual, Decimal(len(then_scores)), provisional, leader)
