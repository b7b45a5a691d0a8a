"""A manager's home: what to look at and what to do next. Their teams (each with the scored RMs
of its whole subtree) and the teams' stored KPI values and mean overall scores for the last
closed quarter and the quarter still open; the reviews of the last closed quarter, each with its
state, those not started first. The at-risk RMs are kraft.core.alerts.at_risk's.

Everything is read from what `kraft compute` stored: a team's KPI value is the team's own
(kpi_values of entity_type team, over its whole subtree), never recomputed from its RMs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.analysis.pacing import is_open
from kraft.core.access import Scope
from kraft.core.context import Kraft
from kraft.core.settling import settling_of, unsettled_reason
from kraft.formatting import to_decimal
from kraft.framework.model import Framework
from kraft.periods import Calendar, Grain, Period
from kraft.reports.scores import OverallRow, overall_rows
from kraft.scoring.leaderboard import scorecard_kpis
from kraft.scoring.review import State, list_reviews
from kraft.scoring.stored import as_of_date, numeric
from kraft.store.metadata import kpi_values
from kraft.store.roster import TeamTree, rm_names, scored_rms, team_tree

# A review's place in the cycle, for ordering: not started first, signed off last.
CYCLE: dict[State | None, int] = {None: 0, **{s: i + 1 for i, s in enumerate(State)}}
NEXT_STEP: dict[State | None, str] = {
    None: "the manager starts the review",
    State.draft: "the manager submits it to the RM",
    State.reviewed: "the RM self-assesses",
    State.self_assessed: "the RM acknowledges",
    State.acknowledged: "the manager signs it off",
    State.signed_off: "nothing: done",
}


SHORT_WORDS: dict[State | None, str] = {
    None: "not started",
    State.draft: "in draft",
    State.reviewed: "with the RM",
    State.self_assessed: "self-assessed",
    State.acknowledged: "to sign off",
    State.signed_off: "signed off",
}


@dataclass(frozen=True)
class HomePeriods:
    """The quarters a manager compares: the last one the data covers whole, and the one open on
    the data's as-of date (None when the as-of date closes a quarter, or before any compute)."""

    as_of: date | None
    closed: Period | None
    open: Period | None

    @property
    def labels(self) -> list[str]:
        return [p.label for p in (self.closed, self.open) if p is not None]


def home_periods(conn: Connection, calendar: Calendar) -> HomePeriods:
    as_of = as_of_date(conn)
    if as_of is None:
        return HomePeriods(None, None, None)
    current = calendar.quarter(as_of)
    return HomePeriods(
        as_of,
        calendar.last_closed(Grain.quarter, as_of),
        current if is_open(current, as_of) else None,
    )


@dataclass(frozen=True)
class TeamLine:
    """A team in the tree, with the scored RMs of its subtree and their mean overall scores."""

    team_id: str
    name: str
    depth: int
    leader: str | None
    rms: int
    closed_mean: Decimal | None
    open_mean: Decimal | None


def team_lines(
    conn: Connection, scope: Scope, periods: HomePeriods, cards: Sequence[OverallRow]
) -> list[TeamLine]:
    """The teams in scope as a tree, parents before their children."""
    tree, names = team_tree(conn), rm_names(conn)
    rm_team = scored_rms(conn)
    own = Counter(rm_team.values())
    children = tree.children([t for t in tree.teams if scope.can_see_team(t)])
    lines: list[TeamLine] = []

    def mean(team_ids: frozenset[str], period: Period | None) -> Decimal | None:
        if period is None:
            return None
        found = [
            n
            for c in cards
            if c.period == period.label
            and rm_team.get(c.rm_id) in team_ids
            and (n := numeric(c.overall)) is not None
        ]
        return sum(found, Decimal(0)) / len(found) if found else None

    def walk(parent: str | None, depth: int) -> None:
        for team_id in children.get(parent, []):
            team, below = tree.teams[team_id], tree.below([team_id])
            leader = names.get(team.leader_rm_id) if team.leader_rm_id else None
            rms = sum(own[t] for t in below)
            closed, opened = mean(below, periods.closed), mean(below, periods.open)
            lines.append(TeamLine(team_id, team.name, depth, leader, rms, closed, opened))
            walk(team_id, depth + 1)

    walk(None, 0)
    return lines


