"""The same demo book computed on DuckDB and on PostgreSQL (in place), wall time of `compute`.

    KRAFT_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1/postgres \\
        .venv/bin/python bench/engines_bench.py [--rms 200] [--months 24]

The book is generated once, imported into a DuckDB file and into a fresh PostgreSQL database
(not timed), then each engine computes every KPI × month, quarter and year × RM, team, company.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from kraft.demo.book.generate import generate_book
from kraft.framework.loader import load_builtin
from kraft.ingest.importer import ImportOptions, Mode, run_import
from kraft.ingest.sources import from_arrow
from kraft.metrics.runner import ComputeRequest, compute
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar
from kraft.store import migrate
from kraft.store.database import Database

MANUAL = ["automation_time_savings", "management_decision_impact"]


def timed_compute(url: str, rms: int, months: int) -> tuple[float, int]:
    db = Database(url)
    migrate.upgrade(db)
    book = generate_book(rms=rms, months=months, seed=7, start=date(2024, 1, 1))
    raws = [from_arrow(name, f"demo {name}", data) for name, data in book.items()]
    del book
    last = date(2024 + (months - 1) // 12, (months - 1) % 12 + 1, 28)
    run_import(db, raws, ImportOptions(mode=Mode.replace, as_of=last, manual_kpis=MANUAL))
    start = time.perf_counter()
    result = compute(
        db,
        load_builtin("insurance_rm"),
        load_catalogue(),
        Calendar(1),
        {"renewal_grace_days": 30, "free_look_days": 30},
        ComputeRequest(),
    )
    elapsed = time.perf_counter() - start
    db.dispose()
    return elapsed, result.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rms", type=int, default=200)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    admin_url = os.environ.get("KRAFT_BENCH_POSTGRES_URL")
    with tempfile.TemporaryDirectory() as tmp:
        duck, rows = timed_compute(f"duckdb:///{Path(tmp) / 'bench.duckdb'}", args.rms, args.months)
    print(f"book: --rms {args.rms} --months {args.months}; {rows:,} KPI values")
    print(f"DuckDB compute: {duck:.1f} s")
    if not admin_url:
        print("PostgreSQL: set KRAFT_BENCH_POSTGRES_URL to compare")
        return
    name = f"kraft_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        pg, _ = timed_compute(url, args.rms, args.months)
        print(f"PostgreSQL compute: {pg:.1f} s ({pg / duck:.1f}× DuckDB)")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
