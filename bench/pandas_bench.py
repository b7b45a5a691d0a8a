"""`kraft compute` against a plain pandas implementation of 10 KPIs, with the values cross-checked.

    .venv/bin/python bench/pandas_bench.py [--rms 2000] [--months 24] [--runs 3]
        [--workspace DIR] [--no-kraft-timing]

Builds the demo workspace in a temporary folder (`kraft demo`, which imports and computes; not
timed), or takes an already computed workspace with --workspace. Then:

- kraft: fresh `kraft --workspace DIR compute` processes (median wall time, peak RSS), which
  compute every KPI × month, quarter and year × RM, team and company (skip with
  --no-kraft-timing);
- pandas: the tables the 10 KPIs read are loaded into DataFrames with DuckDB's `.df()` (timed
  apart, as "read"), then the KPIs are computed the way an analyst would (filters, groupby,
  merge) for every RM and every month, quarter and year label (median of --runs);
- the check: every pandas value is compared with kraft's stored value for the same RM, period
  and KPI (the latest run's rows of `kpi_values`; the (RM, period) pairs are taken from there, so
  only the values come from pandas). Both null, or a relative difference ≤ 1e-9 (absolute when
  kraft's value is 0). Any mismatch prints examples and exits 1.

The DuckDB file is opened read-only while the tables and kraft's values are read; a `kraft compute`
on the same workspace holds the file's lock meanwhile, so do not run both at once.

The speed-up divides the pandas compute time of 10 KPIs at RM level by kraft's compute time of
all its KPIs at every level; kraft's time scaled to 10 KPIs (× 10 ÷ its number of KPIs) is shown
beside it.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd
from pandas.api.typing import DataFrameGroupBy

TOLERANCE = 1e-9
GRAINS = ("month", "quarter", "year")
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}
ENDED_STATUSES = ("cancelled", "lapsed", "matured", "terminated_death")
Aggregate = TypeVar("Aggregate", pd.Series, pd.DataFrame)

# The columns of each table the 10 KPIs read.
READS = {
    "policies": (
        "policy_id, client_id, rm_id, business_type, renewal_of_policy_id, issue_date,"
        " start_date, end_date, status, cancel_date, annual_premium, risk_assessment_date"
    ),
    "leads": "rm_id, cross_sell, status, closed_date",
    "interactions": "interaction_id, rm_id, type, date, status, session_id",
    "surveys": "rm_id, survey_type, date, score, scale_max",
    "activities": "rm_id, type, date, status",
    "document_checks": "rm_id, date, in_good_order",
    "tool_usage": "rm_id, month, active_days",
}


@dataclass(frozen=True)
class Settings:
    database: Path
    fiscal_year_start_month: int
    renewal_grace_days: int
    free_look_days: int


@dataclass(frozen=True)
class Result:
    """A KPI's values per (rm_id, period), and the value of a pair with no rows (0 or null)."""

    values: pd.Series
    empty: float


def read_settings(workspace: Path) -> Settings:
    config = tomllib.loads((workspace / "kraft.toml").read_text())
    url = config.get("database_url", "duckdb:///kraft.duckdb")
    if not url.startswith("duckdb:///"):
        raise SystemExit(f"only a DuckDB workspace can be read; database_url is {url}")
    database = Path(url.removeprefix("duckdb:///"))
    return Settings(
        database=database if database.is_absolute() else workspace / database,
        fiscal_year_start_month=int(config.get("fiscal_year_start_month", 1)),
        renewal_grace_days=int(config.get("renewal_grace_days", 30)),
        free_look_days=int(config.get("free_look_days", 30)),
    )


def run_kraft(args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "kraft", *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"kraft {' '.join(args)} failed")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


# -- periods -----------------------------------------------------------------------------------


def month_labels(key: int, fiscal_start: int) -> tuple[str, str, str]:
    """Month, quarter and year labels of the month `key` (year × 12 + month − 1)."""
    year, month = divmod(key, 12)
    month += 1
    offset = (month - fiscal_start) % 12
    quarter = offset // 3 + 1
    if fiscal_start == 1:
        return f"{year}-{month:02d}", f"{year}-Q{quarter}", f"{year}"
    fiscal_year = year + 1 if month >= fiscal_start else year
    return f"{year}-{month:02d}", f"FY{fiscal_year}-Q{quarter}", f"FY{fiscal_year}"


