"""`kraft demo --rms 2000 --months 24`: the book generated, validated and imported, end to end.

    .venv/bin/python bench/demo_bench.py [--rms 2000] [--months 24] [--runs 3]

Each run is a fresh `kraft demo` process into a new DuckDB workspace; reported: median wall time
and the peak resident memory of each process (os.wait4), against the targets of 60 s and 2 GB.
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


def one_run(folder: Path, rms: int, months: int) -> tuple[float, float]:
    start = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kraft",
            "demo",
            str(folder),
            "--rms",
            str(rms),
            "--months",
            str(months),
            "--start",
            "2024-01",
        ],
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"kraft demo failed with {status}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rms", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            results.append(one_run(Path(tmp) / f"demo{i}", args.rms, args.months))
    times = [t for t, _ in results]
    peaks = [m for _, m in results]
    print(f"kraft demo --rms {args.rms} --months {args.months}, {args.runs} runs")
    print(
        f"wall time: median {statistics.median(times):.1f} s (runs: "
        f"{', '.join(f'{t:.1f}' for t in times)}); target 60 s"
    )
    print(
        f"peak RSS: max {max(peaks):.0f} MB (runs: {', '.join(f'{m:.0f}' for m in peaks)}); "
        "target 2000 MB"
    )


if __name__ == "__main__":
    main()
