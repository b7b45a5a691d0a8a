"""Score every RM for every period that has KPI values, and replace the `scores` table.

Reads kpi_values (only the values a scorecard holds: a KPI in the scorecards whose period is at
least its grain, plus the gate KPIs), the RMs and teams, and the targets table; writes one row per
KPI, KRA and overall score, each with the inputs it used (actual, volume, target and where it came
from, the values' run), in one transaction.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.framework.model import Framework
from kraft.periods import Calendar, Grain, Period
from kraft.scoring.scorecard import Person, Scorecard, Scorer, Value
from kraft.scoring.targets import TargetBook, TargetRow
from kraft.store.database import Database
from kraft.store.metadata import scores, targets

SCORE_COLUMNS = [c.name for c in scores.columns]


@dataclass
class ScoreResult:
    scorecards: int
    rows: int
    periods: int


def load_targets(conn: Connection) -> list[TargetRow]:
    return [
        TargetRow(
            target_id=r.target_id,
            scope_type=r.scope_type,
            scope_id=r.scope_id,
            kpi_id=r.kpi_id,
            from_date=r.from_date,
            to_date=r.to_date,
            target=Decimal(r.target),
            threshold=Decimal(r.threshold) if r.threshold is not None else None,
            recorded_at=r.recorded_at,
        )
        for r in conn.execute(sa.select(targets))
    ]


def load_people(conn: Connection) -> tuple[list[Person], dict[str, str | None]]:
    """The RMs of role rm, each with the team they lead; and every team's parent."""
    teams = conn.execute(
        sa.text("SELECT team_id, parent_team_id, leader_rm_id FROM teams")
    ).fetchall()
    parents: dict[str, str | None] = {t[0]: t[1] for t in teams}
    led = {t[2]: t[0] for t in teams if t[2] is not None}

    def depth(team: str) -> int:
        seen: list[str] = []
        current: str | None = team
        while current is not None and current not in seen:
            seen.append(current)
            current = parents.get(current)
        return len(seen)

    people = [
        Person(rm_id, team_id, led.get(rm_id), depth(led[rm_id]) if rm_id in led else 0)
        for rm_id, team_id in conn.execute(
            sa.text(
                "SELECT rm_id, team_id FROM relationship_managers "
                "WHERE coalesce(role, 'rm') = 'rm' ORDER BY rm_id"
            )
        )
    ]
    return people, parents


def _kpis_by_grain(framework: Framework) -> dict[Grain, list[str]]:
    """The KPIs a scorecard of each grain reads: those that fit it, and the gate KPIs."""
    gates = [kpi.id for _, kpi in framework.kpis() if kpi.gate is not None]
    return {
        grain: sorted(
            {
                kpi.id
                for _, kpi in framework.kpis()
                if kpi.grain is not None and kpi.grain.months <= grain.months
            }
            | set(gates)
        )
        for grain in Grain
    }


def load_values(
    conn: Connection, framework: Framework, calendar: Calendar
) -> tuple[dict[str, dict[str, dict[str, Value]]], list[Period], int | None]:
    """The values scorecards read, by period label, then rm_id, then kpi_id."""
    clauses = []
    for grain, kpis in _kpis_by_grain(framework).items():
        if not kpis:  # a framework without monthly KPIs: `IN ()` fails on PostgreSQL
            continue
        ids = ", ".join("'" + k.replace("'", "''") + "'" for k in kpis)
        clauses.append(f"(grain = '{grain.value}' AND kpi_id IN ({ids}))")
    sql = (
        "SELECT period, entity_id, kpi_id, value, denominator, provisional "
        f"FROM kpi_values WHERE entity_type = 'rm' AND ({' OR '.join(clauses)}) "
        "ORDER BY period, entity_id"
    )
    values: dict[str, dict[str, dict[str, Value]]] = {}
    for rows in _batches(conn, sql):
        by_rm: dict[str, dict[str, Value]] = {}
        last_label = last_rm = None
        own: dict[str, Value] = {}
        for label, rm_id, kpi_id, value, denominator, provisional in rows:
            if label != last_label:
                by_rm = values.setdefault(label, {})
                last_label, last_rm = label, None
            if rm_id != last_rm:
                own = by_rm.setdefault(rm_id, {})
                last_rm = rm_id
            own[kpi_id] = Value(value, denominator, provisional)
    run_id = conn.exec_driver_sql("SELECT max(run_id) FROM kpi_values").scalar()
    periods = sorted((calendar.parse(label) for label in values), key=lambda p: (p.grain, p.start))
    return values, periods, run_id


