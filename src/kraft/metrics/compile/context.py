"""What every stage of the compiler shares: the dialect it writes and the parameters it binds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlglot import exp

from kraft.metrics import snippets
from kraft.metrics.compile.dialect import Dialect, sql_dialect
from kraft.metrics.compile.plans import FactPlan
from kraft.metrics.compile.sql import num, qualify


class SqlContext:
    """Writes trees as SQL of one dialect and binds catalogue snippets to the parameters."""

    def __init__(self, parameters: Mapping[str, int | date], dialect: Dialect) -> None:
        self.parameters = parameters
        self.dialect = dialect

    def sql(self, tree: exp.Expr) -> str:
        return tree.sql(dialect=sql_dialect(self.dialect))

    def create(self, name: str, query: exp.Expr) -> str:
        """CREATE TEMPORARY TABLE name AS query."""
        return self.sql(
            exp.Create(
                this=exp.to_table(name),
                kind="TABLE",
                expression=query,
                properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            )
        )

    def bound_parameters(self) -> dict[str, exp.Expr]:
        """The parameters as SQL literals: dates as DATE casts, numbers as numbers."""
        return {
            name: exp.cast(exp.Literal.string(value.isoformat()), "DATE")
            if isinstance(value, date)
            else num(value)
            for name, value in self.parameters.items()
        }

    def as_of(self) -> exp.Expr | None:
        """The data's as-of date as a DATE literal (None when the parameters have none)."""
        return self.bound_parameters().get("as_of")

    def snippet(self, text: str, where: str) -> exp.Expr:
        return snippets.substitute(snippets.parse(text, where), self.bound_parameters())

    def derived_columns(self, plan: FactPlan) -> dict[str, exp.Expr]:
        """The fact's derived columns, over its own table's bare columns."""
        fact = plan.fact
        return {
            name: snippets.unqualify(self.snippet(text, f"{plan.name}.{name}"), fact.table)
            for name, text in fact.columns.items()
        }

    def measure_snippet(
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
            snippets.substitute(snippets.parse(text, where), self.bound_parameters()), base
        )
        inline = {
            n: snippets.substitute(derived[n], period_values)
            for n in snippets.column_names(tree, base)
            if n in derived and snippets.placeholders(derived[n]) & set(period_values)
        }
        return qualify(snippets.substitute(tree, inline), base)
