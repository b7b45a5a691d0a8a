"""Spark, the third engine: the same book gives the same values on DuckDB, PostgreSQL and Spark
(every KPI, entity and period; relative 1e-9, nulls equal), and the same `explain` numbers; the
operational tables round-trip through Parquet; a Spark compute that cannot read its tables stops
with one sentence and leaves the values as they were.

One Spark session (local[2]) serves the module; the book is generated once.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kraft.demo.book.generate import generate_book
from kraft.errors import KraftError
from kraft.framework.loader import load_builtin
from kraft.ingest.importer import ImportOptions, Mode, run_import
from kraft.ingest.sources import from_arrow, read_sources
from kraft.metrics.runner import ComputeRequest, compute, explain
from kraft.metrics.spark import SparkOptions, compute_spark
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar, Grain
from kraft.schema.tables import TABLES
from kraft.store import migrate
from kraft.store.database import Database
from kraft.store.parquet import export_parquet

from conftest import PG_URL, postgres_schema_url, require_postgres

PARAMETERS = {"renewal_grace_days": 30, "free_look_days": 30}
MANUAL = ["automation_time_savings", "management_decision_impact"]
AS_OF = date(2024, 12, 31)
VALUE_SQL = (
    "SELECT entity_type, entity_id, period, kpi_id, value, numerator, denominator, row_count, "
    "provisional, extra FROM kpi_values"
)
EXPLAINED = ["client_retention_rate", "revenue_per_quarter", "claims_settlement_time"]
Rows = dict[tuple[str, ...], tuple[Any, ...]]

pytestmark = pytest.mark.slow


def _require_spark() -> None:
    missing = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing = "pyspark is not installed (pip install -e '.[dev,spark]')"
    if missing is None and shutil.which("java") is None:
        missing = "Java is not installed (openjdk-17-jre-headless)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the Spark tests must run in CI: {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    _require_spark()
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("kraft tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def book() -> dict[str, pa.Table]:
    return generate_book(rms=20, months=12, seed=11, start=date(2024, 1, 1))


def _loaded(url: str, book: dict[str, pa.Table]) -> Database:
    db = Database(url)
    migrate.upgrade(db)
    raws = [from_arrow(name, f"demo {name}", data) for name, data in book.items()]
    run_import(db, raws, ImportOptions(mode=Mode.replace, as_of=AS_OF, manual_kpis=MANUAL))
    return db


def _compute(db: Database, **kwargs: Any) -> None:
    compute(db, load_builtin("insurance_rm"), load_catalogue(), Calendar(1), PARAMETERS, **kwargs)


def _spark(db: Database, options: SparkOptions, request: ComputeRequest | None = None) -> None:
    compute_spark(
        db,
        load_builtin("insurance_rm"),
        load_catalogue(),
        Calendar(1),
        PARAMETERS,
        request or ComputeRequest(),
        options,
    )


def _values(db: Database) -> Rows:
    with db.connect() as conn:
        return {tuple(r[:4]): tuple(r[4:]) for r in conn.execute(sa.text(VALUE_SQL))}


@pytest.fixture(scope="module")
def duck(tmp_path_factory: pytest.TempPathFactory, book: dict[str, pa.Table]) -> Iterator[Database]:
    """The book on DuckDB, computed in place."""
    db = _loaded(f"duckdb:///{tmp_path_factory.mktemp('duck') / 'kraft.duckdb'}", book)
    _compute(db, request=ComputeRequest())
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def pg_schemas() -> Iterator[list[str]]:
    """PostgreSQL schemas made by the module's tests, dropped at the end."""
    made: list[str] = []
    yield made
    if made and PG_URL:
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            for schema in made:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _pg_database(schemas: list[str]) -> str:
    url = require_postgres()
    schema = f"kraft_spark_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    schemas.append(schema)
    return postgres_schema_url(schema)


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        # abs_tol: a difference of two near-equal loss ratios (an improvement of 0.009 points)
        # keeps only the absolute precision of its terms, and Spark holds earned premium to 6
        # decimal places, so the engines may part at the 11th decimal there.
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]
    return a == b


def _same_extra(a: str | None, b: str | None) -> bool:
    """The reported measures ({"name": number, ...}): the same names and numbers."""
    if a is None or b is None:
        return a is b
    left, right = json.loads(a), json.loads(b)
    return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)


