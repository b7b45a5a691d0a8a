"""`kraft compute`: every KPI for every RM, team and the company, then the scores."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from kraft.commands.common import (
    actor,
    err,
    kraft_of,
    out,
    parse_date,
)
from kraft.core.compute import ComputeOutcome, compute_and_score
from kraft.core.context import Kraft
from kraft.errors import KraftError
from kraft.metrics.runner import ComputeRequest
from kraft.periods import Grain

if TYPE_CHECKING:  # Spark is loaded only when asked for
    from kraft.metrics.spark import SparkOptions


class ComputeEngine(StrEnum):
    """Where the values are computed: the workspace's own database, or Spark."""

    duckdb = "duckdb"
    postgres = "postgres"
    spark = "spark"


ENGINE_DIALECTS = {ComputeEngine.duckdb: "duckdb", ComputeEngine.postgres: "postgresql"}


# --grain is checked by hand (not an Enum): its one-sentence refusal is part of the interface.
GRAIN_CHOICES = {
    "month": (Grain.month,),
    "quarter": (Grain.quarter,),
    "year": (Grain.year,),
    "all": (Grain.month, Grain.quarter, Grain.year),
}


def register(app: typer.Typer) -> None:
    app.command("compute")(compute)


def compute(
    ctx: typer.Context,
    first: Annotated[str | None, typer.Option("--from", help="First period, e.g. 2025-Q1.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last period, e.g. 2025-12.")] = None,
    grain: Annotated[str, typer.Option(help="month, quarter, year or all.")] = "all",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Data as-of date (default: the last import's).")
    ] = None,
    engine: Annotated[
        ComputeEngine | None,
        typer.Option(
            help="duckdb or postgres (must be the workspace's database), or spark: Spark SQL over "
            "Parquet tables, the values written back into the workspace's database."
        ),
    ] = None,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="With --engine spark: the Spark master URL (default local[*], or spark-submit's "
            "master when run by it; spark://host:7077 for a cluster).",
        ),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(
            help="With --engine spark: a folder of Parquet tables in the contract's layout "
            "(<table>.parquet). Default: the workspace's tables, exported to a temporary folder "
            "first. With --source, --as-of defaults to the latest event date in the folder.",
        ),
    ] = None,
    score: Annotated[
        bool, typer.Option("--score/--no-score", help="Score every RM from the new values.")
    ] = True,
) -> None:
    """Compute every KPI for every RM, team and the company, per month, quarter and year; then
    score every RM (KPI, KRA and overall scores, ratings)."""
    if grain not in GRAIN_CHOICES:
        raise KraftError(f"--grain {grain!r} is not month, quarter, year or all.")
    if engine is not ComputeEngine.spark and (spark_master is not None or source is not None):
        raise KraftError("--spark-master and --source go with --engine spark; add it or drop them.")
    kraft = kraft_of(ctx)
    spark = None
    if engine is ComputeEngine.spark:
        from kraft.metrics.spark import SparkOptions

        spark = SparkOptions(spark_master, source)
    elif engine is not None and ENGINE_DIALECTS[engine] != kraft.db.dialect:
        raise KraftError(
            f"--engine {engine} cannot compute on this workspace's {kraft.db.dialect} database; "
            "leave --engine out to compute where the data is."
        )
    request = ComputeRequest(
        as_of=parse_date(as_of, "--as-of"), first=first, last=last, grains=GRAIN_CHOICES[grain]
    )
    outcome = run_compute(kraft, request, score=score, spark=spark)
    result, scored = outcome.computed, outcome.scored
    summary = (
        f"Computed {len(result.kpis)} KPIs for {result.first_period} to {result.last_period} "
        f"(as of {result.as_of}): {result.rows:,} values, run {result.run_id}"
    )
    if scored is None:
        out.print(summary + "; scores not updated (--no-score).")
    else:
        out.print(summary + f"; scored {scored.scorecards:,} scorecards ({scored.rows:,} scores).")


def run_compute(
    kraft: Kraft,
    request: ComputeRequest,
    *,
    score: bool = True,
    spark: SparkOptions | None = None,
) -> ComputeOutcome:
    """Compute and score (kraft.core.compute) with a progress bar, then a spinner."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("Computing KPIs", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        def phase(name: str) -> None:
            bar.update(task, description=name.removesuffix(" every RM"))

        return compute_and_score(
            kraft, request, actor=actor(), score=score, spark=spark, progress=progress,
            on_phase=phase,
        )  # fmt: skip
