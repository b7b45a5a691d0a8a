"""The contract's tolerance (DATA.md "File rules"), end to end on DuckDB and PostgreSQL.

Decimals with any number of places are stored to 6, rounded half to even from the digits as
written (CSV text, Parquet and workbook floats by their shortest form), and the summary counts
them; enum values match whatever their case and with spaces or hyphens for underscores; table
names match whatever their case; a file in a folder, or a sheet, that names no table is reported
and skipped, never silently.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from openpyxl import Workbook
from typer.testing import CliRunner

from kraft.cli import app
from kraft.schema.tables import table
from kraft.store.database import workspace_database
from kraft.workspace import Workspace

from books import BASE, Row, write_book, write_table

POLICY = BASE["policies"][0]  # P1: client C1, RM RM1, motor, new


def kraft(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def imported(ws: Workspace, *args: str) -> str:
    code, output = kraft(ws, "import", *args)
    assert code == 0, output
    return output


def query(ws: Workspace, sql: str) -> list[tuple[Any, ...]]:
    db = workspace_database(ws.root, ws.settings.database_url)
    try:
        with db.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql))]
    finally:
        db.dispose()


def policy(policy_id: str, **changes: str) -> Row:
    return {**POLICY, "policy_id": policy_id, **changes}


def stored(ws: Workspace, column: str, ids: list[str]) -> dict[str, Any]:
    quoted = ", ".join(f"'{i}'" for i in ids)
    rows = query(ws, f"SELECT policy_id, {column} FROM policies WHERE policy_id IN ({quoted})")
    return {i: (Decimal(str(v)) if isinstance(v, (Decimal, float)) else v) for i, v in rows}


def test_decimals_of_any_places_are_rounded_half_to_even_and_counted(
    workspace: Workspace, tmp_path: Path
) -> None:
    imported(workspace, str(write_book(tmp_path / "base")))
    rows = [
        policy("D1", annual_premium="27124.204514302906", sum_insured="5000.0000005"),
        policy("D2", annual_premium="100.1234565"),  # a tie: the even 6 stays
        policy("D3", annual_premium="100.1234575"),  # a tie: the odd 7 goes up to 8
        policy("D4", annual_premium="100.12345650001"),  # past the tie: up
        policy("D5", annual_premium="1.5000000"),  # same number: not counted as rounded
    ]
    folder = tmp_path / "floats"
    write_table(folder, "policies", rows)
    code, dry = kraft(workspace, "import", str(folder), "--dry-run")
    assert code == 0, dry
    line = "policies: rounded to 6 decimal places (half to even): 4 annual_premium, 1 sum_insured."
    assert line in " ".join(dry.split()), dry
    assert line in " ".join(imported(workspace, str(folder)).split())
    ids = ["D1", "D2", "D3", "D4", "D5"]
    assert stored(workspace, "annual_premium", ids) == {
        "D1": Decimal("27124.204514"),
        "D2": Decimal("100.123456"),
        "D3": Decimal("100.123458"),
        "D4": Decimal("100.123457"),
        "D5": Decimal("1.5"),
    }
    assert stored(workspace, "sum_insured", ["D1"]) == {"D1": Decimal("5000")}


def test_parquet_and_workbook_floats_round_from_their_shortest_form(
    workspace: Workspace, tmp_path: Path
) -> None:
    imported(workspace, str(write_book(tmp_path / "base")))
    floats = [27124.204514302906, 1.0000005, 2.5e-7, 0.1]  # 1e-07-like forms read as digits
    names = list(table("policies").column_names)
    base = {c: POLICY.get(c) for c in names}
    parquet = tmp_path / "typed" / "policies.parquet"
    parquet.parent.mkdir()
    columns: dict[str, Any] = {
        c: [base[c] or None] * len(floats) for c in names if c != "annual_premium"
    }
    columns["policy_id"] = [f"F{i}" for i in range(len(floats))]
    columns["annual_premium"] = pa.array(floats, pa.float64())
    pq.write_table(pa.table(columns), parquet)
    output = imported(workspace, str(parquet))
    assert "policies: rounded to 6 decimal places (half to even): 3 annual_premium." in output
    assert stored(workspace, "annual_premium", [f"F{i}" for i in range(4)]) == {
        "F0": Decimal("27124.204514"),
        "F1": Decimal("1"),  # 1.0000005: a tie, the even 0 stays
        "F2": Decimal("0"),  # 0.00000025
        "F3": Decimal("0.1"),
    }

    book = Workbook()
    book.remove(book.active)
    sheet = book.create_sheet("Policies")  # a table's name in another case
    sheet.append(names)
    sheet.append([27124.204514302906 if c == "annual_premium" else base[c] for c in names])
    sheet.cell(2, 1, "X1")
    book.create_sheet("Sheet1").append(["not", "a", "table"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    output = imported(workspace, str(path))
    assert "Sheet1 in book.xlsx names no table of the import contract; skipped." in output
    assert stored(workspace, "annual_premium", ["X1"]) == {"X1": Decimal("27124.204514")}


def test_enum_values_match_whatever_their_case_and_separators(
    workspace: Workspace, tmp_path: Path
) -> None:
    imported(workspace, str(write_book(tmp_path / "base")))
    rows = [
        policy("E1", status="In Force", product_line="MOTOR", business_type="New"),
        policy("E2", status="in-force", product_line="Health"),
        policy("E3", status="IN_FORCE"),
        policy("E4", status=" Cancelled", cancel_date="2024-02-01"),
    ]
    clients = [
        {"client_id": "C7", "segment": "HNI", "source": "Walk In"},
        {"client_id": "C8", "segment": "Sme", "source": "cold-call"},
    ]
    folder = tmp_path / "enums"
    write_table(folder, "policies", rows)
    write_table(folder, "clients", clients)
    imported(workspace, str(folder))
    found = query(
        workspace,
        "SELECT policy_id, status, product_line, business_type FROM policies "
        "WHERE policy_id LIKE 'E%' ORDER BY 1",
    )
    assert found == [
        ("E1", "in_force", "motor", "new"),
        ("E2", "in_force", "health", "new"),
        ("E3", "in_force", "motor", "new"),
        ("E4", "cancelled", "motor", "new"),
    ]
    assert query(
        workspace,
        "SELECT client_id, segment, source FROM clients WHERE client_id > 'C6' ORDER BY 1",
    ) == [("C7", "hni", "walk_in"), ("C8", "sme", "cold_call")]
    # the rules read the contract's value: a Cancelled policy needs its cancel_date
    bad = write_table(tmp_path / "bad", "policies", [policy("E5", status="CANCELLED")])
    code, output = kraft(workspace, "import", str(bad))
    assert code == 1, output
    assert (
        "column cancel_date: 1 problem (row 2): is required when status is cancelled; give these "
        "rows a cancel_date, or correct their status"
    ) in " ".join(output.split())


def test_table_names_match_whatever_their_case_and_the_rest_is_reported(
    workspace: Workspace, tmp_path: Path
) -> None:
    folder = write_book(tmp_path / "book")
    (folder / "policies.csv").rename(folder / "Policies.csv")
    (folder / "clients.csv").rename(folder / "CLIENTS.csv")
    (folder / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    code, dry = kraft(workspace, "import", str(folder), "--dry-run")
    assert code == 0, dry
    assert "notes.csv names no table of the import contract; skipped." in dry
    output = imported(workspace, str(folder))
    assert "notes.csv names no table of the import contract; skipped." in output
    assert query(workspace, "SELECT count(*) FROM policies") == [(3,)]
    assert query(workspace, "SELECT count(*) FROM clients") == [(2,)]
    # a file named on its own was meant to be imported: naming no table, it is refused
    code, output = kraft(workspace, "import", str(folder / "notes.csv"))
    assert code == 1
    assert "notes.csv: 'notes' is not a table of the import contract" in output
