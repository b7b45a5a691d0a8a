"""The company overview (the admin's home), and what every read page shares: the period picker,
the data's freshness, numbers as the reports show them, and a cache of what is costly to read.

Everything here is read from what `kraft compute` stored (the `scores` table through
kraft.reports.scores.overall_rows, the pacing forecasts of kraft.analysis.pacing), never computed
a second way. The team report (kraft.reports.team_report) builds the same parts for the whole
company in ~10 s at 2,000 RMs, far too slow for a page: the overview reads only what it shows and
keeps it per period and data version, so that the next view is a template's render.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from kraft.analysis.pacing import Forecast, Pace, forecasts, is_open
from kraft.cache import Kept, current_version, sole_writer
from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar, Grain, Period
from kraft.reports import charts
from kraft.reports.scores import OverallRow, overall_rows
from kraft.reports.team_report import BOARD_LIMIT, LIST_LIMIT, MOVERS
from kraft.scoring.stored import (
    as_of_date,
    numeric,
    overall_checksum,
    scored_periods,
)
from kraft.web.deps import PageScope, SiteDep
from kraft.web.pages.auth import home_of
from kraft.web.render import chart, render_page
from kraft.web.shown import Shown
from kraft.web.site import Site, data_version

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

T = TypeVar("T")
GRAIN_ORDER = (Grain.quarter, Grain.month, Grain.year)  # the picker's groups, in this order
CACHE_ENTRIES = 128  # a kept board of 2,000 RMs is about a megabyte
CACHE_SECONDS = 3600.0  # a kept result is read again after this, whatever the version says


# -- the cache --------------------------------------------------------------------------------


kept = Kept(CACHE_ENTRIES, CACHE_SECONDS)  # the company's boards, cards and lists
EACH_ENTRIES = 1024  # a team's charts, an explain view: small, and many
kept_each = Kept(EACH_ENTRIES, CACHE_SECONDS)  # apart, so that many teams or RMs evict no board


def period_version(conn: Connection, base: tuple[Any, ...], label: str) -> tuple[Any, ...]:
    """The data version with a checksum of the period's overall scores, unless this process is
    the database's one writer (then the version counts every write): a re-score by another
    process commits after the change's own audit entry."""
    return (*base, label, *(() if sole_writer() else overall_checksum(conn, label)))


# -- periods ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodChoice:
    """The period shown, those the picker offers (newest first within each grain), and the
    versions of the data read for it (the keys of whatever is kept)."""

    period: Period
    groups: list[tuple[str, list[str]]]  # ("Quarters", ["2025-Q4", ...]), ...
    base: tuple[Any, ...]  # data_version
    version: tuple[Any, ...]  # period_version: the base and the period's scores


def choose_period(
    conn: Connection,
    calendar: Calendar,
    framework: Framework,
    label: str | None,
    rm_id: str | None = None,
) -> PeriodChoice:
    """The period asked for, if it has scores; by default the latest closed quarter with scores
    (else the latest scored quarter, month or year). Refuses in one sentence otherwise."""
    base = current_version() or data_version(conn, framework)
    labels, parsed, as_of = _periods(conn, calendar, rm_id)
    groups = []
    for grain in GRAIN_ORDER:
        mine = sorted((p for p in parsed if p.grain is grain), key=lambda p: p.start, reverse=True)
        if mine:
            groups.append((f"{grain.value.capitalize()}s", [p.label for p in mine]))
    whose = f" for {rm_id}" if rm_id else ""
    chosen: Period | None = None
    if label:
        try:
            chosen = calendar.parse(label)
        except ValueError as exc:
            raise KraftError(f"The period {exc}.") from None
        if chosen.label not in labels:
            raise KraftError(
                f"There are no scores{whose} for {chosen.label}; choose a scored period."
            )
    elif not parsed:
        raise KraftError(f"There are no scores{whose} yet; an admin runs the compute first.")
    else:
        quarters = [p for p in parsed if p.grain is Grain.quarter]
        closed = [p for p in quarters if as_of is not None and as_of >= p.end]
        by_grain = [[p for p in parsed if p.grain is g] for g in GRAIN_ORDER]
        candidates = next(c for c in (closed, quarters, *by_grain) if c)
        chosen = max(candidates, key=lambda p: p.start)
    return PeriodChoice(chosen, groups, base, period_version(conn, base, chosen.label))


def _periods(
    conn: Connection, calendar: Calendar, rm_id: str | None
) -> tuple[set[str], list[Period], date | None]:
    labels = set(scored_periods(conn, rm_id))
    parsed = []
    for text in labels:
        try:
            parsed.append(calendar.parse(text))
        except ValueError:
            continue  # a label of another calendar: not offered
    return labels, parsed, as_of_date(conn)


