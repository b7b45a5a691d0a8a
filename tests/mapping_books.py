"""One book written twice: in the contract's layout, and as an insurer's own export of it.

The export has several files and a workbook, other column names and status words, day-first
dates, float money, a cp1252 file, Y/N flags and a title row above a sheet: what
`kraft mapping suggest` and `kraft import --mapping` are for.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openpyxl import Workbook

from kraft.store import migrate
from kraft.store.database import workspace_database
from kraft.workspace import Settings, Workspace, init_workspace

from books import Row, write_table

BOOK: dict[str, list[Row]] = {
    "teams": [
        {"team_id": "B1", "name": "North Branch", "leader_rm_id": "M1"},
        {"team_id": "T1", "name": "Team One", "leader_rm_id": "RM1", "parent_team_id": "B1"},
    ],
    "relationship_managers": [
        {
            "rm_id": "M1",
            "name": "Maya",
            "team_id": "B1",
            "role": "manager",
            "hire_date": "2019-06-17",
            "active": "true",
        },
        {
            "rm_id": "RM1",
            "name": "Ravi Sénior",
            "team_id": "T1",
            "role": "rm",
            "hire_date": "2020-01-13",
            "active": "true",
        },
        {
            "rm_id": "RM2",
            "name": "Asha",
            "team_id": "T1",
            "role": "rm",
            "hire_date": "2021-03-22",
            "active": "false",
        },
    ],
    "clients": [
        {"client_id": f"C{i}", "name": f"Client {i}", "segment": seg}
        for i, seg in enumerate(("retail", "hni", "retail", "sme", "retail", "hni"), start=1)
    ],
    "policies": [],
    "claims": [
        {
            "claim_id": "CL1",
            "policy_id": "P1",
            "intimation_date": "2024-02-03",
            "settled_date": "2024-03-08",
            "status": "settled",
            "amount_claimed": "4200.5",
        },
        {
            "claim_id": "CL2",
            "policy_id": "P3",
            "intimation_date": "2024-05-06",
            "settled_date": "2024-06-10",
            "status": "rejected",
            "amount_claimed": "900",
        },
        {
            "claim_id": "CL3",
            "policy_id": "P4",
            "intimation_date": "2024-11-02",
            "status": "open",
            "amount_claimed": "12000.75",
        },
    ],
    "leads": [
        {
            "lead_id": "L1",
            "rm_id": "RM1",
            "client_id": "C1",
            "created_date": "2024-01-05",
            "source": "referral",
            "status": "won",
            "closed_date": "2024-01-20",
        },
        {
            "lead_id": "L2",
            "rm_id": "RM1",
            "created_date": "2024-02-14",
            "source": "walk_in",
            "status": "lost",
            "closed_date": "2024-03-01",
        },
        {
            "lead_id": "L3",
            "rm_id": "RM2",
            "client_id": "C4",
            "created_date": "2024-04-22",
            "source": "referral",
            "status": "won",
            "closed_date": "2024-05-30",
        },
        {
            "lead_id": "L4",
            "rm_id": "RM2",
            "created_date": "2024-10-09",
            "source": "walk_in",
            "status": "open",
        },
    ],
}

_POLICIES = [  # id, client, rm, line, issue, end, status, cancel, premium
    ("P1", "C1", "RM1", "motor", "2024-01-15", "2025-01-14", "in_force", "", "15000.0"),
    ("P2", "C2", "RM1", "health", "2024-02-20", "2025-02-19", "cancelled", "2024-04-25", "22500.5"),
    ("P3", "C3", "RM2", "motor", "2024-03-18", "2025-03-17", "in_force", "", "8000.25"),
    ("P4", "C4", "RM2", "property", "2024-05-27", "2025-05-26", "lapsed", "2024-09-30", "41000.0"),
    ("P5", "C5", "RM1", "life", "2024-07-13", "2044-07-12", "in_force", "", "60000.0"),
    ("P6", "C6", "RM2", "health", "2024-08-29", "2025-08-28", "in_force", "", "18250.75"),
    ("P7", "C1", "RM1", "health", "2024-10-16", "2025-10-15", "in_force", "", "12000.0"),
]
BOOK["policies"] = [
    {
        "policy_id": p,
        "client_id": c,
        "rm_id": r,
        "product_line": line,
        "business_type": "new",
        "issue_date": issue,
        "start_date": issue,
        "end_date": end,
        "status": status,
        "cancel_date": cancel,
        "annual_premium": premium,
    }
    for p, c, r, line, issue, end, status, cancel, premium in _POLICIES
]

STATUS_WORDS = {"in_force": "In Force", "cancelled": "Cancelled", "lapsed": "Lapsed"}
CLAIM_WORDS = {"settled": "Settled", "rejected": "Repudiated", "open": "Pending"}
LEAD_WORDS = {"won": "Converted", "lost": "Dropped", "open": "Open"}
SOURCE_WORDS = {"referral": "Referral", "walk_in": "Walk-in"}


def write_contract_book(folder: Path) -> Path:
    for name, rows in BOOK.items():
        write_table(folder, name, rows)
    return folder


def _day_first(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y") if iso else ""


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str) -> None:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_insurer_export(folder: Path) -> Path:
    """The same book as the insurer's systems export it."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(
        folder / "Policy_Register_20250131.csv",
        [
            "Policy No",
            "Customer Code",
            "Agent Code",
            "LOB",
            "Biz Type",
            "Issue Dt",
            "Risk Start Date",
            "Expiry Date",
            "Policy Status",
            "Cancellation Date",
            "Premium",
            "Branch",
        ],
        [
            [
                p["policy_id"],
                p["client_id"],
                p["rm_id"],
                p["product_line"].title(),
                "New",
                _day_first(p["issue_date"]),
                _day_first(p["start_date"]),
                _day_first(p["end_date"]),
                STATUS_WORDS[p["status"]],
                _day_first(p["cancel_date"]),
                repr(float(p["annual_premium"]) + 1e-9),  # a float sum: 15000.000000001
                "North",
            ]
            for p in BOOK["policies"]
        ],
        "utf-8",
    )
    _write_csv(  # every day ≤ 12: these dates read both day-first and month-first
        folder / "Claims.csv",
        [
            "Claim No",
            "Policy No",
            "Intimation Date",
            "Settlement Date",
            "Claim Status",
            "Claim Amount",
        ],
        [
            [
                c["claim_id"],
                c["policy_id"],
                _day_first(c["intimation_date"]),
                _day_first(c.get("settled_date", "")),
                CLAIM_WORDS[c["status"]],
                repr(float(c["amount_claimed"])),
            ]
            for c in BOOK["claims"]
        ],
        "utf-8",
    )
    _write_csv(  # a Windows export: cp1252
        folder / "RM_Master.csv",
        ["RM Code", "RM Name", "DOJ", "Team Code", "Role", "Active"],
        [
            [
                r["rm_id"],
                r["name"],
                _day_first(r["hire_date"]),
                r["team_id"],
                "Manager" if r["role"] == "manager" else "RM",
                "Y" if r["active"] == "true" else "N",
            ]
            for r in BOOK["relationship_managers"]
        ],
        "cp1252",
    )
    _write_workbook(folder / "CRM_Export.xlsx")
    return folder


