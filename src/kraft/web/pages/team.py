"""A manager's teams and a team's page: the leaderboard with ratings and intervals
(kraft.scoring.leaderboard), the team's rating distribution and KRA heatmap, and its exports.

A team's leaderboard is its RMs taken from the company's, which is kept (kraft.web.boards), and
ranked among themselves, so that every team page after the first is fast.

Exports are of what is on screen: the leaderboard shown as CSV (formula-like cells neutralised),
the team's workbook (kraft.reports.workbook) and its management report as PDF, for the period
picked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection

from kraft.core.access import Scope
from kraft.core.alerts import AtRisk, at_risk
from kraft.core.context import data_version
from kraft.core.home import manager_home
from kraft.framework.model import KPI, Framework
from kraft.periods import Period
from kraft.reports import charts
from kraft.reports.exports import csv_text
from kraft.reports.scores import (
    BOARD_TEXT_COLUMNS,
    KPI_BOARD_COLUMNS,
    OVERALL_BOARD_COLUMNS,
    OverallRow,
    kpi_board_records,
    overall_board_records,
)
from kraft.scoring.leaderboard import (
    KpiStanding,
    OverallStanding,
    scorecard_kpis,
)
from kraft.scoring.stored import numeric
from kraft.store.roster import members, team_name, teams_below
from kraft.web.boards import company_board, company_kpi_board, stored_cards, team_kpi, team_overall
from kraft.web.deps import PageScope, SiteDep
from kraft.web.downloads import download, safe_name
from kraft.web.period_choice import PeriodChoice, choose_period
from kraft.web.render import chart, render_page
from kraft.web.shown import Shown
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)

NO_TEAM = "There is no such team, or it is not yours to see."
HEAT_LIMIT = 50  # RMs the team's heatmap draws (the table lists them all)


# -- the teams ----------------------------------------------------------------------------------


REVIEWS_SHOWN = 25  # reviews due the home lists, those furthest behind first; the rest counted


def manager_at_risk(site: Site, conn: Connection, scope: Scope) -> AtRisk | None:
    """The at-risk RMs and KPI alerts of the manager's RMs (None for an admin: the company's
    are on the overview), kept per data version."""
    if scope.rm_ids is None:
        return None
    rm_ids = scope.rm_ids
    key = ("manager-at-risk", rm_ids, data_version(conn, site.framework))
    found: AtRisk = site.kept_each.get(key, lambda: at_risk(site, conn, rm_ids))
    return found


@router.get("/teams", response_class=HTMLResponse)
def teams(request: Request, site: SiteDep, scope: PageScope) -> Response:
    """A manager's home (an admin's: every team): their teams with the scored RMs of each
    subtree, the teams' KPIs and mean overall scores of the last closed and the open quarter,
    the at-risk RMs, and the reviews of the last closed quarter. An RM has none."""
    if not scope.sees_others:
        raise HTTPException(404, NO_TEAM)
    with site.read() as conn:
        home = manager_home(site, conn, scope)
        risky = manager_at_risk(site, conn, scope)
    context = {
        "home": home,
        "scope": scope,
        "risky": risky,
        "framework": site.framework,
        "shown": Shown(site.framework.currency),
        "reviews_shown": REVIEWS_SHOWN,
        "rms_only": True,  # the KPI alerts are on each team's page
    }
    return render_page(request, "teams.html.j2", context)


# -- a team -------------------------------------------------------------------------------------


@dataclass
class TeamView:
    team_id: str
    name: str
    choice: PeriodChoice
    kpi: KPI | None
    overall: list[OverallStanding]
    kpi_board: list[KpiStanding]
    kpi_options: list[tuple[str, str]]
    ratings: list[tuple[int | None, str, int]]
    heat: list[OverallRow]  # the RMs' stored scorecards, in leaderboard order


def _team(conn: Connection, scope: Scope, team_id: str) -> str:
    """The team's name; 404 for a team out of scope, exactly as for one that does not exist."""
    if not scope.sees_others or not scope.can_see_team(team_id):
        raise HTTPException(404, NO_TEAM)
    name = team_name(conn, team_id)
    if name is None:
        raise HTTPException(404, NO_TEAM)
    return str(name)


def _kpi(framework: Framework, period: Period, kpi_id: str) -> KPI | None:
    if not kpi_id:
        return None
    if kpi_id not in scorecard_kpis(framework, period):
        raise HTTPException(
            404, f"There is no KPI {kpi_id!r} on the {period.grain} scorecard of {period.label}."
        )
    return framework.kpi(kpi_id)


def team_view(
    site: Site, conn: Connection, scope: Scope, team_id: str, period: str, kpi_id: str
) -> TeamView:
    name = _team(conn, scope, team_id)
    framework = site.framework
    choice = choose_period(conn, site.calendar, framework, period or None)
    chosen = choice.period
    kpi = _kpi(framework, chosen, kpi_id)
    board = company_board(site, conn, choice)
    standings = team_overall(board, team_id)
    members = {s.rm_id for s in standings}
    kpi_board = (
        team_kpi(framework, company_kpi_board(site, conn, board, kpi, choice), kpi, members)
        if kpi is not None
        else []
    )
    counts: dict[int | None, int] = {}
    for s in standings:
        counts[s.rating] = counts.get(s.rating, 0) + 1
    ratings: list[tuple[int | None, str, int]] = [
        (b.rating, b.label, counts.get(b.rating, 0)) for b in framework.rating_bands
    ]
    if counts.get(None):
        ratings.append((None, "Not rated", counts[None]))
    cards = stored_cards(site, conn, choice)
    rows = [cards[s.rm_id] for s in standings if s.rm_id in cards]
    options = [(k, framework.kpi(k).name) for k in scorecard_kpis(framework, chosen)]
    return TeamView(team_id, name, choice, kpi, standings, kpi_board, options, ratings, rows)


