"""The rows behind one value: the same staging and period join as the compute, for one RM
and period, with a column per measure saying whether each row counts in it."""

from __future__ import annotations

from sqlglot import exp

from kraft.metrics import snippets
from kraft.metrics.compile.context import SqlContext
from kraft.metrics.compile.plans import FactPlan
from kraft.metrics.compile.sql import and_, col, eq
from kraft.metrics.compile.staging import period_join, period_values, stage_select
from kraft.metrics.spec import Catalogue
from kraft.schema.tables import TABLES_BY_NAME


def explain_rows(
    context: SqlContext,
    catalogue: Catalogue,
    metric_name: str,
    fact_name: str,
    rm: str,
    label: str,
) -> str:
    """The rows of one fact behind one RM's value for one period, with each measure's test.

    The same staging and period join as the compute, restricted to the RM and period; a
    column per measure says whether the row counts in it (and with what value).
    """
    metric = catalogue.metrics[metric_name]
    plan = FactPlan(fact_name, catalogue.facts[fact_name])
    for measure_name, measure in metric.measures.items():
        if measure.fact == fact_name:
            plan.measures[(metric_name, measure_name)] = measure
    table = TABLES_BY_NAME[plan.fact.table]
    base = plan.fact.table
    read = columns_read(plan)
    shown = [c for c in table.column_names if c in table.key or c in read]
    stage = stage_select(context, plan, extra_columns=shown).subquery(base)
    derived = context.derived_columns(plan)
    at_period = period_values(context.as_of())
    columns: list[exp.Expr] = [col(c, base) for c in shown]
    for (_, measure_name), measure in plan.measures.items():
        where = f"{metric_name}.{measure_name}"
        test = context.measure_snippet(measure.filter, where, base, derived, at_period)
        value = context.measure_snippet(measure.expr, where, base, derived, at_period)
        counted: exp.Expr = test if test is not None else exp.true()
        columns.append(
            exp.alias_(exp.Coalesce(this=counted, expressions=[exp.false()]), f"in_{measure_name}")
        )
        if value is not None and measure.agg != "count":
            columns.append(exp.alias_(value, f"{measure_name}_value"))
    spine, on = period_join(plan)
    query = (
        exp.select(*columns)
        .from_(stage)
        .join(exp.to_table(spine).as_("p"), on=on)
        .where(
            and_(
                eq(col("__rm", base), exp.Literal.string(rm)),
                eq(col("label", "p"), exp.Literal.string(label)),
            )
        )
        .order_by(*(col(k, base) for k in table.key))
    )
    return context.sql(query)


def columns_read(plan: FactPlan) -> set[str]:
    """The columns of the fact's table its measures and period snippets read, directly or
    through its derived columns."""
    base, when = plan.fact.table, plan.fact.when
    read: set[str] = set()
    for measure in plan.measures.values():
        for text in (measure.expr, measure.filter):
            if text:
                read |= snippets.column_names(snippets.parse(text, plan.name), base)
    for text in (
        when.date,
        when.label,
        *(when.overlap or {}).values(),
        *(when.in_force or {}).values(),
    ):
        if text:
            read |= snippets.column_names(snippets.parse(text, plan.name), base)
    derived_names = set(plan.fact.columns)
    for name in read & derived_names:
        read |= snippets.column_names(snippets.parse(plan.fact.columns[name], plan.name), base)
    return read
