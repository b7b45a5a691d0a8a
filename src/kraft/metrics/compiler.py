"""Catalogue → SQLGlot expression trees → SQL for one dialect (duckdb, postgres, spark).

The plan, in order:
1. stage each fact once: its rows, only the columns its measures read, the RM credited, and
   the keys that meet periods (`kraft_fact_<fact>`);
2. aggregate each fact once per grain with conditional aggregates for all its measures:
   per RM, and per team and company through the RM → entity bridge, so that distinct counts
   are taken over the union of rows, never added up (`kraft_agg_<fact>`);
3. assemble each metric from its measures for every entity and period that should have a value
   (`kraft_entity_periods`): numerator, denominator, value, rows, provisional;
4. derive metrics over other metrics, including the previous period.
Period boundaries come from a spine built in Python (kraft.metrics.spine); no DATE_TRUNC.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from sqlglot import exp
from sqlglot.dialects.spark import Spark
from sqlglot.generators.spark import SparkGenerator

from kraft.metrics import snippets
from kraft.metrics.snippets import SnippetError
from kraft.metrics.spec import Catalogue, Fact, Measure, Metric
from kraft.schema.tables import TABLES_BY_NAME

Dialect = str  # "duckdb" | "postgres" | "spark"


class SparkSQL(Spark):
    """Spark SQL as kraft runs it: SQLGlot's Spark dialect with one difference. A WITH inside a
    subquery stays there (Spark 3+ reads it); SQLGlot's Spark generator hoists it to the top,
    where two snapshot measures' CTEs of the same name collide."""

    class Generator(SparkGenerator):
        EXPRESSIONS_WITHOUT_NESTED_CTES: ClassVar[set[type[exp.Expr]]] = set()


# How each dialect's SQL is written; a name SQLGlot knows stands for itself.
SQL_DIALECTS: dict[Dialect, str | type[Spark]] = {"spark": SparkSQL}


def sql_dialect(dialect: Dialect) -> str | type[Spark]:
    return SQL_DIALECTS.get(dialect, dialect)


VALUES_TABLE = "kraft_new_values"
PROVISIONAL = "__provisional"  # the measure counting rows that may still change a value
VALUE_COLUMNS = (
    "entity_type",
    "entity_id",
    "grain",
    "period",
    "kpi_id",
    "value",
    "numerator",
    "denominator",
    "row_count",
    "provisional",
    "extra",
)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


def _num(value: float | int) -> exp.Expr:
    return exp.Literal.number(value)


def _double(expression: exp.Expr) -> exp.Cast:
    return exp.cast(expression, exp.DataType.build("DOUBLE"))


def _exact(expression: exp.Expr) -> exp.Cast:
    """Sums add decimals: exact, so the same rows give the same total in any order or engine
    (money above all); each term is kept to 12 decimal places."""
    return exp.cast(expression, exp.DataType.build("DECIMAL(38, 12)"))


def _and(*conditions: exp.Expr) -> exp.Expr:
    result = conditions[0]
    for condition in conditions[1:]:
        result = exp.and_(result, condition)
    return result


def _eq(a: exp.Expr, b: exp.Expr) -> exp.EQ:
    return exp.EQ(this=a, expression=b)


def _case(condition: exp.Expr | None, then: exp.Expr) -> exp.Expr:
    if condition is None:
        return then
    return exp.Case(ifs=[exp.If(this=condition, true=then)])


def _month_key(date: exp.Expr) -> exp.Expr:
    year = exp.Extract(this=exp.var("YEAR"), expression=date.copy())
    month = exp.Extract(this=exp.var("MONTH"), expression=date.copy())
    return exp.Sub(
        this=exp.Add(this=exp.Mul(this=year, expression=_num(12)), expression=month),
        expression=_num(1),
    )


@dataclass
class MeasureColumns:
    value: str  # column of the aggregate (sum for a mean)
    rows: str  # rows meeting the filter
    count: str | None = None  # non-null values, for a mean
    index: int = 0


@dataclass
class FactPlan:
    name: str
    fact: Fact
    measures: dict[tuple[str, str], Measure] = field(default_factory=dict)
    columns: dict[tuple[str, str], MeasureColumns] = field(default_factory=dict)


@dataclass
class Plan:
    """SQL statements to run in order, and what they produce."""

    dialect: Dialect
    statements: list[str]
    values_query: str  # every value, read once by the transaction that stores them
    metrics: list[str]
    definition_hashes: dict[str, str]


