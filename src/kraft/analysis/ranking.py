"""The alerts a manager acts on: at-risk RMs first, then their KPIs, each ranked by severity.
One ranking for every reader: `kraft alerts`, the email digests, the web overview and team page.

The period's scorecard is scored by the same Scorer and TargetBook as `kraft compute`
(kraft.analysis.whatif.score_card). In an open period each KPI stands at its pacing forecast
(kraft.analysis.pacing), so the overall is the forecast overall; in a closed one the values are
as stored.

- RM alert: the (forecast) overall is rated below Meets (rating 3), or it is down by at least
  `drop` points from the overall stored for the period before. Its severity is the larger of the
  points under Meets' floor and the points lost since the period before.
- KPI alert (kraft.analysis.alerts: at risk, below threshold two periods running, closing soon):
  once per RM × KPI, with its strongest reason (below threshold twice, then at risk, then closing
  soon). None for a KPI its scorecard calls "insufficient volume". Severity = the KPI's weight
  within the overall × its shortfall in score points, that is the points of the overall it costs:
  weight = KRA weight ÷ the weights of the KRAs scored × KPI weight ÷ the weights of the KRA's
  scored KPIs; shortfall = the score the target itself would get − the KPI's score, at least 0.
  A KRA's gate (the compliance cap) is left out of the weight: it caps, it does not weigh.
- The KPIs driving an RM alert are the scorecard's KPIs with a shortfall, by the same severity.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.analysis.alerts import Alert, AlertKind, Closing, alerts
from kraft.analysis.pacing import forecasts, is_open
from kraft.analysis.whatif import card_values, forecast_values, score_card, stored_team_kpi
from kraft.formatting import to_decimal
from kraft.framework.model import Framework
from kraft.metrics.spec import Catalogue
from kraft.periods import Calendar, Period
from kraft.scoring.methods import ZERO, Status, score
from kraft.scoring.runner import load_people, load_targets
from kraft.scoring.scorecard import KpiScore, Person, Scorecard, Scorer
from kraft.scoring.stored import RmValues, load_rm_values
from kraft.scoring.targets import TargetBook
from kraft.scoring.tracking import ScoringPolicy
from kraft.store.metadata import scores

MEETS = 3  # the rating an RM is expected to reach
DROP_POINTS = Decimal(10)  # half a rating band: a fall worth a manager's look
STRENGTH = (AlertKind.below_threshold_twice, AlertKind.at_risk, AlertKind.closing_soon)


@dataclass(frozen=True)
class Driver:
    """A KPI's cost to its RM's overall: weight within the overall × shortfall in points."""

    kpi_id: str
    kra_id: str
    weight: Decimal  # share of the overall, 0 to 1
    shortfall: Decimal  # score points under the score of the target

    @property
    def severity(self) -> Decimal:
        return self.weight * self.shortfall


@dataclass(frozen=True)
class KpiAlert:
    """One RM × KPI that needs attention: its strongest alert, and every reason found."""

    alert: Alert
    reasons: tuple[AlertKind, ...]
    team_id: str | None
    driver: Driver | None  # None when its scorecard has no score for it

    @property
    def severity(self) -> Decimal:
        return self.driver.severity if self.driver else ZERO

    @property
    def rm_id(self) -> str:
        return self.alert.rm_id

    @property
    def kpi_id(self) -> str:
        return self.alert.kpi_id


@dataclass(frozen=True)
class RmAlert:
    """An RM whose (forecast) overall is below Meets or has fallen by `drop` points or more."""

    rm_id: str
    team_id: str | None
    period: str
    overall: Decimal  # the forecast overall in an open period, else as scored
    rating: int | None
    rating_label: str | None
    previous_period: str
    previous_overall: Decimal | None
    below_meets: bool
    severity: Decimal
    drivers: list[Driver]
    forecast: bool  # the overall is the forecast of an open period
    rating_capped: bool = False  # a gate holds the rating below the overall's band

    @property
    def change(self) -> Decimal | None:
        if self.previous_overall is None:
            return None
        return self.overall - self.previous_overall


@dataclass(frozen=True)
class Ranking:
    period: Period
    as_of: date
    rms: list[RmAlert] = field(default_factory=list)
    kpis: list[KpiAlert] = field(default_factory=list)

    def narrowed(self, rm_ids: Collection[str] | None = None, kra_id: str | None = None) -> Ranking:
        """The alerts of the RMs named (None: all) and, given a KRA, only its KPIs (and the RMs
        one of whose drivers is in it)."""
        rms = [r for r in self.rms if rm_ids is None or r.rm_id in rm_ids]
        kpis = [k for k in self.kpis if rm_ids is None or k.rm_id in rm_ids]
        if kra_id is not None:
            rms = [r for r in rms if any(d.kra_id == kra_id for d in r.drivers)]
            kpis = [k for k in kpis if k.alert.kra_id == kra_id]
        return Ranking(self.period, self.as_of, rms, kpis)


def drivers(framework: Framework, card: Scorecard) -> list[Driver]:
    """The scorecard's KPIs with a shortfall, the costliest first (see the module docstring)."""
    kra_weights = {k.kra_id: k.weight for k in card.kras if k.score is not None}
    total = sum(kra_weights.values(), ZERO)
    scored: dict[str, list[KpiScore]] = {}
    for item in card.kpis:
        if item.score is not None and item.kra_id in kra_weights:
            scored.setdefault(item.kra_id, []).append(item)
    found: list[Driver] = []
    for kra_id, items in scored.items():
        within = sum((i.weight for i in items), ZERO)
        if total <= ZERO or within <= ZERO:
            continue
        for item in items:
            gap = _shortfall(framework, item)
            if gap > ZERO:
                weight = kra_weights[kra_id] / total * item.weight / within
                found.append(Driver(item.kpi_id, kra_id, weight, gap))
    order = {kpi.id: i for i, (_, kpi) in enumerate(framework.kpis())}
    return sorted(found, key=lambda d: (-d.severity, order.get(d.kpi_id, 0)))


