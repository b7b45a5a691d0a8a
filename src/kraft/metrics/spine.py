"""The period spine and the entity tables every compiled query joins.

Periods are built here from the calendar (fiscal years included), never by DATE_TRUNC in SQL:
kraft_periods (the periods computed, with their previous period and whether they are still
open), kraft_month_periods (month key → the periods holding that month), kraft_labels (every
label near the data, to place labelled rows such as team goals), kraft_rm_entities (RM → each
team above it, and the company) and kraft_entity_periods (who should have a value when).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlglot import exp

from kraft.periods import Calendar, Grain, Period, month_end, month_from_index, month_index
from kraft.store.roster import ancestors, is_scored_sql


@dataclass(frozen=True)
class SpinePeriod:
    period: Period
    previous: Period
    stored: bool  # False: computed only because a derived metric reads it


def _month_bounds(key: int) -> tuple[date, date]:
    start = month_from_index(key)
    return start, month_end(start)


def spine_periods(
    calendar: Calendar, first: date, last: date, grains: Sequence[Grain]
) -> list[SpinePeriod]:
    """Every period of the grains overlapping [first, last], plus each grain's previous one."""
    out: list[SpinePeriod] = []
    for grain in grains:
        periods = list(calendar.periods(grain, first, last))
        if not periods:
            continue
        before = calendar.previous(periods[0])
        out.append(SpinePeriod(before, calendar.previous(before), stored=False))
        out += [SpinePeriod(p, calendar.previous(p), stored=True) for p in periods]
    return out


def _literal(value: object) -> str:
    """A value as SQL text that DuckDB, PostgreSQL and Spark read alike."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return f"CAST('{value.isoformat()}' AS DATE)"
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


def create_table(
    name: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[object]], dialect: str
) -> list[str]:
    """CREATE TEMPORARY TABLE plus INSERTs of the rows in chunks."""
    schema = exp.Schema(
        this=exp.to_table(name),
        expressions=[
            exp.ColumnDef(this=exp.to_identifier(c), kind=exp.DataType.build(t)) for c, t in columns
        ],
    )
    statements = [
        exp.Create(
            this=schema,
            kind="TABLE",
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        ).sql(dialect=dialect)
    ]
    names = ", ".join(c for c, _ in columns)
    chunk: list[str] = []

    def flush() -> None:  # plain text: building thousands of literal trees is slow
        if chunk:
            statements.append(f"INSERT INTO {name} ({names}) VALUES {', '.join(chunk)}")
            chunk.clear()

    for row in rows:
        chunk.append("(" + ", ".join(_literal(v) for v in row) + ")")
        if len(chunk) >= 2000:
            flush()
    flush()
    return statements


@dataclass(frozen=True)
class TempTable:
    """A small table kraft builds in Python: a temporary table in the database, a view in Spark."""

    name: str
    columns: Sequence[tuple[str, str]]  # (name, SQL type)
    rows: list[tuple[object, ...]]


def spine_tables(
    periods: list[SpinePeriod],
    labels: list[Period],
    rm_teams: dict[str, list[str]],
    as_of: date,
) -> list[TempTable]:
    """The tables of the spine, as data."""
    months = sorted(
        {
            k
            for s in periods
            for k in range(month_index(s.period.start), month_index(s.period.end) + 1)
        }
    )
    return [
        TempTable(
            "kraft_periods",
            [
                ("grain", "VARCHAR"),
                ("label", "VARCHAR"),
                ("start_date", "DATE"),
                ("end_date", "DATE"),
                ("months", "INT"),
                ("prev_label", "VARCHAR"),
                ("first_month_key", "INT"),
                ("last_month_key", "INT"),
                ("open_period", "BOOLEAN"),
                ("stored", "BOOLEAN"),
            ],
            [
                (
                    s.period.grain.value,
                    s.period.label,
                    s.period.start,
                    s.period.end,
                    s.period.months,
                    s.previous.label,
                    month_index(s.period.start),
                    month_index(s.period.end),
                    s.period.end > as_of,
                    s.stored,
                )
                for s in periods
            ],
        ),
        TempTable(
            "kraft_month_periods",
            [("month_key", "INT"), ("grain", "VARCHAR"), ("label", "VARCHAR")],
            [
                (key, s.period.grain.value, s.period.label)
                for s in periods
                for key in range(month_index(s.period.start), month_index(s.period.end) + 1)
            ],
        ),
        TempTable(
            "kraft_months",
            [("month_key", "INT"), ("start_date", "DATE"), ("end_date", "DATE")],
            [(k, *_month_bounds(k)) for k in months],
        ),
        TempTable(
            "kraft_labels",
            [("label", "VARCHAR"), ("start_date", "DATE"), ("end_date", "DATE"), ("months", "INT")],
            [(p.label, p.start, p.end, p.months) for p in labels],
        ),
        TempTable(
            "kraft_rm_entities",
            [("rm_id", "VARCHAR"), ("entity_type", "VARCHAR"), ("entity_id", "VARCHAR")],
            [
                (rm, kind, entity)
                for rm, teams in rm_teams.items()
                for kind, entity in [*(("team", t) for t in teams), ("org", "org")]
            ],
        ),
    ]


def spine_statements(
    periods: list[SpinePeriod],
    labels: list[Period],
    rm_teams: dict[str, list[str]],
    as_of: date,
    dialect: str,
) -> list[str]:
    """The temporary tables of the spine, as SQL statements."""
    return [
        statement
        for table in spine_tables(periods, labels, rm_teams, as_of)
        for statement in create_table(table.name, table.columns, table.rows, dialect)
    ]


ENTITY_PERIODS_SQL = f"""
CREATE TEMPORARY TABLE kraft_entity_periods AS
SELECT 'rm' AS entity_type, r.rm_id AS entity_id, p.grain, p.label, p.months, p.prev_label,
       p.open_period, p.stored,
       r.rm_id IN (SELECT leader_rm_id FROM teams WHERE leader_rm_id IS NOT NULL) AS is_leader
FROM relationship_managers AS r
JOIN kraft_periods AS p
  ON (r.hire_date IS NULL
      OR p.last_month_key >= EXTRACT(YEAR FROM r.hire_date) * 12 + EXTRACT(MONTH FROM r.hire_date) - 1)
 AND (r.exit_date IS NULL
      OR p.first_month_key <= EXTRACT(YEAR FROM r.exit_date) * 12 + EXTRACT(MONTH FROM r.exit_date) - 1)
WHERE {is_scored_sql("r")}
UNION ALL
SELECT 'team', t.team_id, p.grain, p.label, p.months, p.prev_label, p.open_period,
       p.stored, FALSE
FROM teams AS t CROSS JOIN kraft_periods AS p
UNION ALL
SELECT 'org', 'org', p.grain, p.label, p.months, p.prev_label, p.open_period,
       p.stored, FALSE
FROM kraft_periods AS p
"""


def team_ancestry(teams: dict[str, str | None], rms: dict[str, str | None]) -> dict[str, list[str]]:
    """Each RM's team and every team above it (cycles are refused at import)."""
    chains = {team: ancestors(teams, team) for team in teams}
    return {rm: chains.get(team, []) if team else [] for rm, team in rms.items()}
