"""Leaderboards that allow for chance: a KPI's, ranked by the shrunk rate, and the overall one,
ranked by a credibility-adjusted overall score.

The scores themselves use the raw values (kraft.scoring.runner). Here the proportion KPIs
(kraft.scoring.credibility) also get their Wilson interval and their rate shrunk toward the team's;
the adjusted overall is the same scoring (Scorer, TargetBook) run again with the shrunk rates in
place of the raw ones, every other value unchanged, so that a 3-of-3 book does not outrank a
280-of-300 one by luck. Shrinkage always uses every scored RM of the company; a team filter only
narrows who is shown (and ranked among themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.formatting import to_decimal
from kraft.framework.model import KPI, Direction, Framework, KpiKind
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar, Period
from kraft.scoring.credibility import Book, Estimate, credibility_kpis, estimates
from kraft.scoring.methods import SCORED, Status
from kraft.scoring.runner import load_people, load_targets
from kraft.scoring.scorecard import ALWAYS_SCORED_UNITS, Person, Scorer, Value, in_scorecard
from kraft.scoring.stored import StoredValue, load_rm_values
from kraft.scoring.targets import TargetBook
from kraft.store.roster import rm_names, subtree

WIDE_INTERVAL = 40.0  # points (±20): a scored rate known no better than this is flagged
SMALL_BOOK_SHIFT = Decimal(5)  # points between overall and adjusted overall: "small book"

T = TypeVar("T")


@dataclass(frozen=True)
class KpiStanding:
    """One RM on a KPI's leaderboard."""

    rank: int | None  # None: no value, or a non-proportion value on too few rows
    rm_id: str
    name: str | None
    team_id: str | None
    value: float | None  # the raw value, as scored
    numerator: float | None
    denominator: float | None  # the volume (rows behind a mean)
    interval: tuple[float, float] | None  # Wilson 95 %, percent (proportion KPIs)
    shrunk: float | None  # empirical-Bayes rate, percent (proportion KPIs)
    prior: str | None  # team:<id> or company: what the rate was shrunk toward
    status: str | None  # the stored score's status, when the KPI is in the period's scorecard
    insufficient_volume: bool


@dataclass(frozen=True)
class OverallStanding:
    """One RM on the overall leaderboard."""

    rank: int | None  # None: no overall score
    rm_id: str
    name: str | None
    team_id: str | None
    overall: Decimal | None  # the stored overall score (raw values)
    adjusted: Decimal | None  # the same scoring on the shrunk rates
    rating: int | None
    rating_label: str | None
    coverage: Decimal | None  # percent
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Roster:
    """Who can be ranked: the scored RMs (role rm), their names and teams, and the team tree."""

    people: list[Person]
    names: dict[str, str | None]
    teams: dict[str, str | None]  # team_id → parent_team_id

    def team_of(self) -> dict[str, str | None]:
        return {p.rm_id: p.team_id for p in self.people}

    def members(self, team: str | None) -> set[str] | None:
        """RMs of the team and of every team below it; None for the whole company."""
        if team is None:
            return None
        teams = subtree(self.teams, [team])
        return {p.rm_id for p in self.people if p.team_id in teams}


def load_roster(conn: Connection) -> Roster:
    people, parents = load_people(conn)
    names: dict[str, str | None] = dict(rm_names(conn))
    return Roster(people, names, parents)


def scorecard_kpis(framework: Framework, period: Period) -> list[str]:
    """The KPIs a scorecard of the period reads: those whose grain fits it, and the gate KPIs
    (in framework order; the same set as the scoring runner's for the period's grain)."""
    return [
        kpi.id for _, kpi in framework.kpis() if in_scorecard(kpi, period) or kpi.gate is not None
    ]


def period_estimates(
    values: dict[str, dict[str, StoredValue]],
    kpi_ids: Sequence[str],
    roster: Roster,
) -> dict[str, dict[str, Estimate]]:
    """kpi_id → rm_id → credibility estimate, over every scored RM with volume."""
    team_of = roster.team_of()
    result: dict[str, dict[str, Estimate]] = {}
    for kpi_id in kpi_ids:
        books = []
        for rm_id, own in values.items():
            stored = own.get(kpi_id)
            if rm_id not in team_of or stored is None or stored.value is None:
                continue
            if stored.numerator is None or not stored.denominator:
                continue
            books.append(Book(rm_id, team_of[rm_id], stored.numerator, stored.denominator))
        result[kpi_id] = estimates(books)
    return result


