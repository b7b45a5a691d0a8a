"""The synthetic demo book: every table of the import contract, generated with numpy.

`generate_book()` returns one pyarrow Table per contract table (schema.tables.TABLES), each with
exactly the contract's columns in its order. The book is deterministic for a seed and vectorised
throughout: Python loops run only over teams, term generations and activity types, never over
clients, policies or rows. docs/demo-book.md explains the distributions and the planted effects.

Dates are handled as int64 day numbers (days since 1970-01-01) and converted to date32 at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from kraft.periods import Calendar, Grain, month_start
from kraft.schema.tables import PRODUCT_LINES, SOURCES, TABLES, ColumnType, table

Arr = npt.NDArray[Any]
Rng = np.random.Generator

# --- The public constants (docs/demo-book.md) -------------------------------------------------

INITIATIVE_ID = "INIT-RETENTION"
INITIATIVE_NAME = "Client Retention Strategy"
RENEWAL_UPLIFT = 0.06  # participants' renewal probability on policies due after the start
PERSONALISED_P = (0.04, 0.30)  # share of policies personalised: in general, participants after
CSAT_UPLIFT = 0.3  # on the logit of a participant's satisfaction after the start
PARTICIPANT_SHARE = 0.35  # of the rm-role RMs employed at the initiative's start
RENEWAL_BAND = (0.75, 0.95)  # renewal probability (within grace) = band mapped by skill
GRACE_DAYS = 30
LATE_RENEWAL_DAYS = (31, 60)  # a late renewal: start_date − end_date in this range
LATE_SHARE = 0.25  # of the policies not renewed within grace, the share renewed late
FREE_LOOK_DAYS = 30
TEAM_SIZE = (6, 10)
TINY_BOOK = (1, 5)
MEAN_BOOK = 440.0  # mean pre-window clients per RM (≈ 500 clients per RM over 24 months)
SHARE_TINY, SHARE_JOINERS, SHARE_LEAVERS = 0.03, 0.08, 0.06
OTHER_RM_RENEWAL = 0.03  # a renewal written by another RM of the team
HANDOVER_DAYS = 180  # a leaver's policies ending later than exit − this go to a successor

ARROW_TYPES: dict[ColumnType, Any] = {
    ColumnType.id: pa.string(),
    ColumnType.text: pa.string(),
    ColumnType.enum: pa.string(),
    ColumnType.period: pa.string(),
    ColumnType.month: pa.string(),
    ColumnType.date: pa.date32(),
    ColumnType.bool: pa.bool_(),
    ColumnType.decimal: pa.float64(),
    ColumnType.int: pa.int64(),
}

# --- Distributions -----------------------------------------------------------------------------

# segments: retail, hni, sme, corporate
SEGMENT_P = np.array([0.80, 0.11, 0.07, 0.02])
SEGMENT_PREMIUM = np.array([1.0, 3.0, 8.0, 40.0])  # multiplier on the retail premium
# PRODUCT_LINES: life, health, motor, property, travel, other
LINE_WEIGHTS = np.array(
    [
        [0.22, 0.30, 0.38, 0.04, 0.04, 0.02],  # retail
        [0.30, 0.25, 0.20, 0.12, 0.08, 0.05],  # hni
        [0.10, 0.25, 0.20, 0.30, 0.03, 0.12],  # sme
        [0.10, 0.30, 0.15, 0.25, 0.05, 0.15],  # corporate
    ]
)
RETAIL_PREMIUM = np.array([50_000, 25_000, 15_000, 12_000, 3_000, 8_000], dtype=float)  # median
PREMIUM_SIGMA = 0.45
COVER_RATIO = np.array([130.0, 40.0, 33.0, 200.0, 500.0, 100.0])  # need ÷ premium, by line
ADEQUATE_P = 0.70
LIFE = PRODUCT_LINES.index("life")
# Early ends of a term, per term: free-look (new business only), mid-term cancellation, lapse
# for non-payment (by line), death (life), maturity (life, at the end of a term).
FREE_LOOK_P = 0.015
CANCEL_P = 0.012
LAPSE_P = np.array([0.035, 0.030, 0.008, 0.008, 0.005, 0.008])
DEATH_P = np.array([0.0052, 0, 0, 0, 0, 0])  # life claims are deaths: LR ≈ 0.52 % × 130 ≈ 68 %
MATURE_P = np.array([0.03, 0, 0, 0, 0, 0])
# Claims: frequency per policy-year and loss ratio on earned premium, by line (life: deaths).
CLAIM_FREQ = np.array([0.0, 0.09, 0.08, 0.035, 0.05, 0.04])
LOSS_RATIO = np.array([0.68, 0.82, 0.75, 0.68, 0.68, 0.70])  # non-life; life: DEATH_P
SETTLE_MEDIAN = np.array([14.0, 12.0, 12.0, 14.0, 13.0, 13.0])  # days, lognormal median
SETTLE_SIGMA = 0.55
CLAIM_SIGMA = 0.7  # amount claimed: lognormal around the mean the loss ratio implies
CLAIM_REJECT, CLAIM_WITHDRAW = 0.07, 0.04
PAID_SHARE = (0.75, 1.0)  # amount_paid ÷ amount_claimed, uniform
# Leads: source mix and base win probability by source; cross-sell leads have their own.
NEW_LEAD_SOURCE_P = np.array([0.25, 0.12, 0.25, 0.18, 0.13, 0.07])  # SOURCES order
CROSS_LEAD_SOURCE_P = np.array([0.0, 0.10, 0.27, 0.38, 0.10, 0.15])
WIN_BY_SOURCE = np.array([0.50, 0.26, 0.11, 0.10, 0.06, 0.13])
CROSS_SELL_WIN = 0.22
LEAD_DECISION_DAYS = 120  # a lead is decided within this many days of its creation
SKILL_LOGIT = 0.30  # a skill of +1 sd adds this to the logit of a win
NEW_CLIENTS_PER_MONTH = 0.012  # won new-client leads per month, × the RM's book size
JOINER_CLIENTS_PER_MONTH = 0.04
CROSS_SELLS_PER_MONTH = 0.006
CLIENT_SOURCE_P = np.array([0.20, 0.20, 0.20, 0.15, 0.10, 0.15])

FIRST_NAMES = (
    "Aarav Aditi Akash Amit Ananya Anil Anjali Arjun Deepa Divya Gaurav Harish Isha Kavita "
    "Kiran Lakshmi Manish Meera Mohan Neha Nikhil Pooja Priya Rahul Rajesh Ravi Rohan Sanjay "
    "Shreya Sneha Suresh Swati Tanvi Varun Vikram Vivek Yash Zoya Farhan Imran"
).split()
LAST_NAMES = (
    "Sharma Verma Gupta Iyer Nair Reddy Rao Patel Shah Mehta Joshi Kulkarni Deshpande Banerjee "
    "Chatterjee Das Bose Singh Chauhan Yadav Mishra Pandey Pillai Menon Kapoor Malhotra Khanna "
    "Agarwal Jain Bhatt Naidu Hegde Fernandes D'Souza Khan Qureshi Sethi Arora Gill Dutta"
).split()
COMPANY_WORDS = (
    "Traders Industries Logistics Textiles Foods Engineering Pharma Infra Motors Exports".split()
)
CITIES = (
    ("Mumbai", "West"),
    ("Delhi", "North"),
    ("Bengaluru", "South"),
    ("Kolkata", "East"),
    ("Chennai", "South"),
    ("Hyderabad", "South"),
    ("Pune", "West"),
    ("Ahmedabad", "West"),
    ("Jaipur", "North"),
    ("Lucknow", "North"),
    ("Bhopal", "Central"),
    ("Nagpur", "Central"),
    ("Indore", "Central"),
    ("Kochi", "South"),
    ("Patna", "East"),
    ("Bhubaneswar", "East"),
    ("Chandigarh", "North"),
    ("Guwahati", "East"),
    ("Surat", "West"),
    ("Coimbatore", "South"),
)
ZONES = ("North", "South", "East", "West", "Central")
TOOLS = (
    "CRM Mobile",
    "Quote Engine",
    "e-KYC",
    "WhatsApp Connect",
    "Claims Tracker",
    "Analytics Dashboard",
)
INCIDENT_CATEGORIES = (
    "KYC lapse",
    "Mis-selling complaint",
    "Documentation",
    "Data privacy",
    "Cash handling",
    "Disclosure",
)
GOALS = (
    "Quarterly premium target",
    "Team retention at or above 85 %",
    "All members complete compliance training",
    "Cross-sell campaign conversions",
    "Zero open complaints older than 30 days",
)
MONTHLY_GOALS = ("Monthly renewal drive", "Monthly client education drive")

_EPOCH = date(1970, 1, 1)


def _day(d: date) -> int:
    return (d - _EPOCH).days


def _add_year(days: Arr) -> Arr:
    """The same calendar day one year later (29 February → 1 March)."""
    d64 = days.astype("datetime64[D]")
    month = d64.astype("datetime64[M]")
    dom = d64 - month.astype("datetime64[D]")
    later: Arr = (month + 12).astype("datetime64[D]") + dom
    return later.astype(np.int64)


def _sigmoid(x: Arr) -> Arr:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float | Arr) -> Any:
    return np.log(p) - np.log1p(-np.asarray(p))


def _phi(x: Arr) -> Arr:
    return np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.tolist()])


def _between(rng: Rng, lo: Arr | int, hi: Arr | int, size: int | None = None) -> Arr:
    """A uniform integer in [lo, hi] (inclusive), element-wise."""
    lo_a = np.asarray(lo, dtype=np.int64)
    hi_a = np.asarray(hi, dtype=np.int64)
    shape = np.broadcast_shapes(lo_a.shape, hi_a.shape, () if size is None else (size,))
    return lo_a + (rng.random(shape) * (hi_a - lo_a + 1)).astype(np.int64)


def _choice(rng: Rng, p: Arr, size: int) -> Arr:
    """Category codes drawn with probabilities p (normalised)."""
    cdf = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(p) - 1)


def _choice_rows(rng: Rng, weights: Arr) -> Arr:
    """One category per row of a weight matrix (rows need not sum to 1)."""
    cdf = np.cumsum(weights, axis=1)
    u = rng.random(weights.shape[0]) * cdf[:, -1]
    below: Arr = (cdf < u[:, None]).sum(axis=1)
    return np.asarray(np.minimum(below, weights.shape[1] - 1))


def _lognormal_mean(rng: Rng, mean: Arr, sigma: float) -> Arr:
    return np.asarray(rng.lognormal(np.log(mean) - sigma * sigma / 2.0, sigma))


def _score(rng: Rng, mean: Arr, sd: float, low: int = 1, high: int = 5) -> Arr:
    return np.clip(np.rint(rng.normal(mean, sd)), low, high)


# --- The window and the organisation ----------------------------------------------------------


@dataclass(frozen=True)
class _Window:
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


def _window(start: date, months: int, calendar: Calendar) -> _Window:
    first = month_start(start)
    month_periods = []
    day = first
    for _ in range(months):
        period = calendar.month(day)
        month_periods.append(period)
        day = period.end + timedelta(days=1)
    last = month_periods[-1].end
    quarters = list(calendar.periods(Grain.quarter, first, last))
    m_start = np.array([_day(p.start) for p in month_periods], dtype=np.int64)
    q_end = np.array([_day(min(q.end, last)) for q in quarters], dtype=np.int64)
    return _Window(
        first=_day(first),
        asof=_day(last),
        month_start=m_start,
        month_end=np.array([_day(p.end) for p in month_periods], dtype=np.int64),
        month_label=[p.label for p in month_periods],
        quarter_start=np.array([_day(max(q.start, first)) for q in quarters], dtype=np.int64),
        quarter_end=q_end,
        quarter_label=[q.label for q in quarters],
        quarter_last_month=np.searchsorted(m_start, q_end, side="right") - 1,
    )


@dataclass
class _Org:
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


def _org(rng: Rng, rms: int, w: _Window) -> _Org:
    n_rm = rms
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
    team_name = [f"{CITIES[int(c)][0]} Branch" for c in branch_city]
    per_branch = np.zeros(n_branches, dtype=np.int64)
    for t in range(n_teams):
        b = int(team_parent[n_branches + t])
        per_branch[b] += 1
        suffix = "" if b < len(CITIES) else f" {b // len(CITIES) + 1}"
        team_name.append(f"{CITIES[int(branch_city[b])][0]}{suffix} Team {per_branch[b]}")
    for b in range(len(CITIES), n_branches):
        team_name[b] = f"{CITIES[int(branch_city[b])][0]} {b // len(CITIES) + 1} Branch"

    perm = rng.permutation(n_rm)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    rm_team = np.empty(n_rm, dtype=np.int64)
    rm_team[perm] = n_branches + np.repeat(np.arange(n_teams), sizes)
    mgr_led = np.zeros(n_teams, dtype=bool)
    if n_mgr_led:
        mgr_led[rng.choice(n_teams, n_mgr_led, replace=False)] = True
    n_managers = n_branches + n_mgr_led
    n = n_rm + n_managers
    team_leader = np.full(n_all_teams, -1, dtype=np.int64)
    team_leader[:n_branches] = n_rm + np.arange(n_branches)
    manager_team = np.concatenate([np.arange(n_branches), n_branches + np.flatnonzero(mgr_led)])
    team_leader[manager_team[n_branches:]] = n_rm + n_branches + np.arange(n_mgr_led)
    rm_led = np.flatnonzero(~mgr_led)
    team_leader[n_branches + rm_led] = perm[offsets[rm_led]]
    leaders = perm[offsets[rm_led]]

    team = np.concatenate([rm_team, manager_team])
    manager = np.arange(n) >= n_rm
    # Tiny books, joiners and leavers: disjoint, never team leaders.
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

    span = w.asof - w.first
    hire = w.first - _between(rng, 400, 5500, n)
    hire[manager] = w.first - _between(rng, 1500, 7000, n_managers)
    j_lo = w.first + min(15, span // 4)
    j_hi = max(j_lo, w.asof - min(120, span // 3))
    hire[joiner] = _between(rng, j_lo, j_hi, int(joiner.sum()))
    far = w.asof + 100_000
    exit_ = np.full(n, far, dtype=np.int64)
    e_lo = w.first + min(90, span // 3)
    e_hi = max(e_lo, w.asof - min(30, span // 4))
    exit_[leaver] = _between(rng, e_lo, e_hi, int(leaver.sum()))
    skill = np.where(manager, 0.0, rng.standard_normal(n))

    size = np.asarray(_lognormal_mean(rng, np.full(n, MEAN_BOOK), 0.55))
    size = np.where(manager, 0.0, np.maximum(np.rint(size), 30.0))
    size[tiny] = _between(rng, TINY_BOOK[0], TINY_BOOK[1], int(tiny.sum()))

    pool = ~manager & ~tiny & ~joiner & ~leaver
    pool_sorted = np.flatnonzero(pool)
    pool_sorted = pool_sorted[np.argsort(team[pool_sorted], kind="stable")]
    pool_len = np.bincount(team[pool_sorted], minlength=n_all_teams)
    pool_start = np.concatenate([[0], np.cumsum(pool_len)[:-1]])

    org = _Org(
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
        p_renew=RENEWAL_BAND[0] + (RENEWAL_BAND[1] - RENEWAL_BAND[0]) * _phi(skill),
        team_name=team_name,
        team_leader=team_leader,
        team_parent=team_parent,
        team_city=team_city,
        pool_sorted=pool_sorted,
        pool_start=pool_start,
        pool_len=pool_len,
    )
    leavers = np.flatnonzero(leaver)
    successor = org.teammate(rng, leavers)
    stray = successor == leavers  # a team with no stable member: any stable RM
    if stray.any() and pool_sorted.size:
        successor[stray] = rng.choice(pool_sorted, int(stray.sum()))
    org.successor[leavers] = successor
    return org


def _initiative_start(w: _Window) -> int:
    return int(w.month_start[w.months // 2])


def _choose_participants(rng: Rng, org: _Org, start: int) -> None:
    eligible = np.flatnonzero(~org.manager & ~org.tiny & (org.hire <= start) & (org.exit >= start))
    k = max(1, round(PARTICIPANT_SHARE * eligible.size)) if eligible.size else 0
    if k:
        org.participant[rng.choice(eligible, k, replace=False)] = True


# --- Spans and events --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    """Each RM's employed days inside each of some periods (n × periods)."""

    lo: Arr
    hi: Arr
    frac: Arr  # employed share of the period

    @property
    def employed(self) -> Arr:
        return self.hi >= self.lo


