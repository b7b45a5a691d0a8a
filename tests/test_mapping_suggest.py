"""`kraft mapping suggest`: what the sample settles is written, what it cannot is a TODO."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kraft.ingest.mapping import MappingError, parse_mapping
from kraft.ingest.mapping_suggest import Suggestion, suggest_mapping


def _csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows(rows)
    return path


def _suggest(
    tmp_path: Path, name: str, rows: list[list[str]], encoding: str = "utf-8"
) -> Suggestion:
    return suggest_mapping([_csv(tmp_path / name, rows, encoding)])


def test_an_insurers_names_and_words_are_matched(tmp_path: Path) -> None:
    suggestion = _suggest(
        tmp_path,
        "Agent_Master_20250131.csv",
        [
            ["Agent Code", "Agent Name", "DOJ", "E-mail", "Team Code", "Active", "Designation"],
            ["A1", "Ravi", "25/01/2021", "r@x.in", "T1", "Y", "Sr RM"],
            ["A2", "Asha", "02/11/2022", "", "T1", "N", "RM"],
        ],
    )
    entry = suggestion.tables["relationship_managers"]
    assert entry["file"] == "Agent_Master_*.csv"
    assert entry["columns"] == {
        "rm_id": "Agent Code",
        "name": "Agent Name",
        "email": "E-mail",
        "team_id": "Team Code",
        "hire_date": "DOJ",
        "active": "Active",
    }
    assert entry["date_format"] == "%d/%m/%Y"
    assert (entry["true_words"], entry["false_words"]) == (["Y"], ["N"])
    assert entry["ignore"] == ["Designation"]
    assert any("Designation" in line for line in suggestion.todo)
    parse_mapping(suggestion.yaml(), "suggested")  # nothing left to decide: it loads


def test_ambiguous_dates_and_unknown_words_are_todos(tmp_path: Path) -> None:
    suggestion = _suggest(
        tmp_path,
        "policy register.csv",
        [
            [
                "Policy No",
                "Client Code",
                "RM Code",
                "LOB",
                "Biz Type",
                "Issue Date",
                "Start Date",
                "End Date",
                "Status",
                "Premium",
            ],
            [
                "P1",
                "C1",
                "R1",
                "Motor",
                "Fresh",
                "05/03/2024",
                "05/03/2024",
                "04/03/2025",
                "Inforce",
                "1,200.50",
            ],
            [
                "P2",
                "C1",
                "R1",
                "Two-Wheeler",
                "Renewal",
                "01/02/2024",
                "01/02/2024",
                "12/01/2025",
                "Foreclosed",
                "900",
            ],
        ],
    )
    entry = suggestion.tables["policies"]
    assert entry["date_format"].startswith("TODO: %d/%m/%Y or %m/%d/%Y")
    assert entry["thousands_separator"] == ","
    columns = entry["columns"]
    assert columns["product_line"]["values"] == {
        "Motor": "motor",
        "Two-Wheeler": "TODO: one of life, health, motor, property, travel, other",
    }
    assert columns["business_type"]["values"] == {"Fresh": "new", "Renewal": "renewal"}
    assert columns["status"]["values"]["Inforce"] == "in_force"
    assert columns["status"]["values"]["Foreclosed"].startswith("TODO")
    assert "policies.status: what is 'Foreclosed'?" in suggestion.todo
    with pytest.raises(MappingError, match="is still a TODO"):
        parse_mapping(suggestion.yaml(), "suggested")


def test_one_date_column_settles_the_pattern_and_a_missing_column_is_a_todo(
    tmp_path: Path,
) -> None:
    suggestion = _suggest(
        tmp_path,
        "claims.csv",
        [
            ["Claim No", "Intimation Dt", "Settled On", "Claim Status"],
            ["CL1", "03/04/2024", "03/28/2024", "Paid"],
        ],
    )
    entry = suggestion.tables["claims"]
    assert entry["date_format"] == "%m/%d/%Y"  # 03/28 reads only month-first
    assert entry["columns"]["policy_id"] == "TODO: which column holds policy_id?"
    assert entry["columns"]["status"]["values"] == {"Paid": "settled"}


def test_no_pattern_per_column_patterns_and_decimal_commas(tmp_path: Path) -> None:
    suggestion = _suggest(
        tmp_path,
        "leads.csv",
        [
            [
                "Lead No",
                "RM Code",
                "Created On",
                "Closed On",
                "Source",
                "Lead Status",
                "Expected Premium",
            ],
            ["L1", "R1", "2024.03.25", "25-Mar-2024", "Referral", "Won", "1.250,50"],
            ["L2", "R1", "someday", "", "Referral", "Open", "99,5"],
        ],
    )
    entry = suggestion.tables["leads"]
    assert entry["columns"]["created_date"]["date_format"].startswith("TODO: no pattern")
    assert entry["columns"]["closed_date"]["date_format"] == "%d-%b-%Y"
    assert (entry["decimal_separator"], entry["thousands_separator"]) == (",", ".")


def test_a_title_row_an_unknown_file_a_second_source_and_an_encoding(tmp_path: Path) -> None:
    _csv(tmp_path / "Teams.csv", [["Team list"], ["Team Code", "Team Name"], ["T1", "One"]])
    _csv(tmp_path / "Teams_old.csv", [["Team Code", "Team Name"], ["T0", "Zero"]])
    _csv(tmp_path / "weather.csv", [["Temperature", "Humidity"], ["31", "80"]])
    _csv(tmp_path / "clients.csv", [["Customer Code", "Customer Name"], ["C1", "Zoë"]], "cp1252")
    suggestion = suggest_mapping([tmp_path])
    tables = suggestion.tables
    assert tables["teams"]["skip_rows"] == 1
    assert "TODO: Teams_old.csv looks like teams too" in tables
    assert "TODO: which table does weather.csv feed?" in tables
    assert tables["clients"]["encoding"].startswith("TODO: cp1252 or latin-1")
    with pytest.raises(MappingError, match="still has the key 'TODO"):
        parse_mapping(suggestion.yaml(), "suggested")


def test_parquet_typed_columns_need_no_date_pattern(tmp_path: Path) -> None:
    from datetime import date

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table(
            {
                "Audit ID": ["A1"],
                "RM Code": ["R1"],
                "Audit Date": [date(2024, 3, 5)],
                "Rating": [92.5],
            }
        ),
        tmp_path / "compliance_audits.parquet",
    )
    suggestion = suggest_mapping([tmp_path])
    assert suggestion.tables["compliance_audits"] == {
        "file": "compliance_audits.parquet",
        "columns": {
            "audit_id": "Audit ID",
            "rm_id": "RM Code",
            "date": "Audit Date",
            "rating": "Rating",
        },
    }
