"""A process killed (SIGKILL) inside its transaction leaves the database as it was: `kraft compute`
while it replaces the values, and while it replaces the scores; `kraft import` while it writes;
`kraft serve` while a compute job writes. Then a normal run succeeds and gives the new state.

On PostgreSQL the kill lands inside the transaction for sure: the test holds a lock that a late
statement of that transaction needs (the compute_runs row written after the values, the audit
entry written after the imported rows, one scores row the scoring must delete), waits until the
process is blocked on it (pg_stat_activity), kills the process, then lets go. On DuckDB the kill
comes after a few delays. Each table's content is compared by a hash computed in SQL (ids and
timestamps of runs left out): it equals the before-state or the after-state, never a mix."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from kraft.store.metadata import scores
from pressure_support import kraft, open_db, start_server, stop_server, table_hash, token
from web_support import build_demo

from conftest import postgres_schema

pytestmark = pytest.mark.slow

VALUE_COLUMNS = (
    "entity_type", "entity_id", "kpi_id", "period", "grain", "value", "numerator",
    "denominator", "row_count", "provisional", "extra", "definition_hash",
)  # fmt: skip
RUN_LEFT_OUT = {"run_id", "values_run_id"}  # which run wrote a row differs between two runs
IMPORTED = ("clients", "relationship_managers", "policies", "interactions", "import_runs")


SCORE_COLUMNS = [c.name for c in scores.columns if c.name not in RUN_LEFT_OUT]


def state(root: Path) -> dict[str, str]:
    """Content hashes of the computed tables and the imported ones, and the counts of the logs."""
    engine = open_db(root)
    try:
        with engine.connect() as conn:
            found = {
                "kpi_values": table_hash(conn, "kpi_values", VALUE_COLUMNS),
                "scores": table_hash(conn, "scores", SCORE_COLUMNS),
                **{name: table_hash(conn, name) for name in IMPORTED},
            }
            for name in ("compute_runs", "audit_log"):
                found[name] = str(conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar())
            return found
    finally:
        engine.dispose()


def _change_the_book(root: Path) -> None:
    """Data the next compute turns into other values (a setup step, not a user's change)."""
    engine = open_db(root)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM interactions WHERE rm_id IN ('RM0002', 'RM0005')"))
    finally:
        engine.dispose()


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        kraft("--workspace", root, *args), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _start(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        kraft("--workspace", root, *args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@contextlib.contextmanager
def blocking(url: str, statement: str) -> Iterator[None]:
    """Hold the lock `statement` takes, in an open transaction, until the block ends."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
            yield
            conn.rollback()
    finally:
        engine.dispose()


def _backends(conn: sa.Connection, pattern: str, waiting: bool) -> int:
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND query ILIKE :pattern AND state <> 'idle'"
    )
    if waiting:
        query += " AND wait_event_type = 'Lock'"
    return int(conn.execute(sa.text(query), {"pattern": pattern}).scalar() or 0)


def wait_blocked(url: str, pattern: str, process: subprocess.Popen[bytes] | None) -> None:
    """Until a backend runs a statement like `pattern` and waits for a lock (inside its
    transaction, having written what came before)."""
    engine = sa.create_engine(url)
    try:
        deadline = time.monotonic() + 180
        with engine.connect() as conn:
            while _backends(conn, pattern, waiting=True) == 0:
                assert process is None or process.poll() is None, "it finished unblocked"
                assert time.monotonic() < deadline, f"nothing blocked on {pattern} in 180 s"
                time.sleep(0.05)
                conn.rollback()
    finally:
        engine.dispose()


def wait_gone(url: str, pattern: str) -> None:
    """Until the killed process's backend has noticed and rolled back."""
    engine = sa.create_engine(url)
    try:
        deadline = time.monotonic() + 60
        with engine.connect() as conn:
            while _backends(conn, pattern, waiting=False):
                assert time.monotonic() < deadline, f"a backend still runs {pattern}"
                time.sleep(0.05)
                conn.rollback()
    finally:
        engine.dispose()


@pytest.fixture
def postgres_book(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with postgres_schema() as url:
        yield build_demo(tmp_path / "demo", url), url


def _first_score_row(root: Path) -> tuple[str, str, str, str]:
    engine = open_db(root)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT rm_id, period, level, item_id FROM scores "
                    "ORDER BY rm_id DESC, period DESC, level, item_id LIMIT 1"
                )
            ).one()
            return row[0], row[1], row[2], row[3]
    finally:
        engine.dispose()


def test_compute_and_import_killed_inside_their_transactions(
    postgres_book: tuple[Path, str], tmp_path: Path
) -> None:
    root, url = postgres_book
    _change_the_book(root)
    before = state(root)

    # 1. Killed while replacing the values: it has deleted and inserted kpi_values, and waits
    #    to write its compute_runs row.
    with blocking(url, "LOCK TABLE compute_runs IN SHARE MODE"):
        process = _start(root, "compute")
        wait_blocked(url, "%INSERT INTO compute_runs%", process)
        _kill(process)
    wait_gone(url, "%INSERT INTO compute_runs%")
    assert state(root) == before

    # 2. Killed while replacing the scores: the values are the new ones (their transaction
    #    committed), the scores every one the previous (the delete waits on one row).
    rm_id, period, level, item_id = _first_score_row(root)
    lock_row = (
        f"SELECT 1 FROM scores WHERE rm_id = '{rm_id}' AND period = '{period}' "
        f"AND level = '{level}' AND item_id = '{item_id}' FOR UPDATE"
    )
    with blocking(url, lock_row):
        process = _start(root, "compute")
        wait_blocked(url, "%DELETE FROM scores%", process)
        _kill(process)
    wait_gone(url, "%DELETE FROM scores%")
    middle = state(root)
    assert middle["kpi_values"] != before["kpi_values"]  # the new values
    assert int(middle["compute_runs"]) == int(before["compute_runs"]) + 1
    assert {**middle, "kpi_values": "", "compute_runs": ""} == {
        **before,
        "kpi_values": "",
        "compute_runs": "",
    }  # the scores (and all else) as they were

    # 3. A normal compute succeeds: the new values again, and scores from them.
    _run(root, "compute")
    after = state(root)
    assert after["kpi_values"] == middle["kpi_values"]
    assert after["scores"] != before["scores"]

    # 4. Killed while importing: the rows are written, the audit entry waits.
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "clients.csv").write_text(
        "client_id,name,segment\n" + "".join(f"CK{i:05d},Client {i},retail\n" for i in range(3000)),
        encoding="utf-8",
    )
    with blocking(url, "LOCK TABLE audit_head IN SHARE MODE"):
        process = _start(root, "import", str(batch))
        wait_blocked(url, "%LOCK TABLE audit_head%", process)
        _kill(process)
    wait_gone(url, "%LOCK TABLE audit_head%")
    assert state(root) == after

    # 5. A normal import succeeds, and the audit log's chain is whole.
    _run(root, "import", str(batch))
    imported = state(root)
    assert imported["clients"] != after["clients"]
    assert int(imported["audit_log"]) == int(after["audit_log"]) + 1
    _run(root, "audit", "verify")


def test_server_killed_during_a_compute_job(
    postgres_book: tuple[Path, str], tmp_path: Path
) -> None:
    root, url = postgres_book
    _change_the_book(root)
    before = state(root)
    server = start_server(root, tmp_path / "serve.log")
    try:
        headers = token(server.url, "admin")
        with blocking(url, "LOCK TABLE compute_runs IN SHARE MODE"):
            answer = httpx.post(
                f"{server.url}/api/v1/compute", headers=headers, json={}, timeout=60
            )
            assert answer.status_code == 202, answer.text
            wait_blocked(url, "%INSERT INTO compute_runs%", None)
            stop_server(server, signal.SIGKILL)
        wait_gone(url, "%INSERT INTO compute_runs%")
    finally:
        stop_server(server)
    assert state(root) == before

    server = start_server(root, tmp_path / "serve-again.log")  # restarted: a compute succeeds
    try:
        headers = token(server.url, "admin")
        answer = httpx.post(f"{server.url}/api/v1/compute", headers=headers, json={}, timeout=60)
        assert answer.status_code == 202, answer.text
        job_url = f"{server.url}{answer.json()['url']}"
        deadline = time.monotonic() + 300
        while (job := httpx.get(job_url, headers=headers, timeout=60).json())["state"] not in (
            "done",
            "failed",
        ):
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
        assert job["state"] == "done", job
    finally:
        stop_server(server)
    served = state(root)
    assert served["kpi_values"] != before["kpi_values"]
    assert served["scores"] != before["scores"]
    _run(root, "compute")  # the same data computed again by the CLI: the same values and scores
    again = state(root)
    assert (again["kpi_values"], again["scores"]) == (served["kpi_values"], served["scores"])
    _run(root, "audit", "verify")


def test_duckdb_compute_killed_midway_leaves_before_or_after(tmp_path: Path) -> None:
    """DuckDB (no lock to wait on): a copy of the same workspace killed after each of a few
    delays holds the previous values and scores or the new ones, each table whole."""
    pristine = build_demo(tmp_path / "demo")
    _change_the_book(pristine)
    before = state(pristine)
    reference = shutil.copytree(pristine, tmp_path / "reference")
    _run(reference, "compute")
    after = state(reference)
    assert after["kpi_values"] != before["kpi_values"] and after["scores"] != before["scores"]
    outcomes = set()
    for i, delay in enumerate((0.6, 1.2, 1.8, 2.4, 3.0, 3.6)):
        trial = shutil.copytree(pristine, tmp_path / f"trial{i}")
        process = _start(trial, "compute")
        time.sleep(delay)
        finished = process.poll() is not None
        _kill(process)
        now = state(trial)
        assert now["kpi_values"] in (before["kpi_values"], after["kpi_values"]), delay
        assert now["scores"] in (before["scores"], after["scores"]), delay
        outcomes.add("finished" if finished else "killed")
        if finished:
            break
        _run(trial, "compute")  # the killed workspace computes normally afterwards
        assert {k: state(trial)[k] for k in ("kpi_values", "scores")} == {
            k: after[k] for k in ("kpi_values", "scores")
        }
    assert "killed" in outcomes
