"""SQL snippets of the catalogue: parsed by SQLGlot, checked against the known columns.

A snippet is an expression, never a statement. It may read the columns of its fact's tables (and
the derived columns and measures it is allowed to name), call a short list of functions, use
EXISTS over a known table, and name parameters as :name. Anything else is refused before a query
is built, so nothing but checked SQL reaches a database.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlglot import exp, parse_one
from sqlglot.errors import ParseError

from kraft.errors import KraftError
from kraft.schema.tables import TABLES_BY_NAME

READ_DIALECT = "duckdb"

ALLOWED_FUNCTIONS: tuple[type[exp.Expr], ...] = (
    exp.Coalesce,
    exp.DateDiff,
    exp.Greatest,
    exp.Least,
    exp.Lower,
    exp.Upper,
    exp.Abs,
    exp.Round,
    exp.Cast,
    exp.Case,
    exp.If,
    exp.Exists,
)
PERIOD_PLACEHOLDERS = frozenset({"day", "period_start", "period_end"})


class SnippetError(KraftError):
    """A catalogue snippet that does not parse or reads what it may not."""


def parse(snippet: str, where: str) -> exp.Expr:
    try:
        tree = parse_one(snippet, read=READ_DIALECT)
    except ParseError as exc:
        raise SnippetError(f"{where}: {snippet!r} is not a SQL expression ({exc}).") from None
    if not isinstance(tree, exp.Condition) or isinstance(tree, exp.Query):
        raise SnippetError(f"{where}: {snippet!r} is a statement; give an expression.")
    for query in tree.find_all(exp.Query):
        if not isinstance(query.parent, exp.Exists):
            raise SnippetError(f"{where}: {snippet!r}: subqueries are allowed only in EXISTS.")
    return tree


def parse_query(template: str) -> exp.Expr:
    """A query template of kraft's own (never a catalogue snippet): parsed, not checked."""
    return parse_one(template, read=READ_DIALECT)


def check(
    tree: exp.Expr,
    where: str,
    *,
    tables: Collection[str],
    names: Collection[str] = (),
    parameters: Collection[str] = (),
) -> None:
    """Refuse unknown columns, tables, functions and parameters.

    `tables` are the tables in scope (the fact's table and joins); `names` are further bare names
    allowed (derived columns, measures). Columns qualified by a subquery's alias are checked
    against that alias's table.
    """
    aliases = {t: t for t in tables}
    for select in tree.find_all(exp.Select):
        for table in select.find_all(exp.Table):
            if table.name not in TABLES_BY_NAME:
                raise SnippetError(f"{where}: {table.name!r} is not a table kraft knows.")
            aliases[table.alias_or_name] = table.name
        if select.find(exp.Join) is not None:
            raise SnippetError(f"{where}: joins inside a snippet are not allowed; use EXISTS.")
    bare_columns = {c for t in tables for c in TABLES_BY_NAME[t].column_names}
    for column in tree.find_all(exp.Column):
        qualifier = column.table
        if qualifier:
            if qualifier not in aliases:
                raise SnippetError(f"{where}: {qualifier!r} is not a table in scope.")
            if column.name not in TABLES_BY_NAME[aliases[qualifier]].column_names:
                raise SnippetError(f"{where}: {aliases[qualifier]} has no column {column.name!r}.")
        elif column.name not in bare_columns and column.name not in names:
            inner = _inner_tables(column, aliases)
            if not any(column.name in TABLES_BY_NAME[t].column_names for t in inner):
                raise SnippetError(f"{where}: unknown column {column.name!r}.")
    for placeholder in tree.find_all(exp.Placeholder):
        if placeholder.name not in parameters:
            raise SnippetError(f"{where}: unknown parameter :{placeholder.name}.")
    for func in tree.find_all(exp.Func):
        if isinstance(func, exp.Binary | exp.Connector | exp.Unary | exp.Predicate):
            continue  # operators (AND, +, =, NOT, IN, ...), not function calls
        if isinstance(func, exp.AggFunc) or not isinstance(func, ALLOWED_FUNCTIONS):
            name = func.sql_name() if not isinstance(func, exp.Anonymous) else func.name
            raise SnippetError(f"{where}: the function {name} is not allowed in a snippet.")


def _inner_tables(column: exp.Column, aliases: Mapping[str, str]) -> list[str]:
    select = column.find_ancestor(exp.Select)
    if select is None:
        return []
    return [aliases[t.alias_or_name] for t in select.find_all(exp.Table)]


def placeholders(tree: exp.Expr) -> set[str]:
    return {p.name for p in tree.find_all(exp.Placeholder)}


def substitute(tree: exp.Expr, values: Mapping[str, exp.Expr]) -> exp.Expr:
    """A copy with :name placeholders and bare names replaced by the given expressions."""

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder) and node.name in values:
            return values[node.name].copy()
        if (
            isinstance(node, exp.Column)
            and not node.table
            and node.name in values
            and not isinstance(node.parent, exp.Dot)
        ):
            return exp.Paren(this=values[node.name].copy())
        return node

    return tree.copy().transform(replace)


def unqualify(tree: exp.Expr, table: str) -> exp.Expr:
    """Columns qualified with the fact's own table lose the qualifier (they live in the fact)."""

    def strip(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.table == table and outermost(node):
            return exp.column(node.name)
        return node

    return tree.copy().transform(strip)


def outermost(node: exp.Expr) -> bool:
    """Outside any subquery: the snippet's own level, where its fact's columns are read."""
    return node.find_ancestor(exp.Select) is None


def column_names(tree: exp.Expr, table: str) -> set[str]:
    """Columns of the fact's own table that the snippet reads outside any subquery."""
    names = set()
    for column in tree.find_all(exp.Column):
        if outermost(column) and column.table in ("", table):
            names.add(column.name)
    return names
