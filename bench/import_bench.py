"""Import speed: a 1 M-row policies.csv with full validation, against a naive per-row baseline.

    .venv/bin/python bench/import_bench.py [--rows 1000000] [--runs 3] [--baseline-rows 50000]

kraft: `kraft import` of clients.csv + policies.csv (each ROWS rows) into a fresh DuckDB
workspace, median wall time of RUNS runs (each in a new process, as a user runs it).
Baseline: what a straightforward importer does — csv.DictReader, one pydantic model per row
(types, enums, ranges), one INSERT per row through SQLAlchemy — timed on BASELINE_ROWS rows and
scaled linearly to ROWS (it is linear: no batch-wide checks at all, which kraft also does).
"""

from __future__ import annotations

import argparse
import csv
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field

from kraft.store import migrate
from kraft.store.database import Database

POLICY_COLUMNS = [
    "policy_id",
    "client_id",
    "rm_id",
    "product_line",
    "business_type",
    "renewal_of_policy_id",
    "issue_date",
    "start_date",
    "end_date",
    "status",
    "cancel_date",
    "annual_premium",
    "sum_insured",
    "assessed_need",
    "risk_assessment_date",
    "personalised",
]


def write_files(folder: Path, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "teams.csv").open("w", newline="") as f:
        f.write("team_id,name\nT1,Team\n")
    with (folder / "relationship_managers.csv").open("w", newline="") as f:
        f.write("rm_id,name,team_id\n" + "".join(f"RM{i},RM {i},T1\n" for i in range(100)))
    with (folder / "clients.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["client_id", "name", "segment", "source"])
        w.writerows([f"C{i:08d}", f"Client {i}", "retail", "walk_in"] for i in range(rows))
    lines = ["motor", "health", "life", "property"]
    with (folder / "policies.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(POLICY_COLUMNS)
        for i in range(rows):
            month = 1 + i % 12
            w.writerow(
                [
                    f"P{i:08d}",
                    f"C{i:08d}",
                    f"RM{i % 100}",
                    lines[i % 4],
                    "new",
                    "",
                    f"2024-{month:02d}-05",
                    f"2024-{month:02d}-05",
                    f"2025-{month:02d}-04",
                    "expired",
                    "",
                    f"{10000 + i % 5000}.50",
                    "500000",
                    "400000",
                    f"2024-{month:02d}-01",
                    "false",
                ]
            )


class NaivePolicy(BaseModel):
    policy_id: str
    client_id: str
    rm_id: str
    product_line: Literal["life", "health", "motor", "property", "travel", "other"]
    business_type: Literal["new", "renewal"]
    renewal_of_policy_id: str | None
    issue_date: date
    start_date: date
    end_date: date
    status: Literal["in_force", "expired", "lapsed", "cancelled", "matured", "terminated_death"]
    cancel_date: date | None
    annual_premium: Decimal = Field(ge=0)
    sum_insured: Decimal | None = Field(default=None, ge=0)
    assessed_need: Decimal | None = Field(default=None, ge=0)
    risk_assessment_date: date | None
    personalised: bool


def naive_import(folder: Path, db_path: Path, limit: int) -> float:
    db = Database(f"duckdb:///{db_path}")
    migrate.upgrade(db)
    policies = sa.table("policies", *(sa.column(c) for c in POLICY_COLUMNS))
    start = time.perf_counter()
    with db.begin() as conn, (folder / "policies.csv").open(newline="") as f:
        for n, row in enumerate(csv.DictReader(f)):
            if n >= limit:
                break
            record = NaivePolicy.model_validate({k: (v or None) for k, v in row.items()})
            conn.execute(policies.insert().values(**record.model_dump()))
    elapsed = time.perf_counter() - start
    db.dispose()
    return elapsed


def kraft_import(folder: Path, workspace: Path) -> float:
    subprocess.run(
        [sys.executable, "-m", "kraft", "init", str(workspace)], check=True, capture_output=True
    )
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kraft", "--workspace", str(workspace), "import", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        write_files(folder, args.rows)
        times = [kraft_import(folder, Path(tmp) / f"ws{i}") for i in range(args.runs)]
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        baseline = naive_import(folder, Path(tmp) / "naive.duckdb", args.baseline_rows)
    kraft_median = statistics.median(times)
    baseline_scaled = baseline * args.rows / args.baseline_rows
    print(f"rows per table: {args.rows:,} (clients.csv and policies.csv, plus 100 RMs)")
    print(
        f"kraft import, median of {args.runs}: {kraft_median:.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)}); peak RSS {peak_mb:.0f} MB"
    )
    print(
        f"naive baseline: {baseline:.2f} s for {args.baseline_rows:,} policies → "
        f"{baseline_scaled:.0f} s scaled to {args.rows:,}"
    )
    print(f"speed-up: {baseline_scaled / kraft_median:.0f}×")


if __name__ == "__main__":
    main()
