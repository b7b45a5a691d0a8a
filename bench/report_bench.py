"""Reports on the demo book: the company report, and every RM's scorecard as HTML and as PDF.

    .venv/bin/python bench/report_bench.py [--rms 2000] [--months 24] [--runs 3]
        [--workspace DIR] [--period 2025-Q4] [--skip-pdf] [--baseline-sample 20]

Builds the demo workspace once (not timed) unless --workspace names one, then times fresh
processes: `kraft report team --org` (html and pdf; median of --runs), `kraft report scorecard
--all` as html and as pdf (one run each: the pdf run takes about 25 minutes at 2,000 RMs), with
their peak memory (largest process; the scorecards are written by one worker per core).

The baseline is the way the scorecards' trends were drawn before: one Vega-Lite chart per KPI,
each its own vl-convert call, against today's one small-multiples chart per scorecard; both are
timed on the same --baseline-sample scorecards in this process.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and the peak RSS (MB) of the largest process of one `kraft` command."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "kraft", *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"kraft {' '.join(args)} failed")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return time.perf_counter() - start, max(usage.ru_maxrss / 1024, children)


def trend_charts(workspace: Path, period: str, sample: int) -> tuple[float, float, int]:
    """Seconds per scorecard to draw its trends one chart per KPI (the baseline) and as one
    small-multiples chart (kraft today), over the first `sample` scorecards; and the KPIs drawn."""
    from kraft.commands.report_scorecard import _engine
    from kraft.framework.loader import load_builtin
    from kraft.periods import Calendar
    from kraft.reports import charts
    from kraft.reports.scorecard import build_scorecards, scored_rms

    framework, calendar = load_builtin("insurance_rm"), Calendar()
    chosen = calendar.parse(period)
    engine = _engine(f"duckdb:///{workspace / 'kraft.duckdb'}")
    with engine.connect() as conn:
        rm_ids = scored_rms(conn, chosen)[:sample]
        reports = build_scorecards(conn, framework, calendar, rm_ids, chosen)
    engine.dispose()
    charts.to_svg(charts.kpi_trend([], framework.kras[0].kpis[0], "INR"))  # warm vl-convert
    start = time.perf_counter()
    drawn = 0
    for report in reports:
        for line in report.kpis:
            if any(p.value is not None for p in line.trend):
                charts.to_svg(
                    charts.kpi_trend(
                        line.trend,
                        line.kpi,
                        report.currency,
                        target=line.target,
                        threshold=line.threshold,
                    )
                )
                drawn += 1
    per_kpi = (time.perf_counter() - start) / len(reports)
    start = time.perf_counter()
    for report in reports:
        assert report.trends is not None
        charts.to_svg(report.trends)
    return per_kpi, (time.perf_counter() - start) / len(reports), drawn // len(reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rms", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--period", default="2025-Q4")
    parser.add_argument("--workspace", type=Path, help="an already built demo workspace")
    parser.add_argument("--skip-pdf", action="store_true", help="leave out the PDF scorecards")
    parser.add_argument("--baseline-sample", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.workspace or Path(tmp) / "demo"
        if args.workspace is None:
            build = ["demo", str(folder), "--rms", str(args.rms), "--months", str(args.months)]
            run([*build, "--start", "2024-01", "--no-reports"])
        ws = ["--workspace", str(folder), "report"]
        print(f"Reports on the demo book at {folder}, period {args.period}")
        for fmt in ("html", "pdf"):
            out = Path(tmp) / f"company.{fmt}"
            team = ["team", "--org", "--period", args.period, "--format", fmt, "-o", str(out)]
            runs = [run([*ws, *team]) for _ in range(args.runs)]
            times = [t for t, _ in runs]
            print(
                f"company report ({fmt}): median {statistics.median(times):.1f} s "
                f"(runs: {', '.join(f'{t:.1f}' for t in times)}), peak "
                f"{max(m for _, m in runs):,.0f} MB; target 15 s (html)"
            )
        targets = {"html": 5 * 60, "pdf": 30 * 60}
        for fmt in ("html",) if args.skip_pdf else ("html", "pdf"):
            cards = Path(tmp) / f"cards-{fmt}"
            scorecards = ["scorecard", "--all", "--period", args.period, "--format", fmt]
            elapsed, peak = run([*ws, *scorecards, "-o", str(cards)])
            count = len(list(cards.iterdir()))
            print(
                f"scorecards --all ({fmt}): {count:,} in {elapsed:.0f} s "
                f"({elapsed / count * 1000:.0f} ms a scorecard on {os.cpu_count()} cores), "
                f"peak {peak:,.0f} MB; target {targets[fmt]} s"
            )
        per_kpi, faceted, kpis = trend_charts(folder, args.period, args.baseline_sample)
        print(
            f"trends of a scorecard ({kpis} KPIs, {args.baseline_sample} scorecards): one chart "
            f"per KPI {per_kpi * 1000:.0f} ms, one small-multiples chart {faceted * 1000:.0f} ms "
            f"({per_kpi / faceted:.1f}× faster)"
        )


if __name__ == "__main__":
    main()
