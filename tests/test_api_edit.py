"""The REST API's edit endpoints on the demo book: targets and manual measurements with optimistic
concurrency (a stale If-Match answers 412 and changes nothing; none answers 428), permissions
(out of scope: 404 as missing; may see but not change: 403), validation (422, one sentence
naming the field), an audit entry per change, scores that follow, and users for admins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kraft.cli import app as cli
from kraft.store import audit
from web_support import bearer, build_demo, demo_database, served_app, signed_in

RM, FOREIGN_RM, MANAGER_RM = "RM0002", "RM0001", "RM0021"
QUARTER = "2025-Q4"
KPI = "client_retention_rate"
RATING = "management_decision_impact"  # manual, entered by the manager only
SAVINGS = "automation_time_savings"  # manual, entered by the manager or the RM rated


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The demo book on each database (the edits' locks and versions differ between them)."""
    with demo_database(request.param) as url:
        yield build_demo(tmp_path_factory.mktemp("api-edit") / "demo", url)


@pytest.fixture(scope="module")
def app(demo: Path) -> Iterator[FastAPI]:
    served = served_app(demo)
    yield served
    served.state.site.db.dispose()


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture(scope="module")
def tokens(app: FastAPI) -> dict[str, dict[str, str]]:
    return {role: bearer(app, role) for role in ("admin", "manager", "rm")}


def call(
    client: TestClient,
    tokens: dict[str, dict[str, str]],
    role: str,
    method: str,
    url: str,
    status: int,
    *,
    etag: str | None = None,
    body: dict[str, Any] | None = None,
) -> Any:
    headers = dict(tokens[role])
    if etag is not None:
        headers["If-Match"] = etag
    answer = client.request(method, url, headers=headers, json=body)
    assert answer.status_code == status, (role, method, url, answer.text)
    if status >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
        detail = answer.json()["detail"]
        assert detail and "\n" not in detail and "Traceback" not in detail
    return answer


