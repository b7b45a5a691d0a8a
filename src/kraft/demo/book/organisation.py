"""The data window, the organisation (teams, RMs, careers, skill) and the initiative."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from kraft.demo.book.arrow import build_table, date_column, enum_column, id_column, take_or_null
from kraft.demo.book.constants import (
    CITIES,
    FIRST_NAMES,
    INITIATIVE_ID,
    INITIATIVE_NAME,
    LAST_NAMES,
    MEAN_BOOK,
    PARTICIPANT_SHARE,
    RENEWAL_BAND,
    SHARE_JOINERS,
    SHARE_LEAVERS,
    SHARE_TINY,
    TEAM_SIZE,
    TINY_BOOK,
)
from kraft.demo.book.draws import Arr, Rng, between, day_number, lognormal_mean, phi
from kraft.periods import Calendar, Grain, month_start


@dataclass(frozen=True)
class Window:
    first: int
    asof: int
    month_start: Arr
    month_end: Arr
    month_label: list[str]
    quarter_start: Arr  # clipped to the window
    quarter_end: Arr
    quarter_label: list[str]
    quarter_last_month: Arr  # index of the quarter's last month inside the window

    @property
    def months(self) -> int:
        return len(self.month_label)


def data_window(start: date, months: int, calendar: Calendar) -> Window:
    first = month_start(start)
    month_periods = []
    day = first
    for _ in range(months):
        period = calendar.month(day)
        month_periods.append(period)
        day = period.end + timedelta(days=1)
    last = month_periods[-1].end
    quarters = list(calendar.periods(Grain.quarter, first, last))
    m_start = np.array([day_number(p.start) for p in month_periods], dtype=np.int64)
    q_end = np.array([day_number(min(q.end, last)) for q in quarters], dtype=np.int64)
    return Window(
        first=day_number(first),
        asof=day_number(last),
        month_start=m_start,
        month_end=np.array([day_number(p.end) for p in month_periods], dtype=np.int64),
        month_label=[p.label for p in month_periods],
        quarter_start=np.array([day_number(max(q.start, first)) for q in quarters], dtype=np.int64),
        quarter_end=q_end,
        quarter_label=[q.label for q in quarters],
        quarter_last_month=np.searchsorted(m_start, q_end, side="right") - 1,
    )


@dataclass
class Org:
    n_rm: int  # RMs of role rm: indices 0 .. n_rm-1; managers follow
    n: int
    team: Arr  # team index per RM
    hire: Arr
    exit: Arr  # a day, or a sentinel far after the window
    has_exit: Arr
    lo: Arr  # first and last employed day inside the window
    hi: Arr
    skill: Arr
    manager: Arr
    tiny: Arr
    joiner: Arr
    leaver: Arr
    pool: Arr  # stable rm-role RMs: successors, other writers of renewals, team leaders
    successor: Arr
    size: Arr  # book size (pre-window clients, or a joiner's capacity)
    participant: Arr
    p_renew: Arr
    team_name: list[str]
    team_leader: Arr
    team_parent: Arr  # -1 for a branch
    team_city: Arr  # index into CITIES
    pool_sorted: Arr  # pool members ordered by team
    pool_start: Arr  # per team
    pool_len: Arr

    def teammate(self, rng: Rng, rm: Arr) -> Arr:
        """A random stable teammate of each RM (the RM itself when its team has none)."""
        team = self.team[rm]
        count = self.pool_len[team]
        pick = self.pool_start[team] + (rng.random(rm.size) * count).astype(np.int64)
        pick = np.minimum(pick, max(self.pool_sorted.size - 1, 0))
        if self.pool_sorted.size == 0:
            return rm
        return np.where(count > 0, self.pool_sorted[pick], rm)


def _team_sizes(rng: Rng, n_rm: int) -> Arr:
    low, high = TEAM_SIZE
    n_teams = max(1, round(n_rm / 8))
    least, most = math.ceil(n_rm / high), n_rm // low
    if least <= most:
        n_teams = min(max(n_teams, least), most)
    sizes = np.full(n_teams, n_rm // n_teams, dtype=np.int64)
    sizes[: n_rm % n_teams] += 1
    for _ in range(2 * n_teams):  # loop over teams: cheap
        i, j = (int(v) for v in rng.integers(0, n_teams, 2))
        if i != j and sizes[i] > low and sizes[j] < high:
            sizes[i] -= 1
            sizes[j] += 1
    return sizes


@dataclass(frozen=True)
class _Teams:
    """The team tree and who belongs where: branches first (parent -1), then the ordinary teams."""

    name: list[str]
    parent: Arr
    city: Arr  # index into CITIES
    leader: Arr
    member_team: Arr  # per person: the rm-role RMs, then the managers
    leaders: Arr  # the rm-role RMs who lead a team


def _team_names(branch_city: Arr, team_parent: Arr, n_branches: int) -> list[str]:
    names = [f"{CITIES[int(c)][0]} Branch" for c in branch_city]
    per_branch = np.zeros(n_branches, dtype=np.int64)
    for t in range(team_parent.size - n_branches):
        b = int(team_parent[n_branches + t])
        per_branch[b] += 1
        suffix = "" if b < len(CITIES) else f" {b // len(CITIES) + 1}"
        names.append(f"{CITIES[int(branch_city[b])][0]}{suffix} Team {per_branch[b]}")
    for b in range(len(CITIES), n_branches):
        names[b] = f"{CITIES[int(branch_city[b])][0]} {b // len(CITIES) + 1} Branch"
    return names


def _teams(rng: Rng, n_rm: int) -> _Teams:
    sizes = _team_sizes(rng, n_rm)
    n_teams = sizes.size
    n_branches = max(2, round(n_teams / 8))
    n_mgr_led = max(1, round(0.1 * n_teams)) if n_teams >= 2 else 0
    # Teams: branches first (parent NULL), then the ordinary teams, each under a branch.
    n_all_teams = n_branches + n_teams
    team_parent = np.full(n_all_teams, -1, dtype=np.int64)
    team_parent[n_branches:] = rng.permutation(np.arange(n_teams) % n_branches)
    branch_city = np.arange(n_branches) % len(CITIES)
    team_city = np.concatenate([branch_city, branch_city[team_parent[n_branches:]]])

    perm = rng.permutation(n_rm)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    rm_team = np.empty(n_rm, dtype=np.int64)
    rm_team[perm] = n_branches + np.repeat(np.arange(n_teams), sizes)
    mgr_led = np.zeros(n_teams, dtype=bool)
    if n_mgr_led:
        mgr_led[rng.choice(n_teams, n_mgr_led, replace=False)] = True
    team_leader = np.full(n_all_teams, -1, dtype=np.int64)
    team_leader[:n_branches] = n_rm + np.arange(n_branches)
    manager_team = np.concatenate([np.arange(n_branches), n_branches + np.flatnonzero(mgr_led)])
    team_leader[manager_team[n_branches:]] = n_rm + n_branches + np.arange(n_mgr_led)
    rm_led = np.flatnonzero(~mgr_led)
    team_leader[n_branches + rm_led] = perm[offsets[rm_led]]
    return _Teams(
        name=_team_names(branch_city, team_parent, n_branches),
        parent=team_parent,
        city=team_city,
        leader=team_leader,
        member_team=np.concatenate([rm_team, manager_team]),
        leaders=perm[offsets[rm_led]],
    )


def _tiny_joiners_leavers(rng: Rng, n_rm: int, n: int, leaders: Arr) -> tuple[Arr, Arr, Arr]:
    """Tiny books, joiners and leavers: disjoint, never team leaders."""
    tiny = np.zeros(n, dtype=bool)
    joiner = np.zeros(n, dtype=bool)
    leaver = np.zeros(n, dtype=bool)
    if n_rm >= 10:
        counts = [max(1, round(s * n_rm)) for s in (SHARE_TINY, SHARE_JOINERS, SHARE_LEAVERS)]
        candidates = np.setdiff1d(np.arange(n_rm), leaders)
        chosen = rng.choice(candidates, min(sum(counts), candidates.size), replace=False)
        tiny[chosen[: counts[0]]] = True
        joiner[chosen[counts[0] : counts[0] + counts[1]]] = True
        leaver[chosen[counts[0] + counts[1] :]] = True
    return tiny, joiner, leaver


def _hire_and_exit(rng: Rng, w: Window, manager: Arr, joiner: Arr, leaver: Arr) -> tuple[Arr, Arr]:
    """Hire days (joiners' inside the window) and exit days (leavers'; others far after it)."""
    n = manager.size
    span = w.asof - w.first
    hire = w.first - between(rng, 400, 5500, n)
    hire[manager] = w.first - between(rng, 1500, 7000, int(manager.sum()))
    j_lo = w.first + min(15, span // 4)
    j_hi = max(j_lo, w.asof - min(120, span // 3))
    hire[joiner] = between(rng, j_lo, j_hi, int(joiner.sum()))
    far = w.asof + 100_000
    exit_ = np.full(n, far, dtype=np.int64)
    e_lo = w.first + min(90, span // 3)
    e_hi = max(e_lo, w.asof - min(30, span // 4))
    exit_[leaver] = between(rng, e_lo, e_hi, int(leaver.sum()))
    return hire, exit_


def organisation(rng: Rng, rms: int, w: Window) -> Org:
    n_rm = rms
    teams = _teams(rng, n_rm)
    team = teams.member_team
    n = team.size
    manager = np.arange(n) >= n_rm
    tiny, joiner, leaver = _tiny_joiners_leavers(rng, n_rm, n, teams.leaders)
    hire, exit_ = _hire_and_exit(rng, w, manager, joiner, leaver)
    skill = np.where(manager, 0.0, rng.standard_normal(n))

    size = np.asarray(lognormal_mean(rng, np.full(n, MEAN_BOOK), 0.55))
    size = np.where(manager, 0.0, np.maximum(np.rint(size), 30.0))
    size[tiny] = between(rng, TINY_BOOK[0], TINY_BOOK[1], int(tiny.sum()))

    pool = ~manager & ~tiny & ~joiner & ~leaver
    pool_sorted = np.flatnonzero(pool)
    pool_sorted = pool_sorted[np.argsort(team[pool_sorted], kind="stable")]
    pool_len = np.bincount(team[pool_sorted], minlength=len(teams.name))
    pool_start = np.concatenate([[0], np.cumsum(pool_len)[:-1]])

    org = Org(
        n_rm=n_rm,
        n=n,
        team=team,
        hire=hire,
        exit=exit_,
        has_exit=leaver.copy(),
        lo=np.maximum(hire, w.first),
        hi=np.minimum(exit_, w.asof),
        skill=skill,
        manager=manager,
        tiny=tiny,
        joiner=joiner,
        leaver=leaver,
        pool=pool,
        successor=np.arange(n),
        size=size,
        participant=np.zeros(n, dtype=bool),
        p_renew=RENEWAL_BAND[0] + (RENEWAL_BAND[1] - RENEWAL_BAND[0]) * phi(skill),
        team_name=teams.name,
        team_leader=teams.leader,
        team_parent=teams.parent,
        team_city=teams.city,
        pool_sorted=pool_sorted,
        pool_start=pool_start,
        pool_len=pool_len,
    )
    _hand_over(rng, org)
    return org


def _hand_over(rng: Rng, org: Org) -> None:
    """Each leaver's successor: a stable teammate, else (a team with none) any stable RM."""
    leavers = np.flatnonzero(org.leaver)
    successor = org.teammate(rng, leavers)
    stray = successor == leavers
    if stray.any() and org.pool_sorted.size:
        successor[stray] = rng.choice(org.pool_sorted, int(stray.sum()))
    org.successor[leavers] = successor