def _span(org: _Org, starts: Arr, ends: Arr) -> _Span:
    lo = np.maximum(org.lo[:, None], starts[None, :])
    hi = np.minimum(org.hi[:, None], ends[None, :])
    days = np.clip(hi - lo + 1, 0, None)
    frac = days / (ends - starts + 1)[None, :]
    frac[org.manager] = 0.0  # managers have no book and no activity rows
    return _Span(lo, hi, frac)


def _events(rng: Rng, span: _Span, rate: Arr) -> tuple[Arr, Arr, Arr]:
    """Poisson(rate × employed share) events per RM and period, on uniform employed days."""
    lam = np.where(span.employed, rate * span.frac, 0.0)
    counts = rng.poisson(lam).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    rm, period = np.divmod(cell, lam.shape[1])
    day = _between(rng, span.lo.ravel()[cell], span.hi.ravel()[cell])
    return rm, period, day


def _once(rng: Rng, span: _Span, p: float) -> tuple[Arr, Arr, Arr]:
    """At most one event per RM and period (probability p, less for a short employment)."""
    hit = span.employed & (rng.random(span.lo.shape) < p * np.minimum(1.0, 2.0 * span.frac))
    rm, period = np.nonzero(hit)
    return rm, period, _between(rng, span.lo[rm, period], span.hi[rm, period])


