"""Snapshot facts (in force on a period's first or last day): counted from intervals.

A row in force from __start to __end holds on day d when __start <= d <= __end. Each interval
becomes +1 at the first snapshot month whose day is >= __start and -1 at the first whose day is
>= __end + 1; the count on a period's day is the running sum up to its month. For a distinct
count, the intervals of each entity and key are first merged where they overlap, so that a
client with two policies in force counts once; the merged intervals do not depend on the
snapshot day, so facts over the same rows (in force at the start and at the end of a period)
share them (kraft_merged_<n>).
"""

from __future__ import annotations

import json

from sqlglot import exp

from kraft.metrics import snippets
from kraft.metrics.compile.context import SqlContext
from kraft.metrics.compile.plans import FactPlan, MeasureColumns
from kraft.metrics.compile.sql import case, col, eq, month_key, num, union_all
from kraft.metrics.compile.staging import staged_fact
from kraft.metrics.snippets import SnippetError

# Snapshot templates. `fact_rows AS fact` stands for the staged fact; :keep is the measure's
# filter and :key its distinct value. Counts are taken per RM and added up into teams and the
# company; distinct counts merge each RM's overlapping intervals per key, then merge again per
# team and company (a client with policies under two RMs of a team counts once there).
_RM_ROWS = """
SELECT fact.__rm AS rm, :key AS k, fact.__start AS s, fact.__end AS e
FROM fact_rows AS fact
WHERE fact.__rm IS NOT NULL AND fact.__start <= fact.__end AND :keep
"""

_ROW_EVENTS = """
rm_events AS (
  SELECT rm, b, SUM(delta) AS delta FROM (
    SELECT rm, :bucket_start AS b, 1 AS delta FROM rm_rows
    UNION ALL
    SELECT rm, :bucket_end AS b, -1 AS delta FROM rm_rows
  ) AS row_events GROUP BY rm, b
),
row_events AS (
  SELECT 'rm' AS entity_type, rm AS entity_id, b, delta FROM rm_events
  UNION ALL
  SELECT bridge.entity_type, bridge.entity_id, b, delta
  FROM rm_events JOIN kraft_rm_entities AS bridge ON bridge.rm_id = rm_events.rm
)
"""

_AT_PERIODS = """
SELECT ev.entity_type, ev.entity_id, p.grain, p.label, :measure AS measure,
       SUM(ev.delta) AS value, SUM(ev.row_delta) AS rows
FROM (
  SELECT entity_type, entity_id, b, SUM(delta) AS delta, SUM(row_delta) AS row_delta
  FROM events GROUP BY entity_type, entity_id, b
) AS ev
JOIN kraft_periods AS p ON ev.b <= :day_key
GROUP BY ev.entity_type, ev.entity_id, p.grain, p.label
"""

_COUNT_TEMPLATE = f"""
WITH rm_rows AS ({_RM_ROWS}),
{_ROW_EVENTS},
events AS (SELECT entity_type, entity_id, b, delta, delta AS row_delta FROM row_events)
{_AT_PERIODS}
"""


def _merge(name: str, source: str, keys: str) -> str:
    """CTEs merging the overlapping intervals of `source` per `keys` into `name`."""
    return f"""
{name}_ordered AS (
  SELECT {keys}, s, e,
         MAX(e) OVER (PARTITION BY {keys} ORDER BY s, e
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
  FROM {source}
),
{name}_islands AS (
  SELECT {keys}, s, e,
         SUM(CASE WHEN prev_end IS NULL OR s > prev_end THEN 1 ELSE 0 END)
           OVER (PARTITION BY {keys} ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS island
  FROM {name}_ordered
),
{name} AS (
  SELECT {keys}, MIN(s) AS s, MAX(e) AS e FROM {name}_islands GROUP BY {keys}, island
)"""


