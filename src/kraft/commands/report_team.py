"""`kraft report team` (a team's or the company's management report) and `kraft report
initiative` (the worked example's impact as a document)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import Connection

from kraft.commands.common import (
    calendar_of,
    check_format,
    compute_parameters,
    open_database,
    parse_period,
    workspace_framework,
    workspace_of,
    write_bytes,
    write_or_print,
)
from kraft.errors import KraftError
from kraft.periods import Calendar, Grain, Period

TEAM_FORMATS = ("html", "md", "pdf", "xlsx")
INITIATIVE_FORMATS = ("html", "md", "pdf")
CHOOSE = "; choose one of those"


def register(report: typer.Typer) -> None:
    """Adds `team` and `initiative` to the `report` group (built by kraft.commands.reports)."""
    report.command("team")(report_team)
    report.command("initiative")(report_initiative)


def report_team(
    ctx: typer.Context,
    team: Annotated[
        str | None, typer.Option("--team", help="The team (a team_id) and the teams below it.")
    ] = None,
    org: Annotated[
        bool, typer.Option("--org", help="The whole company instead of a team.")
    ] = False,
    period: Annotated[
        str | None,
        typer.Option(
            help="Period label, e.g. 2026-Q1 or 2026-03 (default: the latest scored quarter)."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, md, pdf or xlsx.")] = "html",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write (default: stdout; pdf and xlsx need one)."
        ),
    ] = None,
) -> None:
    """The management report: leaderboard with ratings, rating distribution, RM × KRA heatmap,
    KPIs below threshold, biggest movers, variance, at-risk list and running initiatives."""
    from kraft.reports.team_report import ReportFormat, build_team_report, render_team_report

    check_format(fmt, TEAM_FORMATS, CHOOSE)
    if team is None and not org:
        raise KraftError("Give --team TEAM_ID for a team's report or --org for the company's.")
    if team is not None and org:
        raise KraftError("--team and --org exclude each other; give one of them.")
    if fmt in ("pdf", "xlsx") and output is None:
        raise KraftError(f"--format {fmt} needs --output FILE (it is not written to a terminal).")
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        chosen = _period(conn, calendar, period)
    report = build_team_report(
        db,
        framework,
        calendar,
        chosen,
        team,
        compute_parameters(workspace),
        charts=fmt in ("html", "pdf"),
    )
    what = f"the {report.title} ({fmt})"
    if fmt == "xlsx":
        from kraft.reports.workbook import team_workbook

        assert output is not None
        with db.connect() as conn:
            data = team_workbook(conn, report)
        write_bytes(data, output, what)
        return
    if fmt == "pdf":
        from kraft.reports.pdf import html_to_pdf

        assert output is not None
        write_bytes(html_to_pdf(render_team_report(report, ReportFormat.html)), output, what)
        return
    write_or_print(render_team_report(report, ReportFormat(fmt)), output, what)


def _period(conn: Connection, calendar: Calendar, label: str | None) -> Period:
    """The period asked for, checked to have scores; else the latest scored quarter."""
    from kraft.reports.scores import latest_period
    from kraft.scoring.leaderboard import has_scores

    if label is not None:
        chosen = parse_period(calendar, label, "--period")
        if not has_scores(conn, chosen.label):
            raise KraftError(
                f"--period {chosen.label} has no scores; run `kraft compute` or choose a scored "
                "period (default: the latest scored quarter)."
            )
        return chosen
    for grain in (Grain.quarter, Grain.month, Grain.year):
        latest = latest_period(conn, grain.value)
        if latest is not None:
            return calendar.parse(latest)
    raise KraftError("There are no scores yet; run `kraft compute` first.")


def report_initiative(
    ctx: typer.Context,
    initiative_id: Annotated[str, typer.Argument(help="The initiative's initiative_id.")],
    window: Annotated[
        str, typer.Option(help="Months before and after the start, e.g. 3m, 6m, 12m.")
    ] = "6m",
    fmt: Annotated[str, typer.Option("--format", help="html, md or pdf.")] = "html",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: stdout; pdf needs one)."),
    ] = None,
    resamples: Annotated[
        int, typer.Option(min=100, max=100_000, help="Bootstrap resamples of the RMs.")
    ] = 2000,
    seed: Annotated[
        int, typer.Option(help="Bootstrap seed: the same seed, the same interval.")
    ] = 0,
) -> None:
    """The worked example as a report: the 4 KPIs before and after, participants against
    non-participants, the difference in differences with its interval, and the conclusion."""
    from kraft.analysis.initiative import ImpactOptions, initiative_impact, parse_window
    from kraft.metrics.spec import load_catalogue
    from kraft.reports.initiative_report import render_initiative_report
    from kraft.reports.team_report import ReportFormat

    check_format(fmt, INITIATIVE_FORMATS, CHOOSE)
    if fmt == "pdf" and output is None:
        raise KraftError("--format pdf needs --output FILE (a pdf is not written to a terminal).")
    months = parse_window(window)
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    db = open_database(workspace, read_only=True)
    impact = initiative_impact(
        db,
        load_catalogue(),
        compute_parameters(workspace),
        initiative_id,
        ImpactOptions(months, resamples, seed),
        example=framework.example,
    )
    what = f"the impact report of {impact.initiative_id} ({fmt})"
    if fmt == "pdf":
        from kraft.reports.pdf import html_to_pdf

        assert output is not None
        html = render_initiative_report(impact, ReportFormat.html)
        write_bytes(html_to_pdf(html), output, what)
        return
    write_or_print(render_initiative_report(impact, ReportFormat(fmt)), output, what)