class _Picker:
    """A random client of an RM acquired before a day, for many (rm, day) pairs at once."""

    _K = 1 << 22

    def __init__(self, owner: Arr, acquired: Arr) -> None:
        self.base = int(acquired.min()) - 1 if acquired.size else 0
        key = owner.astype(np.int64) * self._K + (acquired - self.base)
        self.order = np.argsort(key, kind="stable")
        self.key = key[self.order]

    def pick(self, rng: Rng, rm: Arr, day: Arr, strict: bool) -> Arr:
        if self.key.size == 0:
            return np.full(rm.size, -1, dtype=np.int64)
        rm = rm.astype(np.int64)
        first = np.searchsorted(self.key, rm * self._K)
        offset = np.clip(day - self.base, 0, self._K - 1)
        last = np.searchsorted(self.key, rm * self._K + offset, side="left" if strict else "right")
        count = last - first
        j = np.minimum(first + (rng.random(rm.size) * count).astype(np.int64), self.key.size - 1)
        return np.where(count > 0, self.order[j], -1)


# --- Arrow helpers -----------------------------------------------------------------------------


def _ids(prefix: str, n: int, width: int) -> Any:
    width = max(width, len(str(n)))
    numbers = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width, "0"), "")


def _take(values: Any, index: Arr) -> Any:
    """values[index], null where index < 0."""
    return values.take(pa.array(index, type=pa.int64(), mask=index < 0))


def _enum(table_name: str, column: str, codes: Arr) -> Any:
    return _take(pa.array(table(table_name).column(column).enum), codes)


def _dates(days: Arr, null: Arr | None = None) -> Any:
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=null)


def _money(values: Arr, null: Arr | None = None) -> Any:
    return pa.array(np.round(values, 2), type=pa.float64(), mask=null)


def _build(name: str, columns: dict[str, Any]) -> Any:
    spec = table(name)
    missing = set(spec.column_names) - set(columns)
    extra = set(columns) - set(spec.column_names)
    if missing or extra:
        raise ValueError(f"{name}: missing {sorted(missing)}, extra {sorted(extra)}")
    fields, arrays = [], []
    for col in spec.columns:
        arrow_type = ARROW_TYPES[col.type]
        value = columns[col.name]
        arr = value if isinstance(value, pa.Array) else pa.array(value, type=arrow_type)
        if arr.type != arrow_type:
            arr = arr.cast(arrow_type)
        arrays.append(arr)
        fields.append(pa.field(col.name, arrow_type, nullable=not col.required))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _person_names(rng: Rng, n: int) -> Any:
    first = pa.array(FIRST_NAMES).take(pa.array(rng.integers(0, len(FIRST_NAMES), n)))
    last = pa.array(LAST_NAMES).take(pa.array(rng.integers(0, len(LAST_NAMES), n)))
    return pc.binary_join_element_wise(first, last, " ")


def _company_names(rng: Rng, n: int) -> Any:
    last = pa.array(LAST_NAMES).take(pa.array(rng.integers(0, len(LAST_NAMES), n)))
    word = pa.array(COMPANY_WORDS).take(pa.array(rng.integers(0, len(COMPANY_WORDS), n)))
    return pc.binary_join_element_wise(last, word, "Pvt Ltd", " ")


# --- The book ----------------------------------------------------------------------------------


@dataclass
class _Clients:
    owner: Arr
    segment: Arr
    acquired: Arr
    source: Arr
    referred_by: Arr
    picker: _Picker


@dataclass
class _Terms:
    """Policy terms in output order (sorted by issue_date)."""

    chain: Arr
    client: Arr
    rm: Arr
    line: Arr
    business: Arr  # 0 new, 1 renewal
    prev: Arr  # index of the renewed term, -1
    issue: Arr
    start: Arr
    end: Arr
    status: Arr  # code into the status enum
    cancel: Arr  # -1 when none
    death: Arr  # -1 when none
    premium: Arr


STATUS = table("policies").column("status").enum
IN_FORCE, EXPIRED, LAPSED, CANCELLED, MATURED, DEATH = (
    STATUS.index(s)
    for s in ("in_force", "expired", "lapsed", "cancelled", "matured", "terminated_death")
)


def _pre_window_book(rng: Rng, org: _Org, w: _Window) -> tuple[dict[str, Arr], dict[str, Arr]]:
    """Clients acquired before the window and their chains' terms in force at its start."""
    n_pre = np.where(org.manager | org.joiner, 0, org.size).astype(np.int64)
    owner = np.repeat(np.arange(org.n), n_pre)
    n = owner.size
    segment = _choice(rng, SEGMENT_P, n)
    lines_held = 1 + np.minimum(rng.poisson(0.12 + 0.5 * (segment >= 2)), 3)
    # distinct lines by segment weights (Gumbel top-k)
    keys = np.log(LINE_WEIGHTS[segment]) - np.log(-np.log(rng.random((n, len(PRODUCT_LINES)))))
    ranked = np.argsort(-keys, axis=1)
    take = np.arange(len(PRODUCT_LINES))[None, :] < lines_held[:, None]
    client = np.nonzero(take)[0]
    line = ranked[take]
    start = w.first - _between(rng, 0, 364, client.size)
    issue = start - _between(rng, 0, 14, client.size)
    first_issue = np.minimum.reduceat(issue, np.flatnonzero(np.r_[True, np.diff(client) != 0]))
    back = np.where(rng.random(n) < 0.2, 0, _between(rng, 1, 3650, n))
    clients = {
        "owner": owner,
        "segment": segment,
        "acquired": first_issue - back,
        "source": _choice(rng, CLIENT_SOURCE_P, n),
    }
    chains = {"client": client, "line": line, "issue": issue, "start": start}
    return clients, chains


@dataclass
class _Leads:
    rm: Arr
    created: Arr
    closed: Arr
    status: Arr  # 0 open, 1 won, 2 lost
    source: Arr
    line: Arr
    segment: Arr
    cross: Arr  # a lead for an existing client
    cross_sell: Arr
    client: Arr
    referred_by: Arr
    expected: Arr

    def subset(self, index: Arr) -> None:
        """Keep (and order) the rows an index or mask selects, one column at a time."""
        for name, values in list(vars(self).items()):
            setattr(self, name, values[index])


def _lead_events(rng: Rng, org: _Org, w: _Window, months: _Span) -> _Leads:
    rm_role = ~org.manager
    new_rate = (
        np.where(org.joiner, JOINER_CLIENTS_PER_MONTH, NEW_CLIENTS_PER_MONTH)
        * org.size
        / float(NEW_LEAD_SOURCE_P @ WIN_BY_SOURCE)
    )
    cross_rate = CROSS_SELLS_PER_MONTH * org.size / CROSS_SELL_WIN
    new_rate = np.where(rm_role & ~org.tiny, new_rate, 0.0)[:, None]  # a tiny book stays tiny
    cross_rate = np.where(rm_role & ~org.tiny, cross_rate, 0.0)[:, None]
    rm_n, _, day_n = _events(rng, months, np.broadcast_to(new_rate, months.lo.shape))
    rm_x, _, day_x = _events(rng, months, np.broadcast_to(cross_rate, months.lo.shape))
    rm = np.concatenate([rm_n, rm_x])
    created = np.concatenate([day_n, day_x])
    cross = np.r_[np.zeros(rm_n.size, dtype=bool), np.ones(rm_x.size, dtype=bool)]
    n = rm.size
    source = np.where(
        cross, _choice(rng, CROSS_LEAD_SOURCE_P, n), _choice(rng, NEW_LEAD_SOURCE_P, n)
    )
    base = np.where(cross, CROSS_SELL_WIN, WIN_BY_SOURCE[source])
    won = rng.random(n) < _sigmoid(_logit(base) + SKILL_LOGIT * org.skill[rm])
    delay = 1 + np.rint(rng.lognormal(math.log(18.0), 0.7, n)).astype(np.int64)
    delay = np.minimum(delay, LEAD_DECISION_DAYS)
    closed = created + delay
    late = closed > org.exit[rm]  # a leaver's lead still undecided at exit: lost on exit
    closed = np.where(late, org.exit[rm], closed)
    won &= ~late
    status = np.where(closed > w.asof, 0, np.where(won, 1, 2))
    segment = _choice(rng, SEGMENT_P, n)
    line = _choice_rows(rng, LINE_WEIGHTS[segment])
    return _Leads(
        rm=rm.astype(np.int32),
        created=created.astype(np.int32),
        closed=closed.astype(np.int32),
        status=status.astype(np.int8),
        source=source.astype(np.int8),
        line=line.astype(np.int8),
        segment=segment.astype(np.int8),
        cross=cross,
        cross_sell=cross.copy(),
        client=np.full(n, -1, dtype=np.int32),
        referred_by=np.full(n, -1, dtype=np.int32),
        expected=np.zeros(n),
    )