def _shortfall(framework: Framework, item: KpiScore) -> Decimal:
    """Score points under the score the target itself gets (100 by the default methods)."""
    if item.score is None or item.choice is None:
        return ZERO
    at_target = score(framework.kpi(item.kpi_id), item.choice.goal.target, item.choice.goal)
    return max(at_target - item.score, ZERO)


def meets_floor(framework: Framework) -> Decimal:
    """The lowest overall rated Meets (or better)."""
    floors = [b.min_score for b in framework.rating_bands if b.rating >= MEETS]
    return Decimal(min(floors)) if floors else ZERO


def rm_alert(
    framework: Framework,
    card: Scorecard,
    team_id: str | None,
    previous: Period,
    previous_overall: Decimal | None,
    drop: Decimal,
    *,
    forecast: bool,
) -> RmAlert | None:
    """The RM alert of a (forecast) scorecard, if it calls for one."""
    if card.overall is None:
        return None
    below = card.rating is not None and card.rating < MEETS
    fall = previous_overall - card.overall if previous_overall is not None else None
    if not below and (fall is None or fall < drop):
        return None
    under = meets_floor(framework) - card.overall if below else ZERO
    severity = max(under, fall if fall is not None and fall >= drop else ZERO, ZERO)
    return RmAlert(
        card.rm_id, team_id, card.period.label, card.overall, card.rating, card.rating_label,
        previous.label, previous_overall, below, severity, drivers(framework, card), forecast,
        card.rating_capped_at is not None,
    )  # fmt: skip


class Cards:
    """Each RM's scorecard of a period, scored once: at the forecasts in the open period paced,
    else from the stored values; and its drivers."""

    def __init__(
        self,
        conn: Connection,
        people: Mapping[str, Person],
        scorer: Scorer,
        paced: Mapping[tuple[str, str], Mapping[str, Decimal | None]],
    ) -> None:
        self.conn, self.people, self.scorer, self.paced = conn, people, scorer, paced
        self.values: dict[str, RmValues] = {}
        self.known: dict[tuple[str, str], Scorecard | None] = {}
        self.costs: dict[tuple[str, str], list[Driver]] = {}

    def __call__(self, rm_id: str, period: Period) -> Scorecard | None:
        key = (rm_id, period.label)
        if key not in self.known:
            self.known[key] = self._card(rm_id, period)
        return self.known[key]

    def drivers(self, rm_id: str, period: Period) -> list[Driver]:
        key = (rm_id, period.label)
        if key not in self.costs:
            card = self(rm_id, period)
            self.costs[key] = drivers(self.scorer.framework, card) if card else []
        return self.costs[key]

    def _card(self, rm_id: str, period: Period) -> Scorecard | None:
        person = self.people.get(rm_id)
        if period.label not in self.values:
            self.values[period.label] = load_rm_values(
                self.conn, [period.label], rm_ids=list(self.people)
            )
        own = self.values[period.label].get(period.label, {}).get(rm_id)
        if person is None or not own:
            return None
        values = card_values(own)
        paced = self.paced.get((rm_id, period.label))
        if paced is not None:
            values = forecast_values(values, paced)
        team_kpi = stored_team_kpi(self.conn, person, period)
        return score_card(self.scorer, person, period, values, team_kpi)


