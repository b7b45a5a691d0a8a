"""The application core: one use case, one behaviour, whichever adapter calls it. A compute, a
target change, a measurement and a framework save write the same audit entry from the command
line and from the API (only who acted and the ids a new row gets differ), and a target change
re-scores the same RMs from both."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kraft.cli import app as cli
from kraft.core import compute as core_compute
from kraft.store import audit
from kraft.store.database import workspace_database
from kraft.workspace import load_workspace
from web_support import bearer, build_demo, served_app

# What differs by design between two runs of one change: who acted, the new row's id, when.
VARYING = {"run_id", "target_id", "recorded_at", "recorded_by", "source", "sha256", "file"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("core") / "demo")


@pytest.fixture(scope="module")
def app(demo: Path) -> Iterator[FastAPI]:
    served = served_app(demo)
    with TestClient(served):
        yield served


def newest(root: Path, action: str) -> audit.AuditEntry:
    workspace = load_workspace(root)
    db = workspace_database(workspace.root, workspace.settings.database_url)
    try:
        with db.connect() as conn:
            return audit.entries(conn, limit=1, action=action)[0]
    finally:
        db.dispose()


def comparable(entry: audit.AuditEntry) -> tuple[str, str, Any, Any]:
    """The entry without what differs by design."""

    def strip(text: str | None) -> Any:
        if text is None:
            return None
        value = json.loads(text)
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k not in VARYING}
        return value

    return entry.action, entry.object_type, strip(entry.old_value), strip(entry.new_value)


def run(root: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-w", str(root), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_compute_is_audited_alike_from_the_cli_and_the_api(demo: Path, app: FastAPI) -> None:
    run(demo, "compute", "--from", "2025-10", "--to", "2025-12")
    from_cli = newest(demo, "compute")
    client = TestClient(app)
    started = client.post(
        "/api/v1/compute",
        json={"from": "2025-10", "to": "2025-12"},
        headers=bearer(app, "admin"),
    )
    assert started.status_code == 202, started.text
    url = started.json()["url"]
    for _ in range(600):
        job = client.get(url, headers=bearer(app, "admin")).json()
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["state"] == "done", job
    from_api = newest(demo, "compute")
    assert from_cli.actor.startswith("cli:") and from_api.actor == "web:admin@kraft.demo"
    assert from_api.seq > from_cli.seq
    assert comparable(from_cli) == comparable(from_api)
    assert json.loads(from_api.new_value or "{}")["scorecards"] > 0


def test_a_target_change_is_audited_and_rescored_alike(
    demo: Path, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    rescored: list[frozenset[str] | None] = []
    real = core_compute.score_database

    def spy(*args: Any, **kwargs: Any) -> Any:
        reached = kwargs.get("rm_ids")
        rescored.append(None if reached is None else frozenset(reached))
        return real(*args, **kwargs)

    monkeypatch.setattr(core_compute, "score_database", spy)
    fields = {"kpi_id": "client_meetings_per_month", "period": "2025-11"}
    run(demo, "targets", "set", "--scope", "team", "--id", "T003", "--kpi",
        fields["kpi_id"], "--period", fields["period"], "--target", "7", "--threshold", "3")  # fmt: skip
    from_cli = newest(demo, "target.set")
    answer = TestClient(app).post(
        "/api/v1/targets",
        json={"scope_type": "team", "scope_id": "T003", "target": "7", "threshold": "3", **fields},
        headers=bearer(app, "admin"),
    )
    assert answer.status_code == 201, answer.text
    from_api = newest(demo, "target.set")
    assert from_api.seq > from_cli.seq
    assert comparable(from_cli) == comparable(from_api)
    assert len(rescored) == 2 and rescored[0] == rescored[1]
    assert rescored[0] is not None and "RM0002" in rescored[0]  # T003's RMs, not everyone


def test_a_measurement_is_audited_alike(demo: Path, app: FastAPI) -> None:
    key = {"rm_id": "RM0004", "kpi_id": "management_decision_impact", "period": "2025-Q3"}
    run(demo, "measurements", "set", "--rm", key["rm_id"], "--kpi", key["kpi_id"],
        "--period", key["period"], "--value", "80", "--as", "manager@kraft.demo")  # fmt: skip
    from_cli = newest(demo, "measurement.add")
    assert from_cli.actor == "cli:manager@kraft.demo"
    run(demo, "measurements", "delete", "--rm", key["rm_id"], "--kpi", key["kpi_id"],
        "--period", key["period"], "--as", "manager@kraft.demo")  # fmt: skip
    answer = TestClient(app).post(
        "/api/v1/measurements", json={**key, "value": "80"}, headers=bearer(app, "manager")
    )
    assert answer.status_code == 201, answer.text
    from_api = newest(demo, "measurement.add")
    assert from_api.actor == "web:manager@kraft.demo"
    assert comparable(from_cli) == comparable(from_api)


def test_the_cli_refuses_what_the_web_refuses(demo: Path) -> None:
    """The rules are the core's: an admin does not enter the manager's KPI, from either side."""
    result = CliRunner().invoke(
        cli,
        ["-w", str(demo), "measurements", "set", "--rm", "RM0004", "--kpi",
         "management_decision_impact", "--period", "2025-Q2", "--value", "70"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "management_decision_impact is entered by managers, not by an admin." in result.output


def test_a_framework_version_is_audited_alike(demo: Path, app: FastAPI, tmp_path: Path) -> None:
    headers = bearer(app, "admin")
    client = TestClient(app)
    current = client.get("/api/v1/frameworks/current", headers=headers).json()
    edited = current["yaml"].replace(
        "Relationship Manager (Insurance)", "Relationship Manager (Insurance), edited", 1
    )
    assert edited != current["yaml"]
    file = tmp_path / "edited.yaml"
    file.write_text(edited, encoding="utf-8")
    said = run(demo, "framework", "save", str(file))
    assert "Saved insurance_rm version" in said
    from_cli = newest(demo, "framework.save")
    again = client.get("/api/v1/frameworks/current", headers=headers).json()
    assert again["version"] != current["version"]  # the CLI's save is the current version now
    twice = again["yaml"].replace("edited", "edited twice", 1)
    answer = client.post(
        "/api/v1/frameworks", json={"yaml": twice, "base": again["base"]}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    from_api = newest(demo, "framework.save")
    assert from_api.seq > from_cli.seq
    cli_entry, api_entry = comparable(from_cli), comparable(from_api)
    assert cli_entry[:2] == api_entry[:2] == ("framework.save", "framework")
    assert set(json.loads(from_cli.new_value or "{}")) == set(
        json.loads(from_api.new_value or "{}")
    )
    stale = client.post(
        "/api/v1/frameworks", json={"yaml": twice, "base": again["base"]}, headers=headers
    )
    assert stale.status_code == 412, stale.text  # made on a version that is no longer current
    broken = client.post("/api/v1/frameworks", json={"yaml": "kras: ["}, headers=headers)
    assert broken.status_code == 422 and broken.json()["detail"]
