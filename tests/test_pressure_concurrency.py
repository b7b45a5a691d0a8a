"""20 concurrent writers on PostgreSQL: each reads the same RM target and the same measurement and
changes them with If-Match, round after round, through two real `kraft serve` processes over one
database (so that the database's locks, not one process's writer lock, keep the order).

Every answer is 200 (applied) or 412 (stale: nothing changed). The applied changes form one chain
(each replaced exactly what the one before it wrote, so none was lost), the final rows are the
last applied change, every row is whole (value and note, target and threshold from the same
request), the audit log has one entry per applied change, and `kraft audit verify` passes."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from pressure_support import Server, kraft, open_db, start_server, stop_server, token
from web_support import build_demo

from conftest import postgres_schema

pytestmark = pytest.mark.slow

WRITERS = 20
ROUNDS = 6
RM = "RM0002"  # in the demo manager's team
TARGET_KPI = "client_retention_rate"
MEASURED_KPI = "automation_time_savings"  # entered by managers (and the RM rated)
PERIOD = "2025-Q2"
TARGET_KEY = f"rm:{RM}:{TARGET_KPI}"
MEASUREMENT_KEY = f"{RM}:{MEASURED_KPI}:{PERIOD}"
MEASUREMENT_URL = f"/api/v1/measurements/{RM}/{MEASURED_KPI}/{PERIOD}"


@dataclass(frozen=True)
class Attempt:
    """One writer's change: what it read (base) and, if applied, what it wrote (new)."""

    status: int
    base: str
    new: str | None
    value: Decimal
    detail: str


def _target_numbers(writer: int, round_: int) -> tuple[Decimal, Decimal]:
    """A value no other request writes, and a threshold tied to it (a torn row shows)."""
    target = Decimal(f"{60 + writer}.{round_ + 1:02d}")
    return target, target - 10


def _measurement_numbers(writer: int, round_: int) -> tuple[Decimal, str]:
    value = Decimal(f"{10 + writer}.{round_ + 1:02d}")
    return value, f"writer {writer} round {round_} value {value}"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Path, list[Server]]]:
    with postgres_schema() as url:
        root = build_demo(tmp_path / "demo", url)
        started: list[Server] = []
        try:
            for i in range(2):
                started.append(start_server(root, tmp_path / f"serve{i}.log"))
            yield root, started
        finally:
            for server in started:
                stop_server(server)


def _writer(
    base_url: str,
    headers: dict[str, str],
    writer: int,
    start: threading.Barrier,
    targets: list[Attempt],
    measurements: list[Attempt],
    other: list[str],
) -> None:
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        start.wait()
        for round_ in range(ROUNDS):
            listed = client.get(
                "/api/v1/targets",
                params={"scope_type": "rm", "scope_id": RM, "kpi_id": TARGET_KPI},
            )
            if listed.status_code != 200 or len(listed.json()) != 1:
                other.append(f"GET targets: {listed.status_code} {listed.text[:300]}")
                continue
            target_id = listed.json()[0]["target_id"]
            read = client.get(f"/api/v1/targets/{target_id}")
            if read.status_code != 200:
                other.append(f"GET target: {read.status_code} {read.text[:300]}")
            elif read.json()["status"] == "current":  # else replaced since the list: re-read
                value, threshold = _target_numbers(writer, round_)
                put = client.put(
                    f"/api/v1/targets/{target_id}",
                    headers={"If-Match": read.headers["etag"]},
                    json={"target": str(value), "threshold": str(threshold)},
                )
                new = str(put.json()["target_id"]) if put.status_code == 200 else None
                targets.append(Attempt(put.status_code, str(target_id), new, value, put.text))

            read = client.get(MEASUREMENT_URL)
            if read.status_code != 200:
                other.append(f"GET measurement: {read.status_code} {read.text[:300]}")
                continue
            value, note = _measurement_numbers(writer, round_)
            put = client.put(
                MEASUREMENT_URL,
                headers={"If-Match": read.headers["etag"]},
                json={"value": str(value), "note": note},
            )
            new = put.headers.get("etag") if put.status_code == 200 else None
            measurements.append(
                Attempt(put.status_code, read.headers["etag"], new, value, put.text)
            )


def _chain(first: str, applied: list[Attempt]) -> list[Attempt]:
    """The applied changes in order, from the first state: each must replace the one before."""
    by_base: dict[str, Attempt] = {}
    for attempt in applied:
        assert attempt.base not in by_base, f"two changes applied to the same state {attempt.base}"
        by_base[attempt.base] = attempt
    order = []
    state = first
    while state in by_base:
        attempt = by_base.pop(state)
        order.append(attempt)
        assert attempt.new is not None
        state = attempt.new
    assert by_base == {}, f"applied changes that replaced no state written before: {by_base}"
    return order