def _batches(conn: Connection, sql: str) -> Iterator[Iterable[tuple[Any, ...]]]:
    """The rows of a query in batches; on DuckDB through Arrow (columns, not row objects)."""
    if conn.dialect.name == "duckdb":
        driver: Any = conn.connection.driver_connection
        reader = driver.sql(sql).to_arrow_reader(200_000)
        for batch in reader:
            yield zip(*(column.to_pylist() for column in batch.columns), strict=True)
        return
    result = conn.exec_driver_sql(sql)
    while rows := result.fetchmany(100_000):
        yield (tuple(row) for row in rows)


# Big books are scored in worker processes, one grain each (a grain's periods depend on each
# other through the previous period's overall scores; grains do not). Forked workers read these.
_FORKED: tuple[Any, ...] | None = None
PARALLEL_FROM = 20_000  # RM × period pairs from which forking pays


def score_database(
    db: Database,
    framework: Framework,
    calendar: Calendar,
    run_id: int,
    *,
    workers: int | None = None,
) -> ScoreResult:
    """Score from the stored values and replace every stored score, in one transaction.

    `workers`: processes to score in (default: one per core, up to one per grain, for books
    with at least PARALLEL_FROM scorecards; else in this process).
    """
    global _FORKED
    with db.connect() as conn:
        people, parents = load_people(conn)
        book = TargetBook(framework, load_targets(conn), parents)
        values, periods, values_run = load_values(conn, framework, calendar)
    previous = {p.label: calendar.previous(p).label for p in periods}
    scorer = Scorer(framework, book)
    grains = sorted({p.grain for p in periods}, key=lambda g: -_weight(framework, g))
    if workers is None:
        pairs = sum(len(by_rm) for by_rm in values.values())
        workers = min(os.cpu_count() or 1, len(grains)) if pairs >= PARALLEL_FROM else 1
    _FORKED = (scorer, people, periods, values, previous, framework, run_id, values_run)
    try:
        if workers > 1 and len(grains) > 1:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                results = [(n, _from_ipc(data)) for n, data in pool.map(_score_in_worker, grains)]
        else:
            results = [_score_grain(grain) for grain in grains]
    finally:
        _FORKED = None
    scorecards = rows = 0
    with db.begin() as conn:
        conn.execute(scores.delete())
        for count, table in results:
            if table is not None:
                _write(conn, db, table)
                rows += table.num_rows
            scorecards += count
    return ScoreResult(scorecards, rows, len(periods))


def _weight(framework: Framework, grain: Grain) -> int:
    """How much scoring a grain's scorecards take, roughly: the KPIs they hold."""
    return sum(1 for _, k in framework.kpis() if k.grain and k.grain.months <= grain.months)


def _score_grain(grain: Grain) -> tuple[int, Any]:
    """Every scorecard of one grain's periods, oldest first, as one Arrow table."""
    import pyarrow as pa

    assert _FORKED is not None
    scorer, people, periods, values, previous, framework, run_id, values_run = _FORKED
    tables = []
    count = 0
    for cards in scorer.score_periods(
        people,
        [p for p in periods if p.grain is grain],
        lambda p: values.get(p.label, {}),
        previous,
    ):
        count += len(cards)
        columns = _columns(cards, framework, run_id, values_run)
        if columns:
            tables.append(_arrow_table(columns))
    return count, pa.concat_tables(tables) if tables else None


def _score_in_worker(grain: Grain) -> tuple[int, bytes | None]:
    """`_score_grain` in a worker process: the table goes back as Arrow IPC bytes."""
    import pyarrow as pa

    count, table = _score_grain(grain)
    if table is None:
        return count, None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return count, sink.getvalue().to_pybytes()


def _from_ipc(data: bytes | None) -> Any:
    import pyarrow as pa

    return None if data is None else pa.ipc.open_stream(data).read_all()


def _float(number: Decimal | None) -> float | None:
    """Scores are exact Decimals until here; the table keeps KPI and KRA scores to 4 places."""
    return None if number is None else float(number)