class Compiler:
    def __init__(
        self, catalogue: Catalogue, parameters: Mapping[str, int | date], dialect: Dialect
    ) -> None:
        self.catalogue = catalogue
        self.parameters = parameters
        self._merged: dict[str, str] = {}  # merged-interval tables staged, by what they merge
        self.dialect = dialect

    def sql(self, tree: exp.Expr) -> str:
        return tree.sql(dialect=sql_dialect(self.dialect))

    # -- facts ------------------------------------------------------------------------------

    def _params(self) -> dict[str, exp.Expr]:
        return {
            name: exp.cast(exp.Literal.string(value.isoformat()), "DATE")
            if isinstance(value, date)
            else _num(value)
            for name, value in self.parameters.items()
        }

    def _snippet(self, text: str, where: str) -> exp.Expr:
        return snippets.substitute(snippets.parse(text, where), self._params())

    def fact_plans(self, metrics: list[str]) -> dict[str, FactPlan]:
        plans: dict[str, FactPlan] = {}
        for metric_name in metrics:
            metric = self.catalogue.metrics[metric_name]
            measures = dict(metric.measures)
            if metric.provisional_when is not None:
                measures[PROVISIONAL] = metric.provisional_when
            for measure_name, measure in measures.items():
                plan = plans.setdefault(
                    measure.fact, FactPlan(measure.fact, self.catalogue.facts[measure.fact])
                )
                plan.measures[(metric_name, measure_name)] = measure
        return plans

    def _derived(self, plan: FactPlan) -> dict[str, exp.Expr]:
        fact = plan.fact
        return {
            name: snippets.unqualify(self._snippet(text, f"{plan.name}.{name}"), fact.table)
            for name, text in fact.columns.items()
        }

    def stage_fact(self, plan: FactPlan) -> str:
        """kraft_fact_<name>: the fact's rows with the columns its measures need."""
        table = exp.to_table(f"kraft_fact_{plan.name}")
        return self.sql(
            exp.Create(
                this=table,
                kind="TABLE",
                expression=self.stage_select(plan),
                properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            )
        )

    def stage_select(self, plan: FactPlan, extra_columns: Iterable[str] = ()) -> exp.Select:
        """The fact's rows: the RM credited, period keys, the columns the measures read."""
        fact, base = plan.fact, plan.fact.table
        derived = self._derived(plan)
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
            exp.alias_(self._snippet(fact.rm, plan.name), "__rm"),
        ]
        period_only = {
            n
            for n in used_derived
            if snippets.placeholders(derived[n]) & {"period_start", "period_end"}
        }
        if when.date is not None:
            date = self._snippet(when.date, plan.name)
            select.append(exp.alias_(_month_key(date), "__month_key"))
        elif when.overlap is not None or when.in_force is not None:
            interval = when.overlap or when.in_force
            assert interval is not None
            select.append(exp.alias_(self._snippet(interval["start"], plan.name), "__start"))
            select.append(exp.alias_(self._snippet(interval["end"], plan.name), "__end"))
            for name in period_only:
                needed |= snippets.column_names(derived[name], base)
        else:
            assert when.label is not None
            label = self._snippet(when.label, plan.name)
            select.append(exp.alias_(_col("start_date", "__label"), "__label_start"))
            select.append(exp.alias_(_col("end_date", "__label"), "__label_end"))
        for name in sorted(needed):
            select.append(exp.alias_(_col(name, base), name))
        for name in sorted(used_derived - period_only):
            qualified = snippets.substitute(derived[name], {})
            select.append(exp.alias_(self._qualify(qualified, base), name))
        query = exp.select(*select).from_(exp.to_table(base))
        for join in fact.joins:
            query = query.join(
                exp.to_table(join.table), on=self._snippet(join.condition, plan.name)
            )
        if when.label is not None:
            query = query.join(
                exp.to_table("kraft_labels").as_("__label"),
                on=_eq(_col("label", "__label"), label),
            )
        if fact.where:
            query = query.where(self._snippet(fact.where, plan.name))
        return query

    @staticmethod
    def _qualify(tree: exp.Expr, table: str) -> exp.Expr:
        """Bare columns of the fact's table, qualified for the staging query (joins may clash)."""

        def qualify(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Column) and not node.table and snippets.outermost(node):
                return exp.column(node.name, table=table)
            return node

        return tree.transform(qualify)

    def _period_join(self, plan: FactPlan) -> tuple[str, exp.Expr]:
        """The spine table a fact's rows join, and the condition."""
        when, base = plan.fact.when, plan.fact.table
        if when.date is not None:
            return "kraft_month_periods", _eq(_col("month_key", "p"), _col("__month_key", base))
        if when.snapshot is not None:
            day = _col("start_date" if when.snapshot == "first_day" else "end_date", "p")
            return "kraft_periods", _and(
                exp.LTE(this=_col("__start", base), expression=day),
                exp.GTE(this=_col("__end", base), expression=day.copy()),
            )
        if when.overlap is not None:
            return "kraft_periods", _and(
                exp.LTE(this=_col("__start", base), expression=_col("end_date", "p")),
                exp.GTE(this=_col("__end", base), expression=_col("start_date", "p")),
            )
        return "kraft_periods", _and(
            exp.GTE(this=_col("__label_start", base), expression=_col("start_date", "p")),
            exp.LTE(this=_col("__label_end", base), expression=_col("end_date", "p")),
        )

    def _measure_snippet(
        self,
        text: str | None,
        where: str,
        base: str,
        derived: dict[str, exp.Expr],
        period_values: dict[str, exp.Expr],
    ) -> exp.Expr | None:
        """A measure's expr or filter over the staged fact; period-bound columns inlined."""
        if text is None:
            return None
        tree = snippets.unqualify(
            snippets.substitute(snippets.parse(text, where), self._params()), base
        )
        inline = {
            n: snippets.substitute(derived[n], period_values)
            for n in snippets.column_names(tree, base)
            if n in derived and snippets.placeholders(derived[n]) & set(period_values)
        }
        return self._qualify(snippets.substitute(tree, inline), base)

    def aggregate_fact(self, plan: FactPlan) -> list[str]:
        """kraft_agg_<name>: every measure of the fact per RM, team and company, and period."""
        if plan.fact.when.snapshot is not None:
            return self.aggregate_snapshot(plan)
        base = plan.fact.table
        derived = self._derived(plan)
        period_values: dict[str, exp.Expr] = {
            "period_start": _col("start_date", "p"),
            "period_end": _col("end_date", "p"),
        }
        aggregates: list[exp.Expr] = []
        distinct: list[tuple[MeasureColumns, exp.Expr, exp.Expr | None]] = []
        computed: dict[tuple[str, str | None, str | None], MeasureColumns] = {}
        for index, ((metric, measure_name), measure) in enumerate(plan.measures.items()):
            signature = (measure.agg, measure.expr, measure.filter)
            if signature in computed:  # the same measure in several metrics: aggregate once
                plan.columns[(metric, measure_name)] = computed[signature]
                continue
            where = f"{metric}.{measure_name}"
            condition = self._measure_snippet(measure.filter, where, base, derived, period_values)
            value = self._measure_snippet(measure.expr, where, base, derived, period_values)
            prefix = f"m{index}"
            columns = MeasureColumns(value=f"{prefix}_value", rows=f"{prefix}_rows")
            rows = exp.Count(
                this=_case(condition, _num(1)) if condition is not None else exp.Star()
            )
            aggregates.append(exp.alias_(rows, columns.rows))
            if measure.agg == "count":
                aggregates.append(exp.alias_(rows.copy(), columns.value))
            else:
                assert value is not None
                target = _case(condition, value)
                if measure.agg == "count_distinct":
                    agg: exp.Expr = exp.Count(this=exp.Distinct(expressions=[target]))
                    distinct.append((columns, value, condition))
                elif measure.agg == "sum":
                    agg = exp.Sum(this=_exact(target))
                elif measure.agg == "mean":
                    agg = exp.Sum(this=_exact(target))
                    columns.count = f"{prefix}_count"
                    aggregates.append(exp.alias_(exp.Count(this=target.copy()), columns.count))
                elif measure.agg == "median":
                    agg = exp.Median(this=_double(target))
                elif measure.agg == "min":
                    agg = exp.Min(this=target)
                else:
                    agg = exp.Max(this=target)
                aggregates.append(exp.alias_(agg, columns.value))
            plan.columns[(metric, measure_name)] = columns
            computed[signature] = columns
        spine, on = self._period_join(plan)
        fact_table = exp.to_table(f"kraft_fact_{plan.name}").as_(base)
        by_rm = (
            exp.select(
                exp.alias_(exp.Literal.string("rm"), "entity_type"),
                exp.alias_(_col("__rm", base), "entity_id"),
                _col("grain", "p"),
                _col("label", "p"),
                *aggregates,
            )
            .from_(fact_table)
            .join(exp.to_table(spine).as_("p"), on=on)
            .where(exp.Not(this=exp.Is(this=_col("__rm", base), expression=exp.null())))
            .group_by(_col("__rm", base), _col("grain", "p"), _col("label", "p"))
        )
        by_entity = (
            exp.select(
                _col("entity_type", "e"),
                _col("entity_id", "e"),
                _col("grain", "p"),
                _col("label", "p"),
                *(a.copy() for a in aggregates),
            )
            .from_(fact_table.copy())
            .join(exp.to_table(spine).as_("p"), on=on.copy())
            .join(
                exp.to_table("kraft_rm_entities").as_("e"),
                on=_eq(_col("rm_id", "e"), _col("__rm", base)),
            )
            .group_by(
                _col("entity_type", "e"),
                _col("entity_id", "e"),
                _col("grain", "p"),
                _col("label", "p"),
            )
        )
        additive = all(
            m.agg in ("count", "sum", "mean", "count_distinct") for m in plan.measures.values()
        )
        if additive and distinct:
            # Distinct counts do not add up: they are counted from key sets (_distinct_counts).
            counted = {c.value for c, _, _ in distinct}
            aggregates = [a for a in aggregates if a.alias not in counted]
            by_rm.set("expressions", by_rm.expressions[:4] + [a.copy() for a in aggregates])
        names = [a.alias for a in aggregates]
        period_bound = any(
            c.table == "p" for a in aggregates for c in a.find_all(exp.Column)
        )  # a measure reading the period's own dates cannot be added up from months
        monthly: exp.Select | None = None
        if additive and plan.fact.when.overlap is not None:
            # An interval's share of a quarter or year is the sum of its shares of the months:
            # join the months only, then add them up into every period that holds them.
            monthly = (
                exp.select(
                    exp.alias_(_col("__rm", base), "entity_id"),
                    _col("month_key", "p"),
                    *(a.copy() for a in aggregates),
                )
                .from_(fact_table.copy())
                .join(exp.to_table("kraft_months").as_("p"), on=on.copy())
                .where(exp.Not(this=exp.Is(this=_col("__rm", base), expression=exp.null())))
                .group_by(_col("__rm", base), _col("month_key", "p"))
            )
        elif additive and plan.fact.when.date is not None and not period_bound:
            # Rows dated in a month: counted once per month, then added up into quarters and
            # years (instead of aggregating every row three times).
            monthly = (
                exp.select(
                    exp.alias_(_col("__rm", base), "entity_id"),
                    exp.alias_(_col("__month_key", base), "month_key"),
                    *(a.copy() for a in aggregates),
                )
                .from_(fact_table.copy())
                .where(exp.Not(this=exp.Is(this=_col("__rm", base), expression=exp.null())))
                .group_by(_col("__rm", base), _col("__month_key", base))
            )
        if monthly is not None:
            by_rm = (
                exp.select(
                    exp.alias_(exp.Literal.string("rm"), "entity_type"),
                    _col("entity_id", "m"),
                    _col("grain", "mp"),
                    _col("label", "mp"),
                    *(exp.alias_(exp.Sum(this=_col(n, "m")), n) for n in names),
                )
                .from_(monthly.subquery("m"))
                .join(
                    exp.to_table("kraft_month_periods").as_("mp"),
                    on=_eq(_col("month_key", "mp"), _col("month_key", "m")),
                )
                .group_by(_col("entity_id", "m"), _col("grain", "mp"), _col("label", "mp"))
            )
        if additive:
            # Counts and sums re-aggregate: teams and the company add up their RMs' results
            # instead of reading the rows again through the bridge.
            rolled = (
                exp.select(
                    _col("entity_type", "e"),
                    _col("entity_id", "e"),
                    _col("grain", "r"),
                    _col("label", "r"),
                    *(exp.alias_(exp.Sum(this=_col(n, "r")), n) for n in names),
                )
                .from_(exp.to_table(f"kraft_rmagg_{plan.name}").as_("r"))
                .join(
                    exp.to_table("kraft_rm_entities").as_("e"),
                    on=_eq(_col("rm_id", "e"), _col("entity_id", "r")),
                )
                .group_by(
                    _col("entity_type", "e"),
                    _col("entity_id", "e"),
                    _col("grain", "r"),
                    _col("label", "r"),
                )
            )
            union: exp.Query = exp.union(
                exp.select(exp.Star()).from_(f"kraft_rmagg_{plan.name}"), rolled, distinct=False
            )
            statements = [self._create(f"kraft_rmagg_{plan.name}", by_rm)]
            if distinct:
                statements += self._distinct_counts(plan, spine, on, distinct)
                union = self._with_distinct(plan.name, union, [c.value for c, _, _ in distinct])
            return [*statements, self._create(f"kraft_agg_{plan.name}", union)]
        return [
            self._create(
                f"kraft_agg_{plan.name}", exp.union(by_rm, by_entity, distinct=False, copy=False)
            )
        ]

    def _distinct_counts(
        self,
        plan: FactPlan,
        spine: str,
        on: exp.Expr,
        distinct: list[tuple[MeasureColumns, exp.Expr, exp.Expr | None]],
    ) -> list[str]:
        """kraft_distinct_<name>: distinct counts per RM, team and company, and period.

        Each RM's keys are collected once per period (kraft_keys_<name>_<n>, one table per key
        expression, a 0/1 flag per measure). A key that only one RM ever holds counts for that
        RM's teams and the company by addition; only keys shared by several RMs are counted
        again through the bridge, as distinct values over the union.
        """
        base = plan.fact.table
        groups: dict[str, tuple[exp.Expr, list[tuple[str, exp.Expr | None]]]] = {}
        for columns, key, condition in distinct:
            groups.setdefault(self.sql(key), (key, []))[1].append((columns.value, condition))
        values = [c.value for c, _, _ in distinct]
        statements: list[str] = []
        ctes: list[str] = []
        parts: list[str] = []
        for number, (key, members) in enumerate(groups.values()):
            table = f"kraft_keys_{plan.name}_{number}"
            flags = [
                exp.alias_(
                    exp.Max(
                        this=exp.Case(ifs=[exp.If(this=condition, true=_num(1))], default=_num(0))
                        if condition is not None
                        else _num(1)
                    ),
                    f"f_{name}",
                )
                for name, condition in members
            ]
            conditions = [condition for _, condition in members]
            wanted = (
                [exp.or_(*conditions)] if all(c is not None for c in conditions) else []
            )  # rows no measure counts need not be collected
            keys = (
                exp.select(
                    exp.alias_(_col("__rm", base), "rm"),
                    _col("grain", "p"),
                    _col("label", "p"),
                    exp.alias_(key.copy(), "k"),
                    *flags,
                )
                .from_(exp.to_table(f"kraft_fact_{plan.name}").as_(base))
                .join(exp.to_table(spine).as_("p"), on=on.copy())
                .where(
                    _and(
                        exp.Not(this=exp.Is(this=_col("__rm", base), expression=exp.null())),
                        exp.Not(this=exp.Is(this=key.copy(), expression=exp.null())),
                        *(w.copy() for w in wanted),
                    )
                )
                .group_by(_col("__rm", base), _col("grain", "p"), _col("label", "p"), key.copy())
            )
            statements.append(self._create(table, keys))
            mine = [name for name, _ in members]

            def spread(pick: Callable[[str], str], mine: list[str] = mine) -> str:
                return ", ".join(f"{pick(v) if v in mine else '0'} AS {v}" for v in values)

            ctes.append(
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
            parts += [
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
        totals = ", ".join(f"CAST(SUM({v}) AS BIGINT) AS {v}" for v in values)
        query = (
            f"WITH {', '.join(ctes)} SELECT entity_type, entity_id, grain, label, {totals} "
            f"FROM ({' UNION ALL '.join(parts)}) AS parts "
            "GROUP BY entity_type, entity_id, grain, label"
        )
        statements.append(self._create(f"kraft_distinct_{plan.name}", snippets.parse_query(query)))
        return statements

    @staticmethod
    def _with_distinct(name: str, additive: exp.Query, values: list[str]) -> exp.Query:
        """The additive measures of every entity and period, with their distinct counts."""
        on = _and(
            *(
                _eq(_col(c, "d"), _col(c, "a"))
                for c in ("entity_type", "entity_id", "grain", "label")
            )
        )
        return (
            exp.select(
                exp.Column(this=exp.Star(), table=exp.to_identifier("a")),
                *(
                    exp.alias_(exp.Coalesce(this=_col(v, "d"), expressions=[_num(0)]), v)
                    for v in values
                ),
            )
            .from_(additive.subquery("a"))
            .join(exp.to_table(f"kraft_distinct_{name}").as_("d"), on=on, join_type="left")
        )

    def _create(self, name: str, query: exp.Expr) -> str:
        return self.sql(
            exp.Create(
                this=exp.to_table(name),
                kind="TABLE",
                expression=query,
                properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            )
        )

    def aggregate_snapshot(self, plan: FactPlan) -> list[str]:
        """Snapshot measures by counting intervals, not by joining every row to every day.

        A row in force from __start to __end holds on day d when __start <= d <= __end. Each
        interval becomes +1 at the first snapshot month whose day is >= __start and -1 at the
        first whose day is >= __end + 1; the count on a period's day is the running sum up to
        its month. For a distinct count, the intervals of each entity and key are first merged
        where they overlap, so that a client with two policies in force counts once; the
        merged intervals do not depend on the snapshot day, so facts over the same rows (in
        force at the start and at the end of a period) share them (kraft_merged_<n>).
        """
        statements: list[str] = []
        base = plan.fact.table
        derived = self._derived(plan)
        first_day = plan.fact.when.snapshot == "first_day"
        day_key = "first_month_key" if first_day else "last_month_key"
        selects: list[exp.Expr] = []
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
            condition = self._measure_snippet(measure.filter, where, base, derived, {})
            key = self._measure_snippet(measure.expr, where, base, derived, {})
            index = len(plan.columns)
            prefix = f"m{index}"
            result = MeasureColumns(value=f"{prefix}_value", rows=f"{prefix}_rows", index=index)
            plan.columns[(metric, measure_name)] = result
            columns[signature] = result
            template = _DISTINCT_TEMPLATE if measure.agg == "count_distinct" else _COUNT_TEMPLATE
            substitutions: dict[str, exp.Expr] = {
                "keep": condition if condition is not None else exp.true(),
                "key": key if key is not None else exp.Literal.number(1),
            }
            merged = ""
            if measure.agg == "count_distinct":
                merged, staged = self._merged_intervals(plan, substitutions)
                statements += staged
            tree = snippets.parse_query(template)
            tree = snippets.substitute(
                tree,
                {
                    **substitutions,
                    "bucket_start": self._bucket(_col("s"), first_day),
                    "bucket_end": self._bucket(
                        exp.Add(this=_col("e"), expression=_num(1)), first_day
                    ),
                    "merged_bucket_start": self._bucket(_col("s"), first_day),
                    "merged_bucket_end": self._bucket(
                        exp.Add(this=_col("e"), expression=_num(1)), first_day
                    ),
                    "day_key": _col(day_key, "p"),
                    "measure": exp.Literal.number(index),
                },
            )
            bound = self._bind_fact(tree, plan.name, base, merged)
            assert isinstance(bound, exp.Query)
            selects.append(exp.select(exp.Star()).from_(bound.subquery(f"measure_{index}")))
        union = selects[0]
        for select in selects[1:]:
            union = exp.union(union, select, distinct=False, copy=False)
        assert isinstance(union, exp.Query)
        distinct = {c.value: c for c in plan.columns.values()}.values()
        pivot = [
            exp.alias_(exp.Max(this=_case(_eq(_col("measure"), _num(c.index)), _col(kind))), name)
            for c in distinct
            for kind, name in (("value", c.value), ("rows", c.rows))
        ]
        query = (
            exp.select(_col("entity_type"), _col("entity_id"), _col("grain"), _col("label"), *pivot)
            .from_(union.subquery("snapshots"))
            .group_by(_col("entity_type"), _col("entity_id"), _col("grain"), _col("label"))
        )
        return [*statements, self._create(f"kraft_agg_{plan.name}", query)]

    def _merged_intervals(
        self, plan: FactPlan, substitutions: dict[str, exp.Expr]
    ) -> tuple[str, list[str]]:
        """The table of merged intervals for this fact's rows and key; staged once per plan."""
        fact = plan.fact.model_dump()
        fact["when"].pop("snapshot")
        signature = json.dumps(
            [fact, {n: self.sql(e) for n, e in substitutions.items()}], sort_keys=True
        )
        if signature in self._merged:
            return self._merged[signature], []
        name = f"kraft_merged_{len(self._merged)}"
        self._merged[signature] = name
        tree = snippets.substitute(snippets.parse_query(_MERGED_TEMPLATE), substitutions)
        return name, [self._create(name, self._bind_fact(tree, plan.name, plan.fact.table))]

    @staticmethod
    def _bind_fact(tree: exp.Expr, fact: str, base: str, merged: str = "") -> exp.Expr:
        """The template's `fact_rows AS fact` becomes the staged fact under the table's name,
        and `merged_intervals` the fact's merged intervals."""

        def bind(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Table) and node.name == "merged_intervals":
                return exp.to_table(merged)
            if isinstance(node, exp.Table) and node.name == "fact_rows":
                return exp.to_table(f"kraft_fact_{fact}").as_(base)
            if isinstance(node, exp.Column) and node.table == "fact":
                return exp.column(node.name, table=base)
            return node

        return tree.transform(bind)

    @staticmethod
    def _bucket(day: exp.Expr, first_day: bool) -> exp.Expr:
        """The month whose snapshot day is the first on or after `day`."""
        key = _month_key(day)
        if not first_day:
            return key
        later = exp.Case(
            ifs=[
                exp.If(
                    this=exp.GT(
                        this=exp.Extract(this=exp.var("DAY"), expression=day.copy()),
                        expression=_num(1),
                    ),
                    true=_num(1),
                )
            ],
            default=_num(0),
        )
        return exp.Add(this=key, expression=later)

    def explain_rows(self, metric_name: str, fact_name: str, rm: str, label: str) -> str:
        """The rows of one fact behind one RM's value for one period, with each measure's test.

        The same staging and period join as the compute, restricted to the RM and period; a
        column per measure says whether the row counts in it (and with what value).
        """
        metric = self.catalogue.metrics[metric_name]
        plan = FactPlan(fact_name, self.catalogue.facts[fact_name])
        for measure_name, measure in metric.measures.items():
            if measure.fact == fact_name:
                plan.measures[(metric_name, measure_name)] = measure
        table = TABLES_BY_NAME[plan.fact.table]
        base = plan.fact.table
        read: set[str] = set()
        for measure in plan.measures.values():
            for text in (measure.expr, measure.filter):
                if text:
                    read |= snippets.column_names(snippets.parse(text, fact_name), base)
        for text in (
            plan.fact.when.date,
            plan.fact.when.label,
            *(plan.fact.when.overlap or {}).values(),
            *(plan.fact.when.in_force or {}).values(),
        ):
            if text:
                read |= snippets.column_names(snippets.parse(text, fact_name), base)
        derived_names = set(plan.fact.columns)
        for name in read & derived_names:
            read |= snippets.column_names(snippets.parse(plan.fact.columns[name], fact_name), base)
        shown = [c for c in table.column_names if c in table.key or c in read]
        stage = self.stage_select(plan, extra_columns=shown).subquery(base)
        derived = self._derived(plan)
        period_values: dict[str, exp.Expr] = {
            "period_start": _col("start_date", "p"),
            "period_end": _col("end_date", "p"),
        }
        columns: list[exp.Expr] = [_col(c, base) for c in shown]
        for (_, measure_name), measure in plan.measures.items():
            where = f"{metric_name}.{measure_name}"
            test = self._measure_snippet(measure.filter, where, base, derived, period_values)
            value = self._measure_snippet(measure.expr, where, base, derived, period_values)
            counted: exp.Expr = test if test is not None else exp.true()
            columns.append(
                exp.alias_(
                    exp.Coalesce(this=counted, expressions=[exp.false()]), f"in_{measure_name}"
                )
            )
            if value is not None and measure.agg != "count":
                columns.append(exp.alias_(value, f"{measure_name}_value"))
        spine, on = self._period_join(plan)
        query = (
            exp.select(*columns)
            .from_(stage)
            .join(exp.to_table(spine).as_("p"), on=on)
            .where(
                _and(
                    _eq(_col("__rm", base), exp.Literal.string(rm)),
                    _eq(_col("label", "p"), exp.Literal.string(label)),
                )
            )
            .order_by(*(_col(k, base) for k in table.key))
        )
        return self.sql(query)

    # -- metrics ----------------------------------------------------------------------------

    def assemble_metric(self, name: str, plans: dict[str, FactPlan]) -> exp.Select:
        """The metric's values for every entity and period that should have one."""
        metric = self.catalogue.metrics[name]
        joins: dict[str, str] = {}
        measure_sql: dict[str, exp.Expr] = {}
        rows_sql: dict[str, exp.Expr] = {}
        count_sql: dict[str, exp.Expr] = {}
        for measure_name, measure in metric.measures.items():
            alias = joins.setdefault(measure.fact, f"a{len(joins)}")
            columns = plans[measure.fact].columns[(name, measure_name)]
            value: exp.Expr = _col(columns.value, alias)
            if measure.agg in ("count", "count_distinct", "sum", "mean"):
                value = exp.Coalesce(this=value, expressions=[_num(0)])
            measure_sql[measure_name] = value
            rows_sql[measure_name] = exp.Coalesce(
                this=_col(columns.rows, alias), expressions=[_num(0)]
            )
            if columns.count:
                count_sql[measure_name] = exp.Coalesce(
                    this=_col(columns.count, alias), expressions=[_num(0)]
                )
        assert metric.numerator is not None

        def over_measures(text: str) -> exp.Expr:
            tree = snippets.parse(text, f"metric {name}")
            return snippets.substitute(tree, measure_sql)

        numerator = over_measures(metric.numerator)
        if metric.is_mean:
            denominator: exp.Expr | None = count_sql[metric.numerator]
        elif metric.per_month:
            denominator = _col("months", "ep")
        elif metric.denominator:
            denominator = over_measures(metric.denominator)
        else:
            denominator = None
        if denominator is None:
            result: exp.Expr = _double(numerator)
        else:
            ratio: exp.Expr = exp.Div(this=_double(numerator), expression=_double(denominator))
            if metric.scale != 1:
                ratio = exp.Mul(this=_num(metric.scale), expression=ratio)
            result = exp.Case(
                ifs=[
                    exp.If(
                        this=exp.or_(
                            exp.Is(this=denominator.copy(), expression=exp.null()),
                            _eq(denominator.copy(), _num(0)),
                        ),
                        true=exp.null(),
                    )
                ],
                default=ratio,
            )
        main = metric.denominator or metric.numerator
        row_measure = main if main in rows_sql else next(iter(rows_sql))
        provisional: exp.Expr = _col("open_period", "ep")
        if metric.provisional_when is not None:
            watch = metric.provisional_when
            alias = joins.setdefault(watch.fact, f"a{len(joins)}")
            watched = plans[watch.fact].columns[(name, PROVISIONAL)]
            provisional = exp.or_(
                provisional,
                exp.GT(
                    this=exp.Coalesce(this=_col(watched.value, alias), expressions=[_num(0)]),
                    expression=_num(0),
                ),
            )
        extra: exp.Expr = exp.cast(exp.null(), "VARCHAR")
        if metric.report:
            pairs: list[exp.Expr] = []
            for report in metric.report:
                pairs += [exp.Literal.string(report), measure_sql[report]]
            extra = self._json_object(pairs)
        select = exp.select(
            _col("entity_type", "ep"),
            _col("entity_id", "ep"),
            _col("grain", "ep"),
            exp.alias_(_col("label", "ep"), "period"),
            exp.alias_(exp.Literal.string(name), "kpi_id"),
            exp.alias_(result, "value"),
            exp.alias_(_double(numerator.copy()), "numerator"),
            exp.alias_(
                _double(denominator.copy())
                if denominator is not None
                else exp.cast(exp.null(), "DOUBLE"),
                "denominator",
            ),
            exp.alias_(rows_sql[row_measure], "row_count"),
            exp.alias_(provisional, "provisional"),
            exp.alias_(extra, "extra"),
        ).from_(exp.to_table("kraft_entity_periods").as_("ep"))
        for fact, alias in joins.items():
            on = _and(
                _eq(_col("entity_type", alias), _col("entity_type", "ep")),
                _eq(_col("entity_id", alias), _col("entity_id", "ep")),
                _eq(_col("label", alias), _col("label", "ep")),
            )
            select = select.join(
                exp.to_table(f"kraft_agg_{fact}").as_(alias), on=on, join_type="left", copy=False
            )
        return select.where(self._applies(metric))

    @staticmethod
    def _json_object(pairs: list[exp.Expr]) -> exp.Expr:
        """{"key": number, ...} built by concatenation: every engine renders it the same way."""
        parts: list[exp.Expr] = []
        for index in range(0, len(pairs), 2):
            key = pairs[index]
            assert isinstance(key, exp.Literal)
            prefix = "{" if index == 0 else ", "
            parts.append(exp.Literal.string(f'{prefix}"{key.this}": '))
            number = exp.cast(_double(pairs[index + 1]), "VARCHAR")
            parts.append(exp.Coalesce(this=number, expressions=[exp.Literal.string("null")]))
        parts.append(exp.Literal.string("}"))
        result = parts[0]
        for part in parts[1:]:
            result = exp.DPipe(this=result, expression=part)
        return result

    @staticmethod
    def _applies(metric: Metric) -> exp.Expr:
        if metric.leaders_only:
            return _and(
                _eq(_col("entity_type", "ep"), exp.Literal.string("rm")), _col("is_leader", "ep")
            )
        return exp.true()

    def derive_metric(self, name: str) -> exp.Select:
        """A metric over other metrics' values: x and previous(x) for this and the prior period."""
        metric = self.catalogue.metrics[name]
        assert metric.derived is not None
        tree = snippets.parse(metric.derived, f"metric {name}")
        joins: list[tuple[str, str, bool]] = []

        def replace(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Anonymous) and node.name.lower() == "previous":
                inner = node.expressions[0]
                alias = f"prev_{inner.name}"
                joins.append((alias, inner.name, True))
                return _col("value", alias)
            if isinstance(node, exp.Column) and not isinstance(node.parent, exp.Anonymous):
                alias = f"cur_{node.name}"
                joins.append((alias, node.name, False))
                return _col("value", alias)
            return node

        value = tree.transform(replace)
        provisional: exp.Expr = _col("open_period", "ep")
        select = exp.select(
            _col("entity_type", "ep"),
            _col("entity_id", "ep"),
            _col("grain", "ep"),
            exp.alias_(_col("label", "ep"), "period"),
            exp.alias_(exp.Literal.string(name), "kpi_id"),
            exp.alias_(_double(value), "value"),
            exp.alias_(exp.cast(exp.null(), "DOUBLE"), "numerator"),
            exp.alias_(exp.cast(exp.null(), "DOUBLE"), "denominator"),
            exp.alias_(_num(0), "row_count"),
        ).from_(exp.to_table("kraft_entity_periods").as_("ep"))
        seen: set[str] = set()
        for alias, source, previous in joins:
            if alias in seen:
                continue
            seen.add(alias)
            period = _col("prev_label" if previous else "label", "ep")
            on = _and(
                _eq(_col("kpi_id", alias), exp.Literal.string(source)),
                _eq(_col("entity_type", alias), _col("entity_type", "ep")),
                _eq(_col("entity_id", alias), _col("entity_id", "ep")),
                _eq(_col("period", alias), period),
            )
            select = select.join(exp.to_table(VALUES_TABLE).as_(alias), on=on, join_type="left")
            provisional = exp.or_(
                provisional,
                exp.Coalesce(this=_col("provisional", alias), expressions=[exp.false()]),
            )
        select = select.select(
            exp.alias_(provisional, "provisional"), exp.alias_(exp.null(), "extra")
        )
        return select.where(self._applies(metric))

    def definition_hash(self, name: str) -> str:
        metric = self.catalogue.metrics[name]
        facts = {
            m.fact: self.catalogue.facts[m.fact].model_dump() for m in metric.measures.values()
        }
        parameters = {k: v for k, v in self.parameters.items() if k != "as_of"}
        payload = {"metric": metric.model_dump(), "facts": facts, "parameters": parameters}
        return hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]

    def plan(self, metrics: list[str]) -> Plan:
        """Statements for these metrics, and the query of their values.

        Only the metrics a derived one reads are written to kraft_new_values first (derived
        ones after what they read); every other value goes straight from one query into
        kpi_values, so that four million values are not written twice.
        """
        self._merged = {}
        base = [m for m in metrics if self.catalogue.metrics[m].derived is None]
        plans = self.fact_plans(base)
        statements: list[str] = []
        for plan in plans.values():
            statements.append(self.stage_fact(plan))
            statements += self.aggregate_fact(plan)
        read = {
            column.name
            for m in metrics
            if (derived := self.catalogue.metrics[m].derived) is not None
            for column in snippets.parse(derived, m).find_all(exp.Column)
        }
        selects: list[exp.Query] = [exp.select(*VALUE_COLUMNS).from_(VALUES_TABLE)]
        for name in metrics:
            metric = self.catalogue.metrics[name]
            if metric.derived is None:
                select = self.assemble_metric(name, plans)
            else:
                select = self.derive_metric(name)
            if name in read:
                statements.append(
                    self.sql(
                        exp.insert(select, VALUES_TABLE, columns=list(VALUE_COLUMNS), copy=False)
                    )
                )
            else:
                selects.append(select)
        union = selects[0]
        for query in selects[1:]:
            union = exp.union(union, query, distinct=False, copy=False)
        hashes = {m: self.definition_hash(m) for m in metrics}
        return Plan(self.dialect, statements, self.sql(union), metrics, hashes)


def metrics_needed(catalogue: Catalogue, wanted: list[str]) -> list[str]:
    """The wanted metrics and every metric a derived one reads, derived ones last."""
    needed: list[str] = []

    def add(name: str) -> None:
        if name in needed:
            return
        metric = catalogue.metrics[name]
        if metric.derived:
            for column in snippets.parse(metric.derived, name).find_all(exp.Column):
                add(column.name)
        needed.append(name)

    for name in wanted:
        add(name)
    return sorted(needed, key=lambda n: catalogue.metrics[n].derived is not None)


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