# -- freshness ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    as_of: date | None
    imported_at: datetime | None
    imported_by: str | None
    computed_at: datetime | None
    compute_run: int | None
    compute_as_of: date | None

    @property
    def compute_behind(self) -> bool:
        """An import newer than the latest compute: the scores do not show it yet."""
        return (
            self.imported_at is not None
            and self.computed_at is not None
            and self.imported_at > self.computed_at
        )


def freshness(conn: Connection) -> Freshness:
    imported = conn.execute(
        sa.text("SELECT finished_at, actor, as_of FROM import_runs ORDER BY import_id DESC LIMIT 1")
    ).first()
    computed = conn.execute(
        sa.text("SELECT run_id, finished_at, as_of FROM compute_runs ORDER BY run_id DESC LIMIT 1")
    ).first()
    return Freshness(
        as_of=as_of_date(conn),
        imported_at=imported.finished_at if imported else None,
        imported_by=imported.actor if imported else None,
        computed_at=computed.finished_at if computed else None,
        compute_run=computed.run_id if computed else None,
        compute_as_of=computed.as_of if computed else None,
    )


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


# -- the company overview -----------------------------------------------------------------------


@dataclass(frozen=True)
class TeamLine:
    team_id: str
    name: str
    rms: int
    mean: Decimal | None


@dataclass(frozen=True)
class MoverLine:
    row: OverallRow
    before: Decimal
    after: Decimal

    @property
    def change(self) -> Decimal:
        return self.after - self.before


@dataclass(frozen=True)
class Overview:
    period: Period
    previous: Period
    scored: int
    mean: Decimal | None
    provisional: bool
    ratings: list[tuple[int | None, str, int]]  # rating, label, RMs
    heat: list[OverallRow]  # the top and bottom BOARD_LIMIT / 2 by stored overall
    heat_gap: int  # RMs between them, not shown
    teams: list[TeamLine]
    up: list[MoverLine]
    down: list[MoverLine]
    charts: dict[str, Any]


@dataclass(frozen=True)
class AtRisk:
    period: Period | None  # the open quarter on the as-of date, if any
    as_of: date | None
    shown: list[Forecast]
    total: int
    names: dict[str, str | None]


def build_overview(
    conn: Connection, framework: Framework, calendar: Calendar, period: Period
) -> Overview:
    previous = calendar.previous(period)
    rows = overall_rows(conn, [previous.label, period.label])
    now = [r for r in rows if r.period == period.label]
    before = {r.rm_id: r for r in rows if r.period == previous.label}
    counts: dict[int | None, int] = {}
    for r in now:
        counts[r.rating] = counts.get(r.rating, 0) + 1
    ratings: list[tuple[int | None, str, int]] = [
        (band.rating, band.label, counts.get(band.rating, 0)) for band in framework.rating_bands
    ]
    if counts.get(None):
        ratings.append((None, "Not rated", counts[None]))
    scored = [n for r in now if (n := numeric(r.overall)) is not None]
    ranked = sorted(now, key=lambda r: (-(numeric(r.overall) or Decimal(-1)), r.rm_id))
    half = BOARD_LIMIT // 2
    heat = ranked if len(ranked) <= BOARD_LIMIT else [*ranked[:half], *ranked[-half:]]
    moved = [
        MoverLine(r, b, a)
        for r in now
        if (a := numeric(r.overall)) is not None
        and r.rm_id in before
        and (b := numeric(before[r.rm_id].overall)) is not None
    ]
    up = sorted((m for m in moved if m.change > 0), key=lambda m: (-m.change, m.row.rm_id))
    down = sorted((m for m in moved if m.change < 0), key=lambda m: (m.change, m.row.rm_id))
    specs: dict[str, Any] = {
        "ratings": charts.rating_distribution(
            {rating: n for rating, _, n in ratings if rating is not None}, framework.rating_bands
        )
    }
    cells = [
        charts.HeatCell(r.rm_id, kra.id, numeric(r.kras.get(kra.id)))
        for r in heat
        for kra in framework.kras
    ]
    if cells:
        specs["heatmap"] = charts.kra_heatmap(cells, framework.kras)
    shown_moves = [*up[:MOVERS], *reversed(down[:MOVERS])]
    if shown_moves:
        specs["movers"] = charts.movers(
            [charts.Mover(m.row.rm_id, m.change, m.before, m.after) for m in shown_moves]
        )
    return Overview(
        period=period,
        previous=previous,
        scored=len(now),
        mean=sum(scored, Decimal(0)) / len(scored) if scored else None,
        provisional=any(r.provisional for r in now),
        ratings=ratings,
        heat=heat,
        heat_gap=len(ranked) - len(heat),
        teams=_teams(conn, now),
        up=up[:MOVERS],
        down=down[:MOVERS],
        charts=specs,
    )