def _columns(
    cards: list[Scorecard], framework: Framework, run_id: int, values_run: int | None
) -> dict[str, list[Any]]:
    """One period's scores as columns (SCORE_COLUMNS): a row per KPI, per KRA and overall.

    Built column by column (a list per column, constants by repetition): the rows number
    millions for a large book, and per-row tuples cost more than the scoring itself.
    """
    columns: dict[str, list[Any]] = {name: [] for name in SCORE_COLUMNS}
    kra_weight = {kra.id: float(kra.weight) for kra in framework.kras}
    c = columns
    for card in cards:
        kpis, kras = card.kpis, card.kras
        n = len(kpis) + len(kras) + 1
        c["rm_id"] += [card.rm_id] * n
        c["period"] += [card.period.label] * n
        c["grain"] += [str(card.period.grain)] * n
        c["level"] += ["kpi"] * len(kpis) + ["kra"] * len(kras) + ["overall"]
        c["item_id"] += [k.kpi_id for k in kpis] + [k.kra_id for k in kras] + ["overall"]
        c["kra_id"] += [k.kra_id for k in kpis] + [k.kra_id for k in kras] + [None]
        nothing = [None] * (len(kras) + 1)
        c["actual"] += [None if k.actual is None else float(k.actual) for k in kpis] + nothing
        c["volume"] += [None if k.volume is None else float(k.volume) for k in kpis] + nothing
        choices = [k.choice for k in kpis]
        c["target"] += [None if g is None else float(g.goal.target) for g in choices] + nothing
        c["threshold"] += [
            None if g is None or g.goal.threshold is None else float(g.goal.threshold)
            for g in choices
        ] + nothing
        c["target_source"] += [None if g is None else g.source for g in choices] + nothing
        c["target_id"] += [None if g is None else g.target_id for g in choices] + nothing
        c["weight"] += (
            [float(k.weight) for k in kpis] + [kra_weight[k.kra_id] for k in kras] + [None]
        )
        c["score"] += (
            [None if k.score is None else float(k.score) for k in kpis]
            + [_float(k.score) for k in kras]
            + [_float(card.overall)]
        )
        c["status"] += [str(k.status) for k in kpis] + nothing
        provisional = {k.kra_id for k in kpis if k.provisional}
        c["provisional"] += (
            [k.provisional for k in kpis]
            + [k.kra_id in provisional for k in kras]
            + [bool(provisional)]
        )
        c["coverage"] += [None] * (n - 1) + [_float(card.coverage)]
        c["rating"] += [None] * (n - 1) + [card.rating]
        c["rating_label"] += [None] * (n - 1) + [card.rating_label]
        c["capped_at"] += (
            [None] * len(kpis) + [_float(k.capped_at) for k in kras] + [card.rating_capped_at]
        )
    rows = len(c["rm_id"])
    c["run_id"] = [run_id] * rows
    c["values_run_id"] = [values_run] * rows
    return columns if rows else {}


def _arrow_table(columns: dict[str, list[Any]]) -> Any:
    import pyarrow as pa

    return pa.table(
        {name: pa.array(columns[name], type=_arrow_type(name)) for name in SCORE_COLUMNS}
    )


def _write(conn: Connection, db: Database, table: Any) -> None:
    """Bulk insert of an Arrow table: registered in DuckDB, COPY into PostgreSQL."""
    if db.is_duckdb:
        driver: Any = conn.connection.driver_connection
        driver.register("kraft_scores_batch", table)
        try:
            driver.execute(
                f"INSERT INTO scores ({', '.join(SCORE_COLUMNS)}) "
                f"SELECT {', '.join(SCORE_COLUMNS)} FROM kraft_scores_batch"
            )
        finally:
            driver.unregister("kraft_scores_batch")
        return
    raw: Any = conn.connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy(f"COPY scores ({', '.join(SCORE_COLUMNS)}) FROM STDIN") as copy,
    ):
        for batch in table.to_batches(100_000):
            for row in zip(
                *(batch.column(name).to_pylist() for name in SCORE_COLUMNS), strict=True
            ):
                copy.write_row(row)


def _arrow_type(name: str) -> Any:
    import pyarrow as pa

    kind = scores.columns[name].type
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.Integer):
        return pa.int64()
    if isinstance(kind, sa.Numeric | sa.Double):  # DuckDB casts to the column's decimal
        return pa.float64()
    return pa.string()
