"""The review cycle and calibration on the web (pages and API) over the served demo (tests/
web_support.py): each role's steps, 404 for another RM's review, 412 for a stale version, the
snapshot frozen across a real re-score (a target set through the API) with its differences on
the page, and calibration for admins and managers only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kraft.store import audit
from web_support import Browser, bearer, build_demo, served_app, signed_in

PERIOD = "2025-Q4"
OWN_RM = "RM0002"  # rm@kraft.demo, in T003 under the manager's T001
OTHER_RM = "RM0001"  # in T004, outside the manager's teams


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    served = served_app(build_demo(tmp_path_factory.mktemp("web-review") / "demo"))
    yield served
    served.state.site.db.dispose()


@pytest.fixture(scope="module")
def tokens(app: FastAPI) -> dict[str, dict[str, str]]:
    return {role: bearer(app, role) for role in ("admin", "manager", "rm")}


def url(rm_id: str = OWN_RM) -> str:
    return f"/api/v1/rms/{rm_id}/reviews/{PERIOD}"


def post(
    client: TestClient,
    headers: dict[str, str],
    step: str,
    etag: str | None,
    rm_id: str = OWN_RM,
    **body: Any,
) -> Any:
    sent = dict(headers)
    if etag is not None:
        sent["If-Match"] = etag
    return client.post(f"{url(rm_id)}/{step}", headers=sent, json=body)


def test_the_cycle_through_the_api(app: FastAPI, tokens: dict[str, dict[str, str]]) -> None:
    client = TestClient(app)
    admin, manager, rm = tokens["admin"], tokens["manager"], tokens["rm"]
    before = client.get(url(), headers=manager)
    assert before.status_code == 200, before.text
    assert before.json()["review"] is None and before.json()["allowed_steps"] == ["start"]
    assert client.get(url(), headers=rm).json()["allowed_steps"] == []

    # 404 for another RM's review, as for one that does not exist
    for headers, rm_id in ((manager, OTHER_RM), (rm, "RM0004"), (admin, "RM9999")):
        answer = client.get(url(rm_id), headers=headers)
        assert answer.status_code == 404 and answer.headers["content-type"].startswith(
            "application/problem+json"
        )
        assert post(client, headers, "start", None, rm_id).status_code == 404

    assert post(client, rm, "start", None).status_code == 403  # not the RM's step
    # 2025-Q4 ended on the as-of date: inside the grace window, its values may still change
    assert "2025-Q4 ended on 2025-12-31, less than 30 days" in before.json()["unsettled"]
    unconfirmed = post(client, manager, "start", None)
    assert unconfirmed.status_code == 409
    assert "needs your confirmation because 2025-Q4 ended" in unconfirmed.json()["detail"]
    assert client.get(url(), headers=manager).json()["review"] is None  # nothing written
    started = post(client, manager, "start", None, confirm_provisional=True)
    assert started.status_code == 200, started.text
    etag = started.headers["ETag"]
    assert etag == '"1"' and started.json()["review"]["state"] == "draft"
    assert started.json()["review"]["start_confirmation"].startswith("Confirmed: 2025-Q4 ended")
    assert post(client, manager, "start", None).status_code == 409  # exists already

    missing = post(client, manager, "comment", None, text="No If-Match.")
    assert missing.status_code == 428 and "If-Match" in missing.json()["detail"]
    commented = post(client, manager, "comment", etag, text="Strong renewals.")
    assert commented.status_code == 200 and commented.headers["ETag"] == '"2"'
    stale = post(client, manager, "comment", etag, text="Overwrites the first?")
    assert stale.status_code == 412 and "nothing was changed" in stale.json()["detail"]
    etag = commented.headers["ETag"]
    no_reason = post(client, manager, "adjust", etag, rating=5, text=" ")
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    adjusted = post(client, manager, "adjust", etag, rating=5, text="Carried the branch.")
    assert adjusted.status_code == 200 and adjusted.json()["review"]["final_rating"] == 5
    etag = adjusted.headers["ETag"]

    # in draft the RM sees that the review is under way, not the manager's work in progress
    seen = client.get(url(), headers=rm).json()["review"]
    assert seen["state"] == "draft" and seen["manager_comments"] is None
    assert seen["final_rating"] is None and seen["adjustment_reason"] is None
    assert post(client, rm, "self-assess", etag, text="Too early.").status_code == 409  # state

    submitted = post(client, manager, "submit", etag)
    assert submitted.status_code == 200
    etag = submitted.headers["ETag"]
    seen = client.get(url(), headers=rm).json()
    assert seen["review"]["manager_comments"] == "Strong renewals."
    assert seen["allowed_steps"] == ["self-assess"]
    assert post(client, rm, "acknowledge", etag).status_code == 409  # self-assess first
    assessed = post(client, rm, "self-assess", etag, text="I rebuilt the pipeline.")
    etag = assessed.headers["ETag"]
    acknowledged = post(client, rm, "acknowledge", etag)
    etag = acknowledged.headers["ETag"]
    assert post(client, rm, "sign-off", etag).status_code == 403
    assert post(client, manager, "sign-off", etag).status_code == 409  # not confirmed
    signed = post(client, manager, "sign-off", etag, confirm_provisional=True)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["review"]["sign_off_confirmation"].startswith("Confirmed: 2025-Q4 ended")
    assert body["review"]["state"] == "signed_off" and body["changes_since_sign_off"] == []
    assert re.fullmatch(r"[0-9a-f]{64}", body["snapshot_sha256"])
    assert post(client, manager, "reopen", signed.headers["ETag"], text="x").status_code == 403

    listed = client.get(f"/api/v1/reviews?period={PERIOD}", headers=manager).json()
    assert [r["rm_id"] for r in listed] == [OWN_RM]
    assert client.get("/api/v1/reviews", headers=tokens["rm"]).json()[0]["rm_id"] == OWN_RM
    # the export carries the final rating
    scores = client.get(f"/api/v1/scores?rm_id={OWN_RM}&period={PERIOD}", headers=admin).json()
    record = scores["items"][0] if isinstance(scores, dict) else scores[0]
    assert record["final_rating"] == 5 and record["rating"] != 5

    with app.state.site.read() as conn:
        entries = [e for e in audit.entries(conn) if e.object_id == f"{OWN_RM}/{PERIOD}"]
        assert audit.verify(conn) == []
    actions = [e.action for e in entries]
    assert all("Confirmed: 2025-Q4" in (e.new_value or "") for e in (entries[0], entries[-1]))
    assert actions == [
        "review.sign-off", "review.acknowledge", "review.self-assess", "review.submit",
        "review.adjust", "review.comment", "review.start",
    ]  # fmt: skip
    re_score_after_sign_off(app, tokens)


def form_step(browser: Browser, rm_id: str, step: str, version: str, **fields: str) -> Any:
    return browser.form(
        f"/rms/{rm_id}/reviews/{PERIOD}", {"step": step, "version": version, **fields}
    )


def version_on(page: str, step: str) -> str:
    found = re.search(
        rf'name="step" value="{step}">\s*<input type="hidden" name="version" value="(\d*)"', page
    )
    assert found, page[:2000]
    return found[1]


def test_the_cycle_through_the_pages_and_a_re_score_after_sign_off(
    app: FastAPI, tokens: dict[str, dict[str, str]]
) -> None:
    rm_id = "RM0004"  # the manager's, in T003
    manager = signed_in(app, "manager")
    card = manager.get(f"/rms/{rm_id}?period={PERIOD}")
    assert f'href="/rms/{rm_id}/reviews/{PERIOD}"' in card.text  # the scorecard links to it
    page = manager.get(f"/rms/{rm_id}/reviews/{PERIOD}")
    assert page.status_code == 200 and "not started" in page.text
    assert "Start the review" in page.text
    assert 'id="unsettled-start"' in page.text and 'name="confirm_provisional"' in page.text
    refused = form_step(manager, rm_id, "start", "")
    assert refused.status_code == 409 and "needs your confirmation" in refused.text
    started = form_step(manager, rm_id, "start", "", confirm_provisional="1")
    assert started.status_code == 303
    page = manager.get(started.headers["location"])
    assert "The review is started." in page.text and 'id="review-start-confirmation"' in page.text
    version = version_on(page.text, "comment")
    assert form_step(manager, rm_id, "comment", version, text="Steady.").status_code == 303
    stale = form_step(manager, rm_id, "comment", version, text="Lost?")
    assert stale.status_code == 409 and "nothing was changed" in stale.text
    assert "Lost?" in stale.text  # what was typed is kept
    page = manager.get(f"/rms/{rm_id}/reviews/{PERIOD}")
    version = version_on(page.text, "adjust")
    refused = form_step(manager, rm_id, "adjust", version, rating="4", text="")
    assert refused.status_code == 422 and "reason for the adjustment is empty" in refused.text
    done = form_step(manager, rm_id, "adjust", version, rating="4", text="Covered a leave.")
    assert done.status_code == 303
    page = manager.get(f"/rms/{rm_id}/reviews/{PERIOD}")
    assert "Covered a leave." in page.text
    version = version_on(page.text, "submit")
    assert form_step(manager, rm_id, "submit", version).status_code == 303

    # RM0004 has no sign-in in the demo; the RM's steps are nobody else's
    assert signed_in(app, "rm").get(f"/rms/{rm_id}/reviews/{PERIOD}").status_code == 404
    page = manager.get(f"/rms/{rm_id}/reviews/{PERIOD}")
    assert "reviewed by the manager" in page.text and 'value="self-assess"' not in page.text
    assert form_step(manager, rm_id, "self-assess", "4", text="Mine?").status_code == 403
    # an admin reopens it, with a reason, from the page
    admin = signed_in(app, "admin")
    page = admin.get(f"/rms/{rm_id}/reviews/{PERIOD}")
    version = version_on(page.text, "reopen")
    assert form_step(admin, rm_id, "reopen", version, text="").status_code == 422
    reopened = form_step(admin, rm_id, "reopen", version, text="Wrong period.")
    assert reopened.status_code == 303
    page = admin.get(reopened.headers["location"])
    assert "The review is reopened." in page.text and "Wrong period." in page.text
    listing = manager.get(f"/reviews?period={PERIOD}")
    assert f'href="/rms/{rm_id}/reviews/{PERIOD}"' in listing.text


def re_score_after_sign_off(app: FastAPI, tokens: dict[str, dict[str, str]]) -> None:
    """A signed review is frozen across a real re-score, and its page lists the differences."""
    client = TestClient(app)
    manager, rm = tokens["manager"], tokens["rm"]
    rm_id = OWN_RM
    review = client.get(url(rm_id), headers=manager).json()
    assert review["review"]["state"] == "signed_off"
    snapshot = review["snapshot_sha256"]
    # a real re-score: a higher retention target for the RM lowers its score
    made = client.post(
        "/api/v1/targets",
        headers=tokens["admin"],
        json={"scope_type": "rm", "scope_id": rm_id, "kpi_id": "client_retention_rate",
              "period": PERIOD, "target": 99, "threshold": 97},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    [warning] = made.json()["warnings"]  # saved all the same, naming the signed-off review
    assert f"({rm_id} {PERIOD})" in warning and "snapshots stay as signed" in warning
    shown = signed_in(app, "admin").get(f"/targets/{made.json()['target_id']}?saved=set")
    assert 'id="target-signed-off"' in shown.text and f"{rm_id} {PERIOD}" in shown.text
    after = client.get(url(rm_id), headers=rm).json()
    assert after["snapshot_sha256"] == snapshot
    assert after["review"]["final_rating"] == 5 and after["review"]["version"] == 7
    changed = {(c["item"], c["field"]) for c in after["changes_since_sign_off"]}
    assert ("KPI client_retention_rate", "target") in changed
    assert ("overall", "score") in changed
    page = signed_in(app, "rm").get(f"/rms/{rm_id}/reviews/{PERIOD}")
    assert "Data changed since sign-off" in page.text and 'id="changes"' in page.text
    assert "Signed snapshot" in page.text and snapshot in page.text


def test_calibration_for_admins_and_managers_only(
    app: FastAPI, tokens: dict[str, dict[str, str]]
) -> None:
    client = TestClient(app)
    answer = client.get(f"/api/v1/calibration?period={PERIOD}", headers=tokens["admin"])
    assert answer.status_code == 200, answer.text
    everyone = answer.json()
    assert everyone["period"] == PERIOD and everyone["target"] is None
    assert {g["group_id"] for g in everyone["by_manager"]} == {"RM0021", "RM0023"}
    assert sum(everyone["total"]["computed"].values()) == everyone["total"]["rms"]
    mine = client.get(
        f"/api/v1/calibration?period={PERIOD}&target_distribution=10,20,40,20,10",
        headers=tokens["manager"],
    ).json()
    assert {g["group_id"] for g in mine["by_manager"]} == {"RM0021"}
    assert {m["team_id"] for m in mine["rated"]} == {"T003"}
    target = mine["target"]
    assert [g["rating"] for g in target] == [5, 4, 3, 2, 1]
    assert sum(g["final_rms"] for g in target) == mine["total"]["rms"]
    assert target[2]["target_rms"] == pytest.approx(mine["total"]["rms"] * 0.4)
    bad = client.get(
        f"/api/v1/calibration?period={PERIOD}&target_distribution=50,50", headers=tokens["admin"]
    )
    assert bad.status_code == 422 and "target_distribution has 2 numbers" in bad.json()["detail"]
    assert client.get("/api/v1/calibration", headers=tokens["rm"]).status_code == 404

    admin = signed_in(app, "admin")
    page = admin.get(f"/calibration?period={PERIOD}&target=10,20,40,20,10")
    assert page.status_code == 200 and "By manager" in page.text and "Final − target" in page.text
    assert signed_in(app, "rm").get("/calibration").status_code == 404
    assert "Calibration" in signed_in(app, "manager").get("/calibration").text
    refused = admin.get(f"/calibration?period={PERIOD}&target=1,2")
    assert "The target distribution has 2 numbers" in refused.text


def test_a_settled_quarter_needs_no_confirmation(
    app: FastAPI, tokens: dict[str, dict[str, str]]
) -> None:
    """2025-Q3 ended 92 days before the as-of date: past every grace window."""
    settled = f"/api/v1/rms/{OWN_RM}/reviews/2025-Q3"
    client = TestClient(app)
    assert client.get(settled, headers=tokens["manager"]).json()["unsettled"] is None
    page = signed_in(app, "manager").get(f"/rms/{OWN_RM}/reviews/2025-Q3")
    assert "Start the review" in page.text and "confirm_provisional" not in page.text
    started = client.post(f"{settled}/start", headers=tokens["manager"], json={})
    assert started.status_code == 200 and started.json()["review"]["start_confirmation"] is None
