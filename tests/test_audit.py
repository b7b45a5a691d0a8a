"""The audit log's hash chain: intact after appends, broken by any edit or deletion."""

from __future__ import annotations

import pytest

from kraft.store import audit
from kraft.store.database import workspace_database
from kraft.workspace import Workspace


def _db(ws: Workspace):  # type: ignore[no-untyped-def]
    return workspace_database(ws.root, ws.settings.database_url)


def _append_three(ws: Workspace) -> None:
    db = _db(ws)
    for i in range(3):
        with db.begin() as conn:
            audit.append(
                conn,
                actor="test",
                action="target.set",
                object_type="target",
                object_id=f"T{i}",
                old={"target": i},
                new={"target": i + 1},
            )
    db.dispose()


def _verify(ws: Workspace) -> list[str]:
    db = _db(ws)
    with db.connect() as conn:
        problems = audit.verify(conn)
    db.dispose()
    return problems


def _execute(ws: Workspace, sql: str) -> None:
    db = _db(ws)
    with db.begin() as conn:
        conn.exec_driver_sql(sql)
    db.dispose()


def test_chain_is_intact_after_appends(workspace: Workspace) -> None:
    assert _verify(workspace) == []
    _append_three(workspace)
    assert _verify(workspace) == []
    db = _db(workspace)
    with db.connect() as conn:
        entries = audit.entries(conn)
    db.dispose()
    assert [e.seq for e in entries] == [3, 2, 1]
    assert entries[2].prev_hash == audit.GENESIS
    assert entries[1].prev_hash == entries[2].hash
    assert entries[0].new_value == '{"target":3}'


@pytest.mark.audit_tampered
def test_an_edited_entry_is_detected(workspace: Workspace) -> None:
    _append_three(workspace)
    _execute(workspace, "UPDATE audit_log SET new_value = '{\"target\":99}' WHERE seq = 2")
    assert _verify(workspace) == ["entry 2 was changed after it was written"]


@pytest.mark.audit_tampered
def test_a_deleted_entry_is_detected(workspace: Workspace) -> None:
    _append_three(workspace)
    _execute(workspace, "DELETE FROM audit_log WHERE seq = 2")
    problems = _verify(workspace)
    assert "entry 2 is missing (deleted)" in problems
    assert "entry 3 does not link to the entry before it" in problems


@pytest.mark.audit_tampered
def test_deleting_the_newest_entry_is_detected(workspace: Workspace) -> None:
    _append_three(workspace)
    _execute(workspace, "DELETE FROM audit_log WHERE seq = 3")
    assert _verify(workspace) == ["entries 3 to 3 are missing (deleted)"]


@pytest.mark.audit_tampered
def test_a_rewritten_chain_is_still_caught_by_the_head(workspace: Workspace) -> None:
    _append_three(workspace)
    _execute(workspace, "DELETE FROM audit_log")
    assert _verify(workspace) == ["entries 1 to 3 are missing (deleted)"]