def rows(app: FastAPI, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with app.state.site.read() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def actions(app: FastAPI, since: int) -> list[tuple[str, str, str | None]]:
    """(action, actor, object_id) of the audit entries after seq `since`, oldest first."""
    with app.state.site.read() as conn:
        found = [e for e in audit.entries(conn) if e.seq > since]
    return [(e.action, e.actor, e.object_id) for e in reversed(found)]


def last_seq(app: FastAPI) -> int:
    with app.state.site.read() as conn:
        entries = audit.entries(conn, limit=1)
    return entries[0].seq if entries else 0


def scored_target(app: FastAPI, rm_id: str, kpi_id: str, period: str) -> tuple[Any, ...]:
    (found,) = rows(
        app,
        "SELECT target, threshold, target_source, target_id FROM scores WHERE rm_id = :r "
        "AND period = :p AND level = 'kpi' AND item_id = :k",
        r=rm_id,
        p=period,
        k=kpi_id,
    )
    return (float(found[0]), float(found[1]), found[2], found[3])


def test_a_target_version_is_set_replaced_and_deleted_with_its_etag(
    demo: Path, app: FastAPI, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    before = last_seq(app)
    assert scored_target(app, RM, KPI, QUARTER)[2] == "framework"
    made = call(client, tokens, "manager", "POST", "/api/v1/targets", 201, body={
        "scope_type": "rm", "scope_id": RM, "kpi_id": KPI, "period": QUARTER,
        "target": 99, "threshold": 90,
    })  # fmt: skip
    first = made.json()
    tid, etag = first["target_id"], made.headers["etag"]
    assert made.headers["location"] == f"/api/v1/targets/{tid}"
    assert (first["from"], first["to"], first["status"], first["grain"]) == (
        QUARTER, QUARTER, "current", "quarter",
    )  # fmt: skip
    assert first["recorded_by"] == "web:manager@kraft.demo" and first["source"] == "api"
    assert scored_target(app, RM, KPI, QUARTER) == (99.0, 90.0, "rm", tid)  # re-scored
    seen = call(client, tokens, "rm", "GET", f"/api/v1/targets/{tid}", 200)  # it applies to them
    assert seen.headers["etag"] == etag
    count = rows(app, "SELECT count(*) FROM targets")

    call(client, tokens, "manager", "PUT", f"/api/v1/targets/{tid}", 428, body={"target": 95})
    call(client, tokens, "manager", "PUT", f"/api/v1/targets/{tid}", 412,
         etag='"0123456789abcdef"', body={"target": 95})  # fmt: skip
    assert rows(app, "SELECT count(*) FROM targets") == count  # nothing changed
    assert scored_target(app, RM, KPI, QUARTER) == (99.0, 90.0, "rm", tid)

    replaced = call(client, tokens, "manager", "PUT", f"/api/v1/targets/{tid}", 200, etag=etag,
                    body={"target": 95, "threshold": 88})  # fmt: skip
    new, new_etag = replaced.json()["target_id"], replaced.headers["etag"]
    assert new != tid and replaced.json()["source"] == f"api, replacing {tid}"
    assert scored_target(app, RM, KPI, QUARTER) == (95.0, 88.0, "rm", new)
    old = call(client, tokens, "manager", "GET", f"/api/v1/targets/{tid}", 200)
    assert old.json()["status"] == "replaced" and old.json()["replaced_by"] == new
    assert old.headers["etag"] != etag  # the old version's state changed
    call(client, tokens, "manager", "PUT", f"/api/v1/targets/{tid}", 412, etag=etag,
         body={"target": 90})  # fmt: skip
    call(client, tokens, "manager", "PUT", f"/api/v1/targets/{tid}", 409,
         etag=old.headers["etag"], body={"target": 90})  # fmt: skip

    call(client, tokens, "manager", "DELETE", f"/api/v1/targets/{new}", 428)
    deleted = call(client, tokens, "manager", "DELETE", f"/api/v1/targets/{new}", 200,
                   etag=new_etag)  # fmt: skip
    assert deleted.json()["status"] == "deleted"
    assert scored_target(app, RM, KPI, QUARTER) == (85.0, 75.0, "framework", None)
    current = call(client, tokens, "manager", "GET", f"/api/v1/targets?kpi_id={KPI}", 200).json()
    assert [t for t in current if t["scope_id"] == RM] == []
    history = call(client, tokens, "manager", "GET",
                   f"/api/v1/targets?kpi_id={KPI}&scope_id={RM}&history=true", 200).json()  # fmt: skip
    assert [(t["target_id"], t["status"]) for t in history] == [(new, "deleted"), (tid, "replaced")]
    listed = CliRunner().invoke(
        cli, ["--workspace", str(demo), "targets", "list", "--kpi", KPI, "--format", "json"]
    )
    assert listed.exit_code == 0 and RM not in listed.output  # the CLI reads deletions alike
    assert actions(app, before) == [
        ("target.set", "web:manager@kraft.demo", f"rm:{RM}:{KPI}"),
        ("target.set", "web:manager@kraft.demo", f"rm:{RM}:{KPI}"),
        ("target.delete", "web:manager@kraft.demo", f"rm:{RM}:{KPI}"),
    ]


@pytest.mark.parametrize(
    ("role", "body", "status", "starts"),
    [
        ("rm", {"scope_type": "rm", "scope_id": RM}, 403, "Targets are set by managers"),
        ("manager", {"scope_type": "org"}, 403, "Only an admin"),
        ("manager", {"scope_type": "rm", "scope_id": MANAGER_RM}, 403, "Nobody sets their own"),
        ("manager", {"scope_type": "team", "scope_id": "T002"}, 404, "There is no team T002,"),
        ("manager", {"scope_type": "rm", "scope_id": FOREIGN_RM}, 404, f"There is no RM {FOREIGN_RM},"),
        ("admin", {"scope_type": "rm", "scope_id": "RM9999"}, 404, "There is no RM RM9999,"),
        ("manager", {"scope_type": "team", "scope_id": "T003", "threshold": 99}, 422, "threshold"),
        ("manager", {"scope_type": "team", "scope_id": "T003", "kpi_id": "nope"}, 422, "kpi_id"),
        ("manager", {"scope_type": "team", "scope_id": "T003", "period": "2025-Q7"}, 422, "period"),
        ("manager", {"scope_type": "team", "scope_id": "T003", "from": "2025-Q3",
                     "to": "2025-Q1"}, 422, "from"),
        ("manager", {"scope_type": "team", "scope_id": "T003", "target": "lots"}, 422, "target:"),
        ("manager", {"scope_type": "galaxy", "scope_id": "T003"}, 422, "scope_type:"),
        ("manager", {"scope_type": "team", "scope_id": "T003", "period": QUARTER,
                     "from": QUARTER}, 422, "period:"),
    ],
)  # fmt: skip
def test_setting_a_target_is_refused_in_one_sentence(
    app: FastAPI,
    client: TestClient,
    tokens: dict[str, dict[str, str]],
    role: str,
    body: dict[str, Any],
    status: int,
    starts: str,
) -> None:
    count = rows(app, "SELECT count(*) FROM targets")
    given = {"kpi_id": KPI, "target": 90, **body}
    answer = call(client, tokens, role, "POST", "/api/v1/targets", status, body=given)
    assert answer.json()["detail"].startswith(starts)
    assert rows(app, "SELECT count(*) FROM targets") == count


def test_a_target_outside_the_managers_teams_is_not_there_for_them(
    app: FastAPI, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    made = call(client, tokens, "admin", "POST", "/api/v1/targets", 201, body={
        "scope_type": "team", "scope_id": "T002", "kpi_id": KPI, "target": 80,
    })  # fmt: skip
    tid, etag = made.json()["target_id"], made.headers["etag"]
    for role in ("manager", "rm"):
        missing = call(client, tokens, role, "GET", "/api/v1/targets/99999", 404).json()
        foreign = call(client, tokens, role, "GET", f"/api/v1/targets/{tid}", 404).json()
        assert foreign["detail"] == missing["detail"].replace("99999", str(tid))
        listed = call(client, tokens, role, "GET", "/api/v1/targets?history=true", 200).json()
        assert tid not in {t["target_id"] for t in listed}
        call(client, tokens, role, "PUT", f"/api/v1/targets/{tid}", 404, etag=etag,
             body={"target": 70})  # fmt: skip
        call(client, tokens, role, "DELETE", f"/api/v1/targets/{tid}", 404, etag=etag)
    assert (
        call(client, tokens, "admin", "GET", f"/api/v1/targets/{tid}", 200).json()["target"] == 80
    )
    call(client, tokens, "admin", "DELETE", f"/api/v1/targets/{tid}", 200, etag=etag)


def manual_values(app: FastAPI, rm_id: str, kpi_id: str) -> dict[str, tuple[Any, ...]]:
    """period → (value, numerator, denominator, row_count) of the RM's stored manual values."""
    found = rows(
        app,
        "SELECT period, value, numerator, denominator, row_count FROM kpi_values WHERE "
        "entity_type = 'rm' AND entity_id = :r AND kpi_id = :k",
        r=rm_id,
        k=kpi_id,
    )
    return {r[0]: r[1:] for r in found}


def test_a_measurement_is_entered_changed_and_deleted_with_its_etag(
    app: FastAPI, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    url = f"/api/v1/measurements/{RM}/{RATING}/2025-Q3"
    before = last_seq(app)
    call(client, tokens, "manager", "GET", url, 404)
    made = call(client, tokens, "manager", "POST", "/api/v1/measurements", 201, body={
        "rm_id": RM, "kpi_id": RATING, "period": "2025-Q3", "value": 50, "note": "review",
    })  # fmt: skip
    etag = made.headers["etag"]
    assert made.headers["location"] == url
    assert made.json() == {
        "rm_id": RM, "kpi_id": RATING, "period": "2025-Q3", "value": 50.0, "note": "review",
    }  # fmt: skip
    call(client, tokens, "manager", "POST", "/api/v1/measurements", 409,
         body={"rm_id": RM, "kpi_id": RATING, "period": "2025-Q3", "value": 75})  # fmt: skip
    values = manual_values(app, RM, RATING)
    assert values["2025-Q3"] == (50.0, 50.0, 1.0, 1)
    quarters = [values[q][0] for q in ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4")]
    assert values["2025"][3] == 4 and values["2025"][0] == pytest.approx(sum(quarters) / 4)
    assert call(client, tokens, "rm", "GET", url, 200).headers["etag"] == etag  # their own

    call(client, tokens, "manager", "PUT", url, 428, body={"value": 75})
    call(client, tokens, "manager", "PUT", url, 412, etag='"stale"', body={"value": 75})
    assert call(client, tokens, "manager", "GET", url, 200).json()["value"] == 50.0
    changed = call(client, tokens, "manager", "PUT", url, 200, etag=etag,
                   body={"value": 75, "note": "second look"})  # fmt: skip
    assert changed.json()["value"] == 75.0 and changed.headers["etag"] != etag
    assert manual_values(app, RM, RATING)["2025-Q3"] == (75.0, 75.0, 1.0, 1)
    call(client, tokens, "manager", "PUT", url, 412, etag=etag, body={"value": 25})  # lost update
    call(client, tokens, "manager", "DELETE", url, 412, etag=etag)
    assert call(client, tokens, "manager", "GET", url, 200).json()["value"] == 75.0

    call(client, tokens, "manager", "DELETE", url, 204, etag=changed.headers["etag"])
    call(client, tokens, "manager", "GET", url, 404)
    assert manual_values(app, RM, RATING)["2025-Q3"] == (None, None, None, 0)
    assert [(a, obj) for a, _, obj in actions(app, before)] == [
        ("measurement.add", f"{RM}:{RATING}:2025-Q3"),
        ("measurement.change", f"{RM}:{RATING}:2025-Q3"),
        ("measurement.delete", f"{RM}:{RATING}:2025-Q3"),
    ]
    with app.state.site.read() as conn:
        change = next(e for e in audit.entries(conn) if e.action == "measurement.change")
    assert '"value":"50"' in (change.old_value or "") and '"value":"75"' in (change.new_value or "")


def test_a_sessions_api_change_needs_its_csrf_token(app: FastAPI) -> None:
    browser = signed_in(app, "manager")
    url = f"/api/v1/measurements/{RM}/{RATING}/{QUARTER}"
    etag = browser.get(url).headers["etag"]
    refused = browser.put(url, json={"value": 100}, headers={"If-Match": etag})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    done = browser.put(
        url, json={"value": 100}, headers={"If-Match": etag, "X-CSRF-Token": browser.csrf}
    )
    assert done.status_code == 200 and done.json()["value"] == 100.0


@pytest.mark.parametrize(
    ("role", "body", "status", "starts"),
    [
        ("rm", {"kpi_id": RATING}, 403, f"{RATING} is entered by managers, not by an RM"),
        ("manager", {"rm_id": FOREIGN_RM}, 404, f"There is no RM {FOREIGN_RM},"),
        ("manager", {"kpi_id": KPI}, 422, "kpi_id: client_retention_rate is computed"),
        ("manager", {"kpi_id": "nope"}, 422, "kpi_id:"),
        ("manager", {"period": "2025-11"}, 422, "period: 2025-11 is a month"),
        ("manager", {"period": "Q3"}, 422, "period:"),
        ("manager", {"value": 101}, 422, "value: 101 is above 100"),
        ("manager", {"value": -1}, 422, "value: -1 is below 0"),
        ("manager", {"value": "1.1234567"}, 422, "value: 1.1234567 has more than"),
        ("manager", {"value": "a lot"}, 422, "value:"),
        ("manager", {"note": "x" * 2001}, 422, "note:"),
        ("manager", {"colour": "red"}, 422, "colour:"),
    ],
)  # fmt: skip
def test_entering_a_measurement_is_refused_in_one_sentence(
    app: FastAPI,
    client: TestClient,
    tokens: dict[str, dict[str, str]],
    role: str,
    body: dict[str, Any],
    status: int,
    starts: str,
) -> None:
    count = rows(app, "SELECT count(*) FROM measurements")
    given = {"rm_id": RM, "kpi_id": RATING, "period": "2025-Q3", "value": 50, **body}
    answer = call(client, tokens, role, "POST", "/api/v1/measurements", status, body=given)
    assert answer.json()["detail"].startswith(starts)
    assert rows(app, "SELECT count(*) FROM measurements") == count


def test_the_rm_rated_changes_only_what_the_framework_lets_them(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    own = f"/api/v1/measurements/{RM}/{SAVINGS}/2025-Q3"
    etag = call(client, tokens, "rm", "GET", own, 200).headers["etag"]
    call(client, tokens, "rm", "PUT", own, 200, etag=etag, body={"value": 18.5, "note": "study"})
    rating = f"/api/v1/measurements/{RM}/{RATING}/2025-Q2"
    etag = call(client, tokens, "rm", "GET", rating, 200).headers["etag"]
    answer = call(client, tokens, "rm", "PUT", rating, 403, etag=etag, body={"value": 100})
    assert "not by an RM" in answer.json()["detail"]
    other = f"/api/v1/measurements/RM0004/{SAVINGS}/2025-Q3"
    missing = call(
        client, tokens, "rm", "GET", f"/api/v1/measurements/RM9999/{SAVINGS}/2025-Q3", 404
    )
    foreign = call(client, tokens, "rm", "GET", other, 404)
    assert foreign.json()["detail"] == missing.json()["detail"].replace("RM9999", "RM0004")
    call(client, tokens, "rm", "PUT", other, 404, etag='"x"', body={"value": 1})
    listed = call(client, tokens, "rm", "GET", "/api/v1/measurements", 200).json()
    assert listed and {m["rm_id"] for m in listed} == {RM}
    managed = call(client, tokens, "manager", "GET", "/api/v1/measurements", 200).json()
    assert FOREIGN_RM not in {m["rm_id"] for m in managed} and RM in {m["rm_id"] for m in managed}


SCORE_COLUMNS = (
    "rm_id, period, level, item_id, actual, volume, target, threshold, target_source, target_id, "
    "weight, score, status, provisional, coverage, rating, rating_label, capped_at"
)


def test_values_and_scores_after_the_edits_are_what_a_full_compute_gives(
    demo: Path, app: FastAPI, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    """Every edit re-scores only the team trees it reaches: the whole table must equal what
    `kraft compute` (every value, every RM) gives afterwards."""
    url = f"/api/v1/measurements/RM0004/{RATING}/2025-Q2"
    etag = call(client, tokens, "manager", "GET", url, 200).headers["etag"]
    call(client, tokens, "manager", "PUT", url, 200, etag=etag, body={"value": 0})
    call(client, tokens, "manager", "POST", "/api/v1/targets", 201, body={
        "scope_type": "team", "scope_id": "T003", "kpi_id": "sales_conversion_rate",
        "from": "2025-Q3", "target": 45, "threshold": 30,
    })  # fmt: skip
    every = f"SELECT {SCORE_COLUMNS} FROM scores ORDER BY rm_id, period, level, item_id"
    served = (manual_values(app, "RM0004", RATING), rows(app, every))
    assert served[0]["2025-Q2"] == (0.0, 0.0, 1.0, 1)
    team = rows(app, "SELECT DISTINCT target_source FROM scores WHERE item_id = "
                "'sales_conversion_rate' AND period = '2025-Q4'")  # fmt: skip
    assert ("team:T003",) in team
    app.state.site.db.dispose()  # the CLI opens the file itself
    result = CliRunner().invoke(cli, ["--workspace", str(demo), "compute"])
    assert result.exit_code == 0, result.output
    assert manual_values(app, "RM0004", RATING) == served[0]
    recomputed = rows(app, every)
    # the demo is scored from its first month (issue #17 item 6): the months before it that
    # its earlier policies gave values are no longer scored (over 10,000 rows before)
    assert len(recomputed) == len(served[1]) > 5_000
    assert recomputed == served[1]


def test_users_are_added_changed_and_disabled_by_an_admin(
    app: FastAPI, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    before = last_seq(app)
    body = {
        "email": "Priya@Kraft.Demo",
        "password": "long-enough-pw",
        "role": "rm",
        "rm_id": "RM0005",
    }
    made = call(client, tokens, "admin", "POST", "/api/v1/users", 201, body=body).json()
    assert made["email"] == "priya@kraft.demo" and made["active"] and made["rm_id"] == "RM0005"
    call(client, tokens, "admin", "POST", "/api/v1/users", 409, body=body)
    for change, starts in (
        ({"role": "boss"}, "role:"),
        ({"role": "manager", "rm_id": None, "email": "m@kraft.demo"}, "rm_id:"),
        ({"rm_id": "NOPE", "email": "n@kraft.demo"}, "rm_id: 'NOPE'"),
        ({"password": "short", "email": "s@kraft.demo"}, "password:"),
        ({"email": "not-an-email"}, "email:"),
    ):
        answer = call(
            client, tokens, "admin", "POST", "/api/v1/users", 422, body={**body, **change}
        )
        assert answer.json()["detail"].startswith(starts)
    login = {"username": "priya@kraft.demo", "password": "long-enough-pw"}
    token = client.post("/api/v1/auth/token", data=login).json()["access_token"]
    theirs = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=theirs).status_code == 200
    user = f"/api/v1/users/{made['user_id']}"
    assert (
        call(client, tokens, "admin", "PATCH", user, 200, body={"role": "manager"}).json()["role"]
        == "manager"
    )
    assert (
        call(client, tokens, "admin", "PATCH", user, 200, body={"active": False}).json()["active"]
        is False
    )
    assert client.get("/api/v1/auth/me", headers=theirs).status_code == 401  # out at once
    me = call(client, tokens, "admin", "GET", "/api/v1/auth/me", 200).json()["user_id"]
    call(client, tokens, "admin", "PATCH", f"/api/v1/users/{me}", 409, body={"active": False})
    call(client, tokens, "admin", "PATCH", "/api/v1/users/999", 404, body={"active": False})
    for role in ("manager", "rm"):
        call(client, tokens, role, "POST", "/api/v1/users", 403, body=body)
        call(client, tokens, role, "PATCH", user, 403, body={"active": True})
    assert [a for a, _, _ in actions(app, before)] == ["user.add", "user.role", "user.disable"]
    with app.state.site.read() as conn:
        logged = " ".join(f"{e.old_value} {e.new_value}" for e in audit.entries(conn))
    assert "long-enough-pw" not in logged and "argon2" not in logged


def test_the_audit_log_verifies_after_every_change(demo: Path, app: FastAPI) -> None:
    with app.state.site.read() as conn:
        assert len(audit.entries(conn, action="target.set")) >= 3
    app.state.site.db.dispose()
    result = CliRunner().invoke(cli, ["--workspace", str(demo), "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "The audit log is intact" in result.output
