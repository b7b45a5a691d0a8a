"""Time the demo book at full size: generate_book(rms=2000, months=24).

Run: .venv/bin/python bench/demo_generate_bench.py [--rms 2000] [--months 24] [--runs 3]
Prints the median wall time of the runs, the process's peak RSS (resource.getrusage, which covers
all runs: each run's book is dropped before the next) and the row count of every table.
Targets (docs/demo-book.md): under 25 s and under 1.5 GB peak RSS on a 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

from kraft.demo.book.generate import generate_book


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rms", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    times: list[float] = []
    counts: dict[str, int] = {}
    for _ in range(args.runs):
        began = time.perf_counter()
        book = generate_book(rms=args.rms, months=args.months, seed=args.seed)
        times.append(time.perf_counter() - began)
        counts = {name: t.num_rows for name, t in book.items()}
        del book
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"generate_book(rms={args.rms}, months={args.months}, seed={args.seed})")
    print(
        f"runs: {', '.join(f'{t:.2f}' for t in times)} s; median {statistics.median(times):.2f} s"
    )
    print(f"peak RSS: {peak_mb:.0f} MB")
    width = max(len(name) for name in counts)
    for name, n in counts.items():
        print(f"  {name:<{width}} {n:>10,}")
    print(f"  {'total':<{width}} {sum(counts.values()):>10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