def stored_overalls(conn: Connection, label: str) -> dict[str, Decimal]:
    """The overall score stored for each RM in the period."""
    c = scores.c
    rows = conn.execute(sa.select(c.rm_id, c.score).where(c.level == "overall", c.period == label))
    return {r.rm_id: s for r in rows if (s := to_decimal(r.score)) is not None}


def ranked_alerts(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    as_of: date,
    catalogue: Catalogue | None = None,
    *,
    closing: Closing | None = None,
    rm_ids: Collection[str] | None = None,
    drop: Decimal = DROP_POINTS,
    policy: ScoringPolicy | None = None,
) -> Ranking:
    """The RM alerts and KPI alerts of the period (of the RMs named, or all), by severity."""
    people_list, parents = load_people(conn)
    people = {p.rm_id: p for p in people_list if rm_ids is None or p.rm_id in rm_ids}
    book = TargetBook(framework, load_targets(conn), parents)
    scorer = (policy or ScoringPolicy()).scorer(framework, book)
    paced: dict[tuple[str, str], dict[str, Decimal | None]] = {}
    open_now = is_open(period, as_of)
    if open_now:
        for f in forecasts(conn, framework, calendar, period, as_of, list(people), catalogue):
            paced.setdefault((f.rm_id, f.period), {})[f.kpi_id] = f.forecast
    cards = Cards(conn, people, scorer, paced)
    previous = calendar.previous(period)
    before = stored_overalls(conn, previous.label)
    rms: list[RmAlert] = []
    for rm_id, person in people.items():
        card = cards(rm_id, period)
        if card is not None:
            found = rm_alert(
                framework, card, person.team_id, previous, before.get(rm_id), drop,
                forecast=open_now,
            )  # fmt: skip
            if found is not None:
                rms.append(found)
    rms.sort(key=lambda r: (-r.severity, r.overall, r.rm_id))
    raw = alerts(conn, framework, calendar, period, as_of, catalogue, closing=closing)
    raw = [a for a in raw if a.rm_id in people]
    kpis = kpi_alerts(framework, calendar, cards, people, raw, period)
    return Ranking(period, as_of, rms, kpis)


def kpi_alerts(
    framework: Framework,
    calendar: Calendar,
    cards: Cards,
    people: Mapping[str, Person],
    raw: list[Alert],
    period: Period,
) -> list[KpiAlert]:
    """One alert per RM × KPI, its strongest reason, by severity; insufficient volume left out."""
    by_key: dict[tuple[str, str], list[Alert]] = {}
    for a in raw:
        by_key.setdefault((a.rm_id, a.kpi_id), []).append(a)
    found: list[KpiAlert] = []
    for (rm_id, kpi_id), group in by_key.items():
        strongest = min(group, key=lambda a: (STRENGTH.index(a.kind), a.period != period.label))
        when = period if strongest.period == period.label else calendar.parse(strongest.period)
        card = cards(rm_id, when)
        item = next((k for k in card.kpis if k.kpi_id == kpi_id), None) if card else None
        if item is not None and item.status is Status.insufficient_volume:
            continue
        driver = next((d for d in cards.drivers(rm_id, when) if d.kpi_id == kpi_id), None)
        reasons = tuple(k for k in STRENGTH if any(a.kind is k for a in group))
        found.append(KpiAlert(strongest, reasons, people[rm_id].team_id, driver))
    order = {kpi.id: i for i, (_, kpi) in enumerate(framework.kpis())}
    return sorted(found, key=lambda k: (-k.severity, k.rm_id, order.get(k.kpi_id, 0)))