_MERGED_TEMPLATE = f"""
WITH rm_rows AS ({_RM_ROWS}),
keyed_rows AS (SELECT rm, k, s, e FROM rm_rows WHERE k IS NOT NULL),
{_merge("rm_merged", "keyed_rows", "rm, k")},
shared_keys AS (SELECT k FROM keyed_rows GROUP BY k HAVING MIN(rm) <> MAX(rm)),
team_rows AS (
  SELECT bridge.entity_type, bridge.entity_id, rm_merged.k, rm_merged.s, rm_merged.e
  FROM rm_merged
  JOIN shared_keys ON shared_keys.k = rm_merged.k
  JOIN kraft_rm_entities AS bridge ON bridge.rm_id = rm_merged.rm
),
{_merge("team_merged", "team_rows", "entity_type, entity_id, k")}
SELECT 'rm' AS entity_type, rm_merged.rm AS entity_id, rm_merged.s, rm_merged.e,
       shared_keys.k IS NOT NULL AS shared
FROM rm_merged LEFT JOIN shared_keys ON shared_keys.k = rm_merged.k
UNION ALL
SELECT entity_type, entity_id, s, e, TRUE AS shared FROM team_merged
"""

_DISTINCT_TEMPLATE = f"""
WITH rm_rows AS ({_RM_ROWS}),
rm_key_events AS (
  SELECT rm, shared, b, SUM(delta) AS delta FROM (
    SELECT entity_id AS rm, shared, :merged_bucket_start AS b, 1 AS delta
    FROM merged_intervals WHERE entity_type = 'rm'
    UNION ALL
    SELECT entity_id AS rm, shared, :merged_bucket_end AS b, -1 AS delta
    FROM merged_intervals WHERE entity_type = 'rm'
  ) AS key_events GROUP BY rm, shared, b
),
{_ROW_EVENTS},
events AS (
  SELECT 'rm' AS entity_type, rm AS entity_id, b, delta, 0 AS row_delta FROM rm_key_events
  UNION ALL
  SELECT bridge.entity_type, bridge.entity_id, b, delta, 0 AS row_delta
  FROM rm_key_events JOIN kraft_rm_entities AS bridge ON bridge.rm_id = rm_key_events.rm
  WHERE NOT rm_key_events.shared
  UNION ALL
  SELECT entity_type, entity_id, :merged_bucket_start AS b, 1 AS delta, 0 AS row_delta
  FROM merged_intervals WHERE entity_type <> 'rm'
  UNION ALL
  SELECT entity_type, entity_id, :merged_bucket_end AS b, -1 AS delta, 0 AS row_delta
  FROM merged_intervals WHERE entity_type <> 'rm'
  UNION ALL
  SELECT entity_type, entity_id, b, 0 AS delta, delta AS row_delta FROM row_events
)
{_AT_PERIODS}
"""


def aggregate_snapshot(context: SqlContext, plan: FactPlan, merged: dict[str, str]) -> list[str]:
    """kraft_agg_<name> of a snapshot fact: each measure counted over intervals, pivoted.

    `merged` names the merged-interval tables already staged, by what they merge.
    """
    statements: list[str] = []
    base = plan.fact.table
    derived = context.derived_columns(plan)
    selects: list[exp.Query] = []
    columns: dict[tuple[str, str | None, str | None], MeasureColumns] = {}
    for (metric, measure_name), measure in plan.measures.items():
        if measure.agg not in ("count", "count_distinct"):
            raise SnippetError(
                f"metric {metric} measure {measure_name}: a snapshot fact counts rows or "
                "distinct values; use count or count_distinct."
            )
        signature = (measure.agg, measure.expr, measure.filter)
        if signature in columns:  # the same measure in several metrics: count it once
            plan.columns[(metric, measure_name)] = columns[signature]
            continue
        where = f"{metric}.{measure_name}"
        condition = context.measure_snippet(measure.filter, where, base, derived, {})
        key = context.measure_snippet(measure.expr, where, base, derived, {})
        index = len(plan.columns)
        prefix = f"m{index}"
        result = MeasureColumns(value=f"{prefix}_value", rows=f"{prefix}_rows", index=index)
        plan.columns[(metric, measure_name)] = result
        columns[signature] = result
        substitutions: dict[str, exp.Expr] = {
            "keep": condition if condition is not None else exp.true(),
            "key": key if key is not None else exp.Literal.number(1),
        }
        merged_table = ""
        if measure.agg == "count_distinct":
            merged_table, staged = merged_intervals(context, plan, substitutions, merged)
            statements += staged
        selects.append(snapshot_counts(plan, measure.agg, index, substitutions, merged_table))
    return [*statements, context.create(f"kraft_agg_{plan.name}", pivot(plan, selects))]


