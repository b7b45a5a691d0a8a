"""`kraft compute` on the demo book: all KPIs × months, quarters, years × RM, team and company.

    .venv/bin/python bench/compute_bench.py [--rms 2000] [--months 24] [--runs 3]

Builds the demo workspace once (not timed), then times fresh `kraft compute --no-score`
processes (the KPI engine alone; median) with their peak memory, then `kraft compute` (values
and scores) to report what scoring adds, and the baseline the issue names: one plain DuckDB scan
of every column of the tables the compute reads (policies, claims, leads, interactions, surveys, activities,
compliance_audits, compliance_incidents, document_checks, tool_usage, team_goals, measurements).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

READ_TABLES = (
    "policies",
    "claims",
    "leads",
    "interactions",
    "surveys",
    "activities",
    "compliance_audits",
    "compliance_incidents",
    "document_checks",
    "tool_usage",
    "team_goals",
    "measurements",
    "relationship_managers",
    "teams",
)


def run(args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "kraft", *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"kraft {' '.join(args)} failed")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def plain_scan(database: Path) -> float:
    con = duckdb.connect(str(database), read_only=True)
    start = time.perf_counter()
    for table in READ_TABLES:
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        aggregates = ", ".join(f'count("{c}")' for c in columns)
        con.execute(f"SELECT {aggregates} FROM {table}").fetchall()
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rms", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--workspace", type=Path, help="an already built demo workspace (skips building one)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.workspace or Path(tmp) / "demo"
        if args.workspace is None:
            run(
                [
                    "demo",
                    str(folder),
                    "--rms",
                    str(args.rms),
                    "--months",
                    str(args.months),
                    "--start",
                    "2024-01",
                ]
            )
        results = [
            run(["--workspace", str(folder), "compute", "--no-score"]) for _ in range(args.runs)
        ]
        scored = [run(["--workspace", str(folder), "compute"]) for _ in range(args.runs)]
        scans = [plain_scan(folder / "kraft.duckdb") for _ in range(args.runs)]
    times = [t for t, _ in results]
    median, scan = statistics.median(times), statistics.median(scans)
    print(f"kraft compute on the demo book --rms {args.rms} --months {args.months}")
    print(
        f"wall time: median {median:.1f} s (runs: {', '.join(f'{t:.1f}' for t in times)}); "
        "target 20 s"
    )
    print(f"peak RSS: max {max(m for _, m in results):.0f} MB; target 2000 MB")
    with_scores = statistics.median(t for t, _ in scored)
    print(
        f"with scoring: median {with_scores:.1f} s (runs: {', '.join(f'{t:.1f}' for t, _ in scored)}); "
        f"scoring adds {with_scores - median:.1f} s (target 10 s); "
        f"peak RSS {max(m for _, m in scored):.0f} MB"
    )
    print(
        f"plain scan of every column read: median {scan:.2f} s; compute / scan = "
        f"{median / scan:.0f}×"
    )


if __name__ == "__main__":
    main()
