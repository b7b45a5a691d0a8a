"""Small hand-made books for import tests: valid rows per table, written as contract files."""

from __future__ import annotations

import csv
from pathlib import Path

from kraft.schema.tables import table

Row = dict[str, str]

BASE: dict[str, list[Row]] = {
    "teams": [
        {"team_id": "B1", "name": "North Branch", "leader_rm_id": "M1"},
        {"team_id": "T1", "name": "Team One", "leader_rm_id": "RM1", "parent_team_id": "B1"},
    ],
    "relationship_managers": [
        {
            "rm_id": "M1",
            "name": "Maya",
            "email": "maya@example.in",
            "team_id": "B1",
            "role": "manager",
        },
        {
            "rm_id": "RM1",
            "name": "Ravi",
            "email": "ravi@example.in",
            "team_id": "T1",
            "hire_date": "2021-03-15",
            "active": "yes",
        },
        {"rm_id": "RM2", "name": "Asha", "team_id": "T1", "hire_date": "2024-02-01"},
    ],
    "clients": [
        {"client_id": "C1", "name": "Anil", "segment": "retail", "source": "walk_in"},
        {
            "client_id": "C2",
            "name": "Bina",
            "segment": "hni",
            "source": "referral",
            "referred_by_client_id": "C1",
        },
    ],
    "policies": [
        {
            "policy_id": "P1",
            "client_id": "C1",
            "rm_id": "RM1",
            "product_line": "motor",
            "business_type": "new",
            "issue_date": "2024-01-10",
            "start_date": "2024-01-15",
            "end_date": "2025-01-14",
            "status": "expired",
            "annual_premium": "15000",
        },
        {
            "policy_id": "P2",
            "client_id": "C1",
            "rm_id": "RM1",
            "product_line": "motor",
            "business_type": "renewal",
            "renewal_of_policy_id": "P1",
            "issue_date": "2025-01-10",
            "start_date": "2025-01-15",
            "end_date": "2026-01-14",
            "status": "in_force",
            "annual_premium": "16000.50",
        },
        {
            "policy_id": "P3",
            "client_id": "C2",
            "rm_id": "RM2",
            "product_line": "health",
            "business_type": "new",
            "issue_date": "2024-03-01",
            "start_date": "2024-03-01",
            "end_date": "2025-02-28",
            "status": "cancelled",
            "cancel_date": "2024-03-20",
            "annual_premium": "25000",
        },
    ],
}


def write_table(folder: Path, name: str, rows: list[Row], columns: list[str] | None = None) -> Path:
    """`<name>.csv` with the contract's columns (or `columns`), empty cells where a row has none."""
    folder.mkdir(parents=True, exist_ok=True)
    header = columns or list(table(name).column_names)
    path = folder / f"{name}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(c, "") for c in header])
    return path


def write_book(folder: Path, book: dict[str, list[Row]] | None = None) -> Path:
    for name, rows in (book or BASE).items():
        write_table(folder, name, rows)
    return folder
