"""The `kraft` command line. Errors are one sentence and a non-zero exit, never a traceback."""

from __future__ import annotations

import csv
import json
import os
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from rich.tree import Tree
from typer.core import TyperGroup

from kraft import __version__
from kraft.commands.common import actor as _actor
from kraft.commands.common import calendar_of as _calendar
from kraft.commands.common import (
    close_databases,
    compute_parameters,
    err,
    out,
    raw_database,
    styled,
    warn,
)
from kraft.commands.common import framework_of as _framework
from kraft.commands.common import open_database as _open_database
from kraft.commands.common import parse_date as _parse_date
from kraft.commands.common import parse_period as _parse_period
from kraft.commands.common import workspace_of as _workspace
from kraft.commands.common import write_or_print as _write_or_print
from kraft.errors import KraftError
from kraft.formatting import neutralise
from kraft.framework.loader import DEFAULT_FRAMEWORK, resolve_framework
from kraft.framework.model import Framework, KpiKind
from kraft.framework.smart import Severity, errors, validate
from kraft.framework.starter import starter_framework
from kraft.ingest.status import status as data_status
from kraft.ingest.validate import Problem
from kraft.metrics.runner import ComputeRequest, ComputeResult
from kraft.metrics.runner import compute as compute_kpis
from kraft.metrics.runner import explain as explain_value
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar, Grain
from kraft.reports.exports import KPI_VALUE_COLUMNS, write_kpi_values
from kraft.reports.framework_document import DocumentFormat, render_framework_document
from kraft.reports.values import format_value
from kraft.scoring.runner import ScoreResult, score_database
from kraft.store import audit, migrate
from kraft.store.database import Database

if TYPE_CHECKING:  # the import and demo modules load numpy and pyarrow: only when used
    from kraft.ingest.importer import ImportResult
    from kraft.metrics.spark import SparkOptions

from kraft.workspace import NoWorkspaceError, Settings, Workspace, init_workspace