def with_periods(frame: pd.DataFrame, date_column: str, fiscal_start: int) -> pd.DataFrame:
    """The frame with a month, quarter and year label column for the date in `date_column`."""
    dates = frame[date_column]
    key = dates.dt.year * 12 + dates.dt.month - 1
    labels = {k: month_labels(int(k), fiscal_start) for k in key.dropna().unique()}
    out = frame.copy()
    for index, grain in enumerate(GRAINS):
        out[grain] = key.map({k: names[index] for k, names in labels.items()})
    return out


def per_period(
    frame: pd.DataFrame, aggregate: Callable[[DataFrameGroupBy], Aggregate]
) -> Aggregate:
    """`aggregate` of the rows grouped by RM and period, for each grain; index (rm_id, period)."""
    parts: list[Aggregate] = []
    for grain in GRAINS:
        values = aggregate(frame.groupby(["rm_id", grain]))
        values.index = values.index.set_names(["rm_id", "period"])
        parts.append(values)
    return pd.concat(parts)


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """100 × numerator ÷ denominator; null where the denominator is 0."""
    return (100 * (numerator.astype(float) / denominator.astype(float))).where(denominator > 0)


def share(frame: pd.DataFrame, flag: str) -> Result:
    """The percentage of the rows of each RM and period whose boolean column `flag` is true."""
    counts = per_period(frame, lambda g: g[flag].agg(["sum", "size"]))
    return Result(ratio(counts["sum"], counts["size"]), math.nan)


# -- the 10 KPIs -------------------------------------------------------------------------------


