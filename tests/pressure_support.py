"""What the pressure tests share: a demo workspace on PostgreSQL (its own schema) or DuckDB, a real
`kraft serve` subprocess on a free port, bearer tokens, and content hashes of tables computed in
SQL (so that "before or after, never a mix" is a comparison of two strings)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from kraft.store.database import workspace_database
from kraft.store.metadata import metadata
from kraft.workspace import load_workspace
from web_support import LOGINS


def kraft(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "kraft", *(str(a) for a in args)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A `kraft serve` subprocess (its own process group) and where it answers."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_server(root: Path, log: Path, timeout: float = 60) -> Server:
    port = free_port()
    with log.open("ab") as handle:
        process = subprocess.Popen(
            kraft("--workspace", root, "serve", "--port", str(port)),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"kraft serve stopped: {server.output()}")
        try:
            if httpx.get(f"{server.url}/login", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise AssertionError(f"kraft serve did not start in {timeout} s: {server.output()}")
        time.sleep(0.2)


def stop_server(server: Server, sig: int = signal.SIGTERM) -> None:
    """The signal to the server's process group (SIGTERM: a clean stop), then SIGKILL."""
    process = server.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def token(base_url: str, role: str) -> dict[str, str]:
    email, password = LOGINS[role]
    answer = httpx.post(
        f"{base_url}/api/v1/auth/token",
        data={"username": email, "password": password},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def open_db(root: Path) -> sa.Engine:
    """A plain engine on the workspace's database (the caller disposes of it)."""
    workspace = load_workspace(root)
    db = workspace_database(workspace.root, workspace.settings.database_url)
    return db.engine


def table_hash(conn: sa.Connection, table: str, columns: Sequence[str] | None = None) -> str:
    """The md5 of the table's rows (given columns, every row in a fixed order) and its count,
    computed by the database: two equal strings are two equal tables."""
    if columns is None:
        columns = [c.name for c in metadata.tables[table].columns]
    cells = " || '|' || ".join(f"coalesce(CAST({c} AS VARCHAR), '~')" for c in columns)
    row = conn.execute(
        sa.text(
            f"SELECT count(*), md5(coalesce(string_agg(line, chr(10) ORDER BY line), '')) "
            f"FROM (SELECT {cells} AS line FROM {table}) AS t"
        )
    ).one()
    return f"{row[0]}:{row[1]}"