class KraftGroup(TyperGroup):
    """Turns every KraftError, and any unexpected error, into a line on stderr and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KraftError as exc:
            err.print(styled("Error: ", "bold red", exc.message))
            for line in exc.details:
                err.print(f"  {line}")
            raise SystemExit(1) from None
        except (typer.Exit, typer.Abort, typer.TyperException, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("KRAFT_DEBUG"):
                raise
            err.print(
                styled(
                    "Internal error: ",
                    "bold red",
                    f"{type(exc).__name__}: {exc}. This is a bug in kraft; re-run with "
                    "KRAFT_DEBUG=1 for the details and report it.",
                )
            )
            raise SystemExit(2) from None
        finally:
            close_databases()


app = typer.Typer(
    cls=KraftGroup,
    help="kraft: KRA/KPI performance management computed from an insurer's own data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Create and migrate the workspace database.", no_args_is_help=True)
audit_app = typer.Typer(help="Read and verify the append-only audit log.", no_args_is_help=True)
framework_app = typer.Typer(
    help="Show, validate, render and start frameworks.", no_args_is_help=True
)
app.add_typer(framework_app, name="framework")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $KRAFT_WORKSPACE, else the nearest folder upwards "
        "holding kraft.toml).",
        file_okay=False,
    ),
]
FrameworkOption = Annotated[
    str | None,
    typer.Option(
        "--framework",
        "-f",
        help="A built-in framework name or a YAML file (default: the workspace's, else "
        f"{DEFAULT_FRAMEWORK}).",
    ),
]


def _version(value: bool) -> None:
    if value:
        out.print(f"kraft {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    workspace: WorkspaceOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    ctx.obj = workspace


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder of the new workspace.")] = Path("."),
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy database URL (default: a DuckDB file in the workspace)."),
    ] = None,
    framework: Annotated[
        str, typer.Option(help="Built-in framework name or YAML path.")
    ] = DEFAULT_FRAMEWORK,
    currency: Annotated[str, typer.Option(help="ISO 4217 currency code.")] = "INR",
    fiscal_year_start_month: Annotated[
        int,
        typer.Option(min=1, max=12, help="1 = January; 4 = April (FY2026 = Apr 2025 to Mar 2026)."),
    ] = 1,
) -> None:
    """Create a workspace: kraft.toml with the database URL and settings."""
    values: dict[str, Any] = {
        "framework": framework,
        "currency": currency.upper(),
        "fiscal_year_start_month": fiscal_year_start_month,
    }
    if database_url:
        values["database_url"] = database_url
    try:
        settings = Settings.model_validate(values)
    except Exception as exc:
        raise KraftError(f"Invalid setting: {exc}") from None
    resolve_framework(settings.framework, directory)
    workspace, created = init_workspace(directory, settings)
    if created:
        out.print(f"Created a kraft workspace in {workspace.root} ({workspace.config_path.name}).")
    else:
        out.print(f"{workspace.root} is already a kraft workspace; its settings are unchanged.")
    db = _open_database(workspace, migrate_to_head=True)
    out.print(f"Database: {db.display_url} (schema revision {migrate.head_revision()}).")


@framework_app.command("show")
def framework_show(ctx: typer.Context, framework: FrameworkOption = None) -> None:
    """Print the framework as a tree: KRAs with weights, KPIs with unit, grain and target."""
    fw = _framework(ctx, framework)
    tree = Tree(
        Text.assemble(
            (fw.document_title, "bold"), "  ", (f"{fw.id} v{fw.version}, {fw.currency}", "dim")
        )
    )
    for kra in fw.kras:
        scope = " · team leaders only" if kra.applies_to.value == "team_leaders" else ""
        branch = tree.add(
            Text.assemble(
                (f"{kra.number}. {kra.title}", "bold"), "  ", (f"{kra.weight} %", "cyan"), scope
            )
        )
        for kpi in kra.kpis:
            arrow = {"higher_is_better": "↑", "lower_is_better": "↓"}.get(
                kpi.direction.value if kpi.direction else "", "?"
            )
            target = format_value(kpi.target, kpi.unit, fw.currency)
            threshold = format_value(kpi.threshold, kpi.unit, fw.currency)
            grain = kpi.grain.value if kpi.grain else "no grain"
            detail = (
                f"{kpi.id} · {kpi.kind.value} · {arrow} · {grain} · "
                f"target {target} (threshold {threshold})"
            )
            branch.add(Text.assemble(kpi.name, "\n", (detail, "dim")))
    if fw.example:
        example = tree.add(Text(f"Example: {fw.example.title}", style="bold"))
        for i, ex_kpi in enumerate(fw.example.kpis, 1):
            example.add(Text.assemble(f"KPI {i}: {ex_kpi.name}  ", (ex_kpi.id, "dim")))
    out.print(tree)


@framework_app.command("validate")
def framework_validate(
    ctx: typer.Context,
    file: Annotated[
        str | None,
        typer.Argument(help="Framework YAML or built-in name (default: the workspace's)."),
    ] = None,
) -> None:
    """Check every KPI against the SMART rules and the framework's structure; exit 1 on errors."""
    fw = _framework(ctx, file)
    findings = validate(
        fw, known_metrics=load_catalogue().kpi_ids(), recent_actuals=_recent_actuals(ctx, fw)
    )
    if findings and not out.is_terminal:
        for f in findings:
            fields = (f.severity.value, f.rule.value, f.where, f.problem, f.fix)
            sys.stdout.write("\t".join(fields) + "\n")
    elif findings:
        table = Table(title=f"{fw.id}: SMART and structure findings", show_lines=False)
        for column in ("Severity", "Rule", "KPI / KRA", "Problem", "How to fix"):
            table.add_column(column, overflow="fold")
        for finding in findings:
            colour = "red" if finding.severity is Severity.error else "yellow"
            table.add_row(
                Text(finding.severity.value, style=colour),
                finding.rule.value,
                finding.where,
                finding.problem,
                finding.fix,
            )
        out.print(table)
    n_errors = len(errors(findings))
    n_warnings = len(findings) - n_errors
    kpi_count = len(fw.kpis())
    if n_errors:
        out.print(
            Text(
                f"{fw.id}: {n_errors} error(s), {n_warnings} warning(s) in {kpi_count} KPIs.", "red"
            )
        )
        raise typer.Exit(1)
    passed = f"{fw.id}: {kpi_count} KPIs in {len(fw.kras)} KRAs pass every SMART and structure rule"
    out.print(Text(passed + (f" ({n_warnings} warning(s))." if n_warnings else "."), "green"))