def team_charts(framework: Framework, view: TeamView) -> dict[str, Any]:
    """The team's rating distribution and KRA heatmap specs (kraft.reports.charts, as the team
    report draws them): building them takes longer than the rest of the page, so they are kept."""
    counts = {rating: n for rating, _, n in view.ratings if rating is not None}
    specs: dict[str, Any] = {"ratings": charts.rating_distribution(counts, framework.rating_bands)}
    cells = [
        charts.HeatCell(r.rm_id, kra.id, numeric(r.kras.get(kra.id)))
        for r in view.heat[:HEAT_LIMIT]
        for kra in framework.kras
    ]
    if cells:
        specs["heatmap"] = charts.kra_heatmap(cells, framework.kras)
    return specs


def team_at_risk(site: Site, conn: Connection, team_id: str, choice: PeriodChoice) -> AtRisk:
    """The team's RMs at risk and KPI alerts in the open quarter (the teams below it too), by
    the same ranking as the overview, `kraft alerts` and the digests; kept per data version."""

    def make() -> AtRisk:
        team_rms = members(conn, teams_below(conn, [team_id]))
        return at_risk(site, conn, team_rms)

    found: AtRisk = site.kept_each.get(("team-at-risk", team_id, choice.base), make)
    return found


@router.get("/teams/{team_id}", response_class=HTMLResponse)
def team_page(
    request: Request, site: SiteDep, scope: PageScope, team_id: str, period: str = "", kpi: str = ""
) -> Response:
    framework = site.framework
    with site.read() as conn:
        view = team_view(site, conn, scope, team_id, period, kpi)
        risky = team_at_risk(site, conn, team_id, view.choice)
    label = view.choice.period.label
    specs = site.kept_each.get(
        ("team-charts", team_id, view.choice.version), lambda: team_charts(framework, view)
    )
    drawn = {
        "ratings": chart(specs["ratings"], f"Rating distribution of {view.name}, {label}"),
        "heatmap": chart(specs["heatmap"], f"KRA scores of {view.name}, {label}")
        if "heatmap" in specs
        else None,
    }
    query = f"period={label}" + (f"&kpi={view.kpi.id}" if view.kpi else "")
    return render_page(
        request,
        "team.html.j2",
        {
            "view": view,
            "choice": view.choice,
            "kpi_options": view.kpi_options,
            "kpi_selected": view.kpi.id if view.kpi else "",
            "framework": framework,
            "shown": Shown(framework.currency),
            "charts": drawn,
            "heat_limit": HEAT_LIMIT,
            "query": query,
            "risky": risky,
        },
    )


# -- exports ------------------------------------------------------------------------------------


@router.get("/teams/{team_id}/leaderboard.csv")
def leaderboard_csv(
    site: SiteDep, scope: PageScope, team_id: str, period: str = "", kpi: str = ""
) -> Response:
    """The leaderboard on screen (overall, or the KPI's), every RM of it, as CSV."""
    with site.read() as conn:
        view = team_view(site, conn, scope, team_id, period, kpi)
    if view.kpi is None:
        text = csv_text(
            overall_board_records(view.overall), OVERALL_BOARD_COLUMNS, BOARD_TEXT_COLUMNS
        )
        what = "leaderboard"
    else:
        text = csv_text(kpi_board_records(view.kpi_board), KPI_BOARD_COLUMNS, BOARD_TEXT_COLUMNS)
        what = f"leaderboard-{view.kpi.id}"
    name = f"{safe_name(team_id)}-{what}-{view.choice.period.label}.csv"
    return download(text, "text/csv; charset=utf-8", name)


def _report(site: Site, scope: Scope, team_id: str, period: str, charts_too: bool) -> Any:
    from kraft.reports.team_report import build_team_report

    with site.read() as conn:
        _team(conn, scope, team_id)
        chosen = choose_period(conn, site.calendar, site.framework, period or None).period
    return build_team_report(
        site.db,
        site.framework,
        site.calendar,
        chosen,
        team_id,
        site.compute_parameters,
        charts=charts_too,
    )


@router.get("/teams/{team_id}/report.xlsx")
def team_xlsx(site: SiteDep, scope: PageScope, team_id: str, period: str = "") -> Response:
    """The team's workbook for the period: leaderboard, scores, KPI scores, values, targets."""
    from kraft.reports.workbook import team_workbook

    report = _report(site, scope, team_id, period, charts_too=False)
    with site.read() as conn:
        data = team_workbook(conn, report)
    return download(
        data,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"{safe_name(team_id)}-{report.period.label}.xlsx",
    )


@router.get("/teams/{team_id}/report.pdf")
def team_pdf(site: SiteDep, scope: PageScope, team_id: str, period: str = "") -> Response:
    """The team's management report for the period, as PDF."""
    from kraft.reports.pdf import html_to_pdf
    from kraft.reports.team_report import ReportFormat, render_team_report

    report = _report(site, scope, team_id, period, charts_too=True)
    pdf = html_to_pdf(render_team_report(report, ReportFormat.html))
    return download(pdf, "application/pdf", f"{safe_name(team_id)}-{report.period.label}.pdf")
