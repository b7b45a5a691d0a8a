"""Reading an export through a mapping: each source becomes the contract's raw columns."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from kraft.errors import KraftError
from kraft.ingest.mapped import MappedRead, read_mapped
from kraft.ingest.mapping import MappingError, parse_mapping


def _csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows(rows)
    return path


def _read(paths: list[Path], mapping: str) -> MappedRead:
    return read_mapped(paths, parse_mapping(mapping, "m.yaml"))


def _rows(read: MappedRead, table: str) -> list[dict[str, object]]:
    [raw] = [t for t in read.tables if t.table == table]
    return raw.data.to_pylist()


CLAIMS = """
tables:
  claims:
    file: claims*.csv
    date_format: "%d/%m/%Y"
{extra}
    columns:
      claim_id: Claim No
      policy_id: Policy No
      intimation_date: Intimated
      status:
        from: Claim Status
        values: {{Pending: open, settled: settled, "N/A": null}}
{columns}
"""


def _claims(
    tmp_path: Path, rows: list[list[str]], extra: str = "", columns: str = ""
) -> MappedRead:
    header = ["Claim No", "Policy No", "Intimated", "Claim Status", "Paid", "Notes"]
    path = _csv(tmp_path / "claims_2025.csv", [header, *rows])
    return _read([path], CLAIMS.format(extra=extra, columns=columns))


def test_columns_value_maps_and_dates_become_the_contracts(tmp_path: Path) -> None:
    read = _claims(
        tmp_path,
        [
            ["CL1", "P1", "05/03/2024", " PENDING ", "1,234.50", "x"],
            ["CL2", "P2", "2024-03-06", "SETTLED", "", ""],
            ["CL3", "P3", "31/02/2024", "N/A", "7", ""],
            ["CL4", "P4", "", "withdrawn", "", ""],
        ],
        extra="    thousands_separator: ','\n    ignore: [notes]",
        columns="      amount_paid: Paid",
    )
    rows = _rows(read, "claims")
    assert [r["intimation_date"] for r in rows] == ["2024-03-05", "2024-03-06", "31/02/2024", None]
    assert [r["status"] for r in rows] == ["open", "settled", None, "withdrawn"]
    assert [r["amount_paid"] for r in rows] == ["1234.50", None, "7", None]
    assert [r["__row"] for r in rows] == [2, 3, 4, 5]
    [raw] = read.tables
    assert raw.unknown_columns == []  # Notes is ignored (in any case)
    assert raw.source == "claims_2025.csv"


def test_an_unmapped_column_is_reported_and_a_contract_named_one_is_read(tmp_path: Path) -> None:
    header = ["Claim No", "Policy No", "Intimated", "Claim Status", "AMOUNT_PAID", "Remarks"]
    path = _csv(tmp_path / "claims.csv", [header, ["CL1", "P1", "05/03/2024", "Pending", "5", ""]])
    read = _read([path], CLAIMS.format(extra="", columns=""))
    [raw] = read.tables
    assert raw.unknown_columns == ["Remarks"]
    assert _rows(read, "claims")[0]["amount_paid"] == "5"


def test_a_constant_a_column_date_format_and_boolean_words(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "checks.csv",
        [
            ["Check", "Agent", "When", "OK"],
            ["D1", "RM1", "03/15/2024", "Y"],
            ["D2", "RM1", "", "n"],
        ],
    )
    mapping = """
defaults: {true_words: [Y], false_words: [N]}
tables:
  document_checks:
    file: checks.csv
    date_format: "%d/%m/%Y"
    columns:
      check_id: Check
      rm_id: Agent
      date: {from: When, date_format: "%m/%d/%Y"}
      in_good_order: OK
      defects: {value: "0"}