def _clients(
    rng: Rng, org: _Org, pre: dict[str, Arr], pre_chains: dict[str, Arr], leads: _Leads
) -> _Clients:
    """All clients ordered by acquired_date; the leads and chains pointed at the new indices."""
    new = np.flatnonzero(~leads.cross & (leads.status == 1))
    owner = np.concatenate([pre["owner"], leads.rm[new]])
    acquired = np.concatenate([pre["acquired"], leads.closed[new]])
    segment = np.concatenate([pre["segment"], leads.segment[new]])
    source = np.concatenate([pre["source"], leads.source[new]])
    order = np.lexsort((owner, acquired))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    n_pre = pre["owner"].size
    pre_chains["client"] = inverse[pre_chains["client"]]
    leads.client[new] = inverse[n_pre + np.arange(new.size)]
    owner, acquired, segment, source = owner[order], acquired[order], segment[order], source[order]
    picker = _Picker(owner, acquired)
    referral = SOURCES.index("referral")
    referred_by = np.full(owner.size, -1, dtype=np.int64)
    # existing clients who refer: of the lead's RM, acquired before the lead was created
    ref = np.flatnonzero(leads.source == referral)
    leads.referred_by[ref] = picker.pick(rng, leads.rm[ref], leads.created[ref], strict=True)
    referred_by[leads.client[new]] = leads.referred_by[new]
    # pre-window clients from a referral: the referrer is on file for most
    old_ref = np.flatnonzero((source == referral) & (referred_by < 0))
    old_ref = old_ref[np.isin(old_ref, leads.client[new], invert=True)]
    old_ref = old_ref[rng.random(old_ref.size) < 0.7]
    referred_by[old_ref] = picker.pick(rng, owner[old_ref], acquired[old_ref], strict=True)
    # cross-sell leads: a client of the RM acquired before the lead
    x = np.flatnonzero(leads.cross)
    leads.client[x] = picker.pick(rng, leads.rm[x], leads.created[x], strict=True)
    return _Clients(owner, segment, acquired, source, referred_by, picker)


def _finish_leads(rng: Rng, leads: _Leads, clients: _Clients, held: Arr) -> _Leads:
    """Drop cross-sell leads without a client; give them a line the client does not hold."""
    keep = ~leads.cross | (leads.client >= 0)
    leads.subset(keep)
    x = np.flatnonzero(leads.cross)
    seg = clients.segment[leads.client[x]]
    leads.segment[x] = seg
    mask = held[leads.client[x]]
    bits = (mask[:, None] >> np.arange(len(PRODUCT_LINES))[None, :]) & 1
    keys = np.log(LINE_WEIGHTS[seg]) - np.log(-np.log(rng.random(bits.shape)))
    full: Arr = np.all(bits == 1, axis=1)
    keys = np.where((bits == 1) & ~full[:, None], -np.inf, keys)
    leads.line[x] = np.argmax(keys, axis=1)
    leads.cross_sell[x] = ~full
    median = RETAIL_PREMIUM[leads.line] * SEGMENT_PREMIUM[leads.segment]
    leads.expected = np.asarray(rng.lognormal(np.log(median), PREMIUM_SIGMA))
    leads.subset(np.lexsort((leads.rm, leads.created)))
    return leads


def _terms(
    rng: Rng,
    org: _Org,
    w: _Window,
    chains: dict[str, Arr],
    init_start: int,
    uplift: float = RENEWAL_UPLIFT,
) -> _Terms:
    """Every term of every chain: new business, then renewals generation by generation."""
    owner = chains["owner"]
    line_of = chains["line"]
    cur = np.arange(owner.size)
    start, issue, premium = chains["start"], chains["issue"], chains["premium"]
    prev = np.full(cur.size, -1, dtype=np.int64)
    generation = 0
    pieces: list[dict[str, Arr]] = []
    offset = 0
    while cur.size:
        n = cur.size
        own = owner[cur]
        line = line_of[cur]
        end = _add_year(start) - 1
        rm = own.copy()
        handed = org.leaver[own] & (end > org.exit[own] - HANDOVER_DAYS)
        rm[handed] = org.successor[own[handed]]
        if generation:
            other = rng.random(n) < OTHER_RM_RENEWAL
            rm[other] = org.teammate(rng, own[other])
        # early ends
        u = rng.random(n)
        p_free = FREE_LOOK_P if generation == 0 else 0.0
        cut = np.cumsum([np.full(n, p_free), np.full(n, CANCEL_P), LAPSE_P[line], DEATH_P[line]], 0)
        kind = (u[None, :] >= cut).sum(axis=0)  # 0 free-look, 1 cancel, 2 lapse, 3 death, 4 none
        when = np.select(
            [kind == 0, kind == 1, kind == 2],
            [
                issue + _between(rng, 1, FREE_LOOK_DAYS, n),
                start + _between(rng, 31, 364, n),
                start + _between(rng, 60, 364, n),
            ],
            start + _between(rng, 0, 364, n),
        )
        happened = (kind < 4) & (when <= w.asof)
        ran_out = ~happened & (end < w.asof)
        matured = ran_out & (rng.random(n) < MATURE_P[line])
        status = np.select(
            [happened & (kind <= 1), happened & (kind == 2), happened & (kind == 3), matured],
            [CANCELLED, LAPSED, DEATH, MATURED],
            np.where(ran_out, EXPIRED, IN_FORCE),
        )
        cancel = np.where(happened & (kind <= 2), when, -1)
        death = np.where(happened & (kind == 3), when, -1)
        # renewal of the terms that ran to their end
        due = ran_out & ~matured
        p = org.p_renew[rm] + uplift * (org.participant[rm] & (end >= init_start))
        v = rng.random(n)
        on_time = due & (v < np.minimum(p, 1.0))
        late = due & ~on_time & (v < p + (1.0 - p) * LATE_SHARE)
        gap = np.where(rng.random(n) < 0.85, 1, _between(rng, 2, GRACE_DAYS, n))
        gap = np.where(late, _between(rng, *LATE_RENEWAL_DAYS, size=n), gap)
        next_start = end + gap
        next_issue = next_start - np.where(
            gap == 1, _between(rng, 0, 21, n), _between(rng, 0, 3, n)
        )
        renew = (on_time | late) & (next_start <= w.asof)
        pieces.append(
            {
                "chain": cur.astype(np.int32),
                "rm": rm.astype(np.int32),
                "business": np.full(n, min(generation, 1), dtype=np.int8),
                "prev": prev.astype(np.int32),
                "issue": issue.astype(np.int32),
                "start": start.astype(np.int32),
                "end": end.astype(np.int32),
                "status": status.astype(np.int8),
                "cancel": cancel.astype(np.int32),
                "death": death.astype(np.int32),
                "premium": premium,
            }
        )
        index = offset + np.arange(n)
        offset += n
        cur, start, issue = cur[renew], next_start[renew], next_issue[renew]
        premium = premium[renew] * np.clip(
            1.0 + rng.normal(0.05, 0.03, int(renew.sum())), 0.9, None
        )
        prev = index[renew]
        generation += 1
    cols: dict[str, Arr] = {}
    for k in list(pieces[0]):  # one column at a time: the peak stays near one copy
        cols[k] = np.concatenate([p.pop(k) for p in pieces])
    order = np.lexsort((cols["chain"], cols["issue"]))
    for k in cols:
        cols[k] = cols[k][order]
    inverse = np.empty(order.size, dtype=np.int32)
    inverse[order] = np.arange(order.size, dtype=np.int32)
    del order
    cols["prev"] = np.where(cols["prev"] >= 0, inverse[np.maximum(cols["prev"], 0)], -1)
    return _Terms(client=chains["client"][cols["chain"]], line=line_of[cols["chain"]], **cols)