def revenue_per_quarter(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    policies = tables["policies"]
    free_look = (
        (policies["status"] == "cancelled")
        & policies["cancel_date"].notna()
        & (
            policies["cancel_date"]
            <= policies["issue_date"] + pd.Timedelta(days=settings.free_look_days)
        )
    )
    sold = with_periods(policies[~free_look], "issue_date", settings.fiscal_year_start_month)
    return Result(per_period(sold, lambda g: g["annual_premium"].sum()), 0.0)


def client_meetings_per_month(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    interactions = tables["interactions"]
    meetings = interactions[
        (interactions["status"] == "completed") & (interactions["type"] == "meeting")
    ].copy()
    meetings["session_key"] = meetings["session_id"].fillna(meetings["interaction_id"])
    meetings = with_periods(meetings, "date", settings.fiscal_year_start_month)
    parts = []
    for grain in GRAINS:
        sessions = meetings.groupby(["rm_id", grain])["session_key"].nunique()
        sessions.index = sessions.index.set_names(["rm_id", "period"])
        parts.append(sessions / MONTHS_IN[grain])
    return Result(pd.concat(parts), 0.0)


def customer_satisfaction_score(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    surveys = tables["surveys"]
    csat = surveys[surveys["survey_type"] == "csat"].copy()
    csat["satisfied"] = csat["score"] >= 0.8 * csat["scale_max"]
    csat = with_periods(csat, "date", settings.fiscal_year_start_month)
    return share(csat, "satisfied")


def sales_conversion_rate(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    leads = tables["leads"]
    closed = leads[leads["status"].isin(["won", "lost"])].copy()
    closed["won"] = closed["status"] == "won"
    closed = with_periods(closed, "closed_date", settings.fiscal_year_start_month)
    return share(closed, "won")


def cross_sell_success_rate(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    leads = tables["leads"]
    closed = leads[leads["status"].isin(["won", "lost"]) & leads["cross_sell"].eq(True)].copy()
    closed["won"] = closed["status"] == "won"
    closed = with_periods(closed, "closed_date", settings.fiscal_year_start_month)
    return share(closed, "won")


def risk_assessment_completion_rate(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    policies = tables["policies"]
    new = policies[policies["business_type"] == "new"].copy()
    new["assessed"] = new["risk_assessment_date"].notna() & (
        new["risk_assessment_date"] <= new["issue_date"]
    )
    new = with_periods(new, "issue_date", settings.fiscal_year_start_month)
    return share(new, "assessed")


def documentation_accuracy_rate(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    checks = with_periods(tables["document_checks"], "date", settings.fiscal_year_start_month)
    return share(checks, "in_good_order")


def tech_adoption_rate(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    usage = tables["tool_usage"].copy()
    usage["adopted"] = usage["active_days"] >= 4
    usage = with_periods(usage, "month", settings.fiscal_year_start_month)
    return share(usage, "adopted")


def compliance_trainings_attended(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    activities = tables["activities"]
    trainings = activities[
        (activities["status"] == "completed") & (activities["type"] == "compliance_training")
    ]
    trainings = with_periods(trainings, "date", settings.fiscal_year_start_month)
    return Result(per_period(trainings, lambda g: g.size()).astype(float), 0.0)


def client_retention_rate(tables: dict[str, pd.DataFrame], settings: Settings) -> Result:
    policies = tables["policies"]
    renewals = policies.loc[
        policies["renewal_of_policy_id"].notna(), ["renewal_of_policy_id", "start_date"]
    ]
    pairs = renewals.merge(
        policies[["policy_id", "end_date"]],
        left_on="renewal_of_policy_id",
        right_on="policy_id",
    )
    in_grace = pairs["start_date"] <= pairs["end_date"] + pd.Timedelta(
        days=settings.renewal_grace_days
    )
    renewed = pairs.loc[in_grace, ["policy_id"]].drop_duplicates()
    due = policies[~policies["status"].isin(ENDED_STATUSES)].merge(
        renewed, on="policy_id", how="left", indicator="renewal"
    )
    due["renewed"] = due["renewal"] == "both"
    due = with_periods(due, "end_date", settings.fiscal_year_start_month)
    clients = per_period(due, lambda g: g["client_id"].nunique())
    retained = per_period(due[due["renewed"]], lambda g: g["client_id"].nunique())
    retained = retained.reindex(clients.index, fill_value=0)
    return Result(ratio(retained, clients), math.nan)


KPIS: dict[str, Callable[[dict[str, pd.DataFrame], Settings], Result]] = {
    "revenue_per_quarter": revenue_per_quarter,
    "client_meetings_per_month": client_meetings_per_month,
    "customer_satisfaction_score": customer_satisfaction_score,
    "sales_conversion_rate": sales_conversion_rate,
    "cross_sell_success_rate": cross_sell_success_rate,
    "risk_assessment_completion_rate": risk_assessment_completion_rate,
    "documentation_accuracy_rate": documentation_accuracy_rate,
    "tech_adoption_rate": tech_adoption_rate,
    "compliance_trainings_attended": compliance_trainings_attended,
    "client_retention_rate": client_retention_rate,
}


# -- reading and checking ----------------------------------------------------------------------


def read_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    return {
        table: con.sql(f"SELECT {columns} FROM {table}").df() for table, columns in READS.items()
    }


def read_kraft_values(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, int]:
    """The latest run's RM values of the 10 KPIs, and the number of KPIs that run computed."""
    run_id = con.execute("SELECT max(run_id) FROM kpi_values").fetchone()
    if run_id is None or run_id[0] is None:
        raise SystemExit("the workspace has no computed values: run `kraft compute` first")
    kpi_list = ", ".join(f"'{k}'" for k in KPIS)
    values = con.execute(
        "SELECT entity_id AS rm_id, period, kpi_id, value, provisional FROM kpi_values"
        f" WHERE run_id = ? AND entity_type = 'rm' AND kpi_id IN ({kpi_list})",
        [run_id[0]],
    ).df()
    kpis = con.execute(
        "SELECT count(DISTINCT kpi_id) FROM kpi_values WHERE run_id = ?", [run_id[0]]
    ).fetchone()
    return values, int(kpis[0]) if kpis else 0


def agree(ours: float, theirs: float) -> bool:
    if math.isnan(theirs) or math.isnan(ours):
        return math.isnan(theirs) and math.isnan(ours)
    if theirs == 0:
        return abs(ours) <= TOLERANCE
    return abs(ours - theirs) <= TOLERANCE * abs(theirs)


def compare(results: dict[str, Result], kraft: pd.DataFrame, timings: dict[str, float]) -> int:
    """Print the check per KPI; the number of mismatches."""
    print(
        f"{'KPI':<34}{'compared':>10}{'nulls':>8}{'provisional':>13}{'mismatches':>12}"
        f"{'pandas s':>10}"
    )
    mismatches = 0
    examples: list[str] = []
    for kpi, result in results.items():
        stored = kraft[kraft["kpi_id"] == kpi].set_index(["rm_id", "period"])
        ours = result.values.reindex(stored.index, fill_value=result.empty)
        theirs = stored["value"].astype(float)
        bad = [
            (key, o, t)
            for key, o, t in zip(
                stored.index, ours.astype(float).tolist(), theirs.tolist(), strict=True
            )
            if not agree(o, t)
        ]
        mismatches += len(bad)
        examples += [
            f"  {kpi} {rm} {period}: pandas {o!r}, kraft {t!r}" for (rm, period), o, t in bad[:3]
        ]
        print(
            f"{kpi:<34}{len(stored):>10,}{int(theirs.isna().sum()):>8,}"
            f"{int(stored['provisional'].sum()):>13,}{len(bad):>12,}{timings[kpi]:>10.2f}"
        )
    if examples:
        print("examples of mismatches:")
        print("\n".join(examples))
    return mismatches


# -- main --------------------------------------------------------------------------------------


def build_demo(folder: Path, rms: int, months: int) -> None:
    run_kraft(
        ["demo", str(folder), "--rms", str(rms), "--months", str(months), "--start", "2024-01"]
    )


def bench(args: argparse.Namespace, workspace: Path) -> int:
    settings = read_settings(workspace)
    kraft_runs: list[tuple[float, float]] = []
    if not args.no_kraft_timing:
        kraft_runs = [
            run_kraft(["--workspace", str(workspace), "compute"]) for _ in range(args.runs)
        ]

    read_times: list[float] = []
    con = duckdb.connect(str(settings.database), read_only=True)
    try:
        for _ in range(args.runs):
            start = time.perf_counter()
            tables = read_tables(con)
            read_times.append(time.perf_counter() - start)
        kraft_values, kraft_kpis = read_kraft_values(con)
    finally:
        con.close()

    compute_times: list[float] = []
    kpi_times: dict[str, list[float]] = {kpi: [] for kpi in KPIS}
    results: dict[str, Result] = {}
    for _ in range(args.runs):
        start = time.perf_counter()
        for kpi, function in KPIS.items():
            kpi_start = time.perf_counter()
            results[kpi] = function(tables, settings)
            kpi_times[kpi].append(time.perf_counter() - kpi_start)
        compute_times.append(time.perf_counter() - start)
    pandas_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows = {table: len(frame) for table, frame in tables.items()}
    print(f"workspace {workspace}: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    mismatches = compare(
        results, kraft_values, {k: statistics.median(t) for k, t in kpi_times.items()}
    )
    print(f"values compared: {len(kraft_values):,}; mismatches: {mismatches:,}")
    print()

    pandas_time = statistics.median(compute_times)
    read_time = statistics.median(read_times)
    print(f"pandas read, {len(READS)} tables into DataFrames (.df()): median {read_time:.2f} s")
    print(
        f"pandas compute, 10 KPIs × RM × month/quarter/year, reading excluded: "
        f"median {pandas_time:.2f} s (runs: {', '.join(f'{t:.2f}' for t in compute_times)})"
    )
    print(
        f"pandas process peak RSS (tables, kraft's values for the check, compute): {pandas_rss:.0f} MB"
    )
    if kraft_runs:
        times = [t for t, _ in kraft_runs]
        kraft_time = statistics.median(times)
        scaled = kraft_time * len(KPIS) / kraft_kpis
        print(
            f"kraft compute, all {kraft_kpis} KPIs × RM, team, company × month/quarter/year "
            f"(process wall time: start-up, reading and writing included): median "
            f"{kraft_time:.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"
        )
        print(f"kraft compute peak RSS: max {max(m for _, m in kraft_runs):.0f} MB")
        print(
            f"speed-up = pandas 10 KPIs ÷ kraft all {kraft_kpis} KPIs = {pandas_time:.2f} ÷ "
            f"{kraft_time:.2f} = {pandas_time / kraft_time:.2f}× (above 1: kraft is faster)"
        )
        print(
            f"kraft scaled to 10 KPIs = {kraft_time:.2f} × 10 ÷ {kraft_kpis} = {scaled:.2f} s; "
            f"pandas ÷ scaled kraft = {pandas_time / scaled:.2f}×"
        )
    else:
        print("kraft compute: not timed (--no-kraft-timing)")
    return 1 if mismatches else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rms", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workspace", type=Path, help="an already computed workspace")
    parser.add_argument("--no-kraft-timing", action="store_true", help="skip timing kraft compute")
    args = parser.parse_args()
    if args.workspace is not None:
        sys.exit(bench(args, args.workspace))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        build_demo(folder, args.rms, args.months)
        code = bench(args, folder)
    sys.exit(code)


if __name__ == "__main__":
    main()
