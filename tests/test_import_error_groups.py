"""Errors a person can fix (#19 item 6): a realistic bad export's problems grouped by file,
column and kind, each with its count, three example rows and the fix in the mapping's words;
--errors-out still lists every row; the API result carries the groups."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.ingest.fixes import date_fix, fix_for, number_fix
from kraft.ingest.problem_groups import group_problems, summary_lines
from kraft.ingest.validate import Problem
from kraft.workspace import Workspace

from books import BASE, write_book, write_table

STATUS = ["Active", "Surrendered", "Void"]


def _bad_policies() -> list[dict[str, str]]:
    """Day-first dates, status words, Y/N flags, float money and thousands commas."""
    rows = []
    for n in range(12):
        day = 10 + n
        rows.append(
            {
                **BASE["policies"][0],
                "policy_id": f"X{n}",
                "issue_date": f"{day}/01/2025",
                "start_date": f"{day}/01/2025",
                "end_date": f"{day}/01/2026",
                "status": STATUS[n % 3],
                "cancel_date": "2025-02-01",
                "annual_premium": "15000.000000001",
                "sum_insured": "5,00,000.00",
                "personalised": "Y" if n % 2 else "N",
            }
        )
    return rows


def kraft(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args], terminal_width=400)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("database_url", ["duckdb"], indirect=True)
def test_a_bad_export_is_grouped_with_the_fix(workspace: Workspace, tmp_path: Path) -> None:
    code, output = kraft(workspace, "import", str(write_book(tmp_path / "base")))
    assert code == 0, output
    folder = tmp_path / "export"
    write_table(folder, "policies", _bad_policies())
    errors = tmp_path / "errors.csv"
    code, output = kraft(workspace, "import", str(folder), "--errors-out", str(errors))
    assert code == 1
    text = " ".join(output.split())
    assert (
        'policies.csv column start_date: 12 values like "10/01/2025", "11/01/2025", "12/01/2025" '
        "(rows 2, 3, 4, …): is not written YYYY-MM-DD (a date in another form); if your export "
        'writes day/month/year, add `date_format: "%d/%m/%Y"` to this column\'s mapping.'
    ) in text
    assert (
        'policies.csv column status: 12 values like "Active", "Surrendered", "Void" (rows 2, 3, '
        "4, …): is not one of: in_force, expired, lapsed, cancelled, matured, terminated_death; add "
        '`values: {"Active": in_force, "Surrendered": cancelled, "Void": TODO}` to this '
        "column's mapping, each word mapped to one of: in_force, expired, lapsed, cancelled, "
        "matured, terminated_death."
    ) in text
    assert (
        'policies.csv column personalised: 12 values like "N", "Y", "N" (rows 2, 3, 4, …): is '
        "not a boolean (expected true/false, 1/0 or yes/no); add `true_words: [Y]` and "
        "`false_words: [N]` to the table's mapping (the other word of each pair too)."
    ) in text
    assert (
        'policies.csv column sum_insured: 12 values like "5,00,000.00", "5,00,000.00", '
        '"5,00,000.00" (rows 2, 3, 4, …): is written with other separators (expected digits '
        'with . for decimals); add `thousands_separator: ","` to the table\'s mapping.'
    ) in text
    assert "annual_premium" not in text and "is not a number" not in text  # floats are numbers
    with errors.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 * 6  # issue, start, end dates, status, flag, sum insured: every row
    assert {r["row"] for r in rows} == {str(n) for n in range(2, 14)}


@pytest.mark.parametrize("database_url", ["duckdb"], indirect=True)
def test_a_renamed_required_column_names_its_mapping(workspace: Workspace, tmp_path: Path) -> None:
    claim = {"Claim No": "K1", "policy_id": "P1", "intimation_date": "2024-06-01", "status": "open"}
    write_table(tmp_path / "export", "claims", [claim], list(claim))
    code, output = kraft(workspace, "import", str(tmp_path / "export"))
    assert code == 1
    assert (
        'claims.csv has no claim_id; its column "Claim No" looks like it: add `claim_id: Claim '
        "No` under tables.claims.columns of a mapping file (docs/mapping.md), or rename the "
        "column."
    ) in " ".join(output.split())


def test_the_fix_knows_the_shape_of_the_values() -> None:
    assert date_fix(["29/01/2025"]) == (
        'if your export writes day/month/year, add `date_format: "%d/%m/%Y"` to this column\'s '
        "mapping"
    )
    assert '"%d-%m-%Y"' in date_fix(["29-01-2025"])
    assert '"%d.%m.%Y"' in date_fix(["29.01.2025"])
    assert '"%Y/%m/%d"' in date_fix(["2025/01/29"])
    assert date_fix(["01/29/2025"]).startswith("if your export writes month/day/year")
    assert "spreadsheet day numbers" in date_fix(["45678", "45679"])
    assert number_fix(["1.250,50"]) == (
        'add `decimal_separator: ","` and `thousands_separator: "."` to the table\'s mapping'
    )
    assert number_fix(["1250,50"]) == 'add `decimal_separator: ","` to the table\'s mapping'
    assert number_fix(["twelve"]).startswith("write digits with .")
    known = "is not a known policy_id (not in policies ...); import that policies row too"
    group = group_problems([Problem("claims.csv", 2, "policy_id", "P9", known)])[0]
    assert (group.problem, group.fix) == (known.split("; ")[0], "import that policies row too")
    assert fix_for("claims", "status", "is not one of: open", ["Paid"]) == (
        'add `values: {"Paid": settled}` to this column\'s mapping, each word mapped to one of: '
        "open, settled, rejected, withdrawn"
    )


def test_groups_are_by_kind_and_the_biggest_come_first() -> None:
    problems = [
        Problem("leads.csv", 2, "closed_date", "2024-01-01", "must be after x (2024-05-01)"),
        Problem("leads.csv", 3, "closed_date", "2024-01-02", "must be after x (2024-05-02)"),
        Problem("leads.csv", 3, "closed_date", "1/2/2024", "is not written YYYY-MM-DD (other)"),
    ]
    groups = group_problems(problems)
    assert [(g.problem, g.count) for g in groups] == [
        ("must be after x", 2),
        ("is not written YYYY-MM-DD (other)", 1),
    ]
    lines = summary_lines(groups, 3, shown=1)
    assert lines[0].startswith("leads.csv column closed_date: 2 values like")
    assert lines[1] == "1 more problems in 1 more groups."
