"""One writer on DuckDB: while `kraft serve` holds the database, a writing CLI command stops with
one sentence naming the server (and changes nothing), and the same import through the server's
API succeeds. The server is a real subprocess on a free port, stopped at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from kraft.store.database import workspace_database
from kraft.workspace import load_workspace
from web_support import LOGINS, build_demo

pytestmark = pytest.mark.slow

CLIENTS = "client_id,name,segment\nCNEW001,Asha Rao,retail\nCNEW002,Ravi Menon,hni\n"
COUNTED = ("clients", "import_runs", "audit_log", "compute_runs")


def kraft(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "kraft", *(str(a) for a in args)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def counts(root: Path) -> dict[str, int]:
    workspace = load_workspace(root)
    db = workspace_database(workspace.root, workspace.settings.database_url)
    try:
        with db.connect() as conn:
            return {
                name: int(conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one())
                for name in COUNTED
            }
    finally:
        db.dispose()


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (uvicorn shuts down cleanly), then SIGKILL."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # anything of its group still there


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = build_demo(tmp_path / "demo")
    (tmp_path / "clients.csv").write_text(CLIENTS, encoding="utf-8")
    return workspace


@pytest.fixture
def before(root: Path) -> dict[str, int]:
    """The counts before the server starts (it holds the database while it runs)."""
    return counts(root)


@pytest.fixture
def server(root: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        kraft("--workspace", root, "serve", "--port", str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kraft serve did not start in 60 s"
            time.sleep(0.2)
        yield process, url
    finally:
        stop(process)
        log.close()


def test_the_cli_stops_while_the_server_writes_and_the_api_imports(
    root: Path,
    tmp_path: Path,
    before: dict[str, int],
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = server
    file = tmp_path / "clients.csv"
    marker = root / "kraft.duckdb.serve"
    assert marker.exists()

    for command in (("import", file), ("compute",)):
        cli = subprocess.run(
            kraft("--workspace", root, *command), capture_output=True, text=True, timeout=120
        )
        output = cli.stdout + cli.stderr
        assert cli.returncode != 0, output
        assert f"`kraft serve` (PID {process.pid}, {url}) holds the database" in output, output
        assert "POST /api/v1/imports" in output and "stop the server and try again" in output
        assert "Traceback" not in output
        assert len(output.strip().splitlines()) == 1  # one sentence

    email, password = LOGINS["admin"]
    with httpx.Client(base_url=url, timeout=120) as client:
        token = client.post("/api/v1/auth/token", data={"username": email, "password": password})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with file.open("rb") as handle:
            answer = client.post(
                "/api/v1/imports",
                headers=headers,
                files=[("files", ("clients.csv", handle, "text/csv"))],
                data={"mode": "upsert"},
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["tables"]["clients"]["inserted"] == 2
        assert answer.json()["import_id"] == 2

    stop(process)
    assert process.returncode == 0  # a clean stop on SIGTERM
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no process of the server's group is left
    assert not marker.exists()  # the server let go of the database
    after = counts(root)
    assert after == {  # the API's import alone: the refused commands changed nothing
        "clients": before["clients"] + 2,
        "import_runs": before["import_runs"] + 1,
        "audit_log": before["audit_log"] + 1,
        "compute_runs": before["compute_runs"],
    }
    again = subprocess.run(
        kraft("--workspace", root, "import", "--dry-run", file),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout + again.stderr  # the writer is free again
    assert counts(root) == after


READING_COMMANDS = (
    ("status",),
    ("scores", "--period", "2025-Q4"),
    ("audit", "verify"),
    ("audit", "list", "--limit", "3"),
    ("users", "list"),
    ("export", "kpi-values", "--format", "csv", "--grain", "quarter"),
    ("explain", "--rm", "RM0001", "--kpi", "client_retention_rate", "--period", "2025-Q4"),
    ("alerts", "--period", "2025-Q4"),
    ("targets", "list"),
    ("review", "list"),
    ("measurements", "list"),
)


def test_reading_commands_answer_while_the_server_holds_the_database(
    root: Path, tmp_path: Path, server: tuple[subprocess.Popen[bytes], str]
) -> None:
    """The reading commands read a snapshot the server makes for them (with its local token,
    mode 0600); what they say is what they say without a server; a writing one still stops."""
    process, _ = server
    token = root / "kraft.duckdb.serve.token"
    assert token.exists() and token.stat().st_mode & 0o777 == 0o600
    answers = {}
    for command in READING_COMMANDS:
        done = subprocess.run(
            kraft("--workspace", root, *command), capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, (command, done.stdout + done.stderr)
        assert "Traceback" not in done.stderr
        assert f"`kraft serve` (PID {process.pid}) holds the database" in done.stderr
        answers[command] = done.stdout
    assert "Audit log intact" in answers[("audit", "verify")] or answers[("audit", "verify")]
    refused = subprocess.run(
        kraft("--workspace", root, "targets", "set", "--kpi", "client_meetings_per_month",
              "--target", "9"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 1 and "holds the database" in refused.stderr
    stop(process)
    assert not token.exists()
    for command in (("status",), ("scores", "--period", "2025-Q4"), ("users", "list")):
        alone = subprocess.run(
            kraft("--workspace", root, *command), capture_output=True, text=True, timeout=180
        )
        assert alone.returncode == 0, alone.stderr
        assert alone.stdout == answers[command], command  # the same answer as from the snapshot