def _recent_actuals(ctx: typer.Context, fw: Framework) -> dict[str, list[Decimal]] | None:
    """Inside a workspace with computed values: last full year's actuals of comparable RMs, for
    the data-driven half of "achievable"; None elsewhere."""
    from kraft.scoring.stored import as_of_date
    from kraft.scoring.target_table import comparable_actuals

    try:
        workspace = _workspace(ctx)
    except NoWorkspaceError:
        return None
    try:
        db = _open_database(workspace)
    except KraftError:  # a database that is behind: checked without data
        return None
    with db.connect() as conn:
        as_of = as_of_date(conn)
        if as_of is None:
            return None
        return comparable_actuals(conn, fw, _calendar(workspace), as_of)


@framework_app.command("render")
def framework_render(
    ctx: typer.Context,
    framework: FrameworkOption = None,
    fmt: Annotated[
        DocumentFormat, typer.Option("--format", help="md or html (one self-contained page).")
    ] = DocumentFormat.md,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    detailed: Annotated[
        bool, typer.Option("--detailed", help="Append a SMART table per KRA.")
    ] = False,
) -> None:
    """Write the framework document in the seed's structured format."""
    fw = _framework(ctx, framework)
    text = render_framework_document(fw, fmt, detailed=detailed)
    _write_or_print(text, output, f"the {fw.id} framework document ({fmt.value})")


