"""Shared fixtures: the seed document beside the repo, and the CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
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


def _require_postgres() -> str:
    if PG_URL:
        return PG_URL
    if os.environ.get("CI"):
        pytest.fail("KRAFT_TEST_POSTGRES_URL is not set; CI must test on PostgreSQL")
    pytest.skip(
        "PostgreSQL tests need KRAFT_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test)"
    )


@pytest.fixture(params=["duckdb", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind (no migrations applied)."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'test.duckdb'}"
        return
    url = _require_postgres()
    import sqlalchemy as sa

    schema = f"kraft_test_{uuid.uuid4().hex[:12]}"
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
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def workspace(database_url: str, tmp_path: Path) -> Workspace:
    """A workspace with a migrated database of each kind."""
    from kraft.store import migrate
    from kraft.store.database import workspace_database

    ws, _ = init_workspace(tmp_path / "ws", Settings(database_url=database_url))
    db = workspace_database(ws.root, ws.settings.database_url)
    migrate.upgrade(db)
    db.dispose()
    return ws
