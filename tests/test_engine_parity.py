"""The same book gives the same values and scores on DuckDB and PostgreSQL: every KPI, entity
and period; and scoring in worker processes gives the same scores as scoring in one."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from kraft.demo.book.generate import generate_book
from kraft.framework.loader import load_builtin
from kraft.ingest.importer import ImportOptions, Mode, run_import
from kraft.ingest.sources import from_arrow
from kraft.metrics.runner import ComputeRequest, compute
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar
from kraft.scoring.runner import score_database
from kraft.store import migrate
from kraft.store.database import Database

from conftest import PG_URL, postgres_schema_url

PARAMETERS = {"renewal_grace_days": 30, "free_look_days": 30}
MANUAL = ["automation_time_savings", "management_decision_impact"]


Rows = dict[tuple[str, ...], tuple[object, ...]]
SCORE_SQL = (
    "SELECT rm_id, period, level, item_id, score, status, target, coverage, rating, capped_at "
    "FROM scores"
)


def _values(url: str) -> tuple[Rows, Rows, Rows]:
    """The book's values, its scores from one process, and its scores from two workers."""
    db = Database(url)
    try:
        migrate.upgrade(db)
        book = generate_book(rms=20, months=12, seed=11, start=date(2024, 1, 1))
        raws = [from_arrow(name, f"demo {name}", data) for name, data in book.items()]
        options = ImportOptions(mode=Mode.replace, as_of=date(2024, 12, 31), manual_kpis=MANUAL)
        run_import(db, raws, options)
        framework = load_builtin("insurance_rm")
        result = compute(db, framework, load_catalogue(), Calendar(1), PARAMETERS, ComputeRequest())
        with db.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT entity_type, entity_id, period, kpi_id, value, numerator, denominator, "
                    "row_count, provisional, extra FROM kpi_values"
                )
            ).all()
        scored = []
        for workers in (1, 2):
            score_database(db, framework, Calendar(1), result.run_id, workers=workers)
            with db.connect() as conn:
                scored.append(
                    {tuple(r[:4]): tuple(r[4:]) for r in conn.execute(sa.text(SCORE_SQL))}
                )
        return {tuple(r[:4]): tuple(r[4:]) for r in rows}, scored[0], scored[1]
    finally:
        db.dispose()


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]
    return a == b


@pytest.mark.slow
def test_duckdb_and_postgres_agree(tmp_path: Path) -> None:
    if not PG_URL:
        pytest.skip("needs KRAFT_TEST_POSTGRES_URL")
    schema = "kraft_parity"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        duck, duck_scores, duck_parallel = _values(f"duckdb:///{tmp_path / 'parity.duckdb'}")
        pg, pg_scores, pg_parallel = _values(postgres_schema_url(schema))
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    assert len(duck) > 10_000
    assert duck.keys() == pg.keys()
    different = [
        (key, duck[key], pg[key])
        for key in duck
        if not all(_same(a, b) for a, b in zip(duck[key][:5], pg[key][:5], strict=True))
    ]
    assert different == []
    # Scores are exact decimals: the same on both databases, and from one process or two.
    assert len(duck_scores) > 10_000
    assert duck_scores == pg_scores
    assert duck_parallel == duck_scores
    assert pg_parallel == pg_scores