def _policies_table(
    rng: Rng,
    org: _Org,
    w: _Window,
    t: _Terms,
    ids: tuple[Any, Any, Any],  # policy, client and RM ids
    init: int,
    effect: float = 1.0,
) -> Any:
    policy_ids, client_ids, rm_ids = ids
    n = t.rm.size
    skill = org.skill[t.rm]
    new = t.business == 0
    # needs assessment: most new business assessed on or before issue, some late, some never
    ok = rng.random(n) < np.where(new, np.clip(0.9 + 0.04 * skill, 0.7, 0.99), 0.7)
    late = new & ~ok & (rng.random(n) < 0.5)
    ra = np.where(ok, t.issue - _between(rng, 0, 30, n), -1)
    ra = np.where(late, t.issue + _between(rng, 1, 45, n), ra)
    ra = np.where(ra > w.asof, -1, ra)
    ra = np.where(ra >= 0, np.maximum(ra, org.hire[t.rm]), -1)
    need = t.premium * COVER_RATIO[t.line] * rng.lognormal(0.0, 0.25, n)
    adequate = rng.random(n) < np.clip(ADEQUATE_P + 0.05 * skill, 0.5, 0.9)
    insured = need * np.where(adequate, rng.uniform(1.0, 1.6, n), rng.uniform(0.5, 0.98, n))
    insured = np.rint(insured / 1000.0) * 1000.0
    need = np.rint(need / 1000.0) * 1000.0
    insured = np.where(adequate, np.maximum(insured, need), np.minimum(insured, need - 1000.0))
    insured = np.maximum(insured, 0.0)
    general, planted = PERSONALISED_P
    if effect != 1.0:  # scaled with the planted renewal effect (1.0: exactly the constants)
        planted = general + (planted - general) * effect
    personal = rng.random(n) < np.where(org.participant[t.rm] & (t.issue >= init), planted, general)
    return _build(
        "policies",
        {
            "policy_id": policy_ids,
            "client_id": _take(client_ids, t.client),
            "rm_id": _take(rm_ids, t.rm),
            "product_line": _enum("policies", "product_line", t.line),
            "business_type": _enum("policies", "business_type", t.business),
            "renewal_of_policy_id": _take(policy_ids, t.prev),
            "issue_date": _dates(t.issue),
            "start_date": _dates(t.start),
            "end_date": _dates(t.end),
            "status": _enum("policies", "status", t.status),
            "cancel_date": _dates(t.cancel, t.cancel < 0),
            "annual_premium": _money(t.premium),
            "sum_insured": _money(insured, rng.random(n) < 0.01),
            "assessed_need": _money(need, ra < 0),
            "risk_assessment_date": _dates(ra, ra < 0),
            "personalised": personal,
        },
    )


def _claims_table(rng: Rng, org: _Org, w: _Window, t: _Terms, policy_ids: Any) -> Any:
    stop = np.minimum(t.end, w.asof)
    stop = np.where(t.cancel >= 0, np.minimum(stop, t.cancel), stop)
    exposure = np.clip(stop - t.start + 1, 0, None)
    counts = rng.poisson(CLAIM_FREQ[t.line] * exposure / 365.0)
    term = np.repeat(np.arange(t.rm.size), counts)
    loss = t.start[term] + (rng.random(term.size) * exposure[term]).astype(np.int64)
    paid_mean = (PAID_SHARE[0] + PAID_SHARE[1]) / 2.0
    settled_p = 1.0 - CLAIM_REJECT - CLAIM_WITHDRAW
    mean = LOSS_RATIO[t.line[term]] * t.premium[term] / (CLAIM_FREQ[t.line[term]] * settled_p)
    claimed = _lognormal_mean(rng, mean / paid_mean, CLAIM_SIGMA)
    # life: one death claim per terminated_death term, for the sum at risk
    dead = np.flatnonzero(t.death >= 0)
    life_need = t.premium[dead] * COVER_RATIO[LIFE] * rng.lognormal(0.0, 0.25, dead.size)
    term = np.concatenate([term, dead])
    loss = np.concatenate([loss, t.death[dead]])
    claimed = np.concatenate([claimed, life_need / paid_mean])
    n = term.size
    intimation = loss + np.rint(rng.lognormal(math.log(2.0), 0.9, n)).astype(np.int64)
    days = np.maximum(
        1, np.rint(rng.lognormal(np.log(SETTLE_MEDIAN[t.line[term]]), SETTLE_SIGMA))
    ).astype(np.int64)
    outcome = _choice(rng, np.array([settled_p, CLAIM_REJECT, CLAIM_WITHDRAW]), n)
    settled = intimation + days
    status = np.select([outcome == 2, settled > w.asof, outcome == 1], [3, 0, 2], 1)
    last_doc = intimation + np.rint(days * rng.uniform(0.3, 0.9, n)).astype(np.int64)
    # a claim's rows stay inside the data window and the policy RM's employment
    bound = np.minimum(w.asof, org.exit[t.rm[term]])
    last_event = np.where((status == 1) | (status == 2), settled, intimation)
    keep = last_event <= bound
    term, loss, intimation, settled = term[keep], loss[keep], intimation[keep], settled[keep]
    status, last_doc, claimed = status[keep], last_doc[keep], claimed[keep]
    order = np.lexsort((term, intimation))
    term, loss, intimation, settled = term[order], loss[order], intimation[order], settled[order]
    status, last_doc, claimed = status[order], last_doc[order], claimed[order]
    n = term.size
    paid = claimed * rng.uniform(PAID_SHARE[0], PAID_SHARE[1], n)
    is_open, is_settled = status == 0, status == 1
    claimed = np.rint(claimed)
    return _build(
        "claims",
        {
            "claim_id": _ids("CL", n, 7),
            "policy_id": _take(policy_ids, term),
            "loss_date": _dates(loss),
            "intimation_date": _dates(intimation),
            "last_document_date": _dates(last_doc, (last_doc > w.asof) | (status == 3)),
            "settled_date": _dates(settled, ~((status == 1) | (status == 2))),
            "status": _enum("claims", "status", status),
            "amount_claimed": _money(claimed),
            "amount_paid": _money(np.minimum(paid, claimed), ~is_settled),
            "outstanding_reserve": _money(claimed * 0.9, ~is_open),
        },
    )


def _document_checks(
    rng: Rng, org: _Org, w: _Window, t: _Terms, policy_ids: Any, rm_ids: Any
) -> Any:
    term = np.flatnonzero((t.issue >= w.first) & (rng.random(t.rm.size) < 0.35))
    rm = t.rm[term]
    day = np.minimum(t.issue[term] + _between(rng, 0, 7, term.size), org.hi[rm])
    day = np.maximum(day, t.issue[term])
    good = rng.random(term.size) < np.clip(0.935 + 0.025 * org.skill[rm], 0.8, 0.995)
    defects = np.where(good, 0, 1 + rng.poisson(0.5, term.size))
    no_policy = rng.random(term.size) < 0.03  # e.g. a KYC check not tied to one policy
    order = np.lexsort((term, day))
    term, rm, day, good, defects, no_policy = (
        np.asarray(a)[order] for a in (term, rm, day, good, defects, no_policy)
    )
    return _build(
        "document_checks",
        {
            "check_id": _ids("D", term.size, 7),
            "rm_id": _take(rm_ids, rm),
            "policy_id": _take(policy_ids, np.where(no_policy, -1, term)),
            "date": _dates(day),
            "in_good_order": good,
            "defects": defects.astype(np.int64),
        },
    )


def _stack(pieces: list[dict[str, Arr]], order_by: tuple[str, ...]) -> dict[str, Arr]:
    """Concatenate row pieces column by column, then sort by the keys (last key first)."""
    cols: dict[str, Arr] = {}
    for k in list(pieces[0]):
        cols[k] = np.concatenate([p.pop(k) for p in pieces])
    order = np.lexsort(tuple(cols[k] for k in order_by))
    for k in cols:
        cols[k] = cols[k][order]
    return cols


