"""`kraft export kpi-values|scores|data`: the computed values, the scores and the tables, as files."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from kraft.commands.common import (
    calendar_of,
    check_format,
    err,
    format_option,
    kraft_of,
    open_database,
    out,
    parse_period,
    workspace_framework,
    workspace_of,
    write_bytes,
)
from kraft.core.tracking import first_scored as first_scored_of
from kraft.errors import KraftError
from kraft.periods import Calendar, Grain
from kraft.reports.exports import KPI_VALUE_COLUMNS, write_kpi_values, write_records
from kraft.reports.scores import EXPORT_TEXT_COLUMNS, export_columns, export_records, overall_rows
from kraft.reports.workbook import scores_workbook
from kraft.scoring.tracking import scored_from

AllPeriods = Annotated[
    bool,
    typer.Option(
        "--all-periods",
        help="Also the periods before the first scored period (computed, not scored).",
    ),
]
# `export scores` checks its --format and --grain itself: its refusals are sentences to keep.
SCORE_FORMATS = ("csv", "json", "xlsx")
SCORE_GRAINS = ("month", "quarter", "year", "all")


class ValuesFormat(StrEnum):
    csv = "csv"
    json = "json"
    parquet = "parquet"
    xlsx = "xlsx"


class ValuesGrain(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"
    all = "all"


class EntityType(StrEnum):
    rm = "rm"
    team = "team"
    org = "org"


class TablesFormat(StrEnum):
    parquet = "parquet"


def register(app: typer.Typer) -> None:
    export = typer.Typer(help="Export KPI values and data.", no_args_is_help=True)
    export.command("kpi-values")(export_kpi_values)
    export.command("data")(export_data)
    export.command("scores")(export_scores)
    app.add_typer(export, name="export")


def export_kpi_values(
    ctx: typer.Context,
    fmt: Annotated[
        ValuesFormat, typer.Option("--format", help="csv, json, parquet or xlsx.")
    ] = ValuesFormat.csv,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout for csv/json).")
    ] = None,
    first: Annotated[str | None, typer.Option("--from", help="First period label.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last period label.")] = None,
    grain: Annotated[ValuesGrain, typer.Option(help="month, quarter, year or all.")] = (
        ValuesGrain.all
    ),
    entity_type: Annotated[EntityType | None, typer.Option(help="rm, team or org.")] = None,
    all_periods: AllPeriods = False,
) -> None:
    """Write KPI values: entity_type,entity_id,period,kpi_id,value,numerator,denominator,provisional."""
    workspace = workspace_of(ctx)
    if fmt in (ValuesFormat.parquet, ValuesFormat.xlsx) and output is None:
        raise KraftError(f"--format {fmt} needs --output FILE.")
    calendar = calendar_of(workspace)
    start = parse_period(calendar, first, "--from").start if first else None
    end = parse_period(calendar, last, "--to").end if last else None
    kraft = kraft_of(ctx, read_only=True)
    first_scored = None if all_periods else first_scored_of(kraft)
    with kraft.db.connect() as conn:
        rows = [
            r
            for r in conn.execute(
                sa.text(
                    f"SELECT {', '.join(KPI_VALUE_COLUMNS)}, grain FROM kpi_values "
                    "ORDER BY entity_type, entity_id, grain, period, kpi_id"
                )
            )
            if (entity_type is None or r.entity_type == entity_type)
            and (grain is ValuesGrain.all or r.grain == grain)
            and _within(calendar, r.period, start, end)
            and scored_from(first_scored, r.period, calendar)
        ]
    write_kpi_values(rows, fmt, output)
    if output is not None:
        out.print(f"Wrote {len(rows):,} KPI values to {output}.")


def export_data(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="The folder to write the tables in.")],
    fmt: Annotated[TablesFormat, typer.Option("--format", help="parquet.")] = (
        TablesFormat.parquet
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Write into a folder that is not empty.")
    ] = False,
) -> None:
    """Write every operational table as <table>.parquet in DIR, typed as the contract says (for a
    lake, for `kraft compute --engine spark --source DIR`, or for `kraft import DIR`)."""
    workspace = workspace_of(ctx)
    from kraft.store.parquet import export_parquet

    db = open_database(workspace, read_only=True)
    with err.status("Writing the tables…"):
        counts = export_parquet(db, directory, force=force)
    out.print(f"Wrote {len(counts)} tables ({sum(counts.values()):,} rows) to {directory}.")


def _within(calendar: Calendar, label: str, start: date | None, end: date | None) -> bool:
    if start is None and end is None:
        return True
    period = calendar.parse(label)
    return (start is None or period.start >= start) and (end is None or period.end <= end)


def export_scores(
    ctx: typer.Context,
    fmt: Annotated[str, format_option(*SCORE_FORMATS)] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout for csv/json).")
    ] = None,
    period: Annotated[str | None, typer.Option(help="Only this period (a label).")] = None,
    grain: Annotated[str, typer.Option(help="month, quarter, year or all.")] = "all",
    all_periods: AllPeriods = False,
) -> None:
    """Write scores: rm_id,period,overall_score,rating,rating_label,coverage, kra:<id> per KRA
    and final_rating (rating 1–5 after gates, coverage in percent; final_rating: the rating
    after the review, empty when not reviewed)."""
    workspace = workspace_of(ctx)
    check_format(fmt, SCORE_FORMATS, "; choose one of those")
    if fmt == "xlsx" and output is None:
        raise KraftError("--format xlsx needs --output FILE.")
    if grain not in SCORE_GRAINS:
        raise KraftError(f"--grain {grain!r} is not month, quarter, year or all.")
    calendar = calendar_of(workspace)
    chosen = parse_period(calendar, period, "--period") if period is not None else None
    if chosen is not None and grain not in ("all", chosen.grain.value):
        raise KraftError(
            f"--period {chosen.label} is a {chosen.grain.value}, not a {grain}; drop --grain or "
            f"give --grain {chosen.grain.value}."
        )
    framework = workspace_framework(workspace)
    kraft = kraft_of(ctx, read_only=True)
    first_scored = None if all_periods else first_scored_of(kraft)
    with kraft.db.connect() as conn:
        rows = overall_rows(
            conn,
            [chosen.label] if chosen is not None else None,
            Grain(grain) if grain != "all" else None,
        )
    rows = [r for r in rows if scored_from(first_scored, r.period, calendar)]
    if chosen is not None and not rows:
        raise KraftError(
            f"--period {chosen.label} has no scores; run `kraft compute` or choose a scored period."
        )
    if fmt == "xlsx":  # a sheet for people: names, teams and number formats
        assert output is not None
        write_bytes(scores_workbook(framework, rows), output, f"{len(rows):,} scorecards")
        return
    records = export_records(rows, framework)
    columns = export_columns(framework)
    write_records(records, columns, fmt, output, EXPORT_TEXT_COLUMNS, "scores")
    if output is not None:
        out.print(f"Wrote {len(rows):,} scorecards to {output}.")
