"""Apache Spark as the third engine: the same plan, compiled for Spark SQL, run over Parquet.

The operational tables are read from a folder of Parquet files in the contract's layout (one
`<table>.parquet` file or folder, or a `<table>/` folder, per table; kraft export data --format
parquet writes one), checked against the contract's types, and registered as views. Measurements
are entered in kraft, so they are read from the workspace database. The tables kraft builds in
Python (the period spine, definition hashes, manual KPIs) become views too; each temporary table
of the plan becomes a view, checkpointed (computed once, read without recomputing its lineage)
when several statements or the values query read it; the others stay lazy, part of their one
reader's job (fewer, larger Spark jobs: the fixed cost of a run is mostly per job).

The values come back through Arrow, a few KPIs at a time (memory stays bounded however large the
book), into a temporary table of the workspace database; then the same code as the other engines
replaces the periods' values in one transaction. Until then nothing in the database changes, so a
Spark job that fails leaves the previous values.

pyspark is the optional `spark` extra and is imported only here, only when Spark is asked for.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import Connection
from sqlglot import exp

from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.ingest.status import last_import
from kraft.metrics.compile.dialect import SparkSQL
from kraft.metrics.compile.plans import VALUES_TABLE
from kraft.metrics.manual import MANUAL_SQL
from kraft.metrics.runner import (
    VALUES_DDL,
    ComputeRequest,
    ComputeResult,
    PreparedCompute,
    prepare_compute,
    resolve_range,
    store_values,
)
from kraft.metrics.spec import Catalogue
from kraft.metrics.spine import ENTITY_PERIODS_SQL, TempTable, create_table
from kraft.periods import Calendar
from kraft.schema.tables import TABLES, ColumnType, Table
from kraft.store.database import Database
from kraft.store.parquet import export_parquet

DEFAULT_MASTER = "local[*]"
SPARK_VALUES = "kraft_spark_values"  # the values from Spark, in the workspace database
VALUES_PER_BATCH = 1_000_000  # values brought back from Spark at a time
# Spark's defaults suit a cluster; a local run of kraft's many small stages wants few partitions.
LOCAL_SHUFFLE_PARTITIONS = 8
IN_DATABASE = ("measurements",)  # entered in kraft: read from the workspace database

# The contract's types as Spark SQL types (the database's decimal is decimal(24, 6)).
SPARK_TYPES: dict[ColumnType, str] = {
    ColumnType.id: "STRING",
    ColumnType.text: "STRING",
    ColumnType.enum: "STRING",
    ColumnType.period: "STRING",
    ColumnType.date: "DATE",
    ColumnType.month: "DATE",
    ColumnType.bool: "BOOLEAN",
    ColumnType.decimal: "DECIMAL(24,6)",
    ColumnType.int: "INT",
}
# Parquet types accepted per contract type (Spark's type names); the column is cast to the
# contract's type, so any whole number reads as an int and any number as a decimal.
_INTEGRAL = {"byte", "short", "integer", "long"}
ACCEPTED: dict[ColumnType, set[str]] = {
    ColumnType.id: {"string"},
    ColumnType.text: {"string"},
    ColumnType.enum: {"string"},
    ColumnType.period: {"string"},
    ColumnType.date: {"date"},
    ColumnType.month: {"date"},
    ColumnType.bool: {"boolean"},
    ColumnType.decimal: {"decimal", "float", "double"} | _INTEGRAL,
    ColumnType.int: _INTEGRAL,
}
_VIEW_TYPES = {"VARCHAR": "STRING", "INT": "INT", "BIGINT": "BIGINT", "DOUBLE": "DOUBLE"}


@dataclass
class SparkOptions:
    master: str | None = None  # None: spark-submit's master if launched by it, else local[*]
    source: Path | None = None  # a folder of Parquet tables; None: export the workspace's


def compute_spark(
    db: Database,
    framework: Framework,
    catalogue: Catalogue,
    calendar: Calendar,
    parameters: dict[str, int],
    request: ComputeRequest,
    options: SparkOptions,
    *,
    actor: str = "cli",
    progress: Callable[[int, int], None] | None = None,
) -> ComputeResult:
    """Compute every KPI of the framework in Spark; replace their values in the database."""
    _require_pyspark()  # before exporting anything
    started = datetime.now(UTC).replace(tzinfo=None)
    with (
        _source(db, options.source) as source,
        _session(options.master) as spark,
        db.connect() as conn,
    ):
        run = _SparkRun(spark, source, external=options.source is not None)
        try:
            run.register_tables(db)
            prepared = run.prepare(db, framework, catalogue, calendar, parameters, request)
            run.execute(prepared, progress)
            _create_db_tables(conn, prepared)
            run.collect_values(prepared, conn)  # into a temporary table: nothing replaced yet
        except KraftError:
            raise
        except Exception as exc:  # a Spark job, the JVM or the cluster: never a traceback
            raise KraftError(_spark_failure(exc)) from None
        finally:
            run.drop_views()
        conn.commit()  # the temporary tables only; the values are replaced in one transaction
        result = store_values(conn, prepared, SPARK_VALUES, started, actor, "spark", request)
    if progress:
        progress(1, 1)
    return result


@contextmanager
def _source(db: Database, source: Path | None) -> Iterator[Path]:
    """The folder of Parquet tables: the one given, or the workspace's tables exported to a
    temporary folder (removed afterwards)."""
    if source is not None:
        if not source.is_dir():
            raise KraftError(
                f"--source {source}: no such folder; give the folder of Parquet tables."
            )
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="kraft-spark-") as tmp:
        folder = Path(tmp) / "tables"
        export_parquet(db, folder)
        yield folder


def _require_pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError:
        raise KraftError(
            "--engine spark needs pyspark: install kraft's spark extra "
            "(pip install 'kraft[spark]') and Java 17, then run the compute again."
        ) from None
    return pyspark.sql


@contextmanager
def _session(master: str | None) -> Iterator[Any]:
    """A Spark session on `master`: the active one if there is one (tests share theirs), or a new
    one, stopped afterwards. Under spark-submit (which starts the JVM and sets
    PYSPARK_GATEWAY_PORT) and without a master, spark-submit's master and settings apply."""
    sql = _require_pyspark()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        _configure(active)
        yield active
        return
    builder = sql.SparkSession.builder
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = DEFAULT_MASTER
    if master is not None:
        builder = builder.master(master)
    builder = (
        builder.appName("kraft compute")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("KRAFT_SPARK_DRIVER_MEMORY", "2g"))
    )
    if master is not None and master.startswith("local"):
        builder = builder.config("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        raise KraftError(
            f"Spark could not start on {master or 'spark-submit'} ({_first_line(exc)}); "
            "check that Java 17 is "
            "installed (java -version) and that the master URL is reachable."
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    _configure(spark)
    try:
        yield spark
    finally:
        with suppress(Exception):  # the JVM is gone (killed): the failure is already reported
            spark.stop()


def _configure(spark: Any) -> None:
    # Dates are dates: DATEDIFF and date arithmetic must not move across a daylight-saving change.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.ansi.enabled", "true")  # overflow is an error, never a wrong value


class _SparkRun:
    def __init__(self, spark: Any, source: Path, *, external: bool) -> None:
        self.spark = spark
        self.source = source
        self.external = external  # another system's tables, not the workspace's exported
        self.views: list[str] = []
        self.kept: set[str] = set()  # the temporary tables computed once (checkpointed)

    # -- the operational tables -----------------------------------------------------------

    def register_tables(self, db: Database) -> None:
        """Every table of the contract as a view in the contract's types, measurements from the
        database; a table missing from the folder, or a column of the wrong type, stops here."""
        for table in TABLES:
            if table.name in IN_DATABASE:
                self._view_from_database(db, table)
            else:
                self._view_from_parquet(table)

    def _find(self, table: Table) -> Path:
        for candidate in (self.source / f"{table.name}.parquet", self.source / table.name):
            if candidate.exists():
                return candidate
        raise KraftError(
            f"{self.source} has no table {table.name}: add {table.name}.parquet (a file, or a "
            f"folder of Parquet files) in the contract's layout (docs/data-contract.md), or leave "
            "--source out to compute from the workspace's own tables."
        )

    def _view_from_parquet(self, table: Table) -> None:
        path = self._find(table)
        try:
            frame = self.spark.read.parquet(str(path))
        except Exception as exc:
            raise KraftError(
                f"{path}: Spark cannot read it as Parquet ({_first_line(exc)}); write "
                f"{table.name} as Parquet files."
            ) from None
        present = {f.name: f.dataType.typeName() for f in frame.schema.fields}
        selects = []
        for column in table.columns:
            kind = present.get(column.name)
            wanted = SPARK_TYPES[column.type]
            if kind is None:
                if column.required:
                    raise KraftError(
                        f"{path}: table {table.name} has no column {column.name}, which the "
                        "contract requires; add it (docs/data-contract.md lists the columns)."
                    )
                selects.append(f"CAST(NULL AS {wanted}) AS {column.name}")
                continue
            if kind not in ACCEPTED[column.type]:
                raise KraftError(
                    f"{path}: column {table.name}.{column.name} is {kind}, but the contract's "
                    f"{column.type.value} needs a Parquet {_expected(column.type)}; write it "
                    "as that type (kraft export data --format parquet shows the layout)."
                )
            selects.append(f"CAST(`{column.name}` AS {wanted}) AS {column.name}")
        name = f"kraft_source_{table.name}"
        frame.createOrReplaceTempView(name)
        self._view(table.name, self.spark.sql(f"SELECT {', '.join(selects)} FROM {name}"))
        self.views.append(name)

    def _view_from_database(self, db: Database, table: Table) -> None:
        columns = ", ".join(f'"{c}"' for c in table.column_names)
        with db.connect() as conn:
            rows = conn.execute(sa.text(f'SELECT {columns} FROM "{table.name}"')).all()
        schema = ", ".join(f"{c.name} {SPARK_TYPES[c.type]}" for c in table.columns)
        frame = self.spark.createDataFrame([tuple(r) for r in rows], schema=schema)
        self._view(table.name, frame)

    def _view(self, name: str, frame: Any) -> None:
        frame.createOrReplaceTempView(name)
        self.views.append(name)

    # -- the plan -------------------------------------------------------------------------

    def prepare(
        self,
        db: Database,
        framework: Framework,
        catalogue: Catalogue,
        calendar: Calendar,
        parameters: dict[str, int],
        request: ComputeRequest,
    ) -> PreparedCompute:
        """The plan for Spark SQL over the range the data gives: the as-of date of the last
        import when Spark reads the workspace's own tables; with --source, the latest event date
        in the folder (unless --as-of says otherwise)."""
        parts = [
            f"SELECT min({c}) AS first, max({c}) AS last FROM {t.name}"
            for t in TABLES
            for c in t.event_dates
        ]
        bounds = self.spark.sql(
            f"SELECT min(first), max(last) FROM ({' UNION ALL '.join(parts)}) AS e"
        ).collect()[0]
        as_of: date | None = bounds[1]
        if not self.external:
            with db.connect() as conn:
                latest = last_import(conn)
            as_of = date.fromisoformat(latest["as_of"]) if latest and latest["as_of"] else None
        teams = {
            r[0]: r[1]
            for r in self.spark.sql("SELECT team_id, parent_team_id FROM teams").collect()
        }
        rms = {
            r[0]: r[1]
            for r in self.spark.sql("SELECT rm_id, team_id FROM relationship_managers").collect()
        }
        return prepare_compute(
            framework,
            catalogue,
            calendar,
            parameters,
            request,
            "spark",
            resolve_range(calendar, request, as_of, bounds[0]),
            teams,
            rms,
        )

    def execute(
        self, prepared: PreparedCompute, progress: Callable[[int, int], None] | None
    ) -> None:
        """The Python-built tables as views, then every statement of the plan."""
        for table in prepared.tables:
            self._view(table.name, self._frame(table))
        trees = [self._parse(statement) for statement in prepared.statements]
        self.kept = _read_again(trees, self._parse(prepared.plan.values_query))
        total = len(trees) + 1
        for done, tree in enumerate(trees):
            self._run(tree)
            if progress:
                progress(done + 1, total)

    def _frame(self, table: TempTable) -> Any:
        schema = ", ".join(f"{c} {_VIEW_TYPES.get(t, t)}" for c, t in table.columns)
        return self.spark.createDataFrame(table.rows, schema=schema)

    @staticmethod
    def _parse(statement: str) -> exp.Expr:
        """The runner's own SQL (entity periods, manual KPIs) is written for DuckDB and
        PostgreSQL and transpiled here; the compiler's is Spark SQL already."""
        return sqlglot.parse_one(statement, read="postgres" if _generic(statement) else SparkSQL)

    def _run(self, tree: exp.Expr) -> None:
        """A temporary table becomes a view, checkpointed when more than one statement reads it
        or the values are read from it (computed once, not once per reader); an insert into the
        values table adds its rows to the view of that name."""
        if isinstance(tree, exp.Create) and tree.expression is not None:
            frame = self.spark.sql(tree.expression.sql(dialect=SparkSQL))
            if tree.this.name in self.kept:
                frame = frame.localCheckpoint(eager=True)
            self._view(tree.this.name, frame)
        elif isinstance(tree, exp.Insert) and tree.this.this.name == VALUES_TABLE:
            columns = [c.name for c in tree.this.expressions]
            added = self.spark.sql(tree.expression.sql(dialect=SparkSQL)).toDF(*columns)
            values = self.spark.table(VALUES_TABLE).unionByName(added)
            self._view(VALUES_TABLE, values.localCheckpoint(eager=True))
        else:
            raise KraftError(f"kraft cannot run this statement on Spark: {tree.sql()[:80]}…")

    # -- the values -----------------------------------------------------------------------

    def collect_values(self, prepared: PreparedCompute, conn: Connection) -> None:
        """Every value into the database's kraft_spark_values, a few KPIs at a time."""
        values = self.spark.sql(prepared.plan.values_query)
        entity_periods = max(1, int(self.spark.table("kraft_entity_periods").count()))
        per_batch = max(1, VALUES_PER_BATCH // entity_periods)
        kpis = prepared.kpis  # only KPIs are stored (metrics a derived KPI reads are not)
        for index in range(0, len(kpis), per_batch):
            chunk = kpis[index : index + per_batch]
            arrow = values.where(values.kpi_id.isin(chunk)).toArrow()
            _load(conn, arrow)

    def drop_views(self) -> None:
        for name in self.views:
            try:
                self.spark.catalog.dropTempView(name)
            except Exception:  # the session may be gone: nothing left to drop
                return
        self.views.clear()


def _read_again(trees: list[exp.Expr], values_query: exp.Expr) -> set[str]:
    """The temporary tables worth computing once: read by two statements or more, or by the
    values query (which is run once per batch of KPIs)."""
    readers: dict[str, int] = {}
    for tree in trees:
        written = tree.this.name if isinstance(tree, exp.Create) else tree.this.this.name
        for name in {t.name for t in tree.find_all(exp.Table)} - {written}:
            readers[name] = readers.get(name, 0) + 1
    final = {t.name for t in values_query.find_all(exp.Table)}
    return {name for name, count in readers.items() if count > 1} | final


def _generic(statement: str) -> bool:
    """The runner's own SQL, written for DuckDB and PostgreSQL (not compiled per dialect)."""
    return statement in (MANUAL_SQL, ENTITY_PERIODS_SQL)


def _create_db_tables(conn: Connection, prepared: PreparedCompute) -> None:
    """What the replacement joins, in the workspace database: periods, hashes, Spark's values."""
    dialect = {"duckdb": "duckdb", "postgresql": "postgres"}[conn.dialect.name]
    for table in (
        prepared.periods_table(),
        prepared.hashes(),
        TempTable(SPARK_VALUES, VALUES_DDL, []),
    ):
        for statement in create_table(table.name, table.columns, table.rows, dialect):
            conn.exec_driver_sql(statement)


def _load(conn: Connection, values: pa.Table) -> None:
    """Arrow rows into kraft_spark_values: registered in DuckDB, COPY (CSV) into PostgreSQL."""
    names = [c for c, _ in VALUES_DDL]
    values = values.select(names)
    driver: Any = conn.connection.driver_connection
    if conn.dialect.name == "duckdb":
        driver.register("kraft_spark_batch", values)
        try:
            driver.execute(
                f"INSERT INTO {SPARK_VALUES} ({', '.join(names)}) "
                f"SELECT {', '.join(names)} FROM kraft_spark_batch"
            )
        finally:
            driver.unregister("kraft_spark_batch")
        return
    import pyarrow.csv as csv

    buffer = io.BytesIO()
    csv.write_csv(values, buffer, csv.WriteOptions(include_header=False))
    with (
        driver.cursor() as cur,
        cur.copy(f"COPY {SPARK_VALUES} ({', '.join(names)}) FROM STDIN (FORMAT csv)") as copy,
    ):
        copy.write(buffer.getvalue())


def _expected(kind: ColumnType) -> str:
    return {
        ColumnType.date: "date",
        ColumnType.month: "date (the month's first day)",
        ColumnType.bool: "boolean",
        ColumnType.decimal: "decimal or number",
        ColumnType.int: "integer",
    }.get(kind, "string")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("An error occurred while calling", ":")):
            return line[:300]
    return text.splitlines()[0][:300]


def _spark_failure(exc: BaseException) -> str:
    return (
        f"Spark could not compute the KPIs ({_first_line(exc)}); the values in the database "
        "were not changed. Check the Spark master and its executors, then run the compute again."
    )
