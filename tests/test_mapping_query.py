"""A mapping's `query:` source: rows read read-only from a database whose URL is in the
environment, run only from the command line."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.core.imports import read_import_files
from kraft.ingest.mapped import read_mapped
from kraft.ingest.mapping import MappingError, parse_mapping
from mapping_books import duckdb_workspace

MAPPING = """
tables:
  teams:
    query: SELECT code, label, CAST(opened AS DATE) AS opened FROM branch_view ORDER BY code
    database: CRM_URL
    columns: {team_id: code, name: label}
    ignore: [opened]
"""


@pytest.fixture
def crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "crm.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE branches (code VARCHAR, label VARCHAR, opened DATE, n DECIMAL(9,2))"
        )
        con.execute(
            "INSERT INTO branches VALUES ('B1', 'North', '2020-01-01', 1.50), ('B2', 'South', NULL, 2)"
        )
        con.execute("CREATE VIEW branch_view AS SELECT * FROM branches")
    monkeypatch.setenv("CRM_URL", f"duckdb:///{path}")
    return path


def test_a_query_source_reads_the_view_read_only(crm: Path) -> None:
    read = read_mapped([], parse_mapping(MAPPING, "m.yaml"), queries=True)
    [raw] = read.tables
    assert raw.source == "the query of tables.teams"
    assert raw.data.to_pylist() == [
        {"team_id": "B1", "name": "North", "__row": 1},
        {"team_id": "B2", "name": "South", "__row": 2},
    ]
    writing = MAPPING.replace(
        "SELECT code, label, CAST(opened AS DATE) AS opened FROM branch_view ORDER BY code",
        "DELETE FROM branches RETURNING code, label",
    )
    with pytest.raises(MappingError, match=r"tables\.teams\.query failed on the database"):
        read_mapped([], parse_mapping(writing, "m.yaml"), queries=True)
    secret = crm.parent / "secret.csv"
    secret.write_text("code,label\nX,Y\n", encoding="utf-8")
    reading_files = MAPPING.replace(
        "SELECT code, label, CAST(opened AS DATE) AS opened FROM branch_view ORDER BY code",
        f"SELECT * FROM read_csv('{secret}')",
    )
    with pytest.raises(MappingError, match="file system operations are disabled"):
        read_mapped([], parse_mapping(reading_files, "m.yaml"), queries=True)
    with duckdb.connect(str(crm), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM branches").fetchall() == [(2,)]


def test_queries_run_only_where_allowed_and_from_the_environment(
    crm: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    with pytest.raises(MappingError, match=r"tables\.teams\.query: a database query runs only"):
        read_import_files([], mapping=mapping)  # as the web reads: queries not allowed
    monkeypatch.delenv("CRM_URL")
    with pytest.raises(MappingError, match="the environment variable CRM_URL is not set"):
        read_import_files([], mapping=mapping, queries=True)
    monkeypatch.setenv("CRM_URL", "sqlite:///x.db")
    with pytest.raises(MappingError, match="names a sqlite database"):
        read_import_files([], mapping=mapping, queries=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("    database: CRM_URL\n", "tables.teams.database is only for a query: source"),
        ("    query: SELECT 1\n", "tables.teams: say where its rows come from"),
        ("    database: postgresql://u:pw@host/db\n", "name the environment variable"),
    ],
)
def test_query_keys_are_checked(text: str, expected: str) -> None:
    base = "tables:\n  teams:\n    file: t.csv\n"
    with pytest.raises(MappingError, match=expected):
        parse_mapping(base + text, "m.yaml")
    with pytest.raises(MappingError, match=r"tables\.teams\.database is missing"):
        parse_mapping("tables:\n  teams: {query: SELECT 1}\n", "m.yaml")


def test_kraft_import_runs_a_mappings_query(crm: Path, tmp_path: Path) -> None:
    ws = duckdb_workspace(tmp_path / "ws")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["--workspace", str(ws.root), "import", "--mapping", str(mapping)]
    )
    assert result.exit_code == 0, result.output
    assert "teams" in result.output and f"Mapping applied: {mapping}." in result.output
