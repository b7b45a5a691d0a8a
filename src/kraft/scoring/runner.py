"""Score every RM for every period that has KPI values, and replace the `scores` table.

Reads kpi_values (only the values a scorecard holds: a KPI in the scorecards whose period is at
least its grain, plus the gate KPIs), the RMs and teams, and the targets table; writes one row per
KPI, KRA and overall score, each with the inputs it used (actual, volume, target and where it came
from, the values' run), in one transaction.
"""

from __future__ import annotations

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
        ids = ", ".join("'" + k.replace("'", "''") + "'" for k in kpis)
        clauses.append(f"(grain = '{grain.value}' AND kpi_id IN ({ids}))")
    result = conn.exec_driver_sql(
        "SELECT period, entity_id, kpi_id, value, denominator, provisional "
        f"FROM kpi_values WHERE entity_type = 'rm' AND ({' OR '.join(clauses)})"
    )
    values: dict[str, dict[str, dict[str, Value]]] = {}
    while rows := result.fetchmany(100_000):
        for label, rm_id, kpi_id, value, denominator, provisional in rows:
            by_rm = values.get(label)
            if by_rm is None:
                by_rm = values[label] = {}
            own = by_rm.get(rm_id)
            if own is None:
                own = by_rm[rm_id] = {}
            own[kpi_id] = Value(value, denominator, provisional)
    run_id = conn.exec_driver_sql("SELECT max(run_id) FROM kpi_values").scalar()
    periods = sorted((calendar.parse(label) for label in values), key=lambda p: (p.grain, p.start))
    return values, periods, run_id


def score_database(
    db: Database, framework: Framework, calendar: Calendar, run_id: int
) -> ScoreResult:
    """Score from the stored values and replace every stored score, in one transaction."""
    with db.connect() as conn:
        people, parents = load_people(conn)
        book = TargetBook(framework, load_targets(conn), parents)
        values, periods, values_run = load_values(conn, framework, calendar)
    previous = {p.label: calendar.previous(p).label for p in periods}
    scorer = Scorer(framework, book)
    scorecards = rows = 0
    with db.begin() as conn:
        conn.execute(scores.delete())
        for cards in scorer.score_periods(
            people, periods, lambda p: values.pop(p.label, {}), previous
        ):
            columns = _columns(cards, framework, run_id, values_run)
            _write(conn, db, columns)
            scorecards += len(cards)
            rows += len(columns.get("rm_id", ()))
    return ScoreResult(scorecards, rows, len(periods))


def _float(number: Decimal | None) -> float | None:
    """Scores are exact Decimals until here; the table keeps KPI and KRA scores to 4 places."""
    return None if number is None else float(number)


def _columns(
    cards: list[Scorecard], framework: Framework, run_id: int, values_run: int | None
) -> dict[str, list[Any]]:
    """One period's scores as columns (SCORE_COLUMNS): a row per KPI, per KRA and overall."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    kra_weight = {kra.id: float(kra.weight) for kra in framework.kras}
    for card in cards:
        rm_id, label, grain = card.rm_id, card.period.label, str(card.period.grain)
        for k in card.kpis:
            choice = k.choice
            goal = choice.goal if choice else None
            append((
                run_id, rm_id, label, grain, "kpi", k.kpi_id, k.kra_id,
                _float(k.actual), _float(k.volume),
                _float(goal.target) if goal else None,
                _float(goal.threshold) if goal else None,
                choice.source if choice else None,
                choice.target_id if choice else None,
                float(k.weight), _float(k.score), k.status, k.provisional,
                None, None, None, None, values_run,
            ))  # fmt: skip
        provisional = {k.kra_id for k in card.kpis if k.provisional}
        for kra in card.kras:
            append((
                run_id, rm_id, label, grain, "kra", kra.kra_id, kra.kra_id,
                None, None, None, None, None, None,
                kra_weight[kra.kra_id], _float(kra.score), None, kra.kra_id in provisional,
                None, None, None, _float(kra.capped_at), values_run,
            ))  # fmt: skip
        append((
            run_id, rm_id, label, grain, "overall", "overall", None,
            None, None, None, None, None, None,
            None, _float(card.overall), None, bool(provisional),
            _float(card.coverage), card.rating, card.rating_label, card.rating_capped_at,
            values_run,
        ))  # fmt: skip
    return dict(zip(SCORE_COLUMNS, (list(c) for c in zip(*rows, strict=True)), strict=True))


def _write(conn: Connection, db: Database, columns: dict[str, list[Any]]) -> None:
    """Bulk insert: Arrow into DuckDB, COPY into PostgreSQL."""
    if not columns:
        return
    if db.is_duckdb:
        import pyarrow as pa

        table = pa.table(
            {name: pa.array(columns[name], type=_arrow_type(name)) for name in SCORE_COLUMNS}
        )
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
        for row in zip(*(columns[name] for name in SCORE_COLUMNS), strict=True):
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
