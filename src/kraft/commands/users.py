"""`kraft users add|list|disable|password`: who may sign in to `kraft serve`, and as what."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from kraft.commands.common import actor, open_database, out, workspace_of
from kraft.commands.tables import table_of
from kraft.errors import KraftError
from kraft.store import users


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Users of the web app and API.", no_args_is_help=True)
    group.command("add")(users_add)
    group.command("list")(users_list)
    group.command("disable")(users_disable)
    group.command("password")(users_password)
    app.add_typer(group, name="users")


def users_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The email the user signs in with.")],
    role: Annotated[str, typer.Option("--role", help="admin, manager or rm.")],
    rm_id: Annotated[
        str | None,
        typer.Option("--rm-id", help="The relationship_managers row the user is (manager, rm)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
) -> None:
    """Add a user; the password comes from standard input (never from the command line)."""
    if not password_stdin:
        raise KraftError("Give the password on standard input with --password-stdin.")
    password = sys.stdin.readline().rstrip("\r\n")
    db = open_database(workspace_of(ctx))
    with db.begin() as conn:
        user = users.add_user(conn, email, password, role, rm_id, actor=actor())
    linked = f" ({user.rm_id})" if user.rm_id else ""
    out.print(f"Added {user.email}, {user.role}{linked}.")


def users_list(ctx: typer.Context) -> None:
    """Every user: email, role, RM record, active."""
    db = open_database(workspace_of(ctx), read_only=True)
    with db.connect() as conn:
        found = users.list_users(conn)
    table = table_of(["email", "role", "rm_id", "active"])
    for user in found:
        table.add_row(user.email, str(user.role), user.rm_id or "", "yes" if user.active else "no")
    out.print(table)


def users_disable(
    ctx: typer.Context, email: Annotated[str, typer.Argument(help="The user's email.")]
) -> None:
    """Stop a user signing in; their open sessions and tokens stop working at once."""
    db = open_database(workspace_of(ctx))
    with db.begin() as conn:
        user = users.set_active(conn, email, False, actor=actor())
    out.print(f"Disabled {user.email}.")


def users_password(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's email.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the new password from standard input."),
    ] = False,
) -> None:
    """Set a user's password (an admin's reset): asked for at a prompt, or read from standard
    input with --password-stdin, never from the command line. Their sessions and tokens end."""
    if password_stdin:
        new = sys.stdin.readline().rstrip("\r\n")
    else:
        new = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    db = open_database(workspace_of(ctx))
    with db.begin() as conn:
        user = users.change_password(conn, email, new, current=None, actor=actor())
    out.print(f"Changed the password of {user.email}; their sessions and tokens are ended.")
