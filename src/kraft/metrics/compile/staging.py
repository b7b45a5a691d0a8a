"""Stage 1: a fact's rows once (`kraft_fact_<fact>`), and how they meet the period spine."""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from kraft.metrics import snippets
from kraft.metrics.compile.as_of import as_of_tables
from kraft.metrics.compile.context import SqlContext
from kraft.metrics.compile.plans import FactPlan
from kraft.metrics.compile.sql import and_, col, eq, month_key, qualify


def stage_fact(context: SqlContext, plan: FactPlan) -> str:
    """kraft_fact_<name>: the fact's rows with the columns its measures need."""
    return context.create(f"kraft_fact_{plan.name}", stage_select(context, plan))


def _columns_read(
    plan: FactPlan, derived: dict[str, exp.Expr], extra_columns: Iterable[str]
) -> tuple[set[str], set[str]]:
    """The fact table's columns the measures read, and the derived columns they use."""
    base = plan.fact.table
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
    return needed, used_derived


def _to_as_of(end: exp.Expr, as_of: exp.Expr) -> exp.Expr:
    """Exposure runs to the as-of date: no month after it is overlapped."""
    return exp.Case(
        ifs=[exp.If(this=exp.GT(this=end.copy(), expression=as_of.copy()), true=as_of.copy())],
        default=end,
    )


def stage_select(
    context: SqlContext, plan: FactPlan, extra_columns: Iterable[str] = ()
) -> exp.Select:
    """The fact's rows: the RM credited, period keys, the columns the measures read."""
    fact, base = plan.fact, plan.fact.table
    derived = context.derived_columns(plan)
    needed, used_derived = _columns_read(plan, derived, extra_columns)
    when = fact.when
    as_of = context.as_of()
    to_date: list[exp.Expr] = []  # the open period counts rows up to the as-of date only
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
        if as_of is not None:
            to_date.append(exp.LTE(this=date.copy(), expression=as_of.copy()))
    elif when.overlap is not None or when.in_force is not None:
        interval = when.overlap or when.in_force
        assert interval is not None
        start = context.snippet(interval["start"], plan.name)
        end = context.snippet(interval["end"], plan.name)
        if as_of is not None:
            to_date.append(exp.LTE(this=start.copy(), expression=as_of.copy()))
            end = snapshot_end(end, as_of) if when.snapshot is not None else _to_as_of(end, as_of)
        select.append(exp.alias_(start, "__start"))
        select.append(exp.alias_(end, "__end"))
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
        if as_of is not None:
            to_date.append(exp.LTE(this=col("start_date", "__label"), expression=as_of.copy()))
    if fact.where:
        query = query.where(context.snippet(fact.where, plan.name))
    for condition in to_date:
        query = query.where(condition)
    if as_of is None:
        return query
    staged = as_of_tables(query, as_of)
    assert isinstance(staged, exp.Select)
    return staged


# A snapshot day after the as-of date (the open period's last day) is taken on the as-of date:
# a row in force on the as-of date runs on past any such day, one ended before it does not.
OPEN_END = "9000-12-31"


def snapshot_end(end: exp.Expr, as_of: exp.Expr) -> exp.Expr:
    """The last day in force, as far as a snapshot day after the as-of date can tell."""
    return exp.Case(
        ifs=[
            exp.If(
                this=exp.GTE(this=end.copy(), expression=as_of.copy()),
                true=exp.cast(exp.Literal.string(OPEN_END), "DATE"),
            )
        ],
        default=end,
    )


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
        # An interval that ends before it starts (a policy cancelled before its cover began)
        # overlaps nothing: it never had a day of exposure.
        return "kraft_periods", and_(
            exp.LTE(this=col("__start", base), expression=col("end_date", "p")),
            exp.GTE(this=col("__end", base), expression=col("start_date", "p")),
            exp.LTE(this=col("__start", base), expression=col("__end", base)),
        )
    return "kraft_periods", and_(
        exp.GTE(this=col("__label_start", base), expression=col("start_date", "p")),
        exp.LTE(this=col("__label_end", base), expression=col("end_date", "p")),
    )


def period_values(as_of: exp.Expr | None = None) -> dict[str, exp.Expr]:
    """What a period-bound snippet's :period_start and :period_end read: the joined period, up
    to the as-of date (an open period's exposure counts the days to date)."""
    end: exp.Expr = col("end_date", "p")
    if as_of is not None:
        end = exp.Least(this=end, expressions=[as_of.copy()])
    return {"period_start": col("start_date", "p"), "period_end": end}


def staged_fact(plan: FactPlan) -> exp.Expr:
    """The staged fact (kraft_fact_<name>) under its table's name, as the measures read it."""
    return exp.to_table(f"kraft_fact_{plan.name}").as_(plan.fact.table)