"""
    rows = _rows(_read([path], mapping), "document_checks")
    assert [(r["date"], r["in_good_order"], r["defects"]) for r in rows] == [
        ("2024-03-15", "true", "0"),
        (None, "false", "0"),
    ]


def test_decimal_comma_month_formats_and_an_encoding(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "Nutzung.csv",
        [["Berater", "Werkzeug", "Monat", "Tage"], ["RM1", "Tablet-Café", "03.2024", "1.021"]],
        encoding="cp1252",
    )
    mapping = """
tables:
  tool_usage:
    file: nutzung.csv
    encoding: cp1252
    decimal_separator: ","
    thousands_separator: "."
    columns:
      rm_id: Berater
      tool: Werkzeug
      month: {from: Monat, date_format: "%m.%Y"}
      active_days: Tage
"""
    [row] = _rows(_read([path], mapping), "tool_usage")
    assert row == {
        "rm_id": "RM1",
        "tool": "Tablet-Café",
        "month": "2024-03",
        "active_days": "1021",
        "__row": 2,
    }


def test_utf16_title_rows_and_a_wrong_encoding(tmp_path: Path) -> None:
    rows = [["Team register"], [], ["Team Code", "Team Name"], ["T1", "Zoë"], [], ["T2", "Two"]]
    path = _csv(tmp_path / "teams.csv", rows, encoding="utf-16")
    mapping = "tables:\n  teams:\n    file: teams.csv\n    encoding: utf-16\n    skip_rows: 2\n"
    mapping += "    columns: {team_id: Team Code, name: Team Name}\n"
    got = _rows(_read([path], mapping), "teams")
    assert [(r["team_id"], r["name"], r["__row"]) for r in got] == [
        ("T1", "Zoë", 4),
        ("T2", "Two", 6),
    ]
    with pytest.raises(
        MappingError,
        match=r"teams.csv is not UTF-8 text; declare its encoding in tables.teams.encoding",
    ):
        _read([path], mapping.replace("    encoding: utf-16\n", ""))
    with pytest.raises(
        MappingError, match=r"has no header on row 10; correct tables.teams.skip_rows"
    ):
        _read([path], mapping.replace("skip_rows: 2", "skip_rows: 9"))


def test_a_sheet_below_a_title_with_typed_cells(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Other"
    leads = book.create_sheet("Lead Pipeline")
    leads.append(["Leads as of 31 Jan 2025"])
    leads.append(["Lead No", "Agent", "Created", "Source", "Status", "Premium"])
    leads.append(["L1", "RM1", datetime(2024, 1, 5), "Walk-in", "Converted", 1234.5])
    leads.append(["L2", "RM1", "06/01/2024", "Referral", "Open", "2.500,75"])
    path = tmp_path / "CRM.xlsx"
    book.save(path)
    mapping = """
tables:
  leads:
    file: crm.xlsx
    sheet: lead pipeline
    skip_rows: 1
    date_format: "%d/%m/%Y"
    decimal_separator: ","
    thousands_separator: "."
    columns:
      lead_id: Lead No
      rm_id: Agent
      created_date: Created
      source: {from: Source, values: {Walk-in: walk_in, Referral: referral}}
      status: {from: Status, values: {Converted: won, Open: open}}
      expected_premium: Premium