def _interactions_and_surveys(
    rng: Rng,
    org: _Org,
    w: _Window,
    months: _Span,
    clients: _Clients,
    rm_ids: Any,
    client_ids: Any,
    init: int,
    effect: float = 1.0,
) -> tuple[Any, Any]:
    skill = org.skill[:, None]
    tiny = org.tiny[:, None]
    kinds = table("interactions").column("type").enum
    meeting, call, education, visit = (
        kinds.index(k) for k in ("meeting", "call", "education_session", "service_visit")
    )
    completed, no_show = 0, 2
    shape = months.lo.shape
    pieces: list[dict[str, Arr]] = []

    def add(
        rm: Arr, day: Arr, kind: int, status: Arr, minutes: Arr, client: Arr, session: Arr
    ) -> None:
        pieces.append(
            {
                "rm": rm.astype(np.int32),
                "day": day.astype(np.int32),
                "kind": np.full(rm.size, kind, dtype=np.int8),
                "status": status.astype(np.int8),
                "minutes": np.where(status == completed, minutes, -1).astype(np.int16),
                "client": client.astype(np.int32),
                "session": session.astype(np.int32),
            }
        )

    def plain(rate: Arr, kind: int, status_p: Arr, minutes: tuple[int, int]) -> None:
        rm, _, day = _events(rng, months, np.broadcast_to(rate, shape))
        n = rm.size
        client = clients.picker.pick(rng, rm, day, strict=False)
        status = _choice(rng, status_p, n)
        add(rm, day, kind, status, _between(rng, *minutes, size=n), client, np.full(n, -1))

    meetings = np.where(tiny, 2.0, np.clip(20.0 + 3.0 * skill, 12.0, 28.0))
    plain(meetings, meeting, np.array([1.0, 0.0, 0.0]), (30, 90))
    plain(np.where(tiny, 0.3, 1.5), meeting, np.array([0.0, 0.6, 0.4]), (30, 90))
    plain(np.where(tiny, 3.0, 12.0), call, np.array([0.88, 0.12, 0.0]), (3, 25))
    plain(np.where(tiny, 0.5, 3.0), visit, np.array([0.93, 0.04, 0.03]), (20, 60))
    # education sessions: 2-4 a month, about a third of them for a group of clients
    edu_rate = np.where(tiny, 0.5, np.clip(3.0 + 0.5 * skill, 1.5, 4.5))
    s_rm, _, s_day = _events(rng, months, np.broadcast_to(edu_rate, shape))
    group = rng.random(s_rm.size) < 0.33
    s_status = _choice(rng, np.array([0.93, 0.04, 0.03]), s_rm.size)
    s_status = np.where(group & (s_status == no_show), completed, s_status)
    size = np.where(group, _between(rng, 3, 8, s_rm.size), 1)
    sess = np.repeat(np.arange(s_rm.size), size)
    e_client = clients.picker.pick(rng, s_rm[sess], s_day[sess], strict=False)
    e_status = s_status[sess]
    absent = group[sess] & (e_status == completed) & (rng.random(sess.size) < 0.08)
    e_status = np.where(absent, no_show, e_status)
    # a client once per group session; a group row always names its client
    _, first = np.unique(sess * (clients.owner.size + 1) + (e_client + 1), return_index=True)
    keep = np.zeros(sess.size, dtype=bool)
    keep[first] = True
    keep &= ~group[sess] | (e_client >= 0)
    # number the group sessions that kept a row
    used = np.unique(sess[group[sess] & keep])
    g_number = np.full(s_rm.size, -1, dtype=np.int64)
    g_number[used] = np.arange(used.size)
    e_minutes = _between(rng, 45, 120, s_rm.size)
    sel = np.flatnonzero(keep)
    es = sess[sel]
    add(s_rm[es], s_day[es], education, e_status[sel], e_minutes[es], e_client[sel], g_number[es])
    cols = _stack(pieces, ("rm", "day"))
    minutes = cols["minutes"]
    interactions = _build(
        "interactions",
        {
            "interaction_id": _ids("I", cols["rm"].size, 8),
            "rm_id": _take(rm_ids, cols["rm"]),
            "client_id": _take(client_ids, cols["client"]),
            "type": _enum("interactions", "type", cols["kind"]),
            "date": _dates(cols["day"]),
            "status": _enum("interactions", "status", cols["status"]),
            "duration_minutes": pa.array(minutes, type=pa.int64(), mask=minutes < 0),
            "session_id": _take(_ids("S", used.size, 6), cols["session"]),
        },
    )
    surveys = _surveys(
        rng,
        org,
        w,
        months,
        clients,
        rm_ids,
        client_ids,
        init,
        cols["rm"],
        cols["day"],
        cols["kind"],
        cols["status"],
        cols["client"],
        effect,
    )
    return interactions, surveys


def _surveys(
    rng: Rng,
    org: _Org,
    w: _Window,
    months: _Span,
    clients: _Clients,
    rm_ids: Any,
    client_ids: Any,
    init: int,
    i_rm: Arr,
    i_day: Arr,
    i_kind: Arr,
    i_status: Arr,
    i_client: Arr,
    effect: float = 1.0,
) -> Any:
    kinds = table("interactions").column("type").enum
    types = table("surveys").column("survey_type").enum
    done = (i_status == 0) & (i_client >= 0)
    parts: list[tuple[Arr, Arr, Arr, Arr, Arr, Arr]] = []  # type, rm, client, day, score, max

    def after(idx: Arr) -> tuple[Arr, Arr, Arr]:
        rm = i_rm[idx]
        day = np.minimum(i_day[idx] + _between(rng, 0, 5, idx.size), org.hi[rm])
        return rm, i_client[idx], day

    # csat after meetings and service visits; 1-5, one in ten on 1-10
    service = np.isin(i_kind, [kinds.index("meeting"), kinds.index("service_visit")])
    idx = np.flatnonzero(done & service & (rng.random(i_rm.size) < 0.15))
    rm, client, day = after(idx)
    uplift = CSAT_UPLIFT * effect * (org.participant[rm] & (day >= init))
    sat = rng.random(idx.size) < _sigmoid(_logit(0.83) + 0.5 * org.skill[rm] + uplift)
    ten = rng.random(idx.size) < 0.1
    score5 = np.where(
        sat,
        4 + (rng.random(idx.size) < 0.55),
        _choice(rng, np.array([0.1, 0.25, 0.65]), idx.size) + 1,
    )
    score10 = np.where(
        sat, 8 + _choice(rng, np.array([0.4, 0.35, 0.25]), idx.size), _between(rng, 3, 7, idx.size)
    )
    parts.append(
        (
            np.full(idx.size, types.index("csat")),
            rm,
            client,
            day,
            np.where(ten, score10, score5).astype(float),
            np.where(ten, 10.0, 5.0),
        )
    )
    # after education sessions: understanding of the policy, and the material
    edu = done & (i_kind == kinds.index("education_session"))
    for name, share, mean in (
        ("policy_understanding", 0.4, 3.9),
        ("education_material", 0.25, 3.8),
    ):
        idx = np.flatnonzero(edu & (rng.random(i_rm.size) < share))
        rm, client, day = after(idx)
        score = _score(rng, mean + 0.3 * org.skill[rm], 0.8)
        parts.append(
            (np.full(idx.size, types.index(name)), rm, client, day, score, np.full(idx.size, 5.0))
        )
    # digital service feedback
    rm, _, day = _events(rng, months, np.full(months.lo.shape, 1.5))
    client = clients.picker.pick(rng, rm, day, strict=False)
    score = _score(rng, 3.7 + 0.15 * org.skill[rm], 0.9)
    parts.append(
        (
            np.full(rm.size, types.index("digital_service")),
            rm,
            client,
            day,
            score,
            np.full(rm.size, 5.0),
        )
    )
    # employee satisfaction: members rate their team's leader (an RM) once a quarter
    leader = org.team_leader[org.team]
    member = ~org.manager & (leader >= 0) & (leader != np.arange(org.n))
    member &= ~org.manager[np.maximum(leader, 0)]
    last_month = w.quarter_last_month
    lo, hi = months.lo[:, last_month], months.hi[:, last_month]
    answer = member[:, None] & (hi >= lo) & (rng.random(lo.shape) < 0.7)
    who, q = np.nonzero(answer)
    day = _between(rng, lo[who, q], hi[who, q])
    rm = leader[who]
    score = _score(rng, 3.7 + 0.5 * org.skill[rm], 0.8)
    parts.append(
        (
            np.full(rm.size, types.index("employee_satisfaction")),
            rm,
            np.full(rm.size, -1),
            day,
            score,
            np.full(rm.size, 5.0),
        )
    )
    kind, rm, client, day, score, high = (np.concatenate([p[i] for p in parts]) for i in range(6))
    order = np.lexsort((rm, day))
    kind, rm, client, day, score, high = (a[order] for a in (kind, rm, client, day, score, high))
    return _build(
        "surveys",
        {
            "response_id": _ids("R", rm.size, 7),
            "survey_type": _enum("surveys", "survey_type", kind),
            "rm_id": _take(rm_ids, rm),
            "client_id": _take(client_ids, client),
            "date": _dates(day),
            "score": score,
            "scale_min": np.ones(rm.size),
            "scale_max": high,
        },
    )


ACTIVITY_RATES = {  # events per RM-month (compliance_training: quarterly; performance_report: monthly)
    "competitor_analysis_report": 0.40,
    "market_segment_identified": 0.17,
    "market_initiative": 0.35,
    "training": 0.60,
    "certification": 0.08,
    "workshop": 0.35,
    "seminar": 0.30,
    "knowledge_sharing": 0.45,
    "innovation_project": 0.08,
    "action_plan_item": 1.00,
}
ACTIVITY_HOURS = {
    "training": (2, 16),
    "compliance_training": (1, 3),
    "certification": (10, 40),
    "workshop": (3, 8),
    "seminar": (1, 4),
    "knowledge_sharing": (1, 2),
}
PLANNED, DONE, DROPPED = 0, 1, 2  # activities.status: planned, completed, cancelled