def test_concurrent_writers_lose_no_update(servers: tuple[Path, list[Server]]) -> None:
    root, started = servers
    admin = token(started[0].url, "admin")
    created = httpx.post(
        f"{started[0].url}/api/v1/targets",
        headers=admin,
        json={
            "scope_type": "rm",
            "scope_id": RM,
            "kpi_id": TARGET_KPI,
            "period": "2025-Q4",
            "target": "80",
            "threshold": "70",
        },
        timeout=60,
    )
    assert created.status_code == 201, created.text
    first_target = str(created.json()["target_id"])
    first_measurement = httpx.get(
        f"{started[0].url}{MEASUREMENT_URL}", headers=token(started[0].url, "manager"), timeout=60
    )
    assert first_measurement.status_code == 200, first_measurement.text

    targets: list[Attempt] = []
    measurements: list[Attempt] = []
    other: list[str] = []
    start = threading.Barrier(WRITERS)
    headers = {s.url: token(s.url, "manager") for s in started}
    threads = [
        threading.Thread(
            target=_writer,
            args=(
                started[i % 2].url,
                headers[started[i % 2].url],
                i,
                start,
                targets,
                measurements,
                other,
            ),
        )
        for i in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert other == []
    for kind, attempts in (("target", targets), ("measurement", measurements)):
        unexpected = [(a.status, a.detail[:300]) for a in attempts if a.status not in (200, 412)]
        assert unexpected == [], f"{kind}: answers other than 200 or 412"
    applied_targets = _chain(first_target, [a for a in targets if a.status == 200])
    applied_measurements = _chain(
        first_measurement.headers["etag"], [a for a in measurements if a.status == 200]
    )
    # Contention happened (else the test proves nothing), and some changes got through.
    assert len(applied_targets) >= 2 and any(a.status == 412 for a in targets)
    assert len(applied_measurements) >= 2 and any(a.status == 412 for a in measurements)
    assert len(measurements) == WRITERS * ROUNDS

    engine = open_db(root)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT target_id, target, threshold, source FROM targets "
                    "WHERE scope_type = 'rm' AND scope_id = :rm AND kpi_id = :kpi "
                    "ORDER BY target_id"
                ),
                {"rm": RM, "kpi": TARGET_KPI},
            ).all()
            measurement = conn.execute(
                sa.text(
                    "SELECT value, note FROM measurements "
                    "WHERE rm_id = :rm AND kpi_id = :kpi AND period = :p"
                ),
                {"rm": RM, "kpi": MEASURED_KPI, "p": PERIOD},
            ).one()
            audits = conn.execute(
                sa.text(
                    "SELECT object_type, action, old_value, new_value FROM audit_log "
                    "WHERE object_id IN (:t, :m) ORDER BY seq"
                ),
                {"t": TARGET_KEY, "m": MEASUREMENT_KEY},
            ).all()
    finally:
        engine.dispose()

    # Targets: one version a change (the table is its own history), each whole, the last current.
    assert len(rows) == 1 + len(applied_targets)  # version increments == applied updates
    assert [str(r.target_id) for r in rows[1:]] == [a.new for a in applied_targets]
    for row, attempt in zip(rows[1:], applied_targets, strict=True):
        assert Decimal(str(row.target)) == attempt.value
        assert Decimal(str(row.threshold)) == attempt.value - 10
        assert row.source == f"api, replacing {attempt.base}"
    current = httpx.get(
        f"{started[1].url}/api/v1/targets",
        headers=admin,
        params={"scope_type": "rm", "scope_id": RM, "kpi_id": TARGET_KPI},
        timeout=60,
    ).json()
    assert [str(t["target_id"]) for t in current] == [applied_targets[-1].new]

    # The measurement: the last applied change, value and note of the same request.
    last = applied_measurements[-1]
    assert Decimal(str(measurement.value)) == last.value
    assert measurement.note.endswith(f"value {last.value}")

    # The audit log: exactly one entry per applied change, in the order they were applied.
    target_audits = [a for a in audits if a.object_type == "target"]
    measurement_audits = [a for a in audits if a.object_type == "measurement"]
    assert len(target_audits) == 1 + len(applied_targets)
    assert [Decimal(str(json.loads(a.new_value)["target"])) for a in target_audits[1:]] == [
        a.value for a in applied_targets
    ]
    assert [a.action for a in measurement_audits] == ["measurement.change"] * len(
        applied_measurements
    )
    assert [Decimal(json.loads(a.new_value)["value"]) for a in measurement_audits] == [
        a.value for a in applied_measurements
    ]
    olds = [json.loads(a.old_value)["value"] for a in measurement_audits[1:]]
    assert olds == [json.loads(a.new_value)["value"] for a in measurement_audits[:-1]]

    for server in started:
        stop_server(server)
        assert server.process.returncode == 0, server.output()
        assert "Traceback" not in server.output(), server.output()
    verify = subprocess.run(
        kraft("--workspace", root, "audit", "verify"), capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