@framework_app.command("new")
def framework_new(
    role: Annotated[str, typer.Option(help="The role, e.g. 'Claims Manager'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="YAML file to write.")],
    kras: Annotated[int, typer.Option(help="Number of KRAs.")] = 3,
    kpis: Annotated[int, typer.Option(help="KPIs per KRA.")] = 4,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter framework whose placeholders fail validation until a person fills them."""
    if output.exists() and not force:
        raise KraftError(f"{output} already exists; choose another path or pass --force.")
    _write_or_print(starter_framework(role, kras, kpis), output, f"a starter framework for {role}")
    out.print(f"Fill in every TODO, then run: kraft framework validate {output}")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    workspace = _workspace(ctx)
    db = raw_database(workspace)
    before = migrate.current_revision(db)
    migrate.upgrade(db, revision)
    after = migrate.current_revision(db)
    out.print(f"{db.display_url}: schema revision {before or 'none'} → {after}.")


@db_app.command("downgrade")
def db_downgrade(ctx: typer.Context, revision: str = typer.Argument(...)) -> None:
    """Undo migrations down to REVISION ('base' removes every table: data is lost)."""
    workspace = _workspace(ctx)
    db = raw_database(workspace)
    migrate.downgrade(db, revision)
    out.print(f"{db.display_url}: schema revision now {migrate.current_revision(db) or 'none'}.")


@app.command("import")
def import_(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files (.csv, .parquet, .xlsx) or folders.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The date the export was taken (default: latest event date)."),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="upsert (default): add and update by key; replace: hold exactly the file."
        ),
    ] = "upsert",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and count changes; write nothing.")
    ] = False,
    errors_out: Annotated[
        Path | None, typer.Option("--errors-out", help="Write every problem to this CSV file.")
    ] = None,
) -> None:
    """Import operational data: validated as a whole, written all or nothing."""
    from kraft.ingest.importer import ImportRejectedError, Mode, run_import
    from kraft.ingest.sources import read_sources

    workspace = _workspace(ctx)
    try:
        import_mode = Mode(mode)
    except ValueError:
        raise KraftError(f"--mode {mode!r} is not upsert or replace.") from None
    as_of_date = _parse_date(as_of, "--as-of")
    db = _open_database(workspace)
    framework = resolve_framework(workspace.settings.framework, workspace.root)
    manual = [kpi.id for _, kpi in framework.kpis() if kpi.kind is KpiKind.manual]
    with err.status("Reading files…"):
        raws = read_sources(paths)
    for raw_table in raws:
        if raw_table.unknown_columns:
            warn(
                f"{raw_table.source}: ignored column(s) not in the contract: "
                f"{', '.join(raw_table.unknown_columns)}."
            )
    try:
        with err.status(f"Validating {sum(r.rows for r in raws):,} rows…"):
            result = run_import(
                db,
                raws,
                mode=import_mode,
                as_of=as_of_date,
                dry_run=dry_run,
                actor=_actor(),
                calendar=_calendar(workspace),
                manual_kpis=manual,
            )
    except ImportRejectedError as exc:
        if errors_out is not None:
            _write_problems(errors_out, exc.problems)
            exc.details.append(f"All {exc.total} problem(s) are in {errors_out}.")
        raise
    _print_import(result)


def _write_problems(path: Path, problems: list[Problem]) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "row", "column", "value", "problem"])
            for p in problems:
                writer.writerow(
                    [p.source, p.row or "", p.column or "", neutralise(p.value), p.message]
                )
    except OSError as exc:
        raise KraftError(f"Cannot write {path}: {exc.strerror}.") from None


def _print_import(result: ImportResult) -> None:
    table = Table(title="Dry run: nothing was written" if result.dry_run else "Imported")
    for column in ("table", "inserted", "updated", "unchanged", "removed"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, change in result.changes.items():
        counts = change.as_dict()
        table.add_row(
            name, *(f"{counts[k]:,}" for k in ("inserted", "updated", "unchanged", "removed"))
        )
    out.print(table)
    for warning in result.warnings:
        warn(f"{warning}.")
    if not result.dry_run:
        out.print(
            f"Import {result.import_id} committed; data as of {result.as_of or 'unknown'} "
            f"({result.as_of_source})."
        )


@app.command()
def status(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """What the workspace holds: tables, data as-of date, periods and the last import."""
    if fmt not in ("text", "json"):
        raise KraftError(f"--format {fmt!r} is not text or json.")
    workspace = _workspace(ctx)
    db = _open_database(workspace)
    with db.connect() as conn:
        facts = data_status(conn, _calendar(workspace))
    report = {
        "workspace": str(workspace.root),
        "database": db.display_url,
        "framework": workspace.settings.framework,
        **facts,
    }
    if fmt == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    out.print(f"Workspace  {report['workspace']}")
    out.print(f"Database   {report['database']}")
    out.print(f"Framework  {report['framework']}")
    out.print(f"As of      {report['as_of'] or '— (no data imported yet)'}")
    periods = report["periods"]
    if periods["first"]:
        out.print(
            f"Periods    {periods['first']} to {periods['last']} ({periods['months']} months)"
        )
    table = Table(title="Rows per table")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in report["tables"].items():
        table.add_row(name, f"{count:,}")
    out.print(table)
    last = report["last_import"]
    if last:
        out.print(
            f"Last import {last['import_id']} at {last['finished_at']} by {last['actor']} "
            f"({last['mode']}, {len(last['files'])} file(s))."
        )


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 20,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. import.")] = None,
) -> None:
    """The newest audit entries."""
    workspace = _workspace(ctx)
    db = _open_database(workspace)
    with db.connect() as conn:
        rows = audit.entries(conn, limit=limit, action=action)
    table = Table(title=f"Audit log (newest {limit})")
    for column in ("seq", "recorded at (UTC)", "actor", "action", "object", "change"):
        table.add_column(column, overflow="fold")
    for entry in rows:
        change = entry.new_value or ""
        table.add_row(
            str(entry.seq),
            entry.recorded_at.isoformat(timespec="seconds"),
            entry.actor,
            entry.action,
            f"{entry.object_type} {entry.object_id or ''}".strip(),
            change if len(change) <= 160 else change[:157] + "…",
        )
    out.print(table)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Recompute the hash chain: exit 1 if any entry was edited or deleted."""
    workspace = _workspace(ctx)
    db = _open_database(workspace)
    with db.connect() as conn:
        problems = audit.verify(conn)
        count = len(audit.entries(conn))
    if problems:
        for problem in problems:
            err.print(styled("Audit log broken: ", "red", f"{problem}."))
        raise typer.Exit(1)
    out.print(f"The audit log is intact: {count} entries, each linked to the one before.")


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Folder of the demo workspace.")] = Path(
        "kraft-demo"
    ),
    rms: Annotated[int, typer.Option(min=1, max=100_000, help="RMs with a book.")] = 50,
    months: Annotated[int, typer.Option(min=1, max=120, help="Months of data.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same book.")] = 7,
    start: Annotated[
        str | None,
        typer.Option(help="First month, YYYY-MM (default: 24 months before the current month)."),
    ] = None,
    reports: Annotated[
        bool,
        typer.Option(
            "--reports/--no-reports",
            help="Write reports/: the framework, company, a team, three scorecards, the initiative.",
        ),
    ] = True,
) -> None:
    """Create a workspace with a synthetic insurance book, imported through the usual validation,
    computed and scored, with a folder of reports to open."""
    from kraft.demo.regions import generate_regions, region_sizes
    from kraft.ingest.importer import Mode, run_import
    from kraft.ingest.sources import from_arrow

    first = _parse_month(start) if start else _months_before(date.today(), months)
    workspace, _ = init_workspace(directory, Settings())
    db = _open_database(workspace, migrate_to_head=True)
    framework = resolve_framework(workspace.settings.framework, workspace.root)
    calendar = _calendar(workspace)
    last_day = _months_before(first, -months) - timedelta(days=1)
    sizes = region_sizes(rms)
    books = generate_regions(rms=rms, months=months, seed=seed, start=first, calendar=calendar)
    for region, size in enumerate(sizes, 1):
        of = f"region {region} of {len(sizes)}: " if len(sizes) > 1 else ""
        with err.status(f"Generating {of}{size:,} RMs × {months} months…"):
            book = next(books)
        raws = [from_arrow(name, f"demo {name}", data) for name, data in book.items()]
        del book  # the raws hold the rows now; the import releases each table once it is staged
        with err.status(f"Validating and importing {of}{sum(r.rows for r in raws):,} rows…"):
            result = run_import(
                db,
                raws,
                mode=Mode.replace if region == 1 else Mode.upsert,
                as_of=last_day,
                actor=_actor(),
                calendar=calendar,
                manual_kpis=[k.id for _, k in framework.kpis() if k.kind is KpiKind.manual],
            )
        del raws
        if len(sizes) == 1:
            _print_import(result)
        else:
            rows = sum(change.inserted + change.updated for change in result.changes.values())
            out.print(f"Region {region} of {len(sizes)}: {rows:,} rows, import {result.import_id}.")
    computed, scored = _run_compute(workspace, db, framework, ComputeRequest())
    out.print(
        f"Computed {len(computed.kpis)} KPIs for {computed.first_period} to "
        f"{computed.last_period}: {computed.rows:,} values; "
        f"{scored.scorecards if scored else 0:,} scorecards."
    )
    if reports:
        from kraft.reports.demo_reports import write_demo_reports

        with err.status("Writing the reports…"):
            paths = write_demo_reports(
                db, framework, calendar, compute_parameters(workspace), workspace.root / "reports"
            )
        out.print("Reports (open them in a browser):")
        for path in paths:
            out.print(f"  {path}")
    from kraft.demo.logins import add_demo_logins

    with db.begin() as conn:
        logins = add_demo_logins(conn, _actor())
    out.print(f"Sign-ins for `kraft -w {directory} serve` (demo passwords; never for real data):")
    for login in logins:
        linked = f", {login.rm_id}" if login.rm_id else ""
        out.print(f"  {login.email} / {login.password} ({login.role}{linked})")
    out.print(f"Demo workspace: {workspace.root}")
    out.print(
        f"Next: `kraft -w {directory} serve`, `kraft -w {directory} status`, "
        f"`kraft -w {directory} export kpi-values --format csv`, "
        f"`kraft -w {directory} explain --rm RM0001 --kpi client_retention_rate --period <quarter>`, "
        f"`kraft -w {directory} framework render --format html -o {directory}/reports/framework.html`."
    )


def _parse_month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise KraftError(f"--start {text!r} is not a month; write it as YYYY-MM.") from None


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


GRAIN_CHOICES = {
    "month": (Grain.month,),
    "quarter": (Grain.quarter,),
    "year": (Grain.year,),
    "all": (Grain.month, Grain.quarter, Grain.year),
}


@app.command()
def compute(
    ctx: typer.Context,
    first: Annotated[str | None, typer.Option("--from", help="First period, e.g. 2025-Q1.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last period, e.g. 2025-12.")] = None,
    grain: Annotated[str, typer.Option(help="month, quarter, year or all.")] = "all",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Data as-of date (default: the last import's).")
    ] = None,
    engine: Annotated[
        str | None,
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
    workspace = _workspace(ctx)
    if grain not in GRAIN_CHOICES:
        raise KraftError(f"--grain {grain!r} is not month, quarter, year or all.")
    if engine != "spark" and (spark_master is not None or source is not None):
        raise KraftError("--spark-master and --source go with --engine spark; add it or drop them.")
    db = _open_database(workspace)
    spark = None
    if engine == "spark":
        from kraft.metrics.spark import SparkOptions

        spark = SparkOptions(spark_master, source)
    elif (
        engine is not None
        and {"duckdb": "duckdb", "postgres": "postgresql"}.get(engine) != db.dialect
    ):
        raise KraftError(
            f"--engine {engine} cannot compute on this workspace's {db.dialect} database; "
            "leave --engine out to compute where the data is."
        )
    framework = resolve_framework(workspace.settings.framework, workspace.root)
    request = ComputeRequest(
        as_of=_parse_date(as_of, "--as-of"), first=first, last=last, grains=GRAIN_CHOICES[grain]
    )
    result, scored = _run_compute(workspace, db, framework, request, score=score, spark=spark)
    summary = (
        f"Computed {len(result.kpis)} KPIs for {result.first_period} to {result.last_period} "
        f"(as of {result.as_of}): {result.rows:,} values, run {result.run_id}"
    )
    if scored is None:
        out.print(summary + "; scores not updated (--no-score).")
    else:
        out.print(summary + f"; scored {scored.scorecards:,} scorecards ({scored.rows:,} scores).")


export_app = typer.Typer(help="Export KPI values and data.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("kpi-values")
def export_kpi_values(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="csv, json, parquet or xlsx.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout for csv/json).")
    ] = None,
    first: Annotated[str | None, typer.Option("--from", help="First period label.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last period label.")] = None,
    grain: Annotated[str, typer.Option(help="month, quarter, year or all.")] = "all",
    entity_type: Annotated[str | None, typer.Option(help="rm, team or org.")] = None,
) -> None:
    """Write KPI values: entity_type,entity_id,period,kpi_id,value,numerator,denominator,provisional."""
    workspace = _workspace(ctx)
    if fmt not in ("csv", "json", "parquet", "xlsx"):
        raise KraftError(f"--format {fmt!r} is not csv, json, parquet or xlsx.")
    if fmt in ("parquet", "xlsx") and output is None:
        raise KraftError(f"--format {fmt} needs --output FILE.")
    if grain not in GRAIN_CHOICES:
        raise KraftError(f"--grain {grain!r} is not month, quarter, year or all.")
    if entity_type not in (None, "rm", "team", "org"):
        raise KraftError(f"--entity-type {entity_type!r} is not rm, team or org.")
    calendar = _calendar(workspace)
    start = _parse_period(calendar, first, "--from").start if first else None
    end = _parse_period(calendar, last, "--to").end if last else None
    db = _open_database(workspace)
    with db.connect() as conn:
        rows = [
            r
            for r in conn.execute(
                sa.text(
                    f"SELECT {', '.join(KPI_VALUE_COLUMNS)}, grain FROM kpi_values "
                    "ORDER BY entity_type, entity_id, grain, period, kpi_id"
                )
            )
            if (entity_type is None or r.entity_type == entity_type)
            and (grain == "all" or r.grain == grain)
            and _within(calendar, r.period, start, end)
        ]
    write_kpi_values(rows, fmt, output)
    if output is not None:
        out.print(f"Wrote {len(rows):,} KPI values to {output}.")


@export_app.command("data")
def export_data(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="The folder to write the tables in.")],
    fmt: Annotated[str, typer.Option("--format", help="parquet.")] = "parquet",
    force: Annotated[
        bool, typer.Option("--force", help="Write into a folder that is not empty.")
    ] = False,
) -> None:
    """Write every operational table as <table>.parquet in DIR, typed as the contract says (for a
    lake, for `kraft compute --engine spark --source DIR`, or for `kraft import DIR`)."""
    workspace = _workspace(ctx)
    if fmt != "parquet":
        raise KraftError(f"--format {fmt!r}: kraft exports the tables as parquet.")
    from kraft.store.parquet import export_parquet

    db = _open_database(workspace)
    with err.status("Writing the tables…"):
        counts = export_parquet(db, directory, force=force)
    out.print(f"Wrote {len(counts)} tables ({sum(counts.values()):,} rows) to {directory}.")


