"""Stages 3 and 4: each metric's values for every entity and period that should have one,
from its measures' aggregates (assembled) or from other metrics' values (derived)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from kraft.metrics import snippets
from kraft.metrics.compile.plans import PROVISIONAL, VALUES_TABLE, FactPlan
from kraft.metrics.compile.sql import and_, col, double, eq, num
from kraft.metrics.spec import Metric


@dataclass
class MeasureValues:
    """A metric's measures as read from the aggregates, by measure name."""

    joins: dict[str, str] = field(default_factory=dict)  # fact → alias of its kraft_agg table
    values: dict[str, exp.Expr] = field(default_factory=dict)
    rows: dict[str, exp.Expr] = field(default_factory=dict)
    counts: dict[str, exp.Expr] = field(default_factory=dict)  # non-null values, for a mean


def assemble_metric(name: str, metric: Metric, plans: dict[str, FactPlan]) -> exp.Select:
    """The metric's values for every entity and period that should have one."""
    measures = measure_values(name, metric, plans)
    numerator, denominator, result = metric_value(name, metric, measures)
    main = metric.denominator or metric.numerator
    row_measure = main if main in measures.rows else next(iter(measures.rows))
    provisional = provisional_value(name, metric, plans, measures.joins)
    extra: exp.Expr = exp.cast(exp.null(), "VARCHAR")
    if metric.extra_measures:
        pairs: list[exp.Expr] = []
        for report in metric.extra_measures:
            pairs += [exp.Literal.string(report), measures.values[report]]
        extra = json_object(pairs)
    select = exp.select(
        col("entity_type", "ep"),
        col("entity_id", "ep"),
        col("grain", "ep"),
        exp.alias_(col("label", "ep"), "period"),
        exp.alias_(exp.Literal.string(name), "kpi_id"),
        exp.alias_(result, "value"),
        exp.alias_(double(numerator.copy()), "numerator"),
        exp.alias_(
            double(denominator.copy())
            if denominator is not None
            else exp.cast(exp.null(), "DOUBLE"),
            "denominator",
        ),
        exp.alias_(measures.rows[row_measure], "row_count"),
        exp.alias_(provisional, "provisional"),
        exp.alias_(extra, "extra"),
    ).from_(exp.to_table("kraft_entity_periods").as_("ep"))
    for fact, alias in measures.joins.items():
        on = and_(
            eq(col("entity_type", alias), col("entity_type", "ep")),
            eq(col("entity_id", alias), col("entity_id", "ep")),
            eq(col("label", alias), col("label", "ep")),
        )
        select = select.join(
            exp.to_table(f"kraft_agg_{fact}").as_(alias), on=on, join_type="left", copy=False
        )
    return select.where(applies(metric))


def measure_values(name: str, metric: Metric, plans: dict[str, FactPlan]) -> MeasureValues:
    """Each measure's value, rows and count from its fact's aggregates; none is 0 where
    absence means none (counts, sums)."""
    measures = MeasureValues()
    for measure_name, measure in metric.measures.items():
        alias = measures.joins.setdefault(measure.fact, f"a{len(measures.joins)}")
        columns = plans[measure.fact].columns[(name, measure_name)]
        value: exp.Expr = col(columns.value, alias)
        if measure.agg in ("count", "count_distinct", "sum", "mean"):
            value = exp.Coalesce(this=value, expressions=[num(0)])
        measures.values[measure_name] = value
        measures.rows[measure_name] = exp.Coalesce(
            this=col(columns.rows, alias), expressions=[num(0)]
        )
        if columns.count:
            measures.counts[measure_name] = exp.Coalesce(
                this=col(columns.count, alias), expressions=[num(0)]
            )
    return measures


def metric_value(
    name: str, metric: Metric, measures: MeasureValues
) -> tuple[exp.Expr, exp.Expr | None, exp.Expr]:
    """Numerator, denominator (if any) and value: numerator ÷ denominator × scale, null when
    the denominator is null or 0."""
    assert metric.numerator is not None

    def over_measures(text: str) -> exp.Expr:
        tree = snippets.parse(text, f"metric {name}")
        return snippets.substitute(tree, measures.values)

    numerator = over_measures(metric.numerator)
    if metric.is_mean:
        denominator: exp.Expr | None = measures.counts[metric.numerator]
    elif metric.per_month:
        denominator = col("months", "ep")
    elif metric.denominator:
        denominator = over_measures(metric.denominator)
    else:
        denominator = None
    if denominator is None:
        return numerator, None, double(numerator)
    ratio: exp.Expr = exp.Div(this=double(numerator), expression=double(denominator))
    if metric.scale != 1:
        ratio = exp.Mul(this=num(metric.scale), expression=ratio)
    result = exp.Case(
        ifs=[
            exp.If(
                this=exp.or_(
                    exp.Is(this=denominator.copy(), expression=exp.null()),
                    eq(denominator.copy(), num(0)),
                ),
                true=exp.null(),
            )
        ],
        default=ratio,
    )
    return numerator, denominator, result