def snapshot_counts(
    plan: FactPlan,
    agg: str,
    index: int,
    substitutions: dict[str, exp.Expr],
    merged_table: str,
) -> exp.Query:
    """One measure's count (value) and rows per entity and period, tagged with its index."""
    first_day = plan.fact.when.snapshot == "first_day"
    day_key = "first_month_key" if first_day else "last_month_key"
    template = _DISTINCT_TEMPLATE if agg == "count_distinct" else _COUNT_TEMPLATE
    tree = snippets.parse_query(template)
    tree = snippets.substitute(
        tree,
        {
            **substitutions,
            "bucket_start": bucket(col("s"), first_day),
            "bucket_end": bucket(exp.Add(this=col("e"), expression=num(1)), first_day),
            "merged_bucket_start": bucket(col("s"), first_day),
            "merged_bucket_end": bucket(exp.Add(this=col("e"), expression=num(1)), first_day),
            "day_key": col(day_key, "p"),
            "measure": exp.Literal.number(index),
        },
    )
    bound = bind_fact(tree, plan, merged_table)
    assert isinstance(bound, exp.Query)
    return exp.select(exp.Star()).from_(bound.subquery(f"measure_{index}"))


def pivot(plan: FactPlan, selects: list[exp.Query]) -> exp.Select:
    """The measures' rows side by side: a value and a rows column per measure."""
    union = union_all(selects)
    distinct = {c.value: c for c in plan.columns.values()}.values()
    columns = [
        exp.alias_(exp.Max(this=case(eq(col("measure"), num(c.index)), col(kind))), name)
        for c in distinct
        for kind, name in (("value", c.value), ("rows", c.rows))
    ]
    return (
        exp.select(col("entity_type"), col("entity_id"), col("grain"), col("label"), *columns)
        .from_(union.subquery("snapshots"))
        .group_by(col("entity_type"), col("entity_id"), col("grain"), col("label"))
    )


def merged_intervals(
    context: SqlContext,
    plan: FactPlan,
    substitutions: dict[str, exp.Expr],
    merged: dict[str, str],
) -> tuple[str, list[str]]:
    """The table of merged intervals for this fact's rows and key; staged once per plan."""
    fact = plan.fact.model_dump()
    fact["when"].pop("snapshot")
    signature = json.dumps(
        [fact, {n: context.sql(e) for n, e in substitutions.items()}], sort_keys=True
    )
    if signature in merged:
        return merged[signature], []
    name = f"kraft_merged_{len(merged)}"
    merged[signature] = name
    tree = snippets.substitute(snippets.parse_query(_MERGED_TEMPLATE), substitutions)
    return name, [context.create(name, bind_fact(tree, plan))]


def bind_fact(tree: exp.Expr, plan: FactPlan, merged_table: str = "") -> exp.Expr:
    """The template's `fact_rows AS fact` becomes the staged fact under the table's name,
    and `merged_intervals` the fact's merged intervals."""
    base = plan.fact.table

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and node.name == "merged_intervals":
            return exp.to_table(merged_table)
        if isinstance(node, exp.Table) and node.name == "fact_rows":
            return staged_fact(plan)
        if isinstance(node, exp.Column) and node.table == "fact":
            return exp.column(node.name, table=base)
        return node

    return tree.transform(bind)


def bucket(day: exp.Expr, first_day: bool) -> exp.Expr:
    """The month whose snapshot day is the first on or after `day`."""
    key = month_key(day)
    if not first_day:
        return key
    later = exp.Case(
        ifs=[
            exp.If(
                this=exp.GT(
                    this=exp.Extract(this=exp.var("DAY"), expression=day.copy()),
                    expression=num(1),
                ),
                true=num(1),
            )
        ],
        default=num(0),
    )
    return exp.Add(this=key, expression=later)
