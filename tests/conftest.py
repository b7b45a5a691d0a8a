"""Shared fixtures: the seed document beside the repo, and the CLI runner."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kraft.workspace import Settings, Workspace, init_workspace

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KRAFT_SHARED", REPO.parent / "shared"))
SEED = SHARED / "seed" / "relationship-manager-insurance-kra-kpi.txt"


@pytest.fixture
def seed_text() -> str:
    if not SEED.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the seed document is missing at {SEED}; CI must have ../shared")
        pytest.skip(f"the seed document is not at {SEED} (set KRAFT_SHARED)")
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _no_ambient_workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never pick up a developer's workspace from the environment or the folders above."""
    monkeypatch.delenv("KRAFT_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)


PG_URL = os.environ.get("KRAFT_TEST_POSTGRES_URL")


def postgres_schema_url(schema: str) -> str:
    """The test server's URL with a search_path, so each test works in its own schema."""
    assert PG_URL
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


def require_postgres() -> str:
    if PG_URL:
        return PG_URL
    if os.environ.get("CI"):
        pytest.fail("KRAFT_TEST_POSTGRES_URL is not set; CI must test on PostgreSQL")
    pytest.skip(
        "PostgreSQL tests need KRAFT_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test)"
    )


@contextmanager
def postgres_schema(prefix: str = "kraft_test") -> Iterator[str]:
    """A fresh schema on the test server: its URL with a search_path. Dropped at the end, after
    ending the sessions still in it (a server a test started may still hold connections)."""
    import sqlalchemy as sa

    url = require_postgres()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {url} is unreachable: {exc}")
    try:
        yield postgres_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND query ILIKE :schema"
                ),
                {"schema": f"%{schema}%"},
            )
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["duckdb", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind (no migrations applied)."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'test.duckdb'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def workspace(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Workspace]:
    """A workspace with a migrated database of each kind. When the test is over, its audit log
    must verify (`kraft audit verify` exits 0), so that every scenario that writes ends by
    proving the chain intact; a test that breaks the chain on purpose is marked
    audit_tampered."""
    from kraft.store import migrate
    from kraft.store.database import workspace_database

    # The hand-made books are a few months long: scored from their first month (the default
    # first scored period waits a year after the earliest issue_date; tests/test_tracking.py).
    settings = Settings(database_url=database_url, first_scored_period="2000-01")
    ws, _ = init_workspace(tmp_path / "ws", settings)
    db = workspace_database(ws.root, ws.settings.database_url)
    migrate.upgrade(db)
    db.dispose()
    yield ws
    if request.node.get_closest_marker("audit_tampered") is None:
        verify_audit(ws.root)


def verify_audit(root: Path) -> None:
    """`kraft --workspace ROOT audit verify` must exit 0."""
    from kraft.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(root), "audit", "verify"])
    assert result.exit_code == 0, (
        f"kraft audit verify on {root} after the test: {result.output}{result.stderr}"
    )


def _database_gone(root: Path) -> bool:
    """Did the test remove the workspace or its database itself (a PostgreSQL schema dropped)?"""
    import sqlalchemy as sa

    from kraft.store.database import workspace_database
    from kraft.workspace import load_workspace

    if not (root / "kraft.toml").is_file():
        return True
    db = workspace_database(root, load_workspace(root).settings.database_url)
    try:
        if db.is_duckdb:
            path = db.engine.url.database
            return not path or not Path(path).is_file()
        with db.connect() as conn:
            return not sa.inspect(conn).has_table("audit_log")
    except sa.exc.OperationalError:
        return True
    finally:
        db.dispose()


@pytest.fixture(autouse=True, scope="module")
def _served_demos_verify_their_audit_log() -> Iterator[None]:
    """After a test module, the audit log of every demo it built (tests/web_support.py) must
    verify: the module's own fixtures (apps, servers) are torn down first."""
    yield
    support = sys.modules.get("web_support")
    if support is None:
        return
    built: list[Path] = support.BUILT
    roots, built[:] = list(built), []
    for root in roots:
        if not _database_gone(root):
            verify_audit(root)