def _teams(conn: Connection, now: Sequence[OverallRow]) -> list[TeamLine]:
    """Each team's scored RMs (of the team and the teams below it) and their mean stored
    overall score, parents before their children."""
    rows = conn.execute(sa.text("SELECT team_id, name, parent_team_id FROM teams")).all()
    names = {r.team_id: r.name for r in rows}
    children: dict[str | None, list[str]] = {}
    for r in rows:
        parent = r.parent_team_id if r.parent_team_id in names else None
        children.setdefault(parent, []).append(r.team_id)
    own: dict[str, list[OverallRow]] = {}
    for card in now:
        if card.team_id is not None and card.team_id in names:
            own.setdefault(card.team_id, []).append(card)
    lines: list[TeamLine] = []

    def walk(team: str) -> list[OverallRow]:
        index = len(lines)
        lines.append(TeamLine(team, names[team], 0, None))  # a parent first: filled in below
        cards = list(own.get(team, []))
        for child in sorted(children.get(team, [])):
            cards += walk(child)
        scores = [n for c in cards if (n := numeric(c.overall)) is not None]
        mean = sum(scores, Decimal(0)) / len(scores) if scores else None
        lines[index] = TeamLine(team, names[team], len(cards), mean)
        return cards

    for top in sorted(children.get(None, [])):
        walk(top)
    return lines


def at_risk(
    conn: Connection, framework: Framework, calendar: Calendar, rm_ids: Collection[str] | None
) -> AtRisk:
    """The KPIs at risk by pacing in the quarter open on the as-of date (kraft.analysis.pacing)."""
    as_of = as_of_date(conn)
    if as_of is None:
        return AtRisk(None, None, [], 0, {})
    quarter = calendar.quarter(as_of)
    if not is_open(quarter, as_of):
        return AtRisk(None, as_of, [], 0, {})
    found = [
        f
        for f in forecasts(conn, framework, calendar, quarter, as_of, rm_ids, load_catalogue())
        if f.status is Pace.at_risk
    ]
    order = {kpi.id: i for i, (_, kpi) in enumerate(framework.kpis())}
    found.sort(key=lambda f: (f.rm_id, order.get(f.kpi_id, 0)))
    names = {
        r[0]: r[1]
        for r in conn.execute(sa.text("SELECT rm_id, name FROM relationship_managers"))
        if r[0] in {f.rm_id for f in found[:LIST_LIMIT]}
    }
    return AtRisk(quarter, as_of, found[:LIST_LIMIT], len(found), names)


def at_risk_if_ready(site: Site, choice: PeriodChoice, as_of: date | None) -> AtRisk | None:
    """The company's at-risk list, or None while it is made in the background: pacing every
    KPI of 2,000 RMs takes seconds (a closed quarter has nothing to pace: no wait)."""
    framework, calendar = site.framework, site.calendar

    def make() -> AtRisk:
        with site.read() as conn:
            return at_risk(conn, framework, calendar, None)

    key = ("at-risk", choice.base)  # the open quarter's, whatever period is shown
    if as_of is None or not is_open(calendar.quarter(as_of), as_of):
        return kept.get(key, make)
    found = kept.peek(key)
    if found is None:
        kept.start(key, make)
        return None
    risky: AtRisk = found[0]
    return risky


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, site: SiteDep, scope: PageScope, period: str = "") -> Response:
    """The admin's home: the company's ratings, KRA heatmap, movers, at-risk KPIs and the data's
    freshness; everyone else goes to their own home."""
    if not scope.can_see_company:
        return RedirectResponse(home_of(scope.user), status_code=303)
    framework, calendar = site.framework, site.calendar
    with site.read() as conn:
        fresh = freshness(conn)
        try:
            choice = choose_period(conn, calendar, framework, period or None)
        except KraftError as exc:
            if period:
                raise
            return render_page(
                request,
                "overview.html.j2",
                {"empty": exc.message, "fresh": fresh, "shown": Shown(framework.currency)},
            )
        label = choice.period.label
        summary = kept.get(
            ("overview", choice.version),
            lambda: build_overview(conn, framework, calendar, choice.period),
        )
    risky = at_risk_if_ready(site, choice, fresh.as_of)
    from kraft.web.pages.team import board_if_ready  # (team imports this module)

    board_if_ready(site, choice)  # the leaderboard the team pages and scorecards rank by
    context = {
        "empty": None,
        "fresh": fresh,
        "choice": choice,
        "summary": summary,
        "risky": risky,
        "framework": framework,
        "shown": Shown(framework.currency),
        "charts": {
            "ratings": chart(summary.charts["ratings"], f"Rating distribution, {label}"),
            **(
                {"heatmap": chart(summary.charts["heatmap"], f"KRA scores by RM, {label}")}
                if "heatmap" in summary.charts
                else {}
            ),
            **(
                {
                    "movers": chart(
                        summary.charts["movers"], f"Biggest movers since {summary.previous.label}"
                    )
                }
                if "movers" in summary.charts
                else {}
            ),
        },
    }
    return render_page(request, "overview.html.j2", context)
