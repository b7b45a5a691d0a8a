"""Signing in: the login form and its session cookie, CSRF on forms, bearer tokens for the API,
the login limiter, disabled users, and `kraft users add|list|disable`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kraft.cli import app as cli
from web_support import LOGINS, bearer, build_demo, served_app, signed_in


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("web") / "demo")


@pytest.fixture
def app(demo: Path) -> Iterator[FastAPI]:
    served = served_app(demo)
    yield served
    served.state.site.db.dispose()


def users_cli(root: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--workspace", str(root), "users", *args], input=stdin)
    return result.exit_code, result.output


def test_demo_prints_its_sign_ins_and_the_cli_lists_them(demo: Path) -> None:
    code, listed = users_cli(demo, "list")
    assert code == 0
    for email, _ in LOGINS.values():
        assert email in listed
    assert "RM0002" in listed  # the RM's record


def test_a_signed_in_user_lands_on_their_home_with_a_safe_cookie(app: FastAPI) -> None:
    browser = TestClient(app, follow_redirects=False)
    email, password = LOGINS["admin"]
    answer = browser.post("/login", data={"username": email, "password": password})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "kraft_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert password not in cookie


def test_pages_ask_for_sign_in_and_come_back(app: FastAPI) -> None:
    browser = TestClient(app, follow_redirects=False)
    answer = browser.get("/teams?period=2025-Q4")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fteams%3Fperiod%3D2025-Q4"
    email, password = LOGINS["manager"]
    back = browser.post(
        "/login", data={"username": email, "password": password, "next": "/teams?period=2025-Q4"}
    )
    assert back.headers["location"] == "/teams?period=2025-Q4"
    elsewhere = browser.post(
        "/login", data={"username": email, "password": password, "next": "//evil.example/x"}
    )
    assert elsewhere.headers["location"] == "/teams"  # never off the site


def test_a_wrong_password_says_so_and_the_limiter_stops_guessing(app: FastAPI) -> None:
    browser = TestClient(app, follow_redirects=False)
    email, password = LOGINS["rm"]
    for _ in range(5):
        answer = browser.post("/login", data={"username": email, "password": "guess-guess"})
        assert answer.status_code == 401
        assert "The email or password is wrong" in answer.text
    blocked = browser.post("/login", data={"username": email, "password": password})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in blocked.text
    api = TestClient(app).post("/api/v1/auth/token", data={"username": email, "password": password})
    assert api.status_code == 429
    assert api.headers["content-type"] == "application/problem+json"


def test_logout_needs_the_forms_csrf_token(app: FastAPI) -> None:
    browser = signed_in(app, "admin")
    refused = browser.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert browser.get("/api/v1/auth/me").status_code == 200  # still signed in
    done = browser.form("/logout", {})
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert 'kraft_session=""' in done.headers["set-cookie"]


def test_bearer_tokens_and_sessions_reach_the_api(app: FastAPI) -> None:
    client = TestClient(app)
    me = client.get("/api/v1/auth/me", headers=bearer(app, "manager"))
    assert me.json() == {
        "user_id": 2,
        "email": "manager@kraft.demo",
        "role": "manager",
        "rm_id": "RM0021",
    }
    nobody = client.get("/api/v1/auth/me")
    assert nobody.status_code == 401
    assert nobody.headers["content-type"] == "application/problem+json"
    assert "Sign in first" in nobody.json()["detail"]
    forged = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    token = client.post("/api/v1/auth/token", data={"username": "rm@kraft.demo"})
    assert token.status_code == 422 and "password" in token.json()["detail"]


def test_a_disabled_user_is_out_at_once(demo: Path, tmp_path: Path) -> None:
    code, said = users_cli(
        demo, "add", "temp@kraft.demo", "--role", "rm", "--rm-id", "RM0003", "--password-stdin",
        stdin="temporary-password\n",
    )  # fmt: skip
    assert code == 0 and "Added temp@kraft.demo, rm (RM0003)." in said
    served = served_app(demo)
    try:
        client = TestClient(served)
        token = client.post(
            "/api/v1/auth/token",
            data={"username": "temp@kraft.demo", "password": "temporary-password"},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
        served.state.site.db.dispose()
        assert users_cli(demo, "disable", "temp@kraft.demo") == (0, "Disabled temp@kraft.demo.\n")
        served = served_app(demo)
        client = TestClient(served)
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    finally:
        served.state.site.db.dispose()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "x@kraft.demo", "--role", "boss", "--password-stdin"], "long-enough-pw\n",
         "--role 'boss' is not a role"),
        (["add", "x@kraft.demo", "--role", "rm", "--password-stdin"], "long-enough-pw\n",
         "needs --rm-id"),
        (["add", "x@kraft.demo", "--role", "rm", "--rm-id", "NOPE", "--password-stdin"],
         "long-enough-pw\n", "--rm-id 'NOPE' is not in the relationship_managers table"),
        (["add", "admin@kraft.demo", "--role", "admin", "--password-stdin"], "long-enough-pw\n",
         "already a user"),
        (["add", "x@kraft.demo", "--role", "admin", "--password-stdin"], "short\n",
         "shorter than 10 characters"),
        (["add", "not-an-email", "--role", "admin", "--password-stdin"], "long-enough-pw\n",
         "is not an email address"),
        (["add", "x@kraft.demo", "--role", "admin"], "", "--password-stdin"),
        (["disable", "ghost@kraft.demo"], "", "is not a user"),
    ],
)  # fmt: skip
def test_users_cli_refuses_in_one_sentence(
    demo: Path, args: list[str], stdin: str, message: str
) -> None:
    before = users_cli(demo, "list")
    code, said = users_cli(demo, *args, stdin=stdin)
    assert code == 1 and message in said and "Traceback" not in said
    assert len(said.strip().splitlines()) == 1
    assert users_cli(demo, "list") == before  # nothing changed