@dataclass(frozen=True)
class TeamKpi:
    kra_id: str
    kpi_id: str
    closed: Decimal | None  # the team's stored value of the last closed quarter
    open: Decimal | None  # ... of the open quarter, to the as-of date


@dataclass(frozen=True)
class TeamKpis:
    team_id: str
    name: str
    kpis: list[TeamKpi]


def team_kpis(
    conn: Connection, framework: Framework, tree: TeamTree, team_ids: list[str], p: HomePeriods
) -> list[TeamKpis]:
    """The teams' stored KPI values of the quarter scorecard, last closed and open quarter (a
    KPI no team value is stored for, such as one entered per RM, is left out)."""
    basis = p.closed or p.open
    if not team_ids or basis is None:
        return []
    c = kpi_values.c
    rows = conn.execute(
        sa.select(c.entity_id, c.period, c.kpi_id, c.value).where(
            c.entity_type == "team", c.entity_id.in_(team_ids), c.period.in_(p.labels)
        )
    )
    values = {
        (r.entity_id, r.period, r.kpi_id): value
        for r in rows
        if (value := to_decimal(r.value)) is not None
    }
    shown = set(scorecard_kpis(framework, basis))
    closed, opened = (x.label if x else "" for x in (p.closed, p.open))
    return [
        TeamKpis(
            team_id,
            tree.teams[team_id].name,
            [
                TeamKpi(
                    kra.id,
                    kpi.id,
                    values.get((team_id, closed, kpi.id)),
                    values.get((team_id, opened, kpi.id)),
                )
                for kra, kpi in framework.kpis()
                if kpi.id in shown
                and any((team_id, label, kpi.id) in values for label in (closed, opened))
            ],
        )
        for team_id in team_ids
    ]


@dataclass(frozen=True)
class ReviewDue:
    """An RM scored in the period, and where their review of it stands (None: not started)."""

    rm_id: str
    name: str | None
    team_id: str | None
    overall: Decimal | None
    computed_rating: int | None
    rating_label: str | None
    state: State | None

    @property
    def state_words(self) -> str:
        return self.state.words if self.state is not None else "not started"

    @property
    def next_step(self) -> str:
        return NEXT_STEP[self.state]


def reviews_due(conn: Connection, scope: Scope, period: str) -> list[ReviewDue]:
    """Every RM in scope with a scorecard for the period and their review's state: not started
    first, then by how far the review has come, then by RM."""
    cards = [r for r in overall_rows(conn, [period]) if scope.can_see_rm(r.rm_id)]
    found = {r.rm_id: r for r in list_reviews(conn, period=period, rm_ids=scope.rm_ids)}
    due = [
        ReviewDue(
            c.rm_id,
            c.name,
            c.team_id,
            numeric(c.overall),
            c.rating,
            c.rating_label,
            found[c.rm_id].state if c.rm_id in found else None,
        )
        for c in cards
    ]
    return sorted(due, key=lambda d: (CYCLE[d.state], d.rm_id))


@dataclass(frozen=True)
class ManagerHome:
    periods: HomePeriods
    teams: list[TeamLine]
    kpis: list[TeamKpis]  # of the top teams in scope (the others are inside them)
    reviews: list[ReviewDue]  # of the last closed quarter
    unsettled: str | None  # why the last closed quarter's values can still change, if they can

    @property
    def review_counts(self) -> list[tuple[str, int]]:
        """How many reviews stand at each state, in the cycle's order (only those with any)."""
        counts = Counter(r.state for r in self.reviews)
        order = sorted(counts, key=lambda s: CYCLE[s])
        return [(SHORT_WORDS[s], counts[s]) for s in order]


def manager_home(kraft: Kraft, conn: Connection, scope: Scope) -> ManagerHome:
    """The teams, team KPIs and reviews due a signed-in manager (or admin) sees on their home."""
    periods = home_periods(conn, kraft.calendar)
    cards = overall_rows(conn, periods.labels) if periods.labels else []
    teams = team_lines(conn, scope, periods, cards)
    tops = [t.team_id for t in teams if t.depth == 0]
    kpis = team_kpis(conn, kraft.framework, team_tree(conn), tops, periods)
    closed = periods.closed.label if periods.closed else None
    due = reviews_due(conn, scope, closed) if closed else []
    unsettled = unsettled_reason(conn, settling_of(kraft.settings), closed) if closed else None
    return ManagerHome(periods, teams, kpis, due, unsettled)