def _direction_key(kpi: KPI, number: float) -> float:
    return number if kpi.direction is Direction.lower_is_better else -number


def _ranked(
    items: list[T], key: Callable[[T], Any | None], order: Callable[[T], Any]
) -> list[tuple[int | None, T]]:
    """Competition ranking (1, 2, 2, 4) by `key`, smallest first; items without a key unranked,
    last. `order` breaks ties for display only."""
    keyed = sorted((i for i in items if key(i) is not None), key=lambda i: (key(i), order(i)))
    rest = sorted((i for i in items if key(i) is None), key=order)
    result: list[tuple[int | None, T]] = []
    previous: Any = None
    rank = 0
    for position, item in enumerate(keyed, start=1):
        current = key(item)
        if position == 1 or current != previous:
            rank = position
        previous = current
        result.append((rank, item))
    result.extend((None, item) for item in rest)
    return result


def _stored_scores(conn: Connection, label: str) -> list[Any]:
    return list(
        conn.execute(
            sa.text(
                "SELECT rm_id, level, item_id, score, status, rating, rating_label, coverage, "
                "provisional, capped_at, actual, volume FROM scores WHERE period = :p"
            ),
            {"p": label},
        )
    )


def has_scores(conn: Connection, label: str) -> bool:
    """Whether the period has stored scorecards."""
    query = sa.text("SELECT count(*) FROM scores WHERE period = :p AND level = 'overall'")
    return bool(conn.execute(query, {"p": label}).scalar())


def has_values(conn: Connection, kpi: KPI, label: str) -> bool:
    """Whether any RM has a value row of the KPI in the period (a score-derived KPI: a score)."""
    if kpi.kind is KpiKind.score:
        query = sa.text(
            "SELECT count(*) FROM scores WHERE period = :p AND level = 'kpi' AND item_id = :k"
        )
    else:
        query = sa.text(
            "SELECT count(*) FROM kpi_values WHERE entity_type = 'rm' AND period = :p "
            "AND kpi_id = :k"
        )
    return bool(conn.execute(query, {"p": label, "k": kpi.id}).scalar())


# -- the KPI leaderboard ------------------------------------------------------------------------


def kpi_leaderboard(
    conn: Connection,
    framework: Framework,
    kpi: KPI,
    period: Period,
    team: str | None = None,
    roster: Roster | None = None,
) -> list[KpiStanding]:
    """Every scored RM with a value row for the KPI in the period, ranked.

    Proportion KPIs rank by the shrunk rate, small books included (shrinkage is what makes them
    comparable); the other KPIs rank by the raw value, and a value on fewer rows than the KPI's
    minimum volume is shown unranked after the ranked ones. Lower-is-better KPIs rank the
    smallest first. A score-derived KPI's values are those its scores used.
    """
    roster = roster or load_roster(conn)
    team_of = roster.team_of()
    stored = _stored_scores(conn, period.label)
    statuses = {r.rm_id: r.status for r in stored if r.level == "kpi" and r.item_id == kpi.id}
    if kpi.kind is KpiKind.score:
        own: dict[str, dict[str, StoredValue]] = {
            r.rm_id: {kpi.id: StoredValue(r.actual, None, r.volume, bool(r.provisional))}
            for r in stored
            if r.level == "kpi" and r.item_id == kpi.id and r.status != Status.not_applicable
        }
    else:
        own = load_rm_values(conn, [period.label], [kpi.id]).get(period.label, {})
    proportions = credibility_kpis(framework, load_catalogue())
    found = period_estimates(own, [kpi.id], roster)[kpi.id] if kpi.id in proportions else {}
    shown = roster.members(team)
    standings = []
    for rm_id, values in own.items():
        value = values.get(kpi.id)
        if rm_id not in team_of or value is None or (shown is not None and rm_id not in shown):
            continue
        estimate = found.get(rm_id)
        interval = estimate.interval if estimate else None
        standings.append(
            KpiStanding(
                None,
                rm_id,
                roster.names.get(rm_id),
                team_of[rm_id],
                value.value,
                value.numerator,
                value.denominator,
                (interval.low, interval.high) if interval else None,
                estimate.shrunk if estimate else None,
                estimate.prior_source if estimate else None,
                statuses.get(rm_id),
                _insufficient(kpi, value),
            )
        )
    return rank_kpi(kpi, standings, proportion=kpi.id in proportions)