def initiative_start(w: Window) -> int:
    return int(w.month_start[w.months // 2])


def choose_participants(rng: Rng, org: Org, start: int) -> None:
    eligible = np.flatnonzero(~org.manager & ~org.tiny & (org.hire <= start) & (org.exit >= start))
    k = max(1, round(PARTICIPANT_SHARE * eligible.size)) if eligible.size else 0
    if k:
        org.participant[rng.choice(eligible, k, replace=False)] = True


def org_tables(rng: Rng, org: Org, w: Window) -> tuple[Any, Any, Any, Any]:
    n_teams = len(org.team_name)
    team_ids = id_column("T", n_teams, 3)
    rm_ids = id_column("RM", org.n, 4)
    teams = build_table(
        "teams",
        {
            "team_id": team_ids,
            "name": org.team_name,
            "leader_rm_id": take_or_null(rm_ids, org.team_leader),
            "parent_team_id": take_or_null(team_ids, org.team_parent),
        },
    )
    first = rng.integers(0, len(FIRST_NAMES), org.n)
    last = rng.integers(0, len(LAST_NAMES), org.n)
    names = [f"{FIRST_NAMES[f]} {LAST_NAMES[g]}" for f, g in zip(first, last, strict=True)]
    email = [
        "".join(
            ch for ch in f"{FIRST_NAMES[f]}.{LAST_NAMES[g]}".lower() if ch.isalpha() or ch == "."
        )
        + f".{i + 1:04d}@demo-insurer.example"
        for i, (f, g) in enumerate(zip(first, last, strict=True))
    ]
    region = [CITIES[int(c)][1] for c in org.team_city[org.team]]
    rms = build_table(
        "relationship_managers",
        {
            "rm_id": rm_ids,
            "name": names,
            "email": email,
            "team_id": take_or_null(team_ids, org.team),
            "hire_date": date_column(org.hire),
            "region": region,
            "active": ~org.has_exit,
            "exit_date": date_column(org.exit, ~org.has_exit),
            "role": enum_column("relationship_managers", "role", org.manager.astype(np.int64)),
        },
    )
    return teams, rms, team_ids, rm_ids


def initiative_tables(org: Org, w: Window, init: int, rm_ids: Any) -> tuple[Any, Any]:
    initiatives = build_table(
        "initiatives",
        {
            "initiative_id": [INITIATIVE_ID],
            "name": [INITIATIVE_NAME],
            "start_date": date_column(np.array([init])),
            "end_date": pa.nulls(1, pa.date32()),
            "description": [
                "Renewal reminders 60, 30 and 7 days before expiry, personalised packages at "
                "renewal and a follow-up call after every claim."
            ],
        },
    )
    who = np.flatnonzero(org.participant)
    participants = build_table(
        "initiative_participants",
        {
            "initiative_id": pa.array([INITIATIVE_ID] * who.size, pa.string()),
            "rm_id": take_or_null(rm_ids, who),
        },
    )
    return initiatives, participants