def _differences(expected: Rows, actual: Rows) -> list[tuple[Any, ...]]:
    return [
        (key, expected[key], actual[key])
        for key in expected
        if not all(_same(a, b) for a, b in zip(expected[key][:5], actual[key][:5], strict=True))
        or not _same_extra(expected[key][5], actual[key][5])
    ]


def _explained(db: Database, rms: list[str], period: str) -> dict[tuple[str, str], Any]:
    """explain's stored numbers and its rows, per RM and KPI."""
    framework, catalogue = load_builtin("insurance_rm"), load_catalogue()
    out: dict[tuple[str, str], Any] = {}
    for rm in rms:
        for kpi in EXPLAINED:
            result = explain(
                db,
                framework,
                catalogue,
                Calendar(1),
                PARAMETERS,
                rm_id=rm,
                kpi_id=kpi,
                label=period,
            )
            stored = result.stored or {}
            numbers = tuple(stored.get(k) for k in ("value", "numerator", "denominator"))
            rows = [
                (r.title, [tuple(str(v) for v in row) for row in r.rows]) for r in result.row_sets
            ]
            out[(rm, kpi)] = (numbers, rows)
    return out


def test_duckdb_postgres_and_spark_agree(
    spark: Any, duck: Database, book: dict[str, pa.Table], tmp_path: Path, pg_schemas: list[str]
) -> None:
    # PostgreSQL in place; Spark from the workspace's own tables into DuckDB; Spark from a
    # Parquet folder (--source) into PostgreSQL.
    pg = _loaded(_pg_database(pg_schemas), book)
    spark_duck = _loaded(f"duckdb:///{tmp_path / 'spark.duckdb'}", book)
    spark_pg = _loaded(_pg_database(pg_schemas), book)
    folder = tmp_path / "lake"
    try:
        _compute(pg, request=ComputeRequest())
        _spark(spark_duck, SparkOptions("local[2]"))
        export_parquet(duck, folder)
        _spark(spark_pg, SparkOptions("local[2]", folder), ComputeRequest(as_of=AS_OF))
        expected = _values(duck)
        assert len(expected) > 10_000
        for db in (pg, spark_duck, spark_pg):
            actual = _values(db)
            assert actual.keys() == expected.keys()
            assert _differences(expected, actual) == []
        with spark_duck.connect() as conn:
            engines = [r[0] for r in conn.execute(sa.text("SELECT engine FROM compute_runs"))]
        assert engines == ["spark"]
        rms = sorted({k[1] for k in expected if k[0] == "rm"})
        reference = _explained(duck, rms, "2024-Q3")
        assert sum(1 for numbers, _ in reference.values() if numbers[1]) > 20
        for db in (pg, spark_duck, spark_pg):
            other = _explained(db, rms, "2024-Q3")
            assert other.keys() == reference.keys()
            for key, (numbers, rows) in reference.items():
                assert all(_same(a, b) for a, b in zip(numbers, other[key][0], strict=True)), key
                assert rows == other[key][1], key
    finally:
        for db in (pg, spark_duck, spark_pg):
            db.dispose()


def test_parquet_export_round_trips(duck: Database, tmp_path: Path) -> None:
    folder = tmp_path / "tables"
    counts = export_parquet(duck, folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t.name}.parquet" for t in TABLES)
    assert counts["policies"] > 10_000
    schema = pq.read_schema(folder / "policies.parquet")
    assert str(schema.field("issue_date").type) == "date32[day]"
    assert str(schema.field("annual_premium").type) == "decimal128(24, 6)"
    assert str(schema.field("personalised").type) == "bool"
    # `kraft import` reads the folder back: the same rows in every table.
    copy = Database(f"duckdb:///{tmp_path / 'copy.duckdb'}")
    try:
        migrate.upgrade(copy)
        options = ImportOptions(mode=Mode.replace, as_of=AS_OF, manual_kpis=MANUAL)
        run_import(copy, read_sources([folder]), options)
        for table in TABLES:
            order = ", ".join(table.key)
            sql = f"SELECT * FROM {table.name} ORDER BY {order}"
            with duck.connect() as a, copy.connect() as b:
                assert a.execute(sa.text(sql)).all() == b.execute(sa.text(sql)).all(), table.name
    finally:
        copy.dispose()
    with pytest.raises(KraftError, match=r"is not empty; .*--force"):
        export_parquet(duck, folder)
    assert export_parquet(duck, folder, force=True) == counts


