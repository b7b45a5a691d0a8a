"""`kraft compute` on Spark (local[2]) and on DuckDB over the same demo book, at two book sizes.

    .venv/bin/python bench/spark_bench.py [--rms 2000 20000] [--months 24] [--workdir DIR]

For each size: builds the demo workspace (`kraft demo --no-reports`, not part of the figures),
exports its tables to Parquet (`kraft export data --format parquet`, timed), then times fresh
processes of `kraft compute --no-score --engine spark --spark-master local[2] --source DIR` and
`kraft compute --no-score --engine duckdb`, with the peak memory of each process tree (Python and
the JVM it starts, sampled from /proc every 0.2 s). Cost per million rows divides the wall time
by the rows of the tables the compute reads. Heavy: run it on a quiet machine, once. At 20,000
RMs the demo is built region by region (about 25 minutes, 6.5 GB) and Spark wants a larger
driver: KRAFT_SPARK_DRIVER_MEMORY=8g (the figures in docs/performance.md were taken so).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
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


def _tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        pid, parent = int(entry), int(fields.get("PPid", "0").strip())
        children.setdefault(parent, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1024


def run(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak MB of the process tree) of `kraft ARGS`."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "kraft", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if "spark" in args else None,  # Spark's start-up warnings
    )
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_mb(process.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, errors = process.communicate()
    code = process.returncode
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if code != 0:
        raise SystemExit(
            f"kraft {' '.join(args)} failed (exit {code}): {(errors or b'').decode()[-2000:]}"
        )
    return elapsed, peak


def read_rows(database: Path) -> int:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return sum(int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in READ_TABLES)  # type: ignore[index]
    finally:
        con.close()


def bench(rms: int, months: int, workdir: Path) -> dict[str, float]:
    folder = workdir / f"demo-{rms}"
    lake = workdir / f"lake-{rms}"
    if not (folder / "kraft.duckdb").exists():
        shutil.rmtree(folder, ignore_errors=True)
        demo_seconds, demo_mb = run(
            ["demo", str(folder), "--rms", str(rms), "--months", str(months), "--no-reports"]
        )
        print(f"  demo book built in {demo_seconds:.0f} s, peak {demo_mb:,.0f} MB", flush=True)
    run(["-w", str(folder), "db", "upgrade"])  # a book built by an older kraft
    rows = read_rows(folder / "kraft.duckdb")
    shutil.rmtree(lake, ignore_errors=True)
    export_seconds, export_mb = run(
        ["-w", str(folder), "export", "data", "--format", "parquet", str(lake)]
    )
    print(f"  export to Parquet: {export_seconds:.1f} s, peak {export_mb:,.0f} MB", flush=True)
    spark_seconds, spark_mb = run(
        [
            "-w",
            str(folder),
            "compute",
            "--no-score",
            "--engine",
            "spark",
            "--spark-master",
            "local[2]",
            "--source",
            str(lake),
        ]
    )
    print(f"  spark local[2]: {spark_seconds:.1f} s, peak {spark_mb:,.0f} MB", flush=True)
    duck_seconds, duck_mb = run(["-w", str(folder), "compute", "--no-score", "--engine", "duckdb"])
    return {
        "rows": rows,
        "export_s": export_seconds,
        "export_mb": export_mb,
        "spark_s": spark_seconds,
        "spark_mb": spark_mb,
        "duckdb_s": duck_seconds,
        "duckdb_mb": duck_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rms", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--workdir", type=Path, help="keep the books here (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = {}
        for rms in args.rms:
            print(f"{rms:,} RMs × {args.months} months:", flush=True)
            result = results[rms] = bench(rms, args.months, workdir)
            million = result["rows"] / 1e6
            print(
                f"  {result['rows']:,.0f} rows read; export to Parquet {result['export_s']:.1f} s "
                f"(peak {result['export_mb']:,.0f} MB)\n"
                f"  spark local[2]: {result['spark_s']:.1f} s, peak {result['spark_mb']:,.0f} MB, "
                f"{result['spark_s'] / million:.2f} s per million rows\n"
                f"  duckdb:         {result['duckdb_s']:.1f} s, peak {result['duckdb_mb']:,.0f} MB, "
                f"{result['duckdb_s'] / million:.2f} s per million rows",
                flush=True,
            )
        if len(results) > 1:
            small, large = min(results), max(results)
            for engine in ("spark", "duckdb"):
                growth = results[large][f"{engine}_s"] / results[small][f"{engine}_s"]
                print(f"{engine}: ×{growth:.1f} time for ×{large / small:.0f} RMs")


if __name__ == "__main__":
    main()
