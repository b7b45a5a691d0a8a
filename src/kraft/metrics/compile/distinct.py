"""Distinct counts of additive facts (`kraft_distinct_<fact>`): counted from key sets.

Each RM's keys are collected once per period (kraft_keys_<name>_<n>, one table per key
expression, a 0/1 flag per measure). A key that only one RM ever holds counts for that RM's
teams and the company by addition; only keys shared by several RMs are counted again through
the bridge, as distinct values over the union.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from kraft.metrics import snippets
from kraft.metrics.compile.context import SqlContext
from kraft.metrics.compile.plans import FactPlan, MeasureColumns
from kraft.metrics.compile.sql import and_, col, eq, is_not_null, num
from kraft.metrics.compile.staging import staged_fact

# A distinct count: its columns, the key it counts, and the filter of the rows it counts.
DistinctMeasure = tuple[MeasureColumns, exp.Expr, exp.Expr | None]


def distinct_counts(
    context: SqlContext,
    plan: FactPlan,
    spine: str,
    on: exp.Expr,
    distinct: list[DistinctMeasure],
) -> list[str]:
    """kraft_distinct_<name>: distinct counts per RM, team and company, and period."""
    groups: dict[str, tuple[exp.Expr, list[tuple[str, exp.Expr | None]]]] = {}
    for columns, key, condition in distinct:
        groups.setdefault(context.sql(key), (key, []))[1].append((columns.value, condition))
    values = [c.value for c, _, _ in distinct]
    statements: list[str] = []
    ctes: list[str] = []
    parts: list[str] = []
    for number, (key, members) in enumerate(groups.values()):
        table = f"kraft_keys_{plan.name}_{number}"
        statements.append(context.create(table, rm_keys(plan, spine, on, key, members)))
        mine = [name for name, _ in members]
        ctes.append(keyed_ctes(number, table, mine))
        parts += counted_parts(number, mine, values)
    totals = ", ".join(f"CAST(SUM({v}) AS BIGINT) AS {v}" for v in values)
    query = (
        f"WITH {', '.join(ctes)} SELECT entity_type, entity_id, grain, label, {totals} "
        f"FROM ({' UNION ALL '.join(parts)}) AS parts "
        "GROUP BY entity_type, entity_id, grain, label"
    )
    statements.append(context.create(f"kraft_distinct_{plan.name}", snippets.parse_query(query)))
    return statements


def rm_keys(
    plan: FactPlan,
    spine: str,
    on: exp.Expr,
    key: exp.Expr,
    members: list[tuple[str, exp.Expr | None]],
) -> exp.Select:
    """Each RM's keys per period, with a flag per measure counting the key."""
    base = plan.fact.table
    flags = [
        exp.alias_(
            exp.Max(
                this=exp.Case(ifs=[exp.If(this=condition, true=num(1))], default=num(0))
                if condition is not None
                else num(1)
            ),
            f"f_{name}",
        )
        for name, condition in members
    ]
    conditions = [condition for _, condition in members]
    wanted = (
        [exp.or_(*conditions)] if all(c is not None for c in conditions) else []
    )  # rows no measure counts need not be collected
    return (
        exp.select(
            exp.alias_(col("__rm", base), "rm"),
            col("grain", "p"),
            col("label", "p"),
            exp.alias_(key.copy(), "k"),
            *flags,
        )
        .from_(staged_fact(plan))
        .join(exp.to_table(spine).as_("p"), on=on.copy())
        .where(
            and_(
                is_not_null(col("__rm", base)),
                is_not_null(key.copy()),
                *(w.copy() for w in wanted),
            )
        )
        .group_by(col("__rm", base), col("grain", "p"), col("label", "p"), key.copy())
    )


def keyed_ctes(number: int, table: str, mine: list[str]) -> str:
    """keyed_<n>: the keys, each marked shared when several RMs hold it; per_rm_<n>: each RM's
    counts, all keys and its own keys only."""
    return (
        f"keyed_{number} AS (SELECT keys.rm, keys.grain, keys.label, keys.k, "
        f"{', '.join(f'keys.f_{v}' for v in mine)}, shared.k IS NOT NULL AS shared "
        f"FROM {table} AS keys LEFT JOIN (SELECT k FROM {table} GROUP BY k "
        "HAVING MIN(rm) <> MAX(rm)) AS shared ON shared.k = keys.k), "
        f"per_rm_{number} AS (SELECT rm, grain, label, "
        + ", ".join(
            f"SUM(f_{v}) AS {v}, SUM(CASE WHEN shared THEN 0 ELSE f_{v} END) AS local_{v}"
            for v in mine
        )
        + f" FROM keyed_{number} GROUP BY rm, grain, label)"
    )


def counted_parts(number: int, mine: list[str], values: list[str]) -> list[str]:
    """The counts of one key group, every other measure 0: per RM, RMs' own keys added up into
    teams, and shared keys counted again through the bridge."""

    def spread(pick: Callable[[str], str]) -> str:
        return ", ".join(f"{pick(v) if v in mine else '0'} AS {v}" for v in values)

    return [
        f"SELECT 'rm' AS entity_type, rm AS entity_id, grain, label, "
        f"{spread(lambda v: v)} FROM per_rm_{number}",
        "SELECT e.entity_type, e.entity_id, r.grain, r.label, "
        f"{spread(lambda v: f'SUM(r.local_{v})')} FROM per_rm_{number} AS r "
        "JOIN kraft_rm_entities AS e ON e.rm_id = r.rm "
        "GROUP BY e.entity_type, e.entity_id, r.grain, r.label",
        "SELECT e.entity_type, e.entity_id, s.grain, s.label, "
        f"{spread(lambda v: f'COUNT(DISTINCT CASE WHEN s.f_{v} = 1 THEN s.k END)')} "
        f"FROM keyed_{number} AS s JOIN kraft_rm_entities AS e ON e.rm_id = s.rm "
        "WHERE s.shared GROUP BY e.entity_type, e.entity_id, s.grain, s.label",
    ]


def with_distinct(name: str, additive: exp.Query, values: list[str]) -> exp.Query:
    """The additive measures of every entity and period, with their distinct counts."""
    on = and_(
        *(eq(col(c, "d"), col(c, "a")) for c in ("entity_type", "entity_id", "grain", "label"))
    )
    return (
        exp.select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("a")),
            *(exp.alias_(exp.Coalesce(this=col(v, "d"), expressions=[num(0)]), v) for v in values),
        )
        .from_(additive.subquery("a"))
        .join(exp.to_table(f"kraft_distinct_{name}").as_("d"), on=on, join_type="left")
    )