def _write_workbook(path: Path) -> None:
    book = Workbook()
    clients = book.active
    assert clients is not None
    clients.title = "Customers"
    clients.append(["Customer master as of 31-Jan-2025"])  # a title above the table
    clients.append([])
    clients.append(["Customer Code", "Customer Name", "Segment"])
    for c in BOOK["clients"]:
        clients.append([c["client_id"], c["name"], c["segment"].upper()])
    teams = book.create_sheet("Branches")
    teams.append(["Team Code", "Team Name", "Team Leader", "Parent Team"])
    for t in BOOK["teams"]:
        teams.append([t["team_id"], t["name"], t["leader_rm_id"], t.get("parent_team_id")])
    leads = book.create_sheet("Lead Pipeline")
    leads.append(
        [
            "Lead No",
            "Agent Code",
            "Customer Code",
            "Lead Date",
            "Source",
            "Lead Status",
            "Closed On",
        ]
    )
    for lead in BOOK["leads"]:
        closed = lead.get("closed_date")
        leads.append(
            [
                lead["lead_id"],
                lead["rm_id"],
                lead.get("client_id"),
                date.fromisoformat(lead["created_date"]),
                SOURCE_WORDS[lead["source"]],
                LEAD_WORDS[lead["status"]],
                date.fromisoformat(closed) if closed else None,
            ]
        )
    book.save(path)


def duckdb_workspace(root: Path) -> Workspace:
    """A workspace on a DuckDB file, its schema current (scored from its first month)."""
    settings = Settings(
        database_url=f"duckdb:///{root / 'k.duckdb'}", first_scored_period="2000-01"
    )
    ws, _ = init_workspace(root, settings)
    db = workspace_database(ws.root, ws.settings.database_url)
    migrate.upgrade(db)
    db.dispose()
    return ws
