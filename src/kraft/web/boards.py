"""The company's leaderboards and stored scorecards of a period, as the team pages, the scorecards
and the overview share them.

The leaderboards shrink every proportion KPI toward the company's and re-score the company with
the shrunk rates, which takes seconds at 2,000 RMs: the company's board is kept per period and data
version (Site.kept), and a team's is its RMs taken from it and ranked among themselves (as the
leaderboard module ranks a team), so that every team page after the first is fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from kraft.framework.model import KPI, Framework
from kraft.metrics.spec import load_catalogue
from kraft.reports.scores import OverallRow, overall_rows
from kraft.scoring.credibility import credibility_kpis
from kraft.scoring.leaderboard import (
    KpiStanding,
    OverallStanding,
    Roster,
    kpi_leaderboard,
    load_roster,
    overall_leaderboard,
    rank_kpi,
    rank_overall,
)
from kraft.web.period_choice import PeriodChoice
from kraft.web.site import Site


@dataclass(frozen=True)
class Board:
    """The company's leaderboard of a period, kept: the roster it was ranked from too."""

    roster: Roster
    overall: list[OverallStanding]


def _board(site: Site, conn: Connection, choice: PeriodChoice) -> Board:
    """The company's board, ranked now (seconds at 2,000 RMs)."""
    roster = load_roster(conn)
    board = overall_leaderboard(conn, site.framework, site.calendar, choice.period, None, roster)
    return Board(roster, board)


def company_board(site: Site, conn: Connection, choice: PeriodChoice) -> Board:
    """The company's overall leaderboard of the period, kept per data version (made here if
    it is not: seconds at 2,000 RMs, once)."""
    return site.kept.get(("board", choice.version), lambda: _board(site, conn, choice))


def board_if_ready(site: Site, choice: PeriodChoice) -> Board | None:
    """The kept board, or None while it is made in the background (a scorecard does not wait
    seconds for the one number it shows from it, the RM's rank)."""
    key = ("board", choice.version)
    found = site.kept.peek(key)
    if found is not None:
        board: Board = found[0]
        return board

    def make() -> Board:
        with site.read() as conn:
            return _board(site, conn, choice)

    site.kept.start(key, make)
    return None


def company_kpi_board(
    site: Site, conn: Connection, board: Board, kpi: KPI, choice: PeriodChoice
) -> list[KpiStanding]:
    """The company's leaderboard of one KPI in the period, kept per data version."""
    framework = site.framework
    return site.kept.get(
        ("kpi-board", kpi.id, choice.version),
        lambda: kpi_leaderboard(conn, framework, kpi, choice.period, None, board.roster),
    )


def stored_cards(site: Site, conn: Connection, choice: PeriodChoice) -> dict[str, OverallRow]:
    """The period's stored scorecards (overall and KRA scores) by RM, kept."""
    return site.kept.get(
        ("cards", choice.version),
        lambda: {r.rm_id: r for r in overall_rows(conn, [choice.period.label])},
    )


def team_overall(board: Board, team_id: str) -> list[OverallStanding]:
    """The team's (and the teams below it) RMs, ranked among themselves."""
    members = board.roster.members(team_id) or set()
    return rank_overall([s for s in board.overall if s.rm_id in members])


def team_kpi(
    framework: Framework, standings: list[KpiStanding], kpi: KPI, members: set[str]
) -> list[KpiStanding]:
    proportion = kpi.id in credibility_kpis(framework, load_catalogue())
    return rank_kpi(kpi, [s for s in standings if s.rm_id in members], proportion=proportion)
