"""The SQL dialects kraft writes: a name SQLGlot knows, or Spark SQL as kraft runs it."""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp
from sqlglot.dialects.spark import Spark
from sqlglot.generators.spark import SparkGenerator

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