"""
    read = _read([path], mapping)
    rows = _rows(read, "leads")
    assert [(r["created_date"], r["expected_premium"], r["__row"]) for r in rows] == [
        ("2024-01-05", "1234.5", 3),
        ("2024-01-06", "2500.75", 4),
    ]
    assert read.tables[0].source == "CRM.xlsx sheet Lead Pipeline"
    assert read.notes == ["CRM.xlsx: sheet(s) Other not in the mapping, not read"]
    with pytest.raises(
        MappingError,
        match=r"tables.leads.sheet: CRM.xlsx has no sheet 'Leads' \(sheets: Other, Lead Pipeline\)",
    ):
        _read([path], mapping.replace("sheet: lead pipeline", "sheet: Leads"))


def test_parquet_and_files_the_mapping_does_not_name(tmp_path: Path) -> None:
    pq.write_table(
        pa.table({"Team": ["T1"], "Label": ["One"], "Since": [date(2024, 1, 1)]}),
        tmp_path / "teams.parquet",
    )
    _csv(tmp_path / "clients.csv", [["client_id", "name"], ["C1", "Anil"]])
    mapping = "tables:\n  teams: {file: '*.parquet', columns: {team_id: Team, name: Label}, "
    mapping += "ignore: [since]}\n  claims: {file: 'claims*.csv'}\n"
    read = _read([tmp_path], mapping)
    assert sorted(t.table for t in read.tables) == ["clients", "teams"]
    assert _rows(read, "teams") == [{"team_id": "T1", "name": "One", "__row": 1}]
    assert read.notes == ["the mapping's tables.claims (file claims*.csv) matched no file"]


def test_source_problems_name_the_mapping_key(tmp_path: Path) -> None:
    header = ["Claim No", "Policy", "Intimated", "Claim Status"]
    path = _csv(tmp_path / "claims.csv", [header, ["CL1", "P1", "05/03/2024", "Pending"]])
    with pytest.raises(MappingError) as caught:
        _read([path], CLAIMS.format(extra="", columns=""))
    assert str(caught.value) == (
        "tables.claims.columns.policy_id: claims.csv has no column 'Policy No'; did you mean "
        "Policy?"
    )
    mapping = "tables:\n  claims: {file: claims.csv, columns: {claim_id: Claim No}}\n"
    with pytest.raises(
        MappingError,
        match=r"tables.claims.columns: claims.csv gives no "
        r"policy_id, intimation_date, status, which claims requires",
    ):
        _read([path], mapping)
    twice = mapping + "  policies: {file: '*.csv'}\n"
    with pytest.raises(
        MappingError, match=r"tables\.claims\.file and tables\.policies\.file all match claims\.csv"
    ):
        _read([path], twice)


def test_unreadable_sources_are_one_sentence_each(tmp_path: Path) -> None:
    _csv(tmp_path / "teams.csv", [["Code", "Label"], ["T1", "Zoë"]])
    mapping = "tables:\n  teams:\n    file: teams.csv\n    encoding: ascii\n"
    mapping += "    columns: {team_id: Code, name: Label}\n"
    with pytest.raises(MappingError, match=r"teams.csv is not ascii text; correct tables\.teams"):
        _read([tmp_path / "teams.csv"], mapping)
    (tmp_path / "teams.csv").write_text('Code,Label\nT1,"One\n', encoding="utf-8")
    with pytest.raises(MappingError, match="a quoted value is never closed"):
        _read([tmp_path / "teams.csv"], mapping.replace("ascii", "utf-8"))
    with pytest.raises(MappingError, match=r"over the import size cap"):
        read_mapped([tmp_path / "teams.csv"], parse_mapping(mapping, "m.yaml"), max_bytes=5)
    (tmp_path / "teams.xlsx").write_bytes(b"not a zip")
    with pytest.raises(KraftError, match=r"teams\.xlsx is not a readable \.xlsx workbook"):
        _read([tmp_path / "teams.xlsx"], mapping.replace("teams.csv", "teams.xlsx"))
    (tmp_path / "teams.parquet").write_bytes(b"not parquet")
    with pytest.raises(MappingError, match=r"teams\.parquet is not a readable Parquet file"):
        _read([tmp_path / "teams.parquet"], mapping.replace("teams.csv", "teams.parquet"))


def test_a_workbook_without_a_sheet_named_reads_its_first(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Code", "Label"])
    sheet.append(["T1", "One"])
    book.save(tmp_path / "export.xlsx")
    mapping = "tables:\n  teams: {file: export.xlsx, columns: {team_id: Code, name: Label}}\n"
    read = _read([tmp_path / "export.xlsx"], mapping)
    assert _rows(read, "teams") == [{"team_id": "T1", "name": "One", "__row": 2}]
    assert read.notes == []