def rank_kpi(kpi: KPI, standings: Sequence[KpiStanding], *, proportion: bool) -> list[KpiStanding]:
    """The standings ranked as kpi_leaderboard ranks them (among themselves: a team's RMs
    taken from the company's board rank as the team's board would)."""

    def key(s: KpiStanding) -> float | None:
        if s.shrunk is not None:
            return _direction_key(kpi, s.shrunk)
        if s.value is None or (s.insufficient_volume and not proportion):
            return None  # a mean of two rows is not ranked; a small book's rate is shrunk
        return _direction_key(kpi, s.value)

    def order(s: KpiStanding) -> tuple[bool, float, str]:
        raw = _direction_key(kpi, s.value) if s.value is not None else 0.0
        return (s.value is None, raw, s.rm_id)

    return [replace(s, rank=rank) for rank, s in _ranked(list(standings), key, order)]


def _insufficient(kpi: KPI, value: StoredValue) -> bool:
    """The scorecard's rule: a rate or mean on fewer rows than the KPI's minimum volume."""
    return (
        value.value is not None
        and kpi.unit not in ALWAYS_SCORED_UNITS
        and value.denominator is not None
        and value.denominator < kpi.min_volume
    )


# -- the overall leaderboard ---------------------------------------------------------------------


def overall_leaderboard(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    team: str | None = None,
    roster: Roster | None = None,
) -> list[OverallStanding]:
    """Every stored scorecard of the period, with the credibility-adjusted overall, ranked by it.

    Flags: "insufficient volume ×n" (KPIs shown but not scored for too few rows), "wide interval
    ×n" (scored proportion KPIs whose 95 % interval spans more than WIDE_INTERVAL points), each
    counting only the KPIs so for one RM alone or fewer than a quarter of those that have them, "small
    book" (the adjusted overall is SMALL_BOOK_SHIFT points or more from the overall: the raw
    rates rest on few rows), "rating capped" (a rating gate) and "provisional".
    """
    roster = roster or load_roster(conn)
    team_of = roster.team_of()
    before = calendar.previous(period)
    kpi_ids = scorecard_kpis(framework, period)
    values = load_rm_values(conn, [before.label, period.label], kpi_ids)
    proportions = [k for k in credibility_kpis(framework, load_catalogue()) if k in kpi_ids]
    raw_now = values.get(period.label, {})
    found_now = period_estimates(raw_now, proportions, roster)
    stored = _stored_scores(conn, period.label)
    shrunk = {
        before.label: _shrunk_values(
            values.get(before.label, {}),
            period_estimates(values.get(before.label, {}), proportions, roster),
            _held_back(_stored_scores(conn, before.label)),
        ),
        period.label: _shrunk_values(raw_now, found_now, _held_back(stored)),
    }
    adjusted = _adjusted_overalls(conn, framework, roster, before, period, shrunk)
    not_scored, wide = _kpi_flag_counts(stored, found_now)
    shown = roster.members(team)
    standings = []
    for r in stored:
        if r.level != "overall" or (shown is not None and r.rm_id not in shown):
            continue
        overall = to_decimal(r.score)
        after = adjusted.get(r.rm_id)
        standings.append(
            OverallStanding(
                None,
                r.rm_id,
                roster.names.get(r.rm_id),
                team_of.get(r.rm_id),
                overall,
                after,
                r.rating,
                r.rating_label,
                to_decimal(r.coverage),
                _flags(r, overall, after, not_scored.get(r.rm_id, 0), wide.get(r.rm_id, 0)),
            )
        )
    return rank_overall(standings)


def _adjusted_overalls(
    conn: Connection,
    framework: Framework,
    roster: Roster,
    before: Period,
    period: Period,
    shrunk: dict[str, dict[str, dict[str, Value]]],
) -> dict[str, Decimal | None]:
    """Each RM's overall of the period scored on the shrunk estimates."""
    book = TargetBook(framework, load_targets(conn), roster.teams)
    adjusted: dict[str, Decimal | None] = {}
    for cards in Scorer(framework, book).score_periods(
        roster.people,
        [before, period],
        lambda p: shrunk.get(p.label, {}),
        {period.label: before.label},
    ):
        for card in cards:
            if card.period == period:
                adjusted[card.rm_id] = card.overall
    return adjusted


