"""`kraft import --mapping`, the workspace's saved mapping, `kraft mapping check` and `use`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from kraft.cli import app
from kraft.store import audit
from kraft.store.database import workspace_database
from kraft.workspace import Workspace, load_workspace
from mapping_books import duckdb_workspace

MAPPING = """
tables:
  teams:
    file: branch*.csv
    skip_rows: 1
    columns:
      team_id: Branch Code
      name: Branch Name
"""


def _kraft(ws: Workspace | None, *args: str) -> tuple[int, str]:
    where = ["--workspace", str(ws.root)] if ws else []
    result = CliRunner().invoke(app, [*where, *args])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output, output
    return result.exit_code, output


def _export(folder: Path, *rows: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["Branch master", "Branch Code,Branch Name,Zone", *rows]
    (folder / "branches_0125.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _teams(ws: Workspace) -> int:
    code, output = _kraft(ws, "status", "--format", "json")
    assert code == 0, output
    return int(json.loads(output)["tables"].get("teams", 0))


def test_import_with_a_mapping_names_it_and_rejects_with_the_files_rows(tmp_path: Path) -> None:
    ws = duckdb_workspace(tmp_path / "ws")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    export = _export(tmp_path / "export", "B1,North,N", ",South,S")
    code, output = _kraft(ws, "import", "--mapping", str(mapping), str(export))
    assert code == 1
    assert "branches_0125.csv column team_id: 1 problem (row 4): is required" in " ".join(
        output.split()
    )
    assert f"The files were read through the mapping {mapping}" in output
    assert _teams(ws) == 0

    _export(tmp_path / "export", "B1,North,N", "B2,South,S")
    code, output = _kraft(ws, "import", "--mapping", str(mapping), str(export))
    assert code == 0, output
    assert f"Mapping applied: {mapping}." in output
    assert "branches_0125.csv: ignored column(s) not in the contract: Zone" in output
    assert _teams(ws) == 2
    digest = hashlib.sha256(mapping.read_bytes()).hexdigest()
    db = workspace_database(ws.root, ws.settings.database_url)
    with db.connect() as conn:
        [entry] = audit.entries(conn, action="import")
    db.dispose()
    applied = json.loads(entry.new_value or "{}")["mapping"]
    assert applied == {"file": str(mapping), "sha256": digest}  # the audit names the mapping


def test_a_saved_mapping_is_applied_by_every_later_import(tmp_path: Path) -> None:
    ws = duckdb_workspace(tmp_path / "ws")
    mapping = ws.root / "insurer.yaml"
    mapping.write_text(MAPPING.replace("name: Branch Name", "name: TODO"), encoding="utf-8")
    code, output = _kraft(ws, "mapping", "use", str(mapping))
    assert code == 1
    assert "tables.teams.columns.name is still a TODO" in output
    assert load_workspace(ws.root).settings.mapping is None

    mapping.write_text(MAPPING, encoding="utf-8")
    code, output = _kraft(ws, "mapping", "use", str(mapping))
    assert code == 0, output
    assert load_workspace(ws.root).settings.mapping == "insurer.yaml"
    code, output = _kraft(ws, "import", str(_export(tmp_path / "export", "B1,North,N")))
    assert code == 0, output
    assert f"Mapping applied: {mapping}." in output
    assert _teams(ws) == 1
    mapping.unlink()
    code, output = _kraft(ws, "import", str(tmp_path / "export"))
    assert code == 1
    assert "kraft.toml: mapping = 'insurer.yaml' names no file" in output
    code, output = _kraft(ws, "audit", "list", "--action", "mapping.save")
    assert code == 0, output
    assert "insurer.yaml" in output


def test_mapping_check_reads_files_through_it(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    code, output = _kraft(None, "mapping", "check", str(mapping))
    assert code == 0, output
    assert "is a valid mapping" in output
    export = _export(tmp_path / "export", "B1,North,N")
    code, output = _kraft(None, "mapping", "check", str(mapping), str(export))
    assert code == 0, output
    assert "teams ← branches_0125.csv: 1 row(s)" in output
