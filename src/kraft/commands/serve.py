"""`kraft serve`: the web app and the REST API over the workspace's database."""

from __future__ import annotations

import json
import os
import secrets
import signal
from pathlib import Path
from typing import Annotated

import typer

from kraft.commands.common import open_database, out, workspace_of
from kraft.errors import KraftError
from kraft.store.database import server_marker, token_file

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[
        bool | None,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Mark the session cookie Secure (default: on unless listening on loopback; "
            "behind an HTTPS reverse proxy keep it on).",
        ),
    ] = None,
) -> None:
    """Serve the pages and /api/v1 (OpenAPI at /openapi.json). On DuckDB the server is the
    database's one writer while it runs."""
    if not 0 < port < 65536:
        raise KraftError(f"--port {port} is not a port; give one from 1 to 65535.")
    import uvicorn

    from kraft.web.app import create_app

    workspace = workspace_of(ctx)
    db = open_database(workspace)
    secure = host not in LOOPBACK if secure_cookies is None else secure_cookies
    marker = server_marker(db)
    local_token = secrets.token_urlsafe(32) if marker is not None else None
    app = create_app(workspace, db, secure_cookies=secure, local_token=local_token)
    url = f"http://{host}:{port}"
    if marker is not None and local_token is not None:
        _write_private(token_file(marker), local_token)
        marker.write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")
    out.print(f"kraft serves {workspace.root} at {url} (Ctrl+C stops it)")
    # uvicorn shuts down on SIGTERM, then raises it again with the handler it found: make that
    # an exit, so that the marker below is removed (the signal's default would end us first).
    signal.signal(signal.SIGTERM, _exit_on_term)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
            token_file(marker).unlink(missing_ok=True)


def _write_private(path: Path, text: str) -> None:
    """A file only the workspace's owner can read (mode 0600 from its creation)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(0)
