"""Run a compiled plan where the data is (DuckDB or PostgreSQL) and replace the values atomically.

Everything is computed into temporary tables first; only the last step, one transaction, deletes
the periods' old values and inserts the new ones. A reader never sees half a run, and a compute
killed midway leaves the previous values.
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
from kraft.metrics.compiler import VALUE_COLUMNS, VALUES_TABLE, Compiler, metrics_needed
from kraft.metrics.spec import Catalogue
from kraft.metrics.spine import (
    ENTITY_PERIODS_SQL,
    SpinePeriod,
    create_table,
    spine_periods,
    spine_statements,
    team_ancestry,
)
from kraft.periods import Calendar, Grain, Period
from kraft.store.database import Database
from kraft.store.metadata import compute_runs

DIALECTS = {"duckdb": "duckdb", "postgresql": "postgres"}

MANUAL_SQL = f"""
INSERT INTO {VALUES_TABLE} ({", ".join(VALUE_COLUMNS)})
SELECT ep.entity_type, ep.entity_id, ep.grain, ep.label, k.kpi_id,
       CAST(CASE WHEN ex.value IS NOT NULL THEN ex.value ELSE inn.total / inn.n END AS DOUBLE PRECISION),
       CAST(CASE WHEN ex.value IS NOT NULL THEN ex.value ELSE inn.total END AS DOUBLE PRECISION),
       CAST(CASE WHEN ex.value IS NOT NULL THEN 1 ELSE inn.n END AS DOUBLE PRECISION),
       CASE WHEN ex.value IS NOT NULL THEN 1 ELSE coalesce(inn.n, 0) END,
       ep.open_period, NULL
FROM kraft_entity_periods AS ep
CROSS JOIN kraft_manual_kpis AS k
LEFT JOIN measurements AS ex
  ON ex.rm_id = ep.entity_id AND ex.kpi_id = k.kpi_id AND ex.period = ep.label
LEFT JOIN (
  SELECT m.rm_id, m.kpi_id, p.label, sum(m.value) AS total, count(*) AS n
  FROM measurements AS m
  JOIN kraft_labels AS g ON g.label = m.period
  JOIN kraft_periods AS p
    ON g.start_date >= p.start_date AND g.end_date <= p.end_date AND g.months < p.months
  GROUP BY m.rm_id, m.kpi_id, p.label
) AS inn ON inn.rm_id = ep.entity_id AND inn.kpi_id = k.kpi_id AND inn.label = ep.label
WHERE ep.entity_type = 'rm'
"""

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
    as_of = request.as_of
    if as_of is None and latest and latest["as_of"]:
        as_of = date.fromisoformat(latest["as_of"])
    if as_of is None:
        raise KraftError("There is no data to compute: run `kraft import` (or `kraft demo`) first.")
    first_day = earliest_event_date(conn)
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


def _parse(calendar: Calendar, label: str, option: str) -> Period:
    try:
        return calendar.parse(label)
    except ValueError as exc:
        raise KraftError(f"{option}: {exc}.") from None


def _labels(calendar: Calendar, first: date, last: date) -> list[Period]:
    start, end = date(first.year - 1, 1, 1), date(last.year + 1, 12, 31)
    return [p for g in Grain for p in calendar.periods(g, start, end)]


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
    computed, manual = framework_metrics(framework, catalogue)
    metrics = metrics_needed(catalogue, computed)
    kpis = [m for m in metrics if catalogue.metrics[m].kpi] + manual
    started = datetime.now(UTC).replace(tzinfo=None)
    with db.connect() as conn:
        as_of, first_day, last_day = _resolve_range(conn, calendar, request)
        compiler = Compiler(catalogue, {**parameters, "as_of": as_of}, dialect)
        plan = compiler.plan(metrics)
        periods = spine_periods(calendar, first_day, last_day, list(request.grains))
        stored = [s.period for s in periods if s.stored]
        teams: dict[str, str | None] = {
            r[0]: r[1] for r in conn.execute(sa.text("SELECT team_id, parent_team_id FROM teams"))
        }
        rms: dict[str, str | None] = {
            r[0]: r[1]
            for r in conn.execute(sa.text("SELECT rm_id, team_id FROM relationship_managers"))
        }
        statements = spine_statements(
            periods,
            _labels(calendar, first_day, last_day),
            team_ancestry(teams, rms),
            as_of,
            dialect,
        )
        statements.append(ENTITY_PERIODS_SQL)
        statements += create_table(VALUES_TABLE, VALUES_DDL, [], dialect)
        statements += plan.statements
        if manual:
            statements += create_table(
                "kraft_manual_kpis", [("kpi_id", "VARCHAR")], [[k] for k in manual], dialect
            )
            statements.append(MANUAL_SQL)
        statements += create_table(
            "kraft_hashes",
            [("kpi_id", "VARCHAR"), ("definition_hash", "VARCHAR")],
            [[k, plan.definition_hashes.get(k, "manual")] for k in kpis],
            dialect,
        )
        total = len(statements) + 1
        for done, statement in enumerate(statements):
            conn.exec_driver_sql(statement)
            _analyze_if_postgres(conn, statement)
            if progress:
                progress(done + 1, total)
        conn.commit()  # the temporary tables only; the values are replaced in one transaction
        with conn.begin():
            run_id = _replace_values(
                conn,
                plan.values_query,
                kpis,
                stored,
                started,
                as_of,
                actor,
                db.dialect,
                request.grains,
            )
        if progress:
            progress(total, total)
        rows = int(
            conn.execute(
                sa.text("SELECT count(*) FROM kpi_values WHERE run_id = :r"), {"r": run_id}
            ).scalar()
            or 0
        )
        _drop_temporary(conn)
        conn.commit()
    finest = [p for p in stored if p.months == min(q.months for q in stored)]
    first, last = finest[0], finest[-1]
    return ComputeResult(run_id, as_of, first.label, last.label, kpis, rows)


def _replace_values(
    conn: Connection,
    values_query: str,
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
        f"FROM ({values_query}) AS v JOIN kraft_hashes AS h ON h.kpi_id = v.kpi_id "
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
    compiler = Compiler(catalogue, {**parameters, "as_of": date.today()}, dialect)
    with db.connect() as conn:
        known = conn.execute(
            sa.text("SELECT count(*) FROM relationship_managers WHERE rm_id = :r"), {"r": rm_id}
        ).scalar()
        if not known:
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
        row_sets: list[RowSet] = []
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
                periods.append(SpinePeriod(previous, calendar.previous(previous), True))
                inputs = [m for m in metrics_needed(catalogue, [kpi.metric]) if m != kpi.metric]
                targets = [(m, p) for m in inputs for p in (period, previous)]
            for statement in spine_statements(
                periods,
                _labels(calendar, period.start, period.end),
                {},
                date.today(),
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
    return Explanation(kpi_id, kpi.metric, period.label, rm_id, stored, row_sets)
