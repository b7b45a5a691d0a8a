"""`kraft audit list|verify`: read the append-only audit log and check its hash chain."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kraft.commands.common import err, open_database, out, styled, workspace_of
from kraft.commands.tables import Column, WideOption, table_of
from kraft.store import audit


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Read and verify the append-only audit log.", no_args_is_help=True)
    group.command("list")(audit_list)
    group.command("verify")(audit_verify)
    app.add_typer(group, name="audit")


# On a narrow terminal the object goes first, then the actor.
AUDIT_COLUMNS = (
    Column("seq", numeric=True),
    Column("recorded at (UTC)", whole=True),
    Column("actor", spare=1),
    "action",
    Column("object", spare=2),
    "change",
)


def audit_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 20,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. import.")] = None,
    wide: WideOption = False,
) -> None:
    """The newest audit entries."""
    workspace = workspace_of(ctx)
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        rows = audit.entries(conn, limit=limit, action=action)
    table = table_of(AUDIT_COLUMNS, f"Audit log (newest {limit})", wide=wide)
    for entry in rows:
        change = _spaced(entry.new_value or "")
        table.add_row(
            str(entry.seq),
            entry.recorded_at.isoformat(timespec="seconds"),
            entry.actor,
            entry.action,
            f"{entry.object_type} {entry.object_id or ''}".strip(),
            change if len(change) <= 160 else change[:157] + "…",
        )
    out.print(table)


def _spaced(value: str) -> str:
    """Stored JSON with a space after its commas and colons: a cell then wraps between them."""
    try:
        return json.dumps(json.loads(value), ensure_ascii=False)
    except ValueError:
        return value


def audit_verify(ctx: typer.Context) -> None:
    """Recompute the hash chain: exit 1 if any entry was edited or deleted."""
    workspace = workspace_of(ctx)
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        problems = audit.verify(conn)
        count = len(audit.entries(conn))
    if problems:
        for problem in problems:
            err.print(styled("Audit log broken: ", "red", f"{problem}."))
        raise typer.Exit(1)
    out.print(f"The audit log is intact: {count} entries, each linked to the one before.")
