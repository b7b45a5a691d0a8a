"""`kraft scores`: leaderboards that allow for small books.

The overall leaderboard ranks by the credibility-adjusted overall (the same scoring on each
proportion KPI's rate shrunk toward the team's), with the stored overall beside it; a KPI's
leaderboard ranks by the shrunk rate with the raw value, its volume and 95 % interval beside it.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import Connection

from kraft.commands.common import (
    calendar_of,
    check_format,
    format_option,
    open_database,
    out,
    parse_period,
    say,
    workspace_framework,
    workspace_of,
)
from kraft.commands.tables import Column, WideOption, table_of
from kraft.errors import KraftError
from kraft.formatting import DASH, fixed, fixed_percent, number, percent_range
from kraft.framework.model import KPI, Framework
from kraft.periods import Calendar, Grain, Period
from kraft.reports.exports import write_records
from kraft.reports.scores import (
    BOARD_TEXT_COLUMNS,
    KPI_BOARD_COLUMNS,
    OVERALL_BOARD_COLUMNS,
    kpi_board_records,
    latest_period,
    overall_board_records,
)
from kraft.reports.values import shown_value
from kraft.scoring.leaderboard import (
    KpiStanding,
    OverallStanding,
    has_scores,
    has_values,
    kpi_leaderboard,
    load_roster,
    overall_leaderboard,
)

# On a narrow terminal the team goes first, then coverage, the adjusted score, the name.
OVERALL_COLUMNS = (
    Column("#", numeric=True),
    Column("RM", whole=True),
    Column("name", spare=1),
    Column("team", whole=True, spare=4),
    Column("overall", numeric=True),
    Column("adjusted", numeric=True, spare=2),
    "rating",
    Column("coverage", numeric=True, spare=3),
    "flags",
)
KPI_COLUMNS = (
    Column("#", numeric=True),
    Column("RM", whole=True),
    Column("name", spare=1),
    Column("value", numeric=True),
    Column("n", numeric=True, spare=2),
    Column("95 % interval", numeric=True, spare=3),
    Column("shrunk", numeric=True),
    "status",
)
TABLE_LIMIT = 50  # rows a table shows unless --limit says otherwise
BOARD_FORMATS = ("table", "csv", "json")
CHOOSE = "; choose one of those"


def register(app: typer.Typer) -> None:
    app.command("scores")(scores)


def scores(
    ctx: typer.Context,
    period: Annotated[
        str | None, typer.Option(help="Period label (default: the latest quarter with scores).")
    ] = None,
    team: Annotated[
        str | None, typer.Option(help="Only this team and the teams below it (a team_id).")
    ] = None,
    kpi: Annotated[
        str | None, typer.Option(help="A KPI's leaderboard instead of the overall one (its id).")
    ] = None,
    fmt: Annotated[str, format_option(*BOARD_FORMATS)] = "table",
    limit: Annotated[
        int | None,
        typer.Option(
            help=f"Rows to show, 0 for all (default: {TABLE_LIMIT} in a table, all else)."
        ),
    ] = None,
    wide: WideOption = False,
) -> None:
    """Leaderboards: the overall one (ranked by the credibility-adjusted overall score), or a
    KPI's (ranked by the rate shrunk toward the team's), with 95 % intervals beside raw values."""
    workspace = workspace_of(ctx)
    check_format(fmt, BOARD_FORMATS, CHOOSE)
    if limit is not None and limit < 0:
        raise KraftError(f"--limit {limit} is negative; give 0 for every row, or a row count.")
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    chosen = _kpi(framework, kpi) if kpi is not None else None
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        when = _period(conn, calendar, period, chosen)
        roster = load_roster(conn)
        if team is not None and team not in roster.teams:
            raise KraftError(
                f"--team {team!r} is not a team of this workspace; give a team_id of the "
                "teams table."
            )
        if chosen is None:
            board = overall_leaderboard(conn, framework, calendar, when, team, roster)
        else:
            rows = kpi_leaderboard(conn, framework, chosen, when, team, roster)
    shown = limit if limit is not None else (TABLE_LIMIT if fmt == "table" else 0)
    if chosen is None:
        _print_overall(board, when, team, fmt, shown, wide)
    else:
        _print_kpi(rows, chosen, framework, when, team, fmt, shown, wide)


def _kpi(framework: Framework, kpi_id: str) -> KPI:
    try:
        return framework.kpi(kpi_id)
    except KeyError:
        raise KraftError(
            f"--kpi {kpi_id!r} is not a KPI of framework {framework.id}; see `kraft framework "
            "show` for the KPI ids."
        ) from None


def _period(conn: Connection, calendar: Calendar, label: str | None, kpi: KPI | None) -> Period:
    """The period asked for, checked to have scores (or the KPI's values); else the latest
    scored quarter (then month, then year)."""
    if label is not None:
        period = parse_period(calendar, label, "--period")
        if kpi is not None:
            if not has_values(conn, kpi, period.label):
                raise KraftError(
                    f"--period {period.label} has no values of {kpi.id}; run `kraft compute` "
                    "or choose a computed period."
                )
        elif not has_scores(conn, period.label):
            raise KraftError(
                f"--period {period.label} has no scores; run `kraft compute` or choose a "
                "scored period (default: the latest scored quarter)."
            )
        return period
    for grain in (Grain.quarter, Grain.month, Grain.year):
        latest = latest_period(conn, grain.value)
        if latest is not None:
            return calendar.parse(latest)
    raise KraftError("There are no scores yet; run `kraft compute` first.")


def _title(what: str, period: Period, team: str | None) -> str:
    return f"{what}, {period.label}" + (f", team {team} and below" if team else "")


def _rows_shown(count: int, limit: int) -> int:
    return count if limit == 0 else min(count, limit)


def _print_overall(
    board: list[OverallStanding],
    period: Period,
    team: str | None,
    fmt: str,
    limit: int,
    wide: bool,
) -> None:
    shown = board[: _rows_shown(len(board), limit)]
    if fmt != "table":
        write_records(
            overall_board_records(shown), OVERALL_BOARD_COLUMNS, fmt, None, BOARD_TEXT_COLUMNS,
            "scores",
        )  # fmt: skip
        return
    table = table_of(OVERALL_COLUMNS, _title("Overall leaderboard", period, team), wide=wide)
    for s in shown:
        table.add_row(
            _rank(s.rank),
            s.rm_id,
            s.name or "",
            s.team_id or "",
            fixed(s.overall, 2),
            fixed(s.adjusted, 2),
            f"{s.rating} {s.rating_label}" if s.rating is not None else "—",
            fixed_percent(s.coverage),
            ", ".join(s.flags),
        )
    out.print(table)
    _more(len(board), len(shown))
    say(
        "Ranked by the adjusted overall: the same scoring with each proportion KPI's rate shrunk "
        "toward the team's (small books move most); the rating is the overall score's."
    )


def _print_kpi(
    rows: list[KpiStanding],
    kpi: KPI,
    framework: Framework,
    period: Period,
    team: str | None,
    fmt: str,
    limit: int,
    wide: bool,
) -> None:
    shown = rows[: _rows_shown(len(rows), limit)]
    if fmt != "table":
        write_records(
            kpi_board_records(shown), KPI_BOARD_COLUMNS, fmt, None, BOARD_TEXT_COLUMNS, "scores"
        )
        return
    table = table_of(KPI_COLUMNS, _title(f"{kpi.name} ({kpi.id})", period, team), wide=wide)
    for s in shown:
        status = s.status or ("insufficient volume" if s.insufficient_volume else "—")
        table.add_row(
            _rank(s.rank),
            s.rm_id,
            s.name or "",
            shown_value(s.value, kpi.unit, framework.currency),
            _count(s.denominator),
            percent_range(*s.interval) if s.interval else DASH,
            fixed_percent(s.shrunk),
            status,
        )
    out.print(table)
    _more(len(rows), len(shown))
    if any(s.shrunk is not None for s in rows):
        say(
            "Ranked by the shrunk rate (empirical Bayes toward the team's rate, or the company's "
            "for a small team); scores use the raw value."
        )


def _more(total: int, shown: int) -> None:
    if shown < total:
        say(f"… {total - shown} more (use --limit 0 for all).")


def _rank(rank: int | None) -> str:
    return "—" if rank is None else str(rank)


def _count(value: float | None) -> str:
    return number(value)
