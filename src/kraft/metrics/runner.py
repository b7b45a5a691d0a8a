"""Run a compiled plan where the data is (DuckDB or PostgreSQL) and replace the values atomically.

Everything is computed into temporary tables first; only the last step, one transaction, deletes
the periods' old values and inserts the new ones. A reader never sees half a run, and a compute
killed midway leaves the previous values. Spark (kraft.metrics.spark) prepares the same plan here,
computes it elsewhere, and hands its values to the same last step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.errors import KraftError
from kraft.framework.model import Framework, KpiKind
from kraft.ingest.status import earliest_event_date, last_import
from kraft.metrics.compile.plans import VALUE_COLUMNS, VALUES_TABLE
from kraft.metrics.compiler import Compiler, Plan, metrics_needed
from kraft.metrics.manual import MANUAL_SQL
from kraft.metrics.spec import Catalogue
from kraft.metrics.spine import (
    ENTITY_PERIODS_SQL,
    SpinePeriod,
    TempTable,
    create_table,
    spine_periods,
    spine_statements,
    spine_tables,
    team_ancestry,
)
from kraft.periods import Calendar, Grain, Period
from kraft.store.database import Database
from kraft.store.metadata import compute_runs
from kraft.store.roster import rm_exists, rm_teams, team_tree

DIALECTS = {"duckdb": "duckdb", "postgresql": "postgres"}


VALUES_DDL = [
    ("entity_type", "VARCHAR"),
    ("entity_id", "VARCHAR"),
    ("grain", "VARCHAR"),
    ("period", "VARCHAR"),
    ("kpi_id", "VARCHAR"),
    ("value", "DOUBLE"),
    ("numerator", "DOUBLE"),
    ("denominator", "DOUBLE"),
    ("row_count", "BIGINT"),
    ("provisional", "BOOLEAN"),
    ("extra", "VARCHAR"),
]


@dataclass
class ComputeRequest:
    as_of: date | None = None
    first: str | None = None  # a period label: compute from its start
    last: str | None = None  # a period label: compute to its end
    grains: Sequence[Grain] = (Grain.month, Grain.quarter, Grain.year)
    untracked: Sequence[str] = ()  # KPIs not tracked (kraft.scoring.tracking): stored null


@dataclass
class ComputeResult:
    run_id: int
    as_of: date
    first_period: str
    last_period: str
    kpis: list[str]
    rows: int


def framework_metrics(framework: Framework, catalogue: Catalogue) -> tuple[list[str], list[str]]:
    """(computed KPI ids with their catalogue metric, manual KPI ids) of the framework."""
    computed, manual = [], []
    for _, kpi in framework.kpis():
        if kpi.kind is KpiKind.computed and kpi.metric:
            if kpi.metric not in catalogue.metrics:
                raise KraftError(
                    f"KPI {kpi.id} names metric {kpi.metric!r}, which the catalogue does not have."
                )
            computed.append(kpi.metric)
        elif kpi.kind is KpiKind.manual:
            manual.append(kpi.id)
    return computed, manual


def _resolve_range(
    conn: Connection, calendar: Calendar, request: ComputeRequest
) -> tuple[date, date, date]:
    latest = last_import(conn)
    imported = date.fromisoformat(latest["as_of"]) if latest and latest["as_of"] else None
    return resolve_range(calendar, request, imported, earliest_event_date(conn))


def resolve_range(
    calendar: Calendar, request: ComputeRequest, as_of: date | None, first_day: date | None
) -> tuple[date, date, date]:
    """(as of, first day, last day) of a compute, from the request and what the data says."""
    as_of = request.as_of or as_of
    if as_of is None:
        raise KraftError("There is no data to compute: run `kraft import` (or `kraft demo`) first.")
    if request.first:
        first_day = _parse(calendar, request.first, "--from").start
    if first_day is None:
        raise KraftError("There is no data to compute: the tables hold no event dates.")
    last_day = _parse(calendar, request.last, "--to").end if request.last else as_of
    if last_day > as_of:
        last_day = as_of
    if first_day > last_day:
        raise KraftError(
            f"Nothing to compute: the range starts {first_day} and ends {last_day}; "
            "check --from, --to and --as-of."
        )
    return as_of, first_day, last_day


def _data_as_of(conn: Connection, run_id: object = None) -> date:
    """The as-of date the stored value was computed at (its run's), else the last import's, else
    today: explain shows the rows as the compute read them."""
    if run_id is not None:
        run_as_of = conn.execute(
            sa.select(compute_runs.c.as_of).where(compute_runs.c.run_id == run_id)
        ).scalar()
        if isinstance(run_as_of, datetime):
            return run_as_of.date()
        if isinstance(run_as_of, date):
            return run_as_of
        if run_as_of is not None:
            return date.fromisoformat(str(run_as_of)[:10])
    latest = last_import(conn)
    if latest and latest["as_of"]:
        return date.fromisoformat(str(latest["as_of"]))
    return date.today()


def _parse(calendar: Calendar, label: str, option: str) -> Period:
    try:
        return calendar.parse(label)
    except ValueError as exc:
        raise KraftError(f"{option}: {exc}.") from None


def _labels(calendar: Calendar, first: date, last: date) -> list[Period]:
    start, end = date(first.year - 1, 1, 1), date(last.year + 1, 12, 31)
    return [p for g in Grain for p in calendar.periods(g, start, end)]


@dataclass
class PreparedCompute:
    """Everything a compute runs, whatever the engine: the tables kraft builds in Python, then the
    statements (in the plan's dialect), then the query of every value."""

    as_of: date
    plan: Plan
    kpis: list[str]
    stored: list[Period]
    periods: list[SpinePeriod]
    tables: list[TempTable]
    statements: list[str]

    def hashes(self) -> TempTable:
        return next(t for t in self.tables if t.name == "kraft_hashes")

    def periods_table(self) -> TempTable:
        return next(t for t in self.tables if t.name == "kraft_periods")


def prepare_compute(
    framework: Framework,
    catalogue: Catalogue,
    calendar: Calendar,
    parameters: dict[str, int],
    request: ComputeRequest,
    dialect: str,
    dates: tuple[date, date, date],
    teams: dict[str, str | None],
    rms: dict[str, str | None],
) -> PreparedCompute:
    """The compute of the framework's KPIs over (as of, first day, last day), for one dialect.

    ENTITY_PERIODS_SQL and MANUAL_SQL are written once in SQL that DuckDB and PostgreSQL read;
    a Spark runner transpiles them.
    """
    as_of, first_day, last_day = dates
    computed, manual = framework_metrics(framework, catalogue)
    metrics = metrics_needed(catalogue, computed)
    kpis = [m for m in metrics if catalogue.metrics[m].kpi] + manual
    compiler = Compiler(catalogue, {**parameters, "as_of": as_of}, dialect)
    plan = compiler.plan(metrics)
    periods = spine_periods(calendar, first_day, last_day, list(request.grains))
    tables = spine_tables(
        periods, _labels(calendar, first_day, last_day), team_ancestry(teams, rms), as_of
    )
    tables.append(TempTable(VALUES_TABLE, VALUES_DDL, []))
    tables.append(
        TempTable(
            "kraft_hashes",
            [("kpi_id", "VARCHAR"), ("definition_hash", "VARCHAR")],
            [(k, plan.definition_hashes.get(k, "manual")) for k in kpis],
        )
    )
    statements = [ENTITY_PERIODS_SQL, *plan.statements]
    if manual:
        tables.append(
            TempTable("kraft_manual_kpis", [("kpi_id", "VARCHAR")], [(k,) for k in manual])
        )
        statements.append(MANUAL_SQL)
    return PreparedCompute(
        as_of,
        plan,
        kpis,
        [s.period for s in periods if s.stored],
        periods,
        tables,
        statements,
    )


def compute(
    db: Database,
    framework: Framework,
    catalogue: Catalogue,
    calendar: Calendar,
    parameters: dict[str, int],
    request: ComputeRequest,
    *,
    actor: str = "cli",
    progress: Callable[[int, int], None] | None = None,
) -> ComputeResult:
    """Compute every KPI of the framework for the requested periods; replace their values."""
    dialect = DIALECTS[db.dialect]
    started = datetime.now(UTC).replace(tzinfo=None)
    with db.connect() as conn:
        teams, rms = team_tree(conn).parents, rm_teams(conn)
        prepared = prepare_compute(
            framework,
            catalogue,
            calendar,
            parameters,
            request,
            dialect,
            _resolve_range(conn, calendar, request),
            teams,
            rms,
        )
        statements = [
            statement
            for table in prepared.tables
            for statement in create_table(table.name, table.columns, table.rows, dialect)
        ]
        statements += prepared.statements
        total = len(statements) + 1
        for done, statement in enumerate(statements):
            conn.exec_driver_sql(statement)
            _analyze_if_postgres(conn, statement)
            if progress:
                progress(done + 1, total)
        conn.commit()  # the temporary tables only; the values are replaced in one transaction
        result = store_values(
            conn, prepared, f"({prepared.plan.values_query})", started, actor, db.dialect, request
        )
        if progress:
            progress(total, total)
    return result


def store_values(
    conn: Connection,
    prepared: PreparedCompute,
    values: str,
    started: datetime,
    actor: str,
    engine: str,
    request: ComputeRequest,
) -> ComputeResult:
    """Replace the periods' values with `values` (a query in parentheses, or a temporary table
    holding them) in one transaction; then drop the temporary tables.

    kraft_hashes and kraft_periods must be there: the values take their definition hashes from
    the first, and only the stored periods of the second are kept.
    """
    with conn.begin():
        run_id = _replace_values(
            conn,
            values,
            prepared.kpis,
            prepared.stored,
            started,
            prepared.as_of,
            actor,
            engine,
            request.grains,
        )
        if request.untracked:  # never 0: null, as KPIS.md says of a KPI not tracked
            conn.execute(
                sa.text(
                    "UPDATE kpi_values SET value = NULL, numerator = NULL, denominator = NULL, "
                    "extra = NULL WHERE run_id = :r AND kpi_id IN :kpis"
                ).bindparams(sa.bindparam("kpis", expanding=True)),
                {"r": run_id, "kpis": list(request.untracked)},
            )
    rows = int(
        conn.execute(
            sa.text("SELECT count(*) FROM kpi_values WHERE run_id = :r"), {"r": run_id}
        ).scalar()
        or 0
    )
    _drop_temporary(conn)
    conn.commit()
    stored = prepared.stored
    finest = [p for p in stored if p.months == min(q.months for q in stored)]
    first, last = finest[0], finest[-1]
    return ComputeResult(run_id, prepared.as_of, first.label, last.label, prepared.kpis, rows)


def _replace_values(
    conn: Connection,
    values: str,
    kpis: list[str],
    stored: list[Period],
    started: datetime,
    as_of: date,
    actor: str,
    dialect: str,
    grains: Sequence[Grain],
) -> int:
    run_id = (
        int(
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(compute_runs.c.run_id), 0))
            ).scalar()
            or 0
        )
        + 1
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    labels = [p.label for p in stored]
    delete = sa.text(
        "DELETE FROM kpi_values WHERE period IN :labels AND kpi_id IN :kpis"
    ).bindparams(sa.bindparam("labels", expanding=True), sa.bindparam("kpis", expanding=True))
    conn.execute(delete, {"labels": labels, "kpis": kpis})
    columns = ", ".join(VALUE_COLUMNS)
    result = conn.exec_driver_sql(  # the compiled query as it is: no bind parameters
        f"INSERT INTO kpi_values ({columns}, definition_hash, run_id, computed_at) "
        f"SELECT {', '.join('v.' + c for c in VALUE_COLUMNS)}, h.definition_hash, {run_id}, "
        f"CAST('{now.isoformat(sep=' ')}' AS TIMESTAMP) "
        f"FROM {values} AS v JOIN kraft_hashes AS h ON h.kpi_id = v.kpi_id "
        "JOIN kraft_periods AS p ON p.label = v.period AND p.grain = v.grain WHERE p.stored"
    )
    conn.execute(
        compute_runs.insert().values(
            run_id=run_id,
            started_at=started,
            finished_at=now,
            actor=actor,
            engine=dialect,
            as_of=as_of,
            first_period=labels[0] if labels else "",
            last_period=labels[-1] if labels else "",
            grains=",".join(g.value for g in grains),
            kpis=len(kpis),
            rows=max(result.rowcount or 0, 0),
        )
    )
    return run_id