def _activities(rng: Rng, org: _Org, months: _Span, quarters: _Span, rm_ids: Any) -> Any:
    types = table("activities").column("type").enum
    parts: list[dict[str, Arr]] = []

    def add(name: str, rm: Arr, day: Arr, status: Arr, **extra: Arr) -> None:
        n = rm.size
        done = extra.get("done", np.where(status == DONE, day, -1))
        hours = np.full(n, -1.0)
        if name in ACTIVITY_HOURS:
            low, high = ACTIVITY_HOURS[name]
            hours = np.where(status == DROPPED, -1.0, _between(rng, low, high, n).astype(float))
        parts.append(
            {
                "type": np.full(n, types.index(name)),
                "rm": rm,
                "day": day,
                "due": extra.get("due", np.full(n, -1)),
                "done": done,
                "status": status,
                "outcome": extra.get("outcome", np.full(n, -1)),
                "corrections": extra.get("corrections", np.full(n, -1)),
                "hours": hours,
            }
        )

    skill = org.skill[:, None]
    for name, rate in ACTIVITY_RATES.items():  # a loop over activity types
        per_rm = (
            rate * np.exp(0.3 * skill) if name == "knowledge_sharing" else np.full_like(skill, rate)
        )
        rm, _, day = _events(rng, months, np.broadcast_to(per_rm, months.lo.shape))
        n = rm.size
        bound = org.hi[rm]
        s = org.skill[rm]
        if name in ("training", "action_plan_item"):
            longest, p_on = (60, 0.88 + 0.06 * s) if name == "training" else (90, 0.82 + 0.08 * s)
            due = day + _between(rng, 14, longest, n)
            dropped = rng.random(n) < 0.04
            on_time = rng.random(n) < np.clip(p_on, 0.4, 0.99)
            late = ~on_time & (rng.random(n) < 0.6)
            finish = np.where(on_time, _between(rng, day, due), due + _between(rng, 1, 30, n))
            has = ~dropped & (on_time | late) & (finish <= bound)
            status = np.where(dropped, DROPPED, np.where(has, DONE, PLANNED))
            add(name, rm, day, status, due=due, done=np.where(has, finish, -1))
        elif name == "innovation_project":
            finish = day + _between(rng, 30, 180, n)
            dropped = rng.random(n) < 0.1
            has = ~dropped & (finish <= bound)
            success = rng.random(n) < np.clip(0.55 + 0.12 * s, 0.2, 0.9)
            status = np.where(dropped, DROPPED, np.where(has, DONE, PLANNED))
            outcome = np.where(has, np.where(success, 0, 1), -1)
            add(name, rm, day, status, done=np.where(has, finish, -1), outcome=outcome)
        else:
            add(name, rm, day, _choice(rng, np.array([0.07, 0.88, 0.05]), n))
    rm, _, day = _once(rng, quarters, 0.95)
    add("compliance_training", rm, day, _choice(rng, np.array([0.05, 0.9, 0.05]), rm.size))
    rm, month = np.nonzero(months.employed & ~org.manager[:, None])
    day = months.hi[rm, month]  # submitted at month end (or on the last employed day)
    clean = rng.random(rm.size) < np.clip(0.9 + 0.05 * org.skill[rm], 0.6, 0.99)
    corrections = np.where(clean, 0, 1 + rng.poisson(0.5, rm.size))
    add("performance_report", rm, day, np.full(rm.size, DONE), corrections=corrections)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cols["rm"], cols["day"]))
    cols = {k: v[order] for k, v in cols.items()}
    return _build(
        "activities",
        {
            "activity_id": _ids("A", order.size, 7),
            "rm_id": _take(rm_ids, cols["rm"]),
            "type": _enum("activities", "type", cols["type"]),
            "date": _dates(cols["day"]),
            "due_date": _dates(cols["due"], cols["due"] < 0),
            "completed_date": _dates(cols["done"], cols["done"] < 0),
            "status": _enum("activities", "status", cols["status"]),
            "outcome": _enum("activities", "outcome", cols["outcome"]),
            "corrections": pa.array(
                cols["corrections"], type=pa.int64(), mask=cols["corrections"] < 0
            ),
            "hours": pa.array(cols["hours"], type=pa.float64(), mask=cols["hours"] < 0),
        },
    )


def _compliance(
    rng: Rng, org: _Org, months: _Span, quarters: _Span, rm_ids: Any
) -> tuple[Any, Any]:
    rm, _, day = _once(rng, quarters, 0.95)
    order = np.lexsort((rm, day))
    rm, day = rm[order], day[order]
    rating = np.clip(80.0 + 8.0 * org.skill[rm] + rng.normal(0.0, 6.0, rm.size), 0.0, 100.0)
    audits = _build(
        "compliance_audits",
        {
            "audit_id": _ids("AU", rm.size, 6),
            "rm_id": _take(rm_ids, rm),
            "date": _dates(day),
            "rating": np.round(rating, 1),
        },
    )
    rate = 0.012 * np.exp(-0.5 * org.skill)[:, None]
    rm, _, day = _events(rng, months, np.broadcast_to(rate, months.lo.shape))
    order = np.lexsort((rm, day))
    rm, day = rm[order], day[order]
    n = rm.size
    incidents = _build(
        "compliance_incidents",
        {
            "incident_id": _ids("IN", n, 5),
            "rm_id": _take(rm_ids, rm),
            "date": _dates(day),
            "category": pa.array(INCIDENT_CATEGORIES).take(
                pa.array(rng.integers(0, len(INCIDENT_CATEGORIES), n))
            ),
            "severity": _enum(
                "compliance_incidents", "severity", _choice(rng, np.array([0.6, 0.3, 0.1]), n)
            ),
            "substantiated": rng.random(n) < 0.4,
            "reported_by": _enum(
                "compliance_incidents",
                "reported_by",
                _choice(rng, np.array([0.2, 0.4, 0.3, 0.1]), n),
            ),
        },
    )
    return audits, incidents


def _tool_usage(rng: Rng, org: _Org, w: _Window, months: _Span, rm_ids: Any) -> Any:
    n_tools = len(TOOLS)
    count = _between(rng, 2, 4, org.n)
    rank = np.argsort(np.argsort(rng.random((org.n, n_tools)), axis=1), axis=1)
    assigned = (rank < count[:, None]) & ~org.manager[:, None]
    rm, tool, month = np.nonzero(assigned[:, :, None] & months.employed[:, None, :])
    days = months.hi[rm, month] - months.lo[rm, month] + 1
    adopted = rng.random(rm.size) < np.clip(0.86 + 0.06 * org.skill[rm], 0.5, 0.99)
    active = np.where(
        adopted,
        _between(rng, np.minimum(4, days), days),
        _between(rng, 0, np.minimum(3, days)),
    )
    order = np.lexsort((tool, rm, month))
    rm, tool, month, active = rm[order], tool[order], month[order], active[order]
    return _build(
        "tool_usage",
        {
            "rm_id": _take(rm_ids, rm),
            "tool": pa.array(TOOLS).take(pa.array(tool)),
            "month": pa.array(w.month_label).take(pa.array(month)),
            "active_days": active.astype(np.int64),
        },
    )


def _team_goals(rng: Rng, org: _Org, w: _Window, team_ids: Any) -> Any:
    ordinary = np.flatnonzero(org.team_parent >= 0)
    members = ~org.manager
    skill_sum = np.bincount(org.team[members], org.skill[members], minlength=len(org.team_name))
    head = np.bincount(org.team[members], minlength=len(org.team_name))
    team_skill = skill_sum / np.maximum(head, 1)
    n_q = len(w.quarter_label)
    team_q = np.repeat(ordinary, n_q)
    quarter = np.tile(np.arange(n_q), ordinary.size)
    k = _between(rng, 2, 3, team_q.size)
    rank = np.argsort(np.argsort(rng.random((team_q.size, len(GOALS))), axis=1), axis=1)
    row, goal = np.nonzero(rank < k[:, None])
    q_team, q_period = team_q[row], quarter[row]
    q_label = pa.array(w.quarter_label).take(pa.array(q_period))
    q_desc = pa.array(GOALS).take(pa.array(goal))
    monthly = np.nonzero(rng.random((ordinary.size, w.months)) < 0.25)
    m_team, m_period = ordinary[monthly[0]], monthly[1]
    m_label = pa.array(w.month_label).take(pa.array(m_period))
    m_desc = pa.array(MONTHLY_GOALS).take(
        pa.array(rng.integers(0, len(MONTHLY_GOALS), m_team.size))
    )
    team = np.concatenate([q_team, m_team])
    met = rng.random(team.size) < _sigmoid(_logit(0.7) + 0.8 * team_skill[team])
    return _build(
        "team_goals",
        {
            "goal_id": _ids("G", team.size, 5),
            "team_id": _take(team_ids, team),
            "period": pa.concat_arrays([q_label, m_label]),
            "description": pa.concat_arrays([q_desc, m_desc]),
            "met": met,
        },
    )


def _measurements(rng: Rng, org: _Org, w: _Window, quarters: _Span, rm_ids: Any) -> Any:
    rm, quarter = np.nonzero(quarters.employed & ~org.manager[:, None])
    s = org.skill[rm]
    n = rm.size
    saving = np.round(np.clip(rng.normal(15.0 + 4.0 * s, 5.0), 5.0, 30.0), 1)
    rating = np.clip(np.rint(3.3 + 0.8 * s + rng.normal(0.0, 0.7, n)), 1, 5)
    kpi = np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]
    rm2, quarter2 = np.r_[rm, rm], np.r_[quarter, quarter]
    value = np.r_[saving, (rating - 1.0) * 25.0]
    keep = rng.random(2 * n) < 0.92  # some never entered
    kpi, rm2, quarter2, value = kpi[keep], rm2[keep], quarter2[keep], value[keep]
    order = np.lexsort((kpi, rm2, quarter2))
    kpi, rm2, quarter2, value = kpi[order], rm2[order], quarter2[order], value[order]
    names = pa.array(["automation_time_savings", "management_decision_impact"])
    notes = pa.array(["time-and-motion study of quote issuance", "branch manager's 1-5 rating"])
    return _build(
        "measurements",
        {
            "rm_id": _take(rm_ids, rm2),
            "kpi_id": names.take(pa.array(kpi)),
            "period": pa.array(w.quarter_label).take(pa.array(quarter2)),
            "value": value,
            "note": notes.take(pa.array(kpi)),
        },
    )


