"""The `kraft` command line. Errors are one sentence and a non-zero exit, never a traceback.

This module holds the app, its error handling and its global options; the commands are in
kraft.commands, one module per topic, each adding its own through `register(app)`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from kraft import __version__
from kraft.commands import (
    alerts,
    analysis,
    audit,
    compute,
    demo,
    explain,
    export,
    framework,
    imports,
    initiative,
    mapping,
    measurements,
    reports,
    review,
    scores,
    serve,
    targets,
    users,
    workspace,
)
from kraft.commands.common import close_databases, err, out, styled
from kraft.errors import KraftError


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
        except BrokenPipeError:  # the reader stopped (`| head`): end quietly, as Unix tools do
            _discard_stdout()
            raise SystemExit(0) from None
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


def _discard_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush of what is
    still buffered for the closed pipe raises nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


app = typer.Typer(
    cls=KraftGroup,
    help="kraft: KRA/KPI performance management computed from an insurer's own data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

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


# In the order `kraft --help` lists them (commands first, then the groups, as Typer does).
COMMAND_MODULES = (
    workspace,
    imports,
    demo,
    compute,
    explain,
    serve,
    scores,
    alerts,
    analysis,
    review,
    framework,
    audit,
    export,
    users,
    targets,
    initiative,
    measurements,
    mapping,
    reports,
)
for module in COMMAND_MODULES:
    module.register(app)


def main() -> None:
    app()
