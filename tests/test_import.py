"""`kraft import` end to end on DuckDB and PostgreSQL: upsert, replace, dry run, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kraft.cli import app
from kraft.workspace import Workspace

from books import BASE, write_book, write_table


def kraft(runner: CliRunner, ws: Workspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--workspace", str(ws.root), *args])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output
    return result.exit_code, output


def status(runner: CliRunner, ws: Workspace) -> dict[str, object]:
    code, output = kraft(runner, ws, "status", "--format", "json")
    assert code == 0, output
    return json.loads(output)  # type: ignore[no-any-return]


def test_import_then_reimport_changes_nothing(
    runner: CliRunner, workspace: Workspace, tmp_path: Path
) -> None:
    folder = write_book(tmp_path / "book")
    code, output = kraft(runner, workspace, "import", str(folder))
    assert code == 0, output
    first = status(runner, workspace)
    assert first["tables"]["policies"] == 3  # type: ignore[index]
    assert first["tables"]["relationship_managers"] == 3  # type: ignore[index]
    assert first["as_of"] == "2025-01-10"  # latest event date: P2's issue_date
    assert first["periods"] == {"first": "2024-01", "last": "2025-01", "months": 13}
    summary = first["last_import"]["tables"]  # type: ignore[index]
    assert summary["policies"] == {"inserted": 3, "updated": 0, "unchanged": 0, "removed": 0}

    code, output = kraft(runner, workspace, "import", str(folder))
    assert code == 0, output
    second = status(runner, workspace)
    assert second["tables"] == first["tables"]
    summary = second["last_import"]["tables"]  # type: ignore[index]
    assert summary["policies"] == {"inserted": 0, "updated": 0, "unchanged": 3, "removed": 0}


def test_changed_rows_update_and_replace_removes(
    runner: CliRunner, workspace: Workspace, tmp_path: Path
) -> None:
    kraft(runner, workspace, "import", str(write_book(tmp_path / "book")))
    changed = [dict(r) for r in BASE["policies"]]
    changed[0]["annual_premium"] = "15500"
    del changed[2]
    changed.append(
        {
            **BASE["policies"][1],
            "policy_id": "P4",
            "renewal_of_policy_id": "P2",
            "issue_date": "2026-01-10",
            "start_date": "2026-01-15",
            "end_date": "2027-01-14",
        }
    )
    path = write_table(tmp_path / "new", "policies", changed)
    code, output = kraft(runner, workspace, "import", str(path), "--dry-run")
    assert code == 0, output
    assert "Dry run: nothing was written" in output
    assert status(runner, workspace)["tables"]["policies"] == 3  # type: ignore[index]

    code, output = kraft(runner, workspace, "import", str(path))
    assert code == 0, output
    facts = status(runner, workspace)
    assert facts["tables"]["policies"] == 4  # type: ignore[index]
    assert facts["last_import"]["tables"]["policies"] == {  # type: ignore[index]
        "inserted": 1,
        "updated": 1,
        "unchanged": 1,
        "removed": 0,
    }
    code, output = kraft(runner, workspace, "import", str(path), "--mode", "replace")
    assert code == 0, output
    facts = status(runner, workspace)
    assert facts["tables"]["policies"] == 3  # type: ignore[index]
    assert facts["last_import"]["tables"]["policies"] == {  # type: ignore[index]
        "inserted": 0,
        "updated": 0,
        "unchanged": 3,
        "removed": 1,
    }


def test_rejected_batch_writes_nothing(
    runner: CliRunner, workspace: Workspace, tmp_path: Path
) -> None:
    kraft(runner, workspace, "import", str(write_book(tmp_path / "book")))
    before = status(runner, workspace)
    clients = [*BASE["clients"], {"client_id": "C3", "name": "Chitra"}]
    bad_policy = {**BASE["policies"][0], "policy_id": "P9", "start_date": "2024-13-45"}
    write_table(tmp_path / "bad", "clients", clients)
    write_table(tmp_path / "bad", "policies", [bad_policy])
    code, output = kraft(runner, workspace, "import", str(tmp_path / "bad"))
    assert code == 1
    assert 'policies.csv column start_date: 1 value like "2024-13-45" (row 2): is not a date' in (
        " ".join(output.split())
    )
    assert "nothing was written" in output
    assert status(runner, workspace) == before


def test_as_of_is_recorded(runner: CliRunner, workspace: Workspace, tmp_path: Path) -> None:
    folder = write_book(tmp_path / "book")
    code, output = kraft(runner, workspace, "import", str(folder), "--as-of", "2025-01-31")
    assert code == 0, output
    assert status(runner, workspace)["as_of"] == "2025-01-31"
    code, output = kraft(runner, workspace, "import", str(folder), "--as-of", "2025-31-01")
    assert code == 1
    assert "--as-of '2025-31-01' is not a date; write it as YYYY-MM-DD." in output


def test_audit_records_each_import_and_verifies(
    runner: CliRunner, workspace: Workspace, tmp_path: Path
) -> None:
    folder = write_book(tmp_path / "book")
    kraft(runner, workspace, "import", str(folder))
    kraft(runner, workspace, "import", str(folder))
    code, output = kraft(runner, workspace, "audit", "verify")
    assert code == 0, output
    assert "intact: 2 entries" in output
    code, output = kraft(runner, workspace, "audit", "list")
    assert code == 0
    assert "import" in output
