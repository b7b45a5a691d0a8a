"""What every command needs: the consoles, the workspace and its database, argument parsing."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from kraft.commands.server_snapshot import snapshot_from
from kraft.core.context import Kraft
from kraft.errors import KraftError
from kraft.framework.loader import DEFAULT_FRAMEWORK, resolve_framework
from kraft.framework.model import Framework
from kraft.periods import Calendar, Period
from kraft.store import migrate
from kraft.store.database import (
    Database,
    DatabaseLockedError,
    RunningServer,
    workspace_database,
)
from kraft.workspace import NoWorkspaceError, Workspace, find_workspace


# Markup is off: file names, ids and values from users may hold [brackets]. Styling is explicit.
class PipedConsole(Console):
    """Standard output whose reader may stop (`kraft … | head -1`): rich's default exits 1; the
    error goes up instead, for the CLI's group to end the command quietly, exit 0."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


out = PipedConsole(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

_opened: list[Database] = []


def styled(label: str, style: str, text: str) -> Text:
    return Text.assemble((label, style), text)


def say(text: str) -> None:
    """A note for people (under a table), wrapped between words at the terminal's width."""
    out.print(text, soft_wrap=False, overflow="fold")


def warn(text: str) -> None:
    err.print(styled("Warning: ", "yellow", text))


def close_databases() -> None:
    """Release every database the command opened (on DuckDB: the file lock) when it ends."""
    while _opened:
        _opened.pop().dispose()


def workspace_of(ctx: typer.Context, local: Path | None = None) -> Workspace:
    """The workspace named by --workspace (kept in ctx.obj), else the one found from here."""
    root = ctx.find_root().obj if local is None else local
    return find_workspace(root)


def framework_of(ctx: typer.Context, reference: str | None, local: Path | None = None) -> Framework:
    """The named framework, else the workspace's, else the built-in default outside a workspace."""
    if reference:
        return resolve_framework(reference, Path.cwd())
    try:
        workspace = workspace_of(ctx, local)
    except NoWorkspaceError:
        return resolve_framework(DEFAULT_FRAMEWORK)
    return workspace_framework(workspace)


def workspace_framework(workspace: Workspace) -> Framework:
    return resolve_framework(workspace.settings.framework, workspace.root)


def raw_database(workspace: Workspace) -> Database:
    """The workspace database as it is, released when the command ends."""
    db = workspace_database(workspace.root, workspace.settings.database_url)
    _opened.append(db)
    return db


def open_database(
    workspace: Workspace, *, migrate_to_head: bool = False, read_only: bool = False
) -> Database:
    """The workspace database; refuses one whose schema is behind (run `kraft db upgrade`).

    A reading command (`read_only`) also runs while `kraft serve` holds a DuckDB file: it reads
    a snapshot the server makes for it (kraft.commands.server_snapshot); a writing one stops
    with the lock's sentence naming the server."""
    db = raw_database(workspace)
    if migrate_to_head:
        migrate.upgrade(db)
        return db
    try:
        current = migrate.current_revision(db)
    except DatabaseLockedError as locked:
        if not read_only or locked.server is None:
            raise
        db = _snapshot_database(locked.server, locked.message, db.display_url)
        current = migrate.current_revision(db)
    head = migrate.head_revision()
    if current != head:
        raise KraftError(
            f"The database {db.display_url} is at schema revision {current or 'none'}, and this "
            f"kraft needs {head}; run `kraft db upgrade`."
        )
    return db


def _snapshot_database(server: RunningServer, why: str, shown_as: str) -> Database:
    path = snapshot_from(server, why)
    err.print(
        styled("Note: ", "dim", f"`kraft serve` (PID {server.pid}) holds the database; "
               "this reads the copy it made just now.")
    )  # fmt: skip
    db = Database(f"duckdb:///{path}", read_only=True, shown_as=shown_as)
    _opened.append(db)
    return db


def kraft_of(ctx: typer.Context, *, read_only: bool = False) -> Kraft:
    """The workspace the command names, open (its schema current), as the core's context."""
    workspace = workspace_of(ctx)
    return Kraft(workspace=workspace, db=open_database(workspace, read_only=read_only))


def calendar_of(workspace: Workspace) -> Calendar:
    return Calendar(workspace.settings.fiscal_year_start_month)


def compute_parameters(workspace: Workspace) -> dict[str, int]:
    """The workspace settings the metric catalogue's snippets read."""
    settings = workspace.settings
    return {
        "renewal_grace_days": settings.renewal_grace_days,
        "free_look_days": settings.free_look_days,
    }


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise KraftError(f"{option} {value!r} is not a date; write it as YYYY-MM-DD.") from None


def parse_period(calendar: Calendar, label: str, option: str) -> Period:
    try:
        return calendar.parse(label)
    except ValueError as exc:
        raise KraftError(f"{option}: {exc}.") from None


class TextOrJson(StrEnum):
    """--format of a command that prints text for people or JSON for programs."""

    text = "text"
    json = "json"


def either(choices: Sequence[str]) -> str:
    """The choices as a person lists them: "table, csv or json"."""
    if len(choices) < 2:
        return "".join(choices)
    return f"{', '.join(choices[:-1])} or {choices[-1]}"


def format_option(*choices: str) -> Any:
    """A --format option whose help lists the choices."""
    return typer.Option("--format", help=f"{either(choices)}.")


def check_format(fmt: str, choices: Sequence[str], advice: str = "") -> str:
    """The --format given, if it is one of the choices; `advice` ends the refusal (for the
    options whose one-sentence refusal, exit 1, is kept; the others are Enums: usage error 2)."""
    if fmt not in choices:
        raise KraftError(f"--format {fmt!r} is not {either(choices)}{advice}.")
    return fmt


def actor() -> str:
    """Who the audit log names for a change made from the command line."""
    return f"cli:{getpass.getuser()}"


def write_or_print(text: str, output: Path | None, what: str) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise KraftError(f"Cannot write {output}: {exc.strerror}; choose another path.") from None
    out.print(f"Wrote {what} to {output}")


def write_bytes(data: bytes, output: Path, what: str) -> None:
    """Write a binary report (pdf, xlsx, png) and say where."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
    except OSError as exc:
        raise KraftError(f"Cannot write {output}: {exc.strerror}; choose another path.") from None
    out.print(f"Wrote {what} to {output}")


def print_tracking(missing: list[str], untracked: dict[str, str]) -> None:
    """The contract tables never imported and the KPIs that leaves (or kraft.toml makes) not
    tracked, as `kraft status` and the import summary show them."""
    if missing:
        out.print("Never imported: " + ", ".join(missing))
    if untracked:
        out.print(f"Not tracked ({len(untracked)} KPIs, shown as not tracked, never scored):")
        for kpi_id, reason in untracked.items():
            out.print(f"  {kpi_id}: {reason}")