def _org_tables(rng: Rng, org: _Org, w: _Window) -> tuple[Any, Any, Any, Any]:
    n_teams = len(org.team_name)
    team_ids = _ids("T", n_teams, 3)
    rm_ids = _ids("RM", org.n, 4)
    teams = _build(
        "teams",
        {
            "team_id": team_ids,
            "name": org.team_name,
            "leader_rm_id": _take(rm_ids, org.team_leader),
            "parent_team_id": _take(team_ids, org.team_parent),
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
    rms = _build(
        "relationship_managers",
        {
            "rm_id": rm_ids,
            "name": names,
            "email": email,
            "team_id": _take(team_ids, org.team),
            "hire_date": _dates(org.hire),
            "region": region,
            "active": ~org.has_exit,
            "exit_date": _dates(org.exit, ~org.has_exit),
            "role": _enum("relationship_managers", "role", org.manager.astype(np.int64)),
        },
    )
    return teams, rms, team_ids, rm_ids


def _clients_table(rng: Rng, org: _Org, c: _Clients) -> tuple[Any, Any]:
    n = c.owner.size
    client_ids = _ids("C", n, 7)
    company = c.segment >= 2
    names = pc.if_else(pa.array(company), _company_names(rng, n), _person_names(rng, n))
    territories = pa.array([f"{city} {zone}" for city, _ in CITIES for zone in ZONES])
    territory = org.team_city[org.team[c.owner]] * len(ZONES) + rng.integers(0, len(ZONES), n)
    tab = _build(
        "clients",
        {
            "client_id": client_ids,
            "name": names,
            "segment": _enum("clients", "segment", c.segment),
            "territory": territories.take(pa.array(territory)),
            "acquired_date": _dates(c.acquired),
            "source": _enum("clients", "source", c.source),
            "referred_by_client_id": _take(client_ids, c.referred_by),
        },
    )
    return tab, client_ids


def _leads_table(leads: _Leads, rm_ids: Any, client_ids: Any) -> Any:
    n = leads.rm.size
    return _build(
        "leads",
        {
            "lead_id": _ids("L", n, 7),
            "rm_id": _take(rm_ids, leads.rm),
            "client_id": _take(client_ids, leads.client),
            "created_date": _dates(leads.created),
            "source": _enum("leads", "source", leads.source),
            "referred_by_client_id": _take(client_ids, leads.referred_by),
            "product_line": _enum("leads", "product_line", leads.line),
            "cross_sell": leads.cross_sell,
            "status": _enum("leads", "status", leads.status),
            "closed_date": _dates(leads.closed, leads.status == 0),
            "expected_premium": _money(leads.expected),
        },
    )


def _initiative_tables(org: _Org, w: _Window, init: int, rm_ids: Any) -> tuple[Any, Any]:
    initiatives = _build(
        "initiatives",
        {
            "initiative_id": [INITIATIVE_ID],
            "name": [INITIATIVE_NAME],
            "start_date": _dates(np.array([init])),
            "end_date": pa.nulls(1, pa.date32()),
            "description": [
                "Renewal reminders 60, 30 and 7 days before expiry, personalised packages at "
                "renewal and a follow-up call after every claim."
            ],
        },
    )
    who = np.flatnonzero(org.participant)
    participants = _build(
        "initiative_participants",
        {
            "initiative_id": pa.array([INITIATIVE_ID] * who.size, pa.string()),
            "rm_id": _take(rm_ids, who),
        },
    )
    return initiatives, participants


def _chains(
    rng: Rng, w: _Window, clients: _Clients, leads: _Leads, pre: dict[str, Arr]
) -> dict[str, Arr]:
    """Pre-window chains, then one per won lead (a new client's first policy, or a cross-sell)."""
    won = np.flatnonzero(leads.status == 1)
    client = np.concatenate([pre["client"], leads.client[won]])
    line = np.concatenate([pre["line"], leads.line[won]])
    issue = np.concatenate([pre["issue"], leads.closed[won]])
    start_new = np.minimum(leads.closed[won] + _between(rng, 0, 7, won.size), w.asof)
    start = np.concatenate([pre["start"], start_new])
    segment = clients.segment[client]
    median = RETAIL_PREMIUM[pre["line"]] * SEGMENT_PREMIUM[segment[: pre["line"].size]]
    premium = np.concatenate(
        [
            rng.lognormal(np.log(median), PREMIUM_SIGMA),
            leads.expected[won] * rng.uniform(0.85, 1.15, won.size),
        ]
    )
    return {
        "client": client.astype(np.int32),
        "owner": clients.owner[client],
        "line": line.astype(np.int8),
        "issue": issue,
        "start": start,
        "premium": np.round(premium, 0),
    }


def generate_book(
    rms: int = 50,
    months: int = 24,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    calendar: Calendar | None = None,
    retention_uplift: float = RENEWAL_UPLIFT,
) -> dict[str, Any]:
    """One pyarrow Table per contract table: `rms` RMs with a book (plus their managers), the
    `months` months from `start`'s month; the data as-of date is the last day of the last month.

    `retention_uplift` is the initiative's planted effect on participants' renewal probability
    (0: a book with no effect, to test that the impact analysis then finds none); the secondary
    effects (personalised policies, CSAT) scale with it."""
    if rms < 1 or months < 1:
        raise ValueError("rms and months must be at least 1")
    if not -1.0 <= retention_uplift <= 1.0:
        raise ValueError("retention_uplift must lie between -1 and 1")
    effect = retention_uplift / RENEWAL_UPLIFT
    w = _window(start, months, calendar or Calendar(1))
    streams = np.random.default_rng(seed).spawn(12)
    org = _org(streams[0], rms, w)
    init = _initiative_start(w)
    _choose_participants(streams[0], org, init)
    month_span = _span(org, w.month_start, w.month_end)
    quarter_span = _span(org, w.quarter_start, w.quarter_end)

    pre_clients, pre_chains = _pre_window_book(streams[1], org, w)
    leads = _lead_events(streams[2], org, w, month_span)
    clients = _clients(streams[2], org, pre_clients, pre_chains, leads)
    new_client = np.flatnonzero(~leads.cross & (leads.status == 1))
    held_client = np.concatenate([pre_chains["client"], leads.client[new_client]])
    held_line = np.concatenate([pre_chains["line"], leads.line[new_client]])
    held = np.zeros(clients.owner.size, dtype=np.int64)
    np.bitwise_or.at(held, held_client, np.left_shift(1, held_line))
    leads = _finish_leads(streams[3], leads, clients, held)
    chains = _chains(streams[4], w, clients, leads, pre_chains)
    del pre_chains, pre_clients, held, held_client, held_line
    terms = _terms(streams[5], org, w, chains, init, retention_uplift)
    del chains

    # Each table is built as soon as its inputs exist and the inputs dropped after their last use,
    # so that the large intermediate arrays never coexist (the peak-memory budget).
    book: dict[str, Any] = {}
    teams, rm_table, team_ids, rm_ids = _org_tables(streams[6], org, w)
    book["teams"], book["relationship_managers"] = teams, rm_table
    book["clients"], client_ids = _clients_table(streams[6], org, clients)
    book["leads"] = _leads_table(leads, rm_ids, client_ids)
    del leads
    policy_ids = _ids("P", terms.rm.size, 8)
    book["claims"] = _claims_table(streams[9], org, w, terms, policy_ids)
    book["document_checks"] = _document_checks(streams[9], org, w, terms, policy_ids, rm_ids)
    book["policies"] = _policies_table(
        streams[7], org, w, terms, (policy_ids, client_ids, rm_ids), init, effect
    )
    del terms, policy_ids
    book["interactions"], book["surveys"] = _interactions_and_surveys(
        streams[8], org, w, month_span, clients, rm_ids, client_ids, init, effect
    )
    del clients, client_ids
    book["activities"] = _activities(streams[10], org, month_span, quarter_span, rm_ids)
    book["compliance_audits"], book["compliance_incidents"] = _compliance(
        streams[10], org, month_span, quarter_span, rm_ids
    )
    book["tool_usage"] = _tool_usage(streams[11], org, w, month_span, rm_ids)
    book["team_goals"] = _team_goals(streams[11], org, w, team_ids)
    book["measurements"] = _measurements(streams[11], org, w, quarter_span, rm_ids)
    book["initiatives"], book["initiative_participants"] = _initiative_tables(org, w, init, rm_ids)
    tables = {t.name: book[t.name] for t in TABLES}
    _return_scratch_memory()
    return tables


def _return_scratch_memory() -> None:
    """Hand the generator's freed scratch arrays back to the OS before the book is imported.

    glibc keeps freed blocks below its (growing) mmap threshold in the heap; at --rms 2000 that
    is several hundred MB that the import could otherwise not use.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)
