"""`kraft report scorecard`: one RM's scorecard for a period (html, md or pdf), or every scored
RM's with --all, in parallel processes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from kraft.commands.common import (
    calendar_of,
    check_format,
    format_option,
    open_database,
    out,
    parse_period,
    workspace_framework,
    workspace_of,
    write_bytes,
    write_or_print,
)
from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.periods import Calendar, Period

FORMATS = ("html", "md", "pdf")
CHUNKS_PER_JOB = 4  # RMs are handed to the processes in this many batches per process


def register(report: typer.Typer) -> None:
    """Adds `scorecard` to the `report` group (built by kraft.commands.reports)."""
    report.command("scorecard")(report_scorecard)


def report_scorecard(
    ctx: typer.Context,
    period: Annotated[str, typer.Option("--period", help="The period label, e.g. 2026-Q1.")],
    rm: Annotated[str | None, typer.Option("--rm", help="The RM's rm_id.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every scored RM of the period, one file each in -o DIR.")
    ] = False,
    fmt: Annotated[str, format_option(*FORMATS)] = "html",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (default: stdout; pdf needs a file); with --all, a folder.",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", help="Processes for --all (default: the number of cores)."),
    ] = None,
) -> None:
    """An RM's scorecard: overall score, rating and coverage, the KRAs, every KPI against its
    target with its interval, variance and trend, the drivers of the change, the KPIs at risk,
    and room for the review's comments."""
    check_format(fmt, FORMATS, "; choose one of those")
    if every == (rm is not None):
        raise KraftError("Give --rm RM_ID for one scorecard, or --all for every scored RM.")
    if jobs is not None and jobs < 1:
        raise KraftError(f"--jobs {jobs} is under 1; give 1 or more processes.")
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    chosen = parse_period(calendar, period, "--period")
    if every:
        if output is None:
            raise KraftError("--all needs --output DIR, the folder to write one file per RM to.")
        if output.exists() and not output.is_dir():
            raise KraftError(f"--output {output} is a file; with --all give a folder.")
        _all(workspace_db_url(ctx), framework, calendar, chosen, fmt, output, jobs)
        return
    assert rm is not None
    if fmt == "pdf" and output is None:
        raise KraftError("--format pdf needs --output FILE (a pdf is not written to a terminal).")
    from kraft.reports.scorecard import (
        ReportFormat,
        build_scorecard,
        render_scorecard,
        scorecard_pdf,
    )

    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        report = build_scorecard(conn, framework, calendar, rm, chosen)
    what = f"the scorecard of {rm} for {chosen.label} ({fmt})"
    if fmt == "pdf":
        assert output is not None
        write_bytes(scorecard_pdf(report), output, what)
        return
    write_or_print(render_scorecard(report, ReportFormat(fmt)), output, what)


def workspace_db_url(ctx: typer.Context) -> str:
    """The workspace database's URL (its schema checked to be current)."""
    db = open_database(workspace_of(ctx), read_only=True)
    url = db.url
    db.dispose()  # the worker processes open their own (on DuckDB, read-only)
    return url


def _all(
    url: str,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    fmt: str,
    folder: Path,
    jobs: int | None,
) -> None:
    from kraft.reports.scorecard import scored_rms

    engine = _engine(url)
    try:
        with engine.connect() as conn:
            rm_ids = scored_rms(conn, period)
    finally:
        engine.dispose()
    if not rm_ids:
        raise KraftError(
            f"--period {period.label} has no scores; run `kraft compute` or choose a scored period."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KraftError(f"Cannot write {folder}: {exc.strerror}; choose another folder.") from None
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    processes = max(1, min(jobs or os.cpu_count() or 1, len(rm_ids)))
    if processes == 1:
        written = write_scorecards(url, framework, calendar, period.label, rm_ids, fmt, str(folder))
    else:
        size = max(1, -(-len(rm_ids) // (processes * CHUNKS_PER_JOB)))
        chunks = [rm_ids[i : i + size] for i in range(0, len(rm_ids), size)]
        written = 0
        with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
            futures = [
                pool.submit(
                    write_scorecards,
                    url,
                    framework,
                    calendar,
                    period.label,
                    chunk,
                    fmt,
                    str(folder),
                )
                for chunk in chunks
            ]
            for future in as_completed(futures):
                written += future.result()
    cards = "scorecard" if written == 1 else "scorecards"
    out.print(f"Wrote {written:,} {cards} for {period.label} ({fmt}) to {folder}")


def _engine(url: str) -> sa.Engine:
    """An engine for reading only: on DuckDB read-only, so that processes can share the file."""
    if url.startswith("duckdb"):
        limit = os.environ.get("KRAFT_DUCKDB_MEMORY", "800MB")
        return sa.create_engine(
            url, connect_args={"read_only": True, "config": {"memory_limit": limit}}
        )
    return sa.create_engine(url)


def write_scorecards(
    url: str,
    framework: Framework,
    calendar: Calendar,
    label: str,
    rm_ids: list[str],
    fmt: str,
    folder: str,
) -> int:
    """Write the scorecards of the RMs named to folder/RM_ID-PERIOD.fmt; how many were written.
    Runs in a worker process: it opens the database itself."""
    from kraft.reports.scorecard import (
        ReportFormat,
        build_scorecards,
        render_scorecard,
        scorecard_pdf,
    )

    period = calendar.parse(label)
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            reports = build_scorecards(conn, framework, calendar, rm_ids, period)
    finally:
        engine.dispose()
    for report in reports:
        path = Path(folder) / f"{_safe(report.rm_id)}-{label}.{fmt}"
        try:
            if fmt == "pdf":
                path.write_bytes(scorecard_pdf(report))
            else:
                path.write_text(render_scorecard(report, ReportFormat(fmt)), encoding="utf-8")
        except OSError as exc:
            raise KraftError(
                f"Cannot write {path}: {exc.strerror}; choose another folder."
            ) from None
    return len(reports)


def _safe(rm_id: str) -> str:
    """An rm_id as a file name: path separators and other odd characters become _."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in rm_id).lstrip(".") or "_"
