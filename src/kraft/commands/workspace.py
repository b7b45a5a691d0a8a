"""`kraft init|status` and `kraft db upgrade|downgrade`: the workspace, its settings and schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kraft.commands.common import (
    TextOrJson,
    calendar_of,
    kraft_of,
    open_database,
    out,
    print_tracking,
    raw_database,
    workspace_of,
)
from kraft.commands.tables import Column, table_of
from kraft.core.tracking import first_scored_label, tracking_state
from kraft.errors import KraftError
from kraft.framework.loader import DEFAULT_FRAMEWORK, resolve_framework
from kraft.ingest.status import status as data_status
from kraft.store import migrate
from kraft.workspace import Settings, init_workspace


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("status")(status)
    db = typer.Typer(help="Create and migrate the workspace database.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    db.command("downgrade")(db_downgrade)
    app.add_typer(db, name="db")


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
    db = open_database(workspace, migrate_to_head=True)
    out.print(f"Database: {db.display_url} (schema revision {migrate.head_revision()}).")


def status(
    ctx: typer.Context,
    fmt: Annotated[TextOrJson, typer.Option("--format", help="text or json.")] = (TextOrJson.text),
) -> None:
    """What the workspace holds: tables, data as-of date, periods and the last import."""
    kraft = kraft_of(ctx, read_only=True)
    workspace, db = kraft.workspace, kraft.db
    with db.connect() as conn:
        facts = data_status(conn, calendar_of(workspace))
    report = {
        "workspace": str(workspace.root),
        "database": db.display_url,
        "framework": workspace.settings.framework,
        **facts,
        **tracking_state(kraft).as_dict(),
        "first_scored_period": first_scored_label(kraft) if facts["as_of"] else None,
    }
    if fmt is TextOrJson.json:
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
    table = table_of(["table", Column("rows", numeric=True)], "Rows per table")
    for name, count in report["tables"].items():
        table.add_row(name, f"{count:,}")
    out.print(table)
    print_tracking(report["tables_never_imported"], report["untracked_kpis"])
    if report["first_scored_period"]:
        out.print(f"Scored from {report['first_scored_period']} (earlier periods: computed only)")
    last = report["last_import"]
    if last:
        out.print(
            f"Last import {last['import_id']} at {last['finished_at']} by {last['actor']} "
            f"({last['mode']}, {len(last['files'])} file(s))."
        )


def db_upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    workspace = workspace_of(ctx)
    db = raw_database(workspace)
    before = migrate.current_revision(db)
    migrate.upgrade(db, revision)
    after = migrate.current_revision(db)
    out.print(f"{db.display_url}: schema revision {before or 'none'} → {after}.")


def db_downgrade(ctx: typer.Context, revision: str = typer.Argument(...)) -> None:
    """Undo migrations down to REVISION ('base' removes every table: data is lost)."""
    workspace = workspace_of(ctx)
    db = raw_database(workspace)
    migrate.downgrade(db, revision)
    out.print(f"{db.display_url}: schema revision now {migrate.current_revision(db) or 'none'}.")
