"""A served demo workspace for the web tests: `kraft demo --rms 20 --months 12` built once per
test module (DuckDB, or PostgreSQL with `demo_database`), with its three sign-ins, and clients signed in as each role.

    app = served_app(root)           # the FastAPI app over the workspace
    browser = signed_in(app, "rm")   # a TestClient with the RM's session cookie and CSRF token
    headers = bearer(app, "admin")   # {"Authorization": "Bearer …"} for the API
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kraft.cli import app as cli
from kraft.store.database import workspace_database
from kraft.web.app import create_app
from kraft.workspace import load_workspace

from conftest import postgres_schema

LOGINS = {
    "admin": ("admin@kraft.demo", "kraft-demo-admin"),
    "manager": ("manager@kraft.demo", "kraft-demo-manager"),
    "rm": ("rm@kraft.demo", "kraft-demo-rm"),
}
DEMO_ARGS = ("--rms", "20", "--months", "12", "--start", "2025-01", "--no-reports")
AS_OF = "2025-12-31"  # the demo book's last day
# Every demo built, for tests/conftest.py to run `kraft audit verify` on after the test module.
BUILT: list[Path] = []


def build_demo(root: Path, database_url: str | None = None, *args: str) -> Path:
    """The demo workspace at root: its own DuckDB file, or the database of `database_url`;
    `kraft demo` with `args` (default DEMO_ARGS: 20 RMs × 12 months)."""
    runner = CliRunner()
    if database_url is not None:
        made = runner.invoke(cli, ["init", str(root), "--database-url", database_url])
        assert made.exit_code == 0, made.output
    result = runner.invoke(cli, ["demo", str(root), *(args or DEMO_ARGS)])
    assert result.exit_code == 0, result.output
    BUILT.append(root)
    return root


@contextmanager
def demo_database(kind: str) -> Iterator[str | None]:
    """None for DuckDB (the workspace's own file); for PostgreSQL the URL of a fresh schema of
    the test server, dropped afterwards (skipped without KRAFT_TEST_POSTGRES_URL, failed in CI)."""
    if kind == "duckdb":
        yield None
        return
    with postgres_schema("kraft_web") as url:
        yield url


def served_app(root: Path) -> FastAPI:
    workspace = load_workspace(root)
    db = workspace_database(workspace.root, workspace.settings.database_url)
    return create_app(workspace, db)


class Browser(TestClient):
    """A TestClient signed in through the login form, keeping its cookie and CSRF token."""

    csrf: str = ""

    def form(self, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
        return self.post(url, data={**data, "csrf_token": self.csrf}, **kwargs)


def signed_in(app: FastAPI, role: str) -> Browser:
    browser = Browser(app, follow_redirects=False)
    email, password = LOGINS[role]
    answer = browser.post("/login", data={"username": email, "password": password})
    assert answer.status_code == 303, answer.text
    page = browser.get(answer.headers["location"], follow_redirects=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found, page.text[:500]
    browser.csrf = found[1]
    return browser


def bearer(app: FastAPI, role: str) -> dict[str, str]:
    email, password = LOGINS[role]
    answer = TestClient(app).post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