def _within(calendar: Calendar, label: str, start: date | None, end: date | None) -> bool:
    if start is None and end is None:
        return True
    period = calendar.parse(label)
    return (start is None or period.start >= start) and (end is None or period.end <= end)


def _run_compute(
    workspace: Workspace,
    db: Database,
    framework: Framework,
    request: ComputeRequest,
    *,
    score: bool = True,
    spark: SparkOptions | None = None,
) -> tuple[ComputeResult, ScoreResult | None]:
    """Compute the KPI values (where the data is, or in Spark), then (unless told not to) score
    every RM from them."""
    settings = workspace.settings
    parameters = {
        "renewal_grace_days": settings.renewal_grace_days,
        "free_look_days": settings.free_look_days,
    }
    with Progress(
        TextColumn("Computing KPIs"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("compute", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if spark is not None:
            from kraft.metrics.spark import compute_spark

            computed = compute_spark(
                db,
                framework,
                load_catalogue(),
                _calendar(workspace),
                parameters,
                request,
                spark,
                actor=_actor(),
                progress=progress,
            )
        else:
            computed = compute_kpis(
                db,
                framework,
                load_catalogue(),
                _calendar(workspace),
                parameters,
                request,
                actor=_actor(),
                progress=progress,
            )
    if not score:
        return computed, None
    with err.status("Scoring…"):
        scored = score_database(db, framework, _calendar(workspace), computed.run_id)
    return computed, scored


@app.command()
def explain(
    ctx: typer.Context,
    rm: Annotated[str, typer.Option("--rm", help="The RM's rm_id.")],
    kpi: Annotated[str, typer.Option("--kpi", help="The KPI id, e.g. client_retention_rate.")],
    period: Annotated[str, typer.Option("--period", help="The period label, e.g. 2025-Q1.")],
    limit: Annotated[int, typer.Option(help="Rows shown per row set (0: all).")] = 50,
    show_sql: Annotated[
        bool, typer.Option("--sql", help="Also print the SQL that selects them.")
    ] = False,
) -> None:
    """A KPI value of one RM and period: its definition, numbers and the rows behind it."""
    workspace = _workspace(ctx)
    db = _open_database(workspace)
    framework = resolve_framework(workspace.settings.framework, workspace.root)
    settings = workspace.settings
    result = explain_value(
        db,
        framework,
        load_catalogue(),
        _calendar(workspace),
        {
            "renewal_grace_days": settings.renewal_grace_days,
            "free_look_days": settings.free_look_days,
        },
        rm_id=rm,
        kpi_id=kpi,
        label=period,
    )
    definition = framework.kpi(kpi)
    out.print(Text(f"{definition.name} ({kpi}) — RM {rm}, {result.period}", style="bold"))
    if definition.definition:
        out.print(definition.definition)
    stored = result.stored
    if stored is None:
        out.print(
            "No value is stored for this RM and period: run `kraft compute` (the RM may "
            "not be employed then, or the KPI may not apply to them)."
        )
    else:
        value = (
            "undefined (no data or zero denominator)"
            if stored["value"] is None
            else format_value(Decimal(str(stored["value"])), definition.unit, framework.currency)
        )
        out.print(
            f"Value {value}; numerator {stored['numerator']}, denominator {stored['denominator']}, "
            f"{stored['row_count']} row(s); {'provisional' if stored['provisional'] else 'final'}; "
            f"definition {stored['definition_hash']}, run {stored['run_id']}."
        )
        if stored["extra"]:
            out.print(f"Also: {stored['extra']}")
    for row_set in result.row_sets:
        shown = row_set.rows if limit == 0 else row_set.rows[:limit]
        table = Table(title=f"{row_set.title}: {len(row_set.rows)} row(s)")
        for column in row_set.columns:
            table.add_column(column, overflow="fold")
        for row in shown:
            table.add_row(
                *(
                    "" if v is None else "yes" if v is True else "no" if v is False else str(v)
                    for v in row
                )
            )
        out.print(table)
        if len(shown) < len(row_set.rows):
            out.print(f"… {len(row_set.rows) - len(shown)} more (use --limit 0 for all).")
        if show_sql:
            out.print(row_set.sql)


# Command modules, each adding its commands to the app (kraft.commands).
COMMAND_MODULES: tuple[str, ...] = (
    "serve",
    "users",
    "targets",
    "initiative",
    "scores",
    "analysis",
    "reports",
    "report_scorecard",
    "report_team",
    "review",
)


def _register_commands() -> None:
    from importlib import import_module

    for name in COMMAND_MODULES:
        module = import_module(f"kraft.commands.{name}")
        module.register(app)
        if hasattr(module, "register_export"):  # commands under `kraft export`
            module.register_export(export_app)


_register_commands()


def main() -> None:
    app()
