"""What the server keeps of stored reads (kraft.cache, kraft.web.site.Site.read): one bulk read
per period and data version serves every page, and no page ever shows what a write replaced —
on DuckDB, where the server is the one writer, after any write of its own; on PostgreSQL also
after another process re-scores (the overall scores' checksum), on the scorecard, the team page
and the API alike; and the read-ahead of the latest quarters (kraft.web.warm)."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kraft.cache import (
    Kept,
    checked_once,
    current_version,
    keeping,
    read_once,
    reads_kept,
    sole_writer,
)
from kraft.cli import app as cli
from kraft.scoring.stored import load_rm_values, overall_checksum, stored_score_rows
from kraft.web.warm import Warmer
from web_support import bearer, served_app

QUARTER = "2025-Q3"


# -- the store and the block ----------------------------------------------------------------------


def test_read_once_keeps_per_version_inside_the_block_only() -> None:
    calls: list[int] = []

    def make() -> int:
        calls.append(1)
        return len(calls)

    kept = Kept(8, 3600.0)
    assert read_once(("x",), make) == 1 and read_once(("x",), make) == 2  # outside: every time
    version = [1]
    with reads_kept(kept, lambda: version[0], sole_writer=True):
        assert keeping() and sole_writer() and current_version() == 1
        assert read_once(("x",), make) == 3
        assert read_once(("x",), make) == 3  # kept
    assert not keeping() and current_version() is None
    version[0] = 2
    with reads_kept(kept, lambda: version[0], sole_writer=False):
        assert not sole_writer()
        assert read_once(("x",), make) == 4  # another version: read again
    with reads_kept(kept, lambda: 1, sole_writer=True):
        assert read_once(("x",), make) == 3  # the first version is still kept


def test_a_check_is_asked_once_a_block() -> None:
    asked: list[int] = []

    def check() -> int:
        asked.append(1)
        return len(asked)

    assert checked_once(("c",), check) == 1 and checked_once(("c",), check) == 2
    with reads_kept(Kept(8, 3600.0), lambda: 1, sole_writer=False):
        assert checked_once(("c",), check) == 3 and checked_once(("c",), check) == 3
    with reads_kept(Kept(8, 3600.0), lambda: 1, sole_writer=False):
        assert checked_once(("c",), check) == 4  # the next page asks again


def test_a_block_that_keeps_nothing_reads_no_version() -> None:
    asked: list[int] = []
    with reads_kept(Kept(8, 3600.0), lambda: asked.append(1), sole_writer=True):
        pass
    assert asked == []


def test_the_store_drops_the_least_recently_used_and_the_stale() -> None:
    kept = Kept(2, 3600.0)
    kept.get("a", lambda: 1)
    kept.get("b", lambda: 2)
    kept.get("a", lambda: 0)  # a is used: b is the least recent
    kept.get("c", lambda: 3)
    assert kept.peek("a") == (1,) and kept.peek("b") is None and kept.peek("c") == (3,)
    stale = Kept(4, 0.0)
    stale.get("a", lambda: 1)
    assert stale.get("a", lambda: 2) == 2


def test_twenty_threads_asking_for_one_cold_key_make_it_once() -> None:
    kept = Kept(4, 3600.0)
    made: list[int] = []
    gate = threading.Event()

    def make() -> int:
        gate.wait(5)
        made.append(1)
        return 42

    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(kept.get("k", make))) for _ in range(20)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert answers == [42] * 20 and made == [1]


# -- a served workspace on each database ------------------------------------------------------------


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> FastAPI:
    """A small demo (6 RMs × 12 months) in a workspace on the database of the test's kind."""
    root = tmp_path / "ws"
    runner = CliRunner()
    done = runner.invoke(cli, ["init", str(root), "--database-url", database_url])
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        cli, ["demo", str(root), "--rms", "6", "--months", "12", "--start", "2025-01",
              "--no-reports"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return served_app(root)


def _rm(app: FastAPI) -> str:
    with app.state.site.read() as conn:
        return str(
            conn.execute(
                sa.text(
                    "SELECT min(rm_id) FROM scores WHERE period = :p AND level = 'overall' "
                    "AND score IS NOT NULL"
                ),
                {"p": QUARTER},
            ).scalar()
        )


def _set_overall(conn: sa.Connection, rm_id: str, score: str) -> None:
    conn.execute(
        sa.text(
            "UPDATE scores SET score = :s WHERE rm_id = :rm AND period = :p AND level = 'overall'"
        ),
        {"s": Decimal(score), "rm": rm_id, "p": QUARTER},
    )


def _overall(client: TestClient, headers: dict[str, str], rm_id: str) -> float:
    answer = client.get(f"/api/v1/rms/{rm_id}/scorecard?period={QUARTER}", headers=headers)
    assert answer.status_code == 200, answer.text
    return float(answer.json()["overall"])


def test_a_write_of_the_server_shows_on_the_next_read(served: FastAPI) -> None:
    site = served.state.site
    client, headers, rm_id = TestClient(served), bearer(served, "admin"), _rm(served)
    before = _overall(client, headers, rm_id)
    with site.read() as conn:
        kept_rows = stored_score_rows(conn, QUARTER)  # now kept
        assert rm_id in kept_rows
    with site.write() as conn:
        _set_overall(conn, rm_id, "12.34")
    assert before != 12.34 and _overall(client, headers, rm_id) == 12.34
    page = TestClient(served)
    page.post("/login", data={"username": "admin@kraft.demo", "password": "kraft-demo-admin"})
    assert "12.34" in page.get(f"/rms/{rm_id}?period={QUARTER}").text


def test_on_postgresql_a_rescore_by_another_process_shows(served: FastAPI) -> None:
    site = served.state.site
    if site.db.is_duckdb:
        pytest.skip("on DuckDB no other process can write while the server holds the file")
    client, headers, rm_id = TestClient(served), bearer(served, "admin"), _rm(served)
    _overall(client, headers, rm_id)
    other = sa.create_engine(site.db.url)  # another process's connection, not the server's
    try:
        with other.begin() as conn:
            _set_overall(conn, rm_id, "45.67")
    finally:
        other.dispose()
    assert _overall(client, headers, rm_id) == 45.67


def test_kept_values_are_the_database_s(served: FastAPI) -> None:
    """Every RM's values of a period read in bulk, then narrowed, equal a direct read."""
    site = served.state.site
    with site.db.connect() as conn:
        direct = load_rm_values(conn, [QUARTER, "2025-06"], kpi_ids=["client_retention_rate"])
        every = load_rm_values(conn, [QUARTER])
    with site.read() as conn:
        assert keeping()
        assert load_rm_values(conn, [QUARTER, "2025-06"], kpi_ids=["client_retention_rate"]) == (
            direct
        )
        assert load_rm_values(conn, [QUARTER]) == every
        some = sorted(every[QUARTER])[:2]
        assert load_rm_values(conn, [QUARTER], rm_ids=some) == {
            QUARTER: {rm: every[QUARTER][rm] for rm in some}
        }
        assert load_rm_values(conn, [QUARTER], rm_ids=[]) == {}


def test_the_read_ahead_keeps_the_latest_quarters(served: FastAPI) -> None:
    site = served.state.site
    Warmer(site).warm()
    with site.read() as conn:
        version = current_version()
        assert version is not None
        checksum = () if site.db.is_duckdb else overall_checksum(conn, "2025-Q4")
        assert site.reads.peek(("scores", "2025-Q4", checksum, version)) is not None
        assert site.reads.peek(("rm-values", "2025-Q1", version)) is not None  # a trend's
