"""An insurer's own export, end to end: `kraft mapping suggest` proposes a mapping, a person
settles its TODOs, `kraft import --mapping` imports it, and the KPI values equal those of the
same book imported in the contract's layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from kpi_books import values
from kraft.cli import app
from kraft.ingest.mapping import _TextLoader
from mapping_books import duckdb_workspace, write_contract_book, write_insurer_export

AS_OF = "2025-01-31"


def _kraft(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output, output
    return result.exit_code, output


def _todos(node: Any, key: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        found: dict[str, str] = {}
        for k, v in node.items():
            found.update(_todos(v, f"{key}.{k}" if key else str(k)))
        return found
    if isinstance(node, list):
        return {f"{key}.{i}": v for i, v in enumerate(node) if str(v).startswith("TODO")}
    return {key: node} if isinstance(node, str) and node.startswith("TODO") else {}


def _settle(path: Path) -> None:
    """What a person does with the two TODOs: the claims system writes day-first dates (as the
    policy register does), and the RM master is a Windows export."""
    mapping = yaml.load(path.read_text(encoding="utf-8"), Loader=_TextLoader)
    todos = _todos(mapping)
    assert set(todos) == {"tables.claims.date_format", "tables.relationship_managers.encoding"}
    assert "%d/%m/%Y or %m/%d/%Y" in todos["tables.claims.date_format"]
    mapping["tables"]["claims"]["date_format"] = "%d/%m/%Y"
    mapping["tables"]["relationship_managers"]["encoding"] = "cp1252"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")


def test_an_insurers_export_imports_through_a_suggested_mapping(tmp_path: Path) -> None:
    contract = duckdb_workspace(tmp_path / "contract")
    code, output = _kraft(
        "--workspace",
        str(contract.root),
        "import",
        str(write_contract_book(tmp_path / "book")),
        "--as-of",
        AS_OF,
    )
    assert code == 0, output
    expected = values(contract)

    export = write_insurer_export(tmp_path / "export")
    mapping = tmp_path / "mapping.yaml"
    code, output = _kraft("mapping", "suggest", str(export), "-o", str(mapping))
    assert code == 0, output
    assert "policies ← Policy_Register_20250131.csv" in output
    assert "Needs a look (3)" in output  # two TODOs and the ignored Branch column

    code, output = _kraft("mapping", "check", str(mapping))
    assert code == 1
    assert "tables.claims.date_format is still a TODO" in output

    _settle(mapping)
    mapped = duckdb_workspace(tmp_path / "mapped")
    code, output = _kraft(
        "--workspace",
        str(mapped.root),
        "import",
        "--mapping",
        str(mapping),
        str(export),
        "--as-of",
        AS_OF,
    )
    assert code == 0, output
    assert f"Mapping applied: {mapping}" in output
    assert "policies: rounded to 6 decimal places (half to even): 7 annual_premium" in output
    got = values(mapped)
    assert got == expected
    assert len(got) > 100
