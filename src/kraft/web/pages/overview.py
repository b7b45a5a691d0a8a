"""The company overview (the admin's home): the ratings, KRA heatmap, movers, team means and
at-risk KPIs of a period, and the data's freshness.

Everything here is read from what `kraft compute` stored (the `scores` table through
kraft.reports.scores.overall_rows, the pacing forecasts of kraft.analysis.pacing), never computed
a second way. The team report (kraft.reports.team_report) builds the same parts for the whole
company in ~10 s at 2,000 RMs, far too slow for a page: the overview reads only what it shows and
keeps it per period and data version (Site.kept), so that the next view is a template's render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from kraft.analysis.movers import Mover, biggest_movers
from kraft.analysis.pacing import is_open
from kraft.core.alerts import AtRisk, at_risk
from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.periods import Calendar, Period
from kraft.reports import charts
from kraft.reports.scores import OverallRow, overall_rows
from kraft.reports.team_report import BOARD_LIMIT, MOVERS
from kraft.scoring.stored import numeric
from kraft.store.roster import team_tree
from kraft.web.boards import board_if_ready
from kraft.web.deps import PageScope, SiteDep
from kraft.web.freshness import freshness
from kraft.web.period_choice import PeriodChoice, choose_period
from kraft.web.render import chart, home_of, render_page
from kraft.web.shown import Shown
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class TeamLine:
    team_id: str
    name: str
    rms: int
    mean: Decimal | None


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
    up: list[Mover]
    down: list[Mover]
    charts: dict[str, Any]


def build_overview(
    conn: Connection, framework: Framework, calendar: Calendar, period: Period
) -> Overview:
    previous = calendar.previous(period)
    rows = overall_rows(conn, [previous.label, period.label])
    now = [r for r in rows if r.period == period.label]
    before = [r for r in rows if r.period == previous.label]
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
    movers = biggest_movers(before, now, MOVERS)
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
    shown_moves = [*movers.up, *reversed(movers.down)]
    if shown_moves:
        specs["movers"] = charts.movers(
            [charts.Mover(m.rm_id, m.change, m.before, m.after) for m in shown_moves]
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
        up=movers.up,
        down=movers.down,
        charts=specs,
    )


def _teams(conn: Connection, now: Sequence[OverallRow]) -> list[TeamLine]:
    """Each team's scored RMs (of the team and the teams below it) and their mean stored
    overall score, parents before their children."""
    tree = team_tree(conn)
    names = {t.team_id: t.name for t in tree.teams.values()}
    children = tree.children()
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


def at_risk_if_ready(site: Site, choice: PeriodChoice, as_of: date | None) -> AtRisk | None:
    """The company's at-risk list, or None while it is made in the background: pacing every
    KPI of 2,000 RMs takes seconds (a closed quarter has nothing to pace: no wait)."""
    calendar = site.calendar

    def make() -> AtRisk:
        with site.read() as conn:
            return at_risk(site, conn, None)

    key = ("at-risk", choice.base)  # the open quarter's, whatever period is shown
    if as_of is None or not is_open(calendar.quarter(as_of), as_of):
        return site.kept.get(key, make)
    found = site.kept.peek(key)
    if found is None:
        site.kept.start(key, make)
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
        summary = site.kept.get(
            ("overview", choice.version),
            lambda: build_overview(conn, framework, calendar, choice.period),
        )
    risky = at_risk_if_ready(site, choice, fresh.as_of)
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
