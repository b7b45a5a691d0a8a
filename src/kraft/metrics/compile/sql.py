"""Small builders of SQLGlot expressions shared by every stage of the compiler."""

from __future__ import annotations

from sqlglot import exp

from kraft.metrics import snippets


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


def num(value: float | int) -> exp.Expr:
    return exp.Literal.number(value)


def double(expression: exp.Expr) -> exp.Cast:
    return exp.cast(expression, exp.DataType.build("DOUBLE"))


def exact(expression: exp.Expr) -> exp.Cast:
    """Sums add decimals: exact, so the same rows give the same total in any order or engine
    (money above all); each term is kept to 12 decimal places."""
    return exp.cast(expression, exp.DataType.build("DECIMAL(38, 12)"))


def and_(*conditions: exp.Expr) -> exp.Expr:
    result = conditions[0]
    for condition in conditions[1:]:
        result = exp.and_(result, condition)
    return result


def eq(a: exp.Expr, b: exp.Expr) -> exp.EQ:
    return exp.EQ(this=a, expression=b)


def case(condition: exp.Expr | None, then: exp.Expr) -> exp.Expr:
    if condition is None:
        return then
    return exp.Case(ifs=[exp.If(this=condition, true=then)])


def is_not_null(expression: exp.Expr) -> exp.Not:
    return exp.Not(this=exp.Is(this=expression, expression=exp.null()))


def month_key(date: exp.Expr) -> exp.Expr:
    """Months since year 0 (year × 12 + month − 1): the key of the month spine."""
    year = exp.Extract(this=exp.var("YEAR"), expression=date.copy())
    month = exp.Extract(this=exp.var("MONTH"), expression=date.copy())
    return exp.Sub(
        this=exp.Add(this=exp.Mul(this=year, expression=num(12)), expression=month),
        expression=num(1),
    )


def qualify(tree: exp.Expr, table: str) -> exp.Expr:
    """Bare columns of the fact's table, qualified for the staging query (joins may clash)."""

    def qualify_column(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and snippets.outermost(node):
            return exp.column(node.name, table=table)
        return node

    return tree.transform(qualify_column)


def union_all(queries: list[exp.Query]) -> exp.Query:
    """The queries' rows one after the other (UNION ALL), in order."""
    union = queries[0]
    for query in queries[1:]:
        union = exp.union(union, query, distinct=False, copy=False)
    return union
