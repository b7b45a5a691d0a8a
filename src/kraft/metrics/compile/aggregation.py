"""Stage 2: every measure of a fact per RM, team and company, and period (`kraft_agg_<fact>`).

Four ways, by what the measures allow:
- medians, minima and maxima do not add up: RMs and teams each read the rows (through the
  RM → entity bridge for teams and the company);
- counts and sums (and means, distinct counts) are aggregated per RM only, then added up into
  teams and the company; per RM they are taken per period, or per month and added up into
  periods, for rows dated in a month and for intervals (a share of a quarter is the sum of its
  shares of the months).
Distinct counts are counted apart (kraft.metrics.compile.distinct); snapshot facts count
intervals (kraft.metrics.compile.snapshots).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from kraft.metrics.compile.context import SqlContext
from kraft.metrics.compile.distinct import DistinctMeasure, distinct_counts, with_distinct
from kraft.metrics.compile.plans import FactPlan, MeasureColumns
from kraft.metrics.compile.snapshots import aggregate_snapshot
from kraft.metrics.compile.sql import case, col, double, eq, exact, is_not_null, num
from kraft.metrics.compile.staging import period_join, period_values, staged_fact

# Aggregates whose per-RM results teams and the company can add up (distinct counts by keys).
ADDITIVE_AGGREGATES = ("count", "sum", "mean", "count_distinct")


@dataclass
class MeasureAggregates:
    """The fact's aggregate columns, and the distinct counts among them."""

    columns: list[exp.Expr] = field(default_factory=list)
    distinct: list[DistinctMeasure] = field(default_factory=list)


def aggregate_fact(context: SqlContext, plan: FactPlan, merged: dict[str, str]) -> list[str]:
    """kraft_agg_<name>: every measure of the fact per RM, team and company, and period.

    `merged` names the merged-interval tables already staged (shared by snapshot facts).
    """
    if plan.fact.when.snapshot is not None:
        return aggregate_snapshot(context, plan, merged)
    measures = measure_aggregates(context, plan)
    spine, on = period_join(plan)
    if not all(m.agg in ADDITIVE_AGGREGATES for m in plan.measures.values()):
        return [context.create(f"kraft_agg_{plan.name}", through_bridge(plan, measures, spine, on))]
    aggregates = measures.columns
    if measures.distinct:
        # Distinct counts do not add up: they are counted from key sets (distinct_counts).
        counted = {c.value for c, _, _ in measures.distinct}
        aggregates = [a for a in aggregates if a.alias not in counted]
    statements = [context.create(f"kraft_rmagg_{plan.name}", per_rm(plan, aggregates, spine, on))]
    union = rolled_up(plan, [a.alias for a in aggregates])
    if measures.distinct:
        statements += distinct_counts(context, plan, spine, on, measures.distinct)
        union = with_distinct(plan.name, union, [c.value for c, _, _ in measures.distinct])
    return [*statements, context.create(f"kraft_agg_{plan.name}", union)]


def measure_aggregates(context: SqlContext, plan: FactPlan) -> MeasureAggregates:
    """Conditional aggregates of each measure (rows, value, and a mean's count), a measure
    several metrics share once; fills in plan.columns."""
    base = plan.fact.table
    derived = context.derived_columns(plan)
    result = MeasureAggregates()
    aggregates = result.columns
    computed: dict[tuple[str, str | None, str | None], MeasureColumns] = {}
    for index, ((metric, measure_name), measure) in enumerate(plan.measures.items()):
        signature = (measure.agg, measure.expr, measure.filter)
        if signature in computed:  # the same measure in several metrics: aggregate once
            plan.columns[(metric, measure_name)] = computed[signature]
            continue
        where = f"{metric}.{measure_name}"
        at_period = period_values(context.as_of())
        condition = context.measure_snippet(measure.filter, where, base, derived, at_period)
        value = context.measure_snippet(measure.expr, where, base, derived, at_period)
        prefix = f"m{index}"
        columns = MeasureColumns(value=f"{prefix}_value", rows=f"{prefix}_rows")
        rows = exp.Count(this=case(condition, num(1)) if condition is not None else exp.Star())
        aggregates.append(exp.alias_(rows, columns.rows))
        if measure.agg == "count":
            aggregates.append(exp.alias_(rows.copy(), columns.value))
        else:
            assert value is not None
            target = case(condition, value)
            if measure.agg == "count_distinct":
                result.distinct.append((columns, value, condition))
            elif measure.agg == "mean":
                columns.count = f"{prefix}_count"
                aggregates.append(exp.alias_(exp.Count(this=target.copy()), columns.count))
            aggregates.append(exp.alias_(value_aggregate(measure.agg, target), columns.value))
        plan.columns[(metric, measure_name)] = columns
        computed[signature] = columns
    return result


def value_aggregate(agg: str, target: exp.Expr) -> exp.Expr:
    """The aggregate of a measure's values (a mean's sum: its count is a column of its own)."""
    if agg == "count_distinct":
        return exp.Count(this=exp.Distinct(expressions=[target]))
    if agg in ("sum", "mean"):
        return exp.Sum(this=exact(target))
    if agg == "median":
        return exp.Median(this=double(target))
    if agg == "min":
        return exp.Min(this=target)
    return exp.Max(this=target)