def test_export_data_command(duck: Database, tmp_path: Path) -> None:
    from kraft.cli import app
    from kraft.workspace import Settings, init_workspace

    ws, _ = init_workspace(tmp_path / "ws", Settings(database_url=duck.url))
    folder = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["-w", str(ws.root), "export", "data", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Wrote 17 tables" in result.output
    again = runner.invoke(app, ["-w", str(ws.root), "export", "data", str(folder)])
    assert again.exit_code == 1
    assert "--force" in again.output
    assert "Traceback" not in again.output


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", r"has no table claims: add claims\.parquet"),
        ("wrong_type", r"column policies\.issue_date is string, but the contract's date"),
        ("missing_column", r"table leads has no column status, which the contract requires"),
    ],
)
def test_a_bad_source_stops_and_leaves_the_values(
    spark: Any, duck: Database, tmp_path: Path, damage: str, message: str
) -> None:
    folder = tmp_path / "lake"
    export_parquet(duck, folder)
    if damage == "missing":
        (folder / "claims.parquet").unlink()
    elif damage == "wrong_type":
        policies = pq.read_table(folder / "policies.parquet")
        index = policies.schema.get_field_index("issue_date")
        policies = policies.set_column(
            index, "issue_date", policies.column("issue_date").cast(pa.string())
        )
        pq.write_table(policies, folder / "policies.parquet")
    else:
        leads = pq.read_table(folder / "leads.parquet")
        pq.write_table(leads.drop(["status"]), folder / "leads.parquet")
    before = _values(duck)
    with pytest.raises(KraftError, match=message):
        _spark(duck, SparkOptions("local[2]", folder))
    assert _values(duck) == before
    assert spark.catalog.listTables() == []  # no view left behind


def test_a_failing_spark_job_is_one_sentence(spark: Any, duck: Database, tmp_path: Path) -> None:
    """A job that fails inside Spark (here a value ANSI SQL refuses to cast) is reported, not
    raised as a traceback, and the values stay."""
    folder = tmp_path / "lake"
    export_parquet(duck, folder)
    policies = pq.read_table(folder / "policies.parquet")
    premium = pa.array([1e30] * policies.num_rows, pa.float64())  # beyond decimal(24, 6)
    index = policies.schema.get_field_index("annual_premium")
    pq.write_table(
        policies.set_column(index, "annual_premium", premium), folder / "policies.parquet"
    )
    before = _values(duck)
    with pytest.raises(KraftError, match=r"^Spark could not compute the KPIs \(.*were not changed"):
        _spark(duck, SparkOptions("local[2]", folder), ComputeRequest(as_of=AS_OF))
    assert _values(duck) == before


