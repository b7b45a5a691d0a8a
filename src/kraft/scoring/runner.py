"""Score every RM for every period that has KPI values, and replace the `scores` table.

Reads kpi_values (only the values a scorecard holds: a KPI in the scorecards whose period is at
least its grain, plus the gate KPIs), the RMs and teams, and the targets table; writes one row per
KPI, KRA and overall score, each with the inputs it used (actual, volume, target and where it came
from, the values' run), in one transaction.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import tempfile
import traceback
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.cache import read_once
from kraft.framework.model import Framework
from kraft.periods import Calendar, Grain, Period
from kraft.scoring.scorecard import (
    LOSS_RATIO_IMPROVEMENT,
    KpiScore,
    KraScore,
    Person,
    Scorecard,
    Scorer,
    Value,
    earned_premium_volume,
)
from kraft.scoring.targets import DELETED, TargetBook, TargetRow
from kraft.scoring.tracking import ScoringPolicy
from kraft.store.database import Database
from kraft.store.metadata import scores, targets
from kraft.store.roster import scored_rms, team_tree

SCORE_COLUMNS = [c.name for c in scores.columns]


@dataclass
class ScoreResult:
    scorecards: int
    rows: int
    periods: int


def load_targets(conn: Connection) -> list[TargetRow]:
    """The target versions in force or in the history, without the ones a deletion record
    (source DELETED) withdrew and without the deletion records themselves (kept where stored
    reads are: kraft.cache.reads_kept)."""
    return read_once(("targets",), lambda: _read_targets(conn))


def _read_targets(conn: Connection) -> list[TargetRow]:
    found: dict[tuple[object, ...], list[TargetRow]] = {}
    query = sa.select(targets).order_by(targets.c.recorded_at, targets.c.target_id)
    for r in conn.execute(query):
        key = (r.scope_type, r.scope_id, r.kpi_id, r.from_date, r.to_date)
        if r.source == DELETED:
            found.pop(key, None)
            continue
        found.setdefault(key, []).append(
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
        )
    return [row for rows in found.values() for row in rows]


def load_people(conn: Connection) -> tuple[list[Person], dict[str, str | None]]:
    """The RMs of role rm, each with the team they lead; and every team's parent (kept where
    stored reads are)."""
    return read_once(("people",), lambda: _read_people(conn))


def _read_people(conn: Connection) -> tuple[list[Person], dict[str, str | None]]:
    tree = team_tree(conn)
    led = {t.leader_rm_id: t.team_id for t in tree.teams.values() if t.leader_rm_id is not None}
    people = [
        Person(
            rm_id, team_id, led.get(rm_id), len(tree.ancestors(led[rm_id])) if rm_id in led else 0
        )
        for rm_id, team_id in scored_rms(conn).items()
    ]
    return people, tree.parents


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
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    rm_ids: Collection[str] | None = None,
) -> tuple[dict[str, dict[str, dict[str, Value]]], list[Period], int | None]:
    """The values scorecards read, by period label, then rm_id, then kpi_id (only the RMs
    named, when `rm_ids` is given)."""
    clauses = []
    for grain, kpis in _kpis_by_grain(framework).items():
        if not kpis:  # a framework without monthly KPIs: `IN ()` fails on PostgreSQL
            continue
        ids = ", ".join("'" + k.replace("'", "''") + "'" for k in kpis)
        clauses.append(f"(grain = '{grain.value}' AND kpi_id IN ({ids}))")
    only = ""
    if rm_ids is not None:
        listed = ", ".join("'" + r.replace("'", "''") + "'" for r in sorted(rm_ids)) or "NULL"
        only = f"AND entity_id IN ({listed}) "
    sql = (
        "SELECT period, entity_id, kpi_id, value, denominator, provisional, "
        f"CASE WHEN kpi_id = '{LOSS_RATIO_IMPROVEMENT}' THEN extra END AS extra "
        f"FROM kpi_values WHERE entity_type = 'rm' AND ({' OR '.join(clauses)}) {only}"
        "ORDER BY period, entity_id"
    )
    values: dict[str, dict[str, dict[str, Value]]] = {}
    shared: dict[tuple[float | None, float | None, bool], Value] = {}
    for rows in _batches(conn, sql):
        by_rm: dict[str, dict[str, Value]] = {}
        last_label = last_rm = None
        own: dict[str, Value] = {}
        for label, rm_id, kpi_id, value, denominator, provisional, extra in rows:
            if extra is not None:
                denominator = earned_premium_volume(extra)
            if label != last_label:
                by_rm = values.setdefault(label, {})
                last_label, last_rm = label, None
            if rm_id != last_rm:
                own = by_rm.setdefault(rm_id, {})
                last_rm = rm_id
            key = (value, denominator, provisional)
            known = shared.get(key)
            if known is None:  # counts and round rates repeat: one object each
                known = shared[key] = Value(value, denominator, provisional)
            own[kpi_id] = known
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


PARALLEL_FROM = 20_000  # RM × period pairs from which forking pays


def score_database(
    db: Database,
    framework: Framework,
    calendar: Calendar,
    run_id: int,
    *,
    workers: int | None = None,
    rm_ids: Collection[str] | None = None,
    policy: ScoringPolicy | None = None,
) -> ScoreResult:
    """Score from the stored values and replace every stored score, in one transaction.

    `workers`: processes to score in (default: one per core for books with at least
    PARALLEL_FROM RM × period pairs; else this process alone). `rm_ids`: re-score only the
    whole team trees holding these RMs and replace only their scores (what an edit of one RM's
    measurement or target changes: a leader's score reads its members', and nothing crosses
    from one tree to another). `policy`: the untracked KPIs and the first scored period
    (kraft.scoring.tracking); periods before it are left unscored.
    """
    with _collector_paused(), _one_scoring_at_a_time(db):
        return _score_database(
            db, framework, calendar, run_id, workers, rm_ids, policy or ScoringPolicy()
        )


SCORING_LOCK = 0x6B726166  # PostgreSQL advisory lock key ("kraf") held while scores are rebuilt


@contextmanager
def _one_scoring_at_a_time(db: Database) -> Iterator[None]:
    """On PostgreSQL, scorings wait for each other across processes (two `kraft serve`, a
    compute): else two that replace the same RMs' scores collide on the key, and one that read
    older targets could overwrite newer scores. Reading happens after the lock is taken, so each
    scoring sees every change committed before it. DuckDB has the one writer."""
    if db.is_duckdb:
        yield
        return
    with db.engine.connect() as lock:
        lock.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": SCORING_LOCK})
        lock.commit()
        try:
            yield
        finally:
            lock.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": SCORING_LOCK})
            lock.commit()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of acyclic values and scores are made: each
    full collection would walk all of them (about a fifth of the time on a large book)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _score_database(
    db: Database,
    framework: Framework,
    calendar: Calendar,
    run_id: int,
    workers: int | None,
    rm_ids: Collection[str] | None,
    policy: ScoringPolicy,
) -> ScoreResult:
    with db.connect() as conn:
        people, parents = load_people(conn)
        chosen: list[str] | None = None
        if rm_ids is not None:
            wanted = set(rm_ids)
            trees = team_trees(people, parents, max(1, len(people)))  # a tree a group
            people = [p for tree in trees if any(q.rm_id in wanted for q in tree) for p in tree]
            chosen = [p.rm_id for p in people]
        book = TargetBook(framework, load_targets(conn), parents)
        values, periods, values_run = load_values(conn, framework, calendar, chosen)
    periods = [p for p in periods if policy.scores(p)]
    previous = {p.label: calendar.previous(p).label for p in periods}
    scorer = policy.scorer(framework, book)
    if workers is None:
        pairs = sum(len(by_rm) for by_rm in values.values())
        workers = (os.cpu_count() or 1) if pairs >= PARALLEL_FROM else 1
    if "fork" not in multiprocessing.get_all_start_methods():  # Windows: score here
        workers = 1
    groups = team_trees(people, parents, workers)
    work = Scoring(scorer, groups, periods, values, previous, framework, run_id, values_run)
    scorecards = rows = 0
    with db.begin() as conn:
        if chosen is None:
            conn.execute(scores.delete())
        else:
            for start in range(0, len(chosen), 1000):
                conn.execute(
                    scores.delete().where(scores.c.rm_id.in_(chosen[start : start + 1000]))
                )
        for count, table in scored_groups(work):
            if table is not None:
                _write(conn, db, table)
                rows += table.num_rows
            scorecards += count
            del table  # one group's rows in memory at a time
    return ScoreResult(scorecards, rows, len(periods))


def team_trees(
    people: list[Person], parents: dict[str, str | None], groups: int
) -> list[list[Person]]:
    """The RMs in at most `groups` groups of about equal size, each holding whole team trees
    (an RM goes with the top-level team above their own team and above the team they lead)."""
    joined: dict[str, str] = {}

    def find(key: str) -> str:
        while joined.get(key, key) != key:
            key = joined[key]
        return key

    def top(team: str | None) -> str:
        seen: set[str] = set()
        while team is not None and parents.get(team) is not None and team not in seen:
            seen.add(team)
            team = parents[team]
        return f"team:{team}" if team is not None else "none"

    for person in people:
        own = find(top(person.team_id) if person.team_id else f"rm:{person.rm_id}")
        if person.leads is not None:
            led = find(top(person.leads))
            if led != own:
                joined[led] = own
    trees: dict[str, list[Person]] = {}
    for person in people:
        key = top(person.team_id) if person.team_id else f"rm:{person.rm_id}"
        trees.setdefault(find(key), []).append(person)
    buckets: list[list[Person]] = [[] for _ in range(max(1, groups))]
    for tree in sorted(trees.values(), key=len, reverse=True):
        min(buckets, key=len).extend(tree)
    return [b for b in buckets if b] or [[]]


# -- scoring the groups, here or in forked workers ----------------------------------------------


@dataclass(frozen=True)
class Scoring:
    """What one scoring reads, loaded once. Big books are scored in worker processes, each taking
    a group of whole team trees (a leader's score reads the members' overall scores, this
    period's and the previous one's; nothing crosses from one top-level team to another); the
    workers are forked with this, so that they share the loaded values instead of being sent
    them."""

    scorer: Scorer
    groups: list[list[Person]]
    periods: list[Period]
    values: dict[str, dict[str, dict[str, Value]]]
    previous: dict[str, str]
    framework: Framework
    run_id: int
    values_run: int | None

    def group(self, index: int) -> tuple[int, Any]:
        """Every scorecard of one group of RMs, all periods (each grain oldest first), as Arrow."""
        rows = _ScoreRows(self.framework)
        count = 0
        values = self.values
        for cards in self.scorer.score_periods(
            self.groups[index], self.periods, lambda p: values.get(p.label, {}), self.previous
        ):
            count += len(cards)
            for card in cards:
                rows.add(card)
        return count, rows.table(self.run_id, self.values_run)


def scored_groups(work: Scoring) -> Iterator[tuple[int, Any]]:
    """Each group's scorecard count and rows, in group order: here for one group, else from a
    worker process per group (their rows come back through a temporary Arrow file, read
    memory-mapped)."""
    if len(work.groups) == 1:
        yield work.group(0)
        return
    import pyarrow as pa

    context = multiprocessing.get_context("fork")
    workers, answers = [], []
    paths: list[str] = []
    try:
        for index in range(len(work.groups)):
            answer, sender = context.Pipe(duplex=False)
            worker = context.Process(target=_score_in_worker, args=(work, index, sender))
            worker.daemon = True
            worker.start()
            sender.close()  # the worker's end: a worker that dies closes the pipe (EOFError)
            workers.append(worker)
            answers.append(answer)
        work.values.clear()  # the workers have their copies: free this process's memory
        for index, answer in enumerate(answers):
            try:
                count, path, failure = answer.recv()
            except EOFError:
                raise RuntimeError(f"The scoring worker of group {index} died.") from None
            if failure is not None:
                raise RuntimeError(f"The scoring worker of group {index} failed:\n{failure}")
            if path is None:
                yield count, None
                continue
            paths.append(path)
            with pa.memory_map(path) as source:
                yield count, pa.ipc.open_file(source).read_all()
    finally:
        for answer in answers:
            answer.close()
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
        for path in paths:
            os.remove(path)


def _score_in_worker(
    work: Scoring, index: int, sender: multiprocessing.connection.Connection
) -> None:
    """`Scoring.group` in a worker process: its rows go to a temporary Arrow file, whose path
    (or the failure) is sent back."""
    import pyarrow as pa

    try:
        count, table = work.group(index)
        path = None
        if table is not None:
            handle, path = tempfile.mkstemp(prefix="kraft-scores-", suffix=".arrow")
            os.close(handle)
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        sender.send((count, path, None))
    except BaseException:
        sender.send((0, None, traceback.format_exc()))
    finally:
        sender.close()


def _float(number: Decimal | None) -> float | None:
    """Scores are exact Decimals until here; the table keeps KPI and KRA scores to 4 places."""
    return None if number is None else float(number)


class _ScoreRows:
    """Scorecards as rows of `scores`: a row per KPI, per KRA and overall.

    A large book has millions of KPI rows but far fewer distinct KPI results (the scorer shares
    one object per KPI, value and goal): each distinct result is turned into columns once, and
    the rows pick theirs by index (Arrow `take`), instead of Python building every cell.
    """

    def __init__(self, framework: Framework) -> None:
        self.kra_weight = {kra.id: float(kra.weight) for kra in framework.kras}
        self.kpis: dict[int, tuple[int, KpiScore]] = {}  # id → (row, result): keeps them alive
        self.kras: dict[int, tuple[int, KraScore]] = {}
        self.kpi_rows: list[int] = []
        self.kra_rows: list[int] = []
        self.keys: dict[str, list[Any]] = {"kpi": [], "kra": [], "overall": []}
        self.overall: dict[str, list[Any]] = {
            name: [] for name in ("score", "provisional", "coverage", "rating", "label", "cap")
        }

    def add(self, card: Scorecard) -> None:
        key = (card.rm_id, card.period.label, str(card.period.grain))
        kpis = self.kpis
        for item in card.kpis:
            found = kpis.get(id(item))
            if found is None:
                found = kpis[id(item)] = (len(kpis), item)
            self.kpi_rows.append(found[0])
        self.keys["kpi"] += [key] * len(card.kpis)
        kras = self.kras
        for kra in card.kras:
            seen = kras.get(id(kra))
            if seen is None:
                seen = kras[id(kra)] = (len(kras), kra)
            self.kra_rows.append(seen[0])
        self.keys["kra"] += [key] * len(card.kras)
        self.keys["overall"].append(key)
        o = self.overall
        o["score"].append(_float(card.overall))
        o["provisional"].append(any(k.provisional for k in card.kpis))
        o["coverage"].append(_float(card.coverage))
        o["rating"].append(card.rating)
        o["label"].append(card.rating_label)
        o["cap"].append(card.rating_capped_at)

    def table(self, run_id: int, values_run: int | None) -> Any:
        """All the rows, in SCORE_COLUMNS order; None when there are none."""
        import pyarrow as pa

        kpis = [item for _, item in self.kpis.values()]
        choices = [k.choice for k in kpis]
        distinct_kpis = _arrow_table(
            {
                "item_id": [k.kpi_id for k in kpis],
                "kra_id": [k.kra_id for k in kpis],
                "actual": [_float(k.actual) for k in kpis],
                "volume": [_float(k.volume) for k in kpis],
                "target": [None if c is None else float(c.goal.target) for c in choices],
                "threshold": [None if c is None else _float(c.goal.threshold) for c in choices],
                "target_source": [None if c is None else c.source for c in choices],
                "target_id": [None if c is None else c.target_id for c in choices],
                "weight": [float(k.weight) for k in kpis],
                "score": [_float(k.score) for k in kpis],
                "status": [str(k.status) for k in kpis],
                "provisional": [k.provisional for k in kpis],
            }
        ).take(pa.array(self.kpi_rows, pa.int64()))
        kras = [kra for _, kra in self.kras.values()]
        distinct_kras = _arrow_table(
            {
                "item_id": [k.kra_id for k in kras],
                "kra_id": [k.kra_id for k in kras],
                "weight": [self.kra_weight[k.kra_id] for k in kras],
                "score": [_float(k.score) for k in kras],
                "provisional": [k.provisional for k in kras],
                "capped_at": [_float(k.capped_at) for k in kras],
            }
        ).take(pa.array(self.kra_rows, pa.int64()))
        o = self.overall
        overall = _arrow_table(
            {
                "item_id": ["overall"] * len(o["score"]),
                "score": o["score"],
                "provisional": o["provisional"],
                "coverage": o["coverage"],
                "rating": o["rating"],
                "rating_label": o["label"],
                "capped_at": o["cap"],
            }
        )
        parts = []
        for level, part in (("kpi", distinct_kpis), ("kra", distinct_kras), ("overall", overall)):
            keys = self.keys[level]
            if not keys:
                continue
            rm_ids, labels, grains = zip(*keys, strict=True)
            fixed = {
                "run_id": [run_id] * len(keys),
                "rm_id": list(rm_ids),
                "period": list(labels),
                "grain": list(grains),
                "level": [level] * len(keys),
                "values_run_id": [values_run] * len(keys),
            }
            columns = {}
            for name in SCORE_COLUMNS:
                if name in fixed:
                    columns[name] = pa.array(fixed[name], type=_arrow_type(name))
                elif name in part.column_names:
                    columns[name] = part.column(name)
                else:
                    columns[name] = pa.nulls(len(keys), type=_arrow_type(name))
            parts.append(pa.table(columns))
        return pa.concat_tables(parts) if parts else None


def _arrow_table(columns: dict[str, list[Any]]) -> Any:
    """Columns of `scores` (any of them) as an Arrow table of the table's types."""
    import pyarrow as pa

    return pa.table(
        {name: pa.array(data, type=_arrow_type(name)) for name, data in columns.items()}
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