def through_bridge(
    plan: FactPlan, measures: MeasureAggregates, spine: str, on: exp.Expr
) -> exp.Query:
    """Measures that do not add up: each RM's rows, and each team's and the company's rows
    read again through the bridge."""
    by_rm = per_period(plan, measures.columns, spine, on)
    base = plan.fact.table
    by_entity = (
        exp.select(
            col("entity_type", "e"),
            col("entity_id", "e"),
            col("grain", "p"),
            col("label", "p"),
            *(a.copy() for a in measures.columns),
        )
        .from_(staged_fact(plan))
        .join(exp.to_table(spine).as_("p"), on=on.copy())
        .join(
            exp.to_table("kraft_rm_entities").as_("e"),
            on=eq(col("rm_id", "e"), col("__rm", base)),
        )
        .group_by(
            col("entity_type", "e"),
            col("entity_id", "e"),
            col("grain", "p"),
            col("label", "p"),
        )
    )
    return exp.union(by_rm, by_entity, distinct=False, copy=False)


def per_rm(plan: FactPlan, aggregates: list[exp.Expr], spine: str, on: exp.Expr) -> exp.Select:
    """Additive measures per RM and period: per month and added up into periods where the
    fact's rows meet months, else per period."""
    when = plan.fact.when
    period_bound = any(
        c.table == "p" for a in aggregates for c in a.find_all(exp.Column)
    )  # a measure reading the period's own dates cannot be added up from months
    if when.overlap is not None:
        monthly = months_of_intervals(plan, aggregates, on)
    elif when.date is not None and not period_bound:
        monthly = months_of_dates(plan, aggregates)
    else:
        return per_period(plan, aggregates, spine, on)
    return months_into_periods(monthly, [a.alias for a in aggregates])


def per_period(plan: FactPlan, aggregates: list[exp.Expr], spine: str, on: exp.Expr) -> exp.Select:
    """Each RM's rows in each period of the spine."""
    base = plan.fact.table
    return (
        exp.select(
            exp.alias_(exp.Literal.string("rm"), "entity_type"),
            exp.alias_(col("__rm", base), "entity_id"),
            col("grain", "p"),
            col("label", "p"),
            *aggregates,
        )
        .from_(staged_fact(plan))
        .join(exp.to_table(spine).as_("p"), on=on)
        .where(is_not_null(col("__rm", base)))
        .group_by(col("__rm", base), col("grain", "p"), col("label", "p"))
    )


def months_of_intervals(plan: FactPlan, aggregates: list[exp.Expr], on: exp.Expr) -> exp.Select:
    """An interval's share of a quarter or year is the sum of its shares of the months: join
    the months only, then add them up into every period that holds them."""
    base = plan.fact.table
    return (
        exp.select(
            exp.alias_(col("__rm", base), "entity_id"),
            col("month_key", "p"),
            *(a.copy() for a in aggregates),
        )
        .from_(staged_fact(plan))
        .join(exp.to_table("kraft_months").as_("p"), on=on.copy())
        .where(is_not_null(col("__rm", base)))
        .group_by(col("__rm", base), col("month_key", "p"))
    )


def months_of_dates(plan: FactPlan, aggregates: list[exp.Expr]) -> exp.Select:
    """Rows dated in a month: counted once per month, then added up into quarters and years
    (instead of aggregating every row three times)."""
    base = plan.fact.table
    return (
        exp.select(
            exp.alias_(col("__rm", base), "entity_id"),
            exp.alias_(col("__month_key", base), "month_key"),
            *(a.copy() for a in aggregates),
        )
        .from_(staged_fact(plan))
        .where(is_not_null(col("__rm", base)))
        .group_by(col("__rm", base), col("__month_key", base))
    )


def months_into_periods(monthly: exp.Select, names: list[str]) -> exp.Select:
    """Each RM's monthly results added up into every period that holds the months."""
    return (
        exp.select(
            exp.alias_(exp.Literal.string("rm"), "entity_type"),
            col("entity_id", "m"),
            col("grain", "mp"),
            col("label", "mp"),
            *(exp.alias_(exp.Sum(this=col(n, "m")), n) for n in names),
        )
        .from_(monthly.subquery("m"))
        .join(
            exp.to_table("kraft_month_periods").as_("mp"),
            on=eq(col("month_key", "mp"), col("month_key", "m")),
        )
        .group_by(col("entity_id", "m"), col("grain", "mp"), col("label", "mp"))
    )


def rolled_up(plan: FactPlan, names: list[str]) -> exp.Query:
    """Counts and sums re-aggregate: teams and the company add up their RMs' results
    (kraft_rmagg_<name>) instead of reading the rows again through the bridge."""
    rolled = (
        exp.select(
            col("entity_type", "e"),
            col("entity_id", "e"),
            col("grain", "r"),
            col("label", "r"),
            *(exp.alias_(exp.Sum(this=col(n, "r")), n) for n in names),
        )
        .from_(exp.to_table(f"kraft_rmagg_{plan.name}").as_("r"))
        .join(
            exp.to_table("kraft_rm_entities").as_("e"),
            on=eq(col("rm_id", "e"), col("entity_id", "r")),
        )
        .group_by(
            col("entity_type", "e"),
            col("entity_id", "e"),
            col("grain", "r"),
            col("label", "r"),
        )
    )
    return exp.union(
        exp.select(exp.Star()).from_(f"kraft_rmagg_{plan.name}"), rolled, distinct=False
    )
