"""Sessions and tokens end server-side (#20): signing out, disabling and a password change raise
the user's token version, so older cookies and tokens answer 401 or go back to sign-in; a
cross-site sign-in is refused (login CSRF); HSTS with secure cookies and no-store on signed-in
answers; integers beyond range answer 422 with a sentence, never 500 (a set generated from the
API's own schema); checked uploads go when the server stops, or at the next start after a kill."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kraft.cli import app as cli
from kraft.store.database import workspace_database
from kraft.web.app import create_app
from kraft.web.security import LOGIN_ATTEMPTS
from kraft.web.upload_folders import STALE_SECONDS
from kraft.workspace import load_workspace
from web_support import LOGINS, Browser, bearer, build_demo, served_app, signed_in

ME = "/api/v1/auth/me"
NEW_PASSWORD = "a new password of some length"
HUGE = (2**63, -(2**63) - 1, 10**30)
REQUIRED = {"period": "2025-Q4", "rm_id": "RM0002", "kpi_id": "client_retention_rate"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("sessions") / "demo")


@pytest.fixture
def app(demo: Path) -> Iterator[FastAPI]:
    served = served_app(demo)
    yield served
    served.state.site.db.dispose()


def _cookie(browser: Browser) -> dict[str, str]:
    return {"kraft_session": str(browser.cookies.get("kraft_session"))}


def test_signing_out_ends_the_old_cookie_and_token(app: FastAPI) -> None:
    browser = signed_in(app, "rm")
    token = bearer(app, "rm")
    kept = _cookie(browser)
    assert TestClient(app, cookies=kept).get(ME).status_code == 200
    assert browser.form("/logout", {}).status_code == 303
    stale = TestClient(app, cookies=kept, follow_redirects=False)
    assert stale.get(ME).status_code == 401
    assert stale.get("/").headers["location"].startswith("/login")
    assert TestClient(app).get(ME, headers=token).status_code == 401  # every session ends


def test_the_api_signs_out_its_token(app: FastAPI) -> None:
    token = bearer(app, "manager")
    client = TestClient(app)
    assert client.post("/api/v1/auth/logout", headers=token).status_code == 204
    answer = client.get(ME, headers=token)
    assert answer.status_code == 401 and "signed out" in answer.json()["detail"]


def test_enabling_a_user_again_does_not_revive_old_tokens(app: FastAPI, demo: Path) -> None:
    token = bearer(app, "rm")
    admin = bearer(app, "admin")
    client = TestClient(app)
    user_id = client.get(ME, headers=token).json()["user_id"]
    for active in (False, True):
        changed = client.patch(f"/api/v1/users/{user_id}", headers=admin, json={"active": active})
        assert changed.status_code == 200, changed.text
    assert client.get(ME, headers=token).status_code == 401
    assert client.get(ME, headers=bearer(app, "rm")).status_code == 200  # a new sign-in works


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_cross_site_sign_in_is_refused(app: FastAPI, headers: dict[str, str]) -> None:
    email, password = LOGINS["rm"]
    browser = TestClient(app, follow_redirects=False)
    answer = browser.post("/login", data={"username": email, "password": password}, headers=headers)
    assert answer.status_code == 403 and "kraft_session" not in answer.headers.get("set-cookie", "")
    assert "did not come from kraft" in answer.text


def test_a_same_site_sign_in_is_accepted(app: FastAPI) -> None:
    email, password = LOGINS["rm"]
    browser = TestClient(app, follow_redirects=False)
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    answer = browser.post("/login", data={"username": email, "password": password}, headers=same)
    assert answer.status_code == 303


def _password_back(demo: Path, email: str, password: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["--workspace", str(demo), "users", "password", email, "--password-stdin"],
        input=password + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "sessions and tokens are ended" in result.output


def test_changing_the_password_on_the_page_ends_the_other_sessions(
    app: FastAPI, demo: Path
) -> None:
    email, old = LOGINS["manager"]
    here, elsewhere, token = (
        signed_in(app, "manager"),
        signed_in(app, "manager"),
        bearer(app, "manager"),
    )
    wrong = here.form("/account/password", {"current": "not it", "new": NEW_PASSWORD})
    assert wrong.status_code == 403 and "current password is wrong" in wrong.text
    short = here.form("/account/password", {"current": old, "new": "short"})
    assert short.status_code == 422
    done = here.form("/account/password", {"current": old, "new": NEW_PASSWORD})
    assert done.status_code == 303, done.text
    assert here.get(done.headers["location"]).status_code == 200  # this session is issued afresh
    assert elsewhere.get(ME).status_code == 401
    assert TestClient(app).get(ME, headers=token).status_code == 401
    _password_back(demo, email, old)
    assert here.get(ME).status_code == 401  # the admin's reset ends it too


def test_changing_the_password_through_the_api_gives_a_fresh_token(
    app: FastAPI, demo: Path
) -> None:
    email, old = LOGINS["rm"]
    token, page = bearer(app, "rm"), signed_in(app, "rm")
    client = TestClient(app)
    change = {"current": old, "new": NEW_PASSWORD}
    answer = client.post("/api/v1/auth/password", headers=token, json=change)
    assert answer.status_code == 200, answer.text
    fresh = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    assert client.get(ME, headers=fresh).status_code == 200
    assert client.get(ME, headers=token).status_code == 401
    assert page.get(ME).status_code == 401
    signed = client.post("/api/v1/auth/token", data={"username": email, "password": NEW_PASSWORD})
    assert signed.status_code == 200
    _password_back(demo, email, old)


def test_guessing_the_current_password_is_limited_as_sign_ins_are(app: FastAPI) -> None:
    client, token = TestClient(app), bearer(app, "admin")
    guess = {"current": "a wrong guess", "new": NEW_PASSWORD}
    for _ in range(LOGIN_ATTEMPTS):
        answer = client.post("/api/v1/auth/password", headers=token, json=guess)
        assert answer.status_code == 403 and "current password is wrong" in answer.text
    refused = client.post("/api/v1/auth/password", headers=token, json=guess)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


def test_the_cli_never_takes_a_password_from_its_arguments(demo: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--workspace", str(demo), "users", "password", LOGINS["rm"][0], "x" * 12]
    )
    assert result.exit_code != 0


def test_headers_hsts_with_secure_cookies_and_no_store_when_signed_in(demo: Path) -> None:
    workspace = load_workspace(demo)
    db = workspace_database(workspace.root, workspace.settings.database_url)
    secure = create_app(workspace, db, secure_cookies=True)
    try:
        client = TestClient(secure, base_url="https://testserver", follow_redirects=False)
        hsts = "max-age=31536000; includeSubDomains"
        assert client.get("/login").headers["strict-transport-security"] == hsts
        token = bearer(secure, "admin")
        for answer in (client.get(ME, headers=token), client.get("/api/v1/users", headers=token)):
            assert answer.headers["strict-transport-security"] == hsts
            assert answer.headers["cache-control"] == "no-store"
        email, password = LOGINS["admin"]
        client.post("/login", data={"username": email, "password": password})
        page = client.get("/")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert client.get("/static/kraft.css").headers["cache-control"].startswith("public")
    finally:
        db.dispose()


def _int_queries(app: FastAPI) -> list[tuple[str, str]]:
    """Every GET route's integer query parameter, from the API's own schema."""
    found = []
    for path, methods in app.openapi()["paths"].items():
        operation = methods.get("get")
        if operation is None or "{" in path:
            continue
        for parameter in operation.get("parameters", []):
            kinds = [parameter["schema"], *parameter["schema"].get("anyOf", [])]
            if parameter["in"] == "query" and any(k.get("type") == "integer" for k in kinds):
                found.append((path, parameter["name"]))
    return found


def test_every_integer_query_beyond_range_answers_422(app: FastAPI) -> None:
    queries = _int_queries(app)
    assert ("/api/v1/audit", "offset") in queries and len(queries) >= 5
    client, token = TestClient(app), bearer(app, "admin")
    for path, name in queries:
        for value in HUGE:
            answer = client.get(path, params={**REQUIRED, name: value}, headers=token)
            assert answer.status_code == 422, (path, name, value, answer.text)
            assert name in answer.json()["detail"]


@pytest.mark.parametrize("field", ["target", "threshold"])
def test_a_target_beyond_range_answers_422_with_a_sentence(app: FastAPI, field: str) -> None:
    client, token = TestClient(app), bearer(app, "admin")
    for value in (*HUGE, "1e400"):
        body: dict[str, Any] = {
            "kpi_id": "client_retention_rate",
            "period": "2026-Q1",
            "target": 90,
            field: value,
        }
        answer = client.post("/api/v1/targets", headers=token, json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"].startswith(f"{field} has more than 18 digits")


def _check_upload(app: FastAPI) -> Path:
    """Check a good file through the page (it is held for Apply); the folder it waits in."""
    admin = signed_in(app, "admin")
    files = [("files", ("clients.csv", b"client_id,name\n", "text/csv"))]
    admin.form("/imports/check", {"mode": "upsert"}, files=files)
    held = list(app.state.site.uploads.folder.glob("upload-*"))
    assert len(held) == 1, held
    return held[0]


def test_checked_uploads_are_removed_when_the_server_stops(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    served = served_app(demo)
    try:
        with TestClient(served):
            held = _check_upload(served)
            assert held.is_relative_to(tmp_path / f"kraft-uploads-{os.getuid()}")
        assert not held.exists() and not served.state.site.uploads.folder.exists()
    finally:
        served.state.site.db.dispose()


def test_a_starting_server_sweeps_what_killed_servers_left(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    root = tmp_path / f"kraft-uploads-{os.getuid()}"
    dead, old, running = (
        root / f"{gone.pid}-a1",
        root / f"{os.getpid()}-b2",
        root / f"{os.getpid()}-c3",
    )
    for folder in (dead, old, running):
        (folder / "upload-x").mkdir(parents=True)
    long_ago = time.time() - STALE_SECONDS - 60
    os.utime(old, (long_ago, long_ago))
    served = served_app(demo)
    try:
        assert not dead.exists() and not old.exists()
        assert running.exists()  # a server still running keeps its uploads
    finally:
        served.state.site.db.dispose()