def provisional_value(
    name: str, metric: Metric, plans: dict[str, FactPlan], joins: dict[str, str]
) -> exp.Expr:
    """Provisional while the period is open or any watched row may still change the value
    (joins the watched fact's aggregates if no measure did)."""
    provisional: exp.Expr = col("open_period", "ep")
    if metric.provisional_when is None:
        return provisional
    watch = metric.provisional_when
    alias = joins.setdefault(watch.fact, f"a{len(joins)}")
    watched = plans[watch.fact].columns[(name, PROVISIONAL)]
    return exp.or_(
        provisional,
        exp.GT(
            this=exp.Coalesce(this=col(watched.value, alias), expressions=[num(0)]),
            expression=num(0),
        ),
    )


def json_object(pairs: list[exp.Expr]) -> exp.Expr:
    """{"key": number, ...} built by concatenation: every engine renders it the same way."""
    parts: list[exp.Expr] = []
    for index in range(0, len(pairs), 2):
        key = pairs[index]
        assert isinstance(key, exp.Literal)
        prefix = "{" if index == 0 else ", "
        parts.append(exp.Literal.string(f'{prefix}"{key.this}": '))
        number = exp.cast(double(pairs[index + 1]), "VARCHAR")
        parts.append(exp.Coalesce(this=number, expressions=[exp.Literal.string("null")]))
    parts.append(exp.Literal.string("}"))
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part)
    return result


def applies(metric: Metric) -> exp.Expr:
    """Which entities have a value: RM leaders only for a leaders-only metric, else all."""
    if metric.leaders_only:
        return and_(eq(col("entity_type", "ep"), exp.Literal.string("rm")), col("is_leader", "ep"))
    return exp.true()


def derive_metric(name: str, metric: Metric) -> exp.Select:
    """A metric over other metrics' values: x and previous(x) for this and the prior period."""
    assert metric.derived is not None
    tree = snippets.parse(metric.derived, f"metric {name}")
    joins: list[tuple[str, str, bool]] = []

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "previous":
            inner = node.expressions[0]
            alias = f"prev_{inner.name}"
            joins.append((alias, inner.name, True))
            return col("value", alias)
        if isinstance(node, exp.Column) and not isinstance(node.parent, exp.Anonymous):
            alias = f"cur_{node.name}"
            joins.append((alias, node.name, False))
            return col("value", alias)
        return node

    value = tree.transform(replace)
    provisional: exp.Expr = col("open_period", "ep")
    select = exp.select(
        col("entity_type", "ep"),
        col("entity_id", "ep"),
        col("grain", "ep"),
        exp.alias_(col("label", "ep"), "period"),
        exp.alias_(exp.Literal.string(name), "kpi_id"),
        exp.alias_(double(value), "value"),
        exp.alias_(exp.cast(exp.null(), "DOUBLE"), "numerator"),
        exp.alias_(exp.cast(exp.null(), "DOUBLE"), "denominator"),
        exp.alias_(num(0), "row_count"),
    ).from_(exp.to_table("kraft_entity_periods").as_("ep"))
    seen: set[str] = set()
    # Each source's value, numerator and denominator (loss ratio: claims ÷ earned premium), so
    # that the value can be explained and scored by its volume.
    volumes: list[exp.Expr] = []
    for alias, source, previous in joins:
        if alias in seen:
            continue
        seen.add(alias)
        key = f"previous_{source}" if previous else source
        for part in ("value", "numerator", "denominator"):
            name = key if part == "value" else f"{key}_{part}"
            volumes += [exp.Literal.string(name), col(part, alias)]
        period = col("prev_label" if previous else "label", "ep")
        on = and_(
            eq(col("kpi_id", alias), exp.Literal.string(source)),
            eq(col("entity_type", alias), col("entity_type", "ep")),
            eq(col("entity_id", alias), col("entity_id", "ep")),
            eq(col("period", alias), period),
        )
        select = select.join(exp.to_table(VALUES_TABLE).as_(alias), on=on, join_type="left")
        provisional = exp.or_(
            provisional,
            exp.Coalesce(this=col("provisional", alias), expressions=[exp.false()]),
        )
    extra = json_object(volumes) if volumes else exp.null()
    select = select.select(exp.alias_(provisional, "provisional"), exp.alias_(extra, "extra"))
    return select.where(applies(metric))