_CREATED = re.compile(r"^\s*CREATE TEMPORARY TABLE (\w+)", re.IGNORECASE)


def _analyze_if_postgres(conn: Connection, statement: str) -> None:
    """PostgreSQL keeps no statistics on temporary tables unless asked; without them it picks
    nested loops over millions of rows."""
    if conn.dialect.name != "postgresql":
        return
    created = _CREATED.match(statement)
    if created and " AS " in statement.upper():
        conn.exec_driver_sql(f"ANALYZE {created[1]}")


def _drop_temporary(conn: Connection) -> None:
    names = [
        r[0]
        for r in conn.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'kraft_%'"
            )
        )
    ]
    for name in names:
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


@dataclass
class RowSet:
    title: str
    sql: str
    columns: list[str]
    rows: list[tuple[object, ...]]


@dataclass
class Explanation:
    kpi_id: str
    metric: str | None
    period: str
    rm_id: str
    stored: dict[str, object] | None  # the kpi_values row, if computed
    row_sets: list[RowSet]
    compared_with: str | None = None  # a derived value's previous period (an improvement's)


def explain(
    db: Database,
    framework: Framework,
    catalogue: Catalogue,
    calendar: Calendar,
    parameters: dict[str, int],
    *,
    rm_id: str,
    kpi_id: str,
    label: str,
) -> Explanation:
    """The stored value of one RM's KPI for one period, and the rows behind it."""
    try:
        kpi = framework.kpi(kpi_id)
    except KeyError:
        raise KraftError(f"{kpi_id!r} is not a KPI of framework {framework.id}.") from None
    period = _parse(calendar, label, "--period")
    dialect = DIALECTS[db.dialect]
    with db.connect() as conn:
        if not rm_exists(conn, rm_id):
            raise KraftError(f"There is no RM {rm_id!r}; check the id (kraft status lists tables).")
        stored_row = conn.execute(
            sa.text(
                "SELECT value, numerator, denominator, row_count, provisional, extra, "
                "definition_hash, run_id, computed_at FROM kpi_values WHERE entity_type = 'rm' "
                "AND entity_id = :r AND kpi_id = :k AND period = :p"
            ),
            {"r": rm_id, "k": kpi_id, "p": period.label},
        ).first()
        stored = dict(stored_row._mapping) if stored_row else None
        as_of = _data_as_of(conn, stored["run_id"] if stored else None)
        compiler = Compiler(catalogue, {**parameters, "as_of": as_of}, dialect)
        row_sets: list[RowSet] = []
        compared_with = None
        if kpi.kind is KpiKind.manual:
            sql = (
                "SELECT rm_id, kpi_id, period, value, note FROM measurements "
                "WHERE rm_id = :r AND kpi_id = :k ORDER BY period"
            )
            result = conn.execute(sa.text(sql), {"r": rm_id, "k": kpi_id})
            row_sets.append(
                RowSet("measurements", sql, list(result.keys()), [tuple(r) for r in result])
            )
        elif kpi.metric:
            periods = [SpinePeriod(period, calendar.previous(period), True)]
            metric = catalogue.metrics[kpi.metric]
            targets = [(kpi.metric, period)]
            if metric.derived:
                previous = calendar.previous(period)
                compared_with = previous.label
                periods.append(SpinePeriod(previous, calendar.previous(previous), True))
                inputs = [m for m in metrics_needed(catalogue, [kpi.metric]) if m != kpi.metric]
                targets = [(m, p) for m in inputs for p in (period, previous)]
            for statement in spine_statements(
                periods,
                _labels(calendar, period.start, period.end),
                {},
                as_of,
                dialect,
            ):
                conn.exec_driver_sql(statement)
            for metric_name, target in targets:
                facts = dict.fromkeys(
                    m.fact for m in catalogue.metrics[metric_name].measures.values()
                )
                for fact in facts:
                    sql = compiler.explain_rows(metric_name, fact, rm_id, target.label)
                    result = conn.exec_driver_sql(sql)
                    row_sets.append(
                        RowSet(
                            f"{metric_name} · {fact} · {target.label}",
                            sql,
                            list(result.keys()),
                            [tuple(r) for r in result],
                        )
                    )
            _drop_temporary(conn)
        conn.rollback()
    return Explanation(kpi_id, kpi.metric, period.label, rm_id, stored, row_sets, compared_with)