def test_without_pyspark_the_engine_says_what_to_install(
    duck: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(KraftError, match=r"pip install 'kraft\[spark\]'"):
        _spark(duck, SparkOptions("local[2]"))


def test_compute_options_for_spark(duck: Database, tmp_path: Path) -> None:
    from kraft.cli import app
    from kraft.workspace import Settings, init_workspace

    ws, _ = init_workspace(tmp_path / "ws", Settings(database_url=duck.url))
    runner = CliRunner()
    for args, message in [
        (["--source", str(tmp_path)], "--spark-master and --source go with --engine spark"),
        (["--engine", "spark", "--source", str(tmp_path / "nope")], "no such folder"),
    ]:
        result = runner.invoke(app, ["-w", str(ws.root), "compute", *args])
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "Traceback" not in result.output


OPEN_AS_OF = date(2024, 11, 15)  # inside 2024-Q4 (and 2024-11): the book runs on to 31 December


def test_engines_agree_on_an_open_quarter_and_events_after_the_as_of(
    spark: Any, book: dict[str, pa.Table], tmp_path: Path, pg_schemas: list[str]
) -> None:
    # The same book imported as of 15 November: its rows dated after it (policies issued,
    # cancelled, claims intimated and settled, leads closed in the last six weeks) count nowhere,
    # and 2024-Q4, 2024-11 and 2024 are open (to date). DuckDB, PostgreSQL and Spark agree.
    def loaded(url: str) -> Database:
        db = Database(url)
        migrate.upgrade(db)
        raws = [from_arrow(name, f"demo {name}", data) for name, data in book.items()]
        run_import(db, raws, ImportOptions(mode=Mode.replace, as_of=OPEN_AS_OF, manual_kpis=MANUAL))
        return db

    duck = loaded(f"duckdb:///{tmp_path / 'open.duckdb'}")
    pg = loaded(_pg_database(pg_schemas))
    spark_duck = loaded(f"duckdb:///{tmp_path / 'open-spark.duckdb'}")
    try:
        _compute(duck, request=ComputeRequest())
        _compute(pg, request=ComputeRequest())
        _spark(spark_duck, SparkOptions("local[2]"))
        expected = _values(duck)
        assert {k[2] for k in expected} >= {"2024-Q4", "2024-11", "2024"}
        assert not {k[2] for k in expected} & {"2024-12"}
        open_retention = [
            v for k, v in expected.items() if k[2] == "2024-Q4" and k[3] == "client_retention_rate"
        ]
        assert all(v[4] for v in open_retention)  # provisional
        assert any(v[5] and "decided" in v[5] for v in open_retention)
        for db in (pg, spark_duck):
            actual = _values(db)
            assert actual.keys() == expected.keys()
            assert _differences(expected, actual) == []
        rms = sorted({k[1] for k in expected if k[0] == "rm"})[:8]
        reference = _explained(duck, rms, "2024-Q4")
        for db in (pg, spark_duck):
            other = _explained(db, rms, "2024-Q4")
            for key, (numbers, rows) in reference.items():
                assert all(_same(a, b) for a, b in zip(numbers, other[key][0], strict=True)), key
                assert rows == other[key][1], key
    finally:
        for db in (duck, pg, spark_duck):
            db.dispose()


def test_a_policy_cancelled_before_cover_began_earns_nothing_on_spark(
    spark: Any, tmp_path: Path
) -> None:
    # DATA.md: cancelled before cover began, never in force. P2's cover would have begun
    # 2024-05-25 and it was cancelled on 05-10: no exposure (it was −15 days × 100 in May).
    # Earned premium is P1's alone: April 3 000, May 3 100 (claims 1 240 → 40 %).
    def rows(*records: dict[str, str]) -> pa.Table:
        columns = list(records[0])
        return pa.table({c: [r.get(c) or None for r in records] for c in columns})

    def policy(pid: str, start: str, cancel: str, status: str) -> dict[str, str]:
        return {"policy_id": pid, "client_id": "C1", "rm_id": "RM1", "product_line": "motor",
                "business_type": "new", "issue_date": "2024-01-01", "start_date": start,
                "end_date": "2025-05-24", "status": status, "cancel_date": cancel,
                "annual_premium": "36500"}  # fmt: skip

    book = {
        "teams": rows({"team_id": "T1", "name": "Team One"}),
        "relationship_managers": rows(
            {"rm_id": "RM1", "name": "Ravi", "team_id": "T1", "hire_date": "2020-01-01"}
        ),
        "clients": rows({"client_id": "C1", "name": "Anil"}),
        "policies": rows(
            policy("P1", "2024-01-01", "", "in_force"),
            policy("P2", "2024-05-25", "2024-05-10", "cancelled"),
        ),
        "claims": rows(
            {
                "claim_id": "K1",
                "policy_id": "P1",
                "intimation_date": "2024-05-02",
                "status": "open",
                "outstanding_reserve": "1240",
            }
        ),
    }
    db = Database(f"duckdb:///{tmp_path / 'kraft.duckdb'}")
    try:
        migrate.upgrade(db)
        raws = [from_arrow(name, f"test {name}", data) for name, data in book.items()]
        run_import(db, raws, ImportOptions(mode=Mode.replace, as_of=AS_OF, manual_kpis=MANUAL))
        request = ComputeRequest(first="2024-04", last="2024-05", grains=(Grain.month,))
        _spark(db, SparkOptions("local[2]"), request)
        with db.connect() as conn:
            value = conn.execute(
                sa.text(
                    "SELECT value FROM kpi_values WHERE entity_id = 'RM1' AND period = '2024-05' "
                    "AND kpi_id = 'loss_ratio_improvement'"
                )
            ).scalar_one()
        assert float(value) == pytest.approx(0 - 100 * 1240 / 3100, rel=1e-9)
    finally:
        db.dispose()