def _kpi_flag_counts(
    stored: Sequence[Any], found_now: dict[str, dict[str, Estimate]]
) -> tuple[dict[str, int], dict[str, int]]:
    """Per RM: KPIs shown but not scored for too few rows; scored proportions too uncertain. Only
    where the RM stands out: a KPI too thin (or too uncertain) for a quarter of the RMs or more
    is the book's matter, not the RM's, and flagging everyone would say nothing."""
    thin: dict[str, list[str]] = {}
    wide: dict[str, list[str]] = {}
    rated: dict[str, int] = {}
    for r in stored:
        if r.level != "kpi" or r.status not in (*SCORED, Status.insufficient_volume):
            continue
        rated[r.item_id] = rated.get(r.item_id, 0) + 1
        if r.status == Status.insufficient_volume:
            thin.setdefault(r.item_id, []).append(r.rm_id)
        elif r.item_id in found_now:
            estimate = found_now[r.item_id].get(r.rm_id)
            if estimate and estimate.interval and estimate.interval.width > WIDE_INTERVAL:
                wide.setdefault(r.item_id, []).append(r.rm_id)
    return _standing_out(thin, rated), _standing_out(wide, rated)


def _standing_out(flagged: dict[str, list[str]], rated: dict[str, int]) -> dict[str, int]:
    """Per RM, the KPIs flagged for one RM alone or fewer than a quarter of those that have them."""
    counts: dict[str, int] = {}
    for kpi_id, rm_ids in flagged.items():
        if len(rm_ids) == 1 or 4 * len(rm_ids) < rated[kpi_id]:
            for rm_id in rm_ids:
                counts[rm_id] = counts.get(rm_id, 0) + 1
    return counts


def _flags(
    r: Any, overall: Decimal | None, after: Decimal | None, not_scored: int, wide: int
) -> tuple[str, ...]:
    flags = []
    if not_scored:
        flags.append(f"insufficient volume ×{not_scored}")
    if wide:
        flags.append(f"wide interval ×{wide}")
    if overall is not None and after is not None and abs(after - overall) >= SMALL_BOOK_SHIFT:
        flags.append("small book")
    if r.capped_at is not None:
        flags.append("rating capped")
    if r.provisional:
        flags.append("provisional")
    return tuple(flags)


def rank_overall(standings: Sequence[OverallStanding]) -> list[OverallStanding]:
    """The standings ranked as overall_leaderboard ranks them: by the adjusted overall (the
    stored one where there is none), highest first, among themselves."""

    def key(s: OverallStanding) -> Decimal | None:
        number = s.adjusted if s.adjusted is not None else s.overall
        return None if number is None else -number

    def order(s: OverallStanding) -> tuple[Decimal, str]:
        return (-(s.overall or Decimal(0)), s.rm_id)

    return [replace(s, rank=rank) for rank, s in _ranked(list(standings), key, order)]


def _held_back(stored: list[Any]) -> set[tuple[str, str]]:
    """(rm_id, kpi_id) the stored scoring did not score for the workspace's own reasons (not
    tracked; insufficient volume, such as a loss ratio on too little earned premium): the
    adjusted overall leaves them out as the overall did."""
    return {
        (r.rm_id, r.item_id)
        for r in stored
        if r.level == "kpi" and r.status in (Status.not_tracked, Status.insufficient_volume)
    }


def _shrunk_values(
    raw: dict[str, dict[str, StoredValue]],
    found: dict[str, dict[str, Estimate]],
    held_back: Collection[tuple[str, str]] = (),
) -> dict[str, dict[str, Value]]:
    """The scorer's values with every proportion KPI's rate replaced by its shrunk rate, less
    those `held_back` (not scored by the stored scoring for the workspace's own reasons)."""
    result: dict[str, dict[str, Value]] = {}
    for rm_id, own in raw.items():
        values = {}
        for kpi_id, stored in own.items():
            if (rm_id, kpi_id) in held_back:
                continue
            estimate = found.get(kpi_id, {}).get(rm_id)
            number = stored.value
            if estimate is not None and estimate.shrunk is not None and number is not None:
                number = estimate.shrunk
            values[kpi_id] = Value(number, stored.denominator, stored.provisional)
        result[rm_id] = values
    return result
