"""Stage 1: a fact's rows once (`kraft_fact_<fact>`), and how they meet the period spine."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from kraft.metrics import snippets
from kraft.metrics.compile.context import SqlContext
from kraft.metrics.compile.plans import FactPlan
from kraft.metrics.compile.sql import and_, col, eq, month_key, qualify


def stage_fact(context: SqlContext, plan: FactPlan) -> str:
    """kraft_fact_<name>: the fact's rows with the columns its measures need."""
    return context.create(f"kraft_fact_{plan.name}", stage_select(context, plan))


def stage_select(
    context: SqlContext, plan: FactPlan, extra_columns: Iterable[str] = ()
) -> exp.Select:
    """The fact's rows: the RM credited, period keys, the columns the measures read."""
    fact, base = plan.fact, plan.fact.table
    derived = context.derived_columns(plan)
    needed: set[str] = set()
    used_derived: set[str] = set()
    for measure in plan.measures.values():
        for text in (measure.expr, measure.filter):
            if text:
                tree = snippets.parse(text, plan.name)
                for name in snippets.column_names(tree, base):
                    (used_derived if name in derived else needed).add(name)
    for name in list(used_derived):
        needed |= {c for c in snippets.column_names(derived[name], base) if c not in derived}
    needed |= set(extra_columns) - set(derived)
    when = fact.when
    select: list[exp.Expr] = [
        exp.alias_(context.snippet(fact.rm, plan.name), "__rm"),
    ]
    period_only = {
        n
        for n in used_derived
        if snippets.placeholders(derived[n]) & {"period_start", "period_end"}
    }
    if when.date is not None:
        date = context.snippet(when.date, plan.name)
        select.append(exp.alias_(month_key(date), "__month_key"))
    elif when.overlap is not None or when.in_force is not None:
        interval = when.overlap or when.in_force
        assert interval is not None
        select.append(exp.alias_(context.snippet(interval["start"], plan.name), "__start"))
        select.append(exp.alias_(context.snippet(interval["end"], plan.name), "__end"))
        for name in period_only:
            needed |= snippets.column_names(derived[name], base)
    else:
        assert when.label is not None
        label = context.snippet(when.label, plan.name)
        select.append(exp.alias_(col("start_date", "__label"), "__label_start"))
        select.append(exp.alias_(col("end_date", "__label"), "__label_end"))
    for name in sorted(needed):
        select.append(exp.alias_(col(name, base), name))
    for name in sorted(used_derived - period_only):
        qualified = snippets.substitute(derived[name], {})
        select.append(exp.alias_(qualify(qualified, base), name))
    query = exp.select(*select).from_(exp.to_table(base))
    for join in fact.joins:
        query = query.join(exp.to_table(join.table), on=context.snippet(join.condition, plan.name))
    if when.label is not None:
        query = query.join(
            exp.to_table("kraft_labels").as_("__label"),
            on=eq(col("label", "__label"), label),
        )
    if fact.where:
        query = query.where(context.snippet(fact.where, plan.name))
    return query


def period_join(plan: FactPlan) -> tuple[str, exp.Expr]:
    """The spine table a fact's rows join, and the condition."""
    when, base = plan.fact.when, plan.fact.table
    if when.date is not None:
        return "kraft_month_periods", eq(col("month_key", "p"), col("__month_key", base))
    if when.snapshot is not None:
        day = col("start_date" if when.snapshot == "first_day" else "end_date", "p")
        return "kraft_periods", and_(
            exp.LTE(this=col("__start", base), expression=day),
            exp.GTE(this=col("__end", base), expression=day.copy()),
        )
    if when.overlap is not None:
        return "kraft_periods", and_(
            exp.LTE(this=col("__start", base), expression=col("end_date", "p")),
            exp.GTE(this=col("__end", base), expression=col("start_date", "p")),
        )
    return "kraft_periods", and_(
        exp.GTE(this=col("__label_start", base), expression=col("start_date", "p")),
        exp.LTE(this=col("__label_end", base), expression=col("end_date", "p")),
    )


def period_values() -> dict[str, exp.Expr]:
    """What a period-bound snippet's :period_start and :period_end read: the joined period."""
    return {
        "period_start": col("start_date", "p"),
        "period_end": col("end_date", "p"),
    }


def staged_fact(plan: FactPlan) -> exp.Expr:
    """The staged fact (kraft_fact_<name>) under its table's name, as the measures read it."""
    return exp.to_table(f"kraft_fact_{plan.name}").as_(plan.fact.table)
