"""Snapshots of the generated SQL per dialect: any change to a query shows up in review.

Run with KRAFT_UPDATE_SNAPSHOTS=1 to rewrite them after an intended change.
"""

from __future__ import annotations

import os
from datetime import date

import pytest

from kraft.metrics.compiler import Compiler, metrics_needed
from kraft.metrics.spec import load_catalogue

from conftest import REPO

SNAPSHOTS = REPO / "tests" / "snapshots"
# The runner always binds the data's as-of date: the staging reads the tables as of it.
PARAMETERS = {"renewal_grace_days": 30, "free_look_days": 30, "as_of": date(2024, 11, 15)}


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark"])
@pytest.mark.parametrize(
    "metric",
    [
        "client_retention_rate",
        "revenue_per_quarter",
        "tech_adoption_rate",
        "market_penetration_growth_rate",
        "loss_ratio_improvement",
    ],
)
def test_generated_sql_matches_the_snapshot(metric: str, dialect: str) -> None:
    compiler = Compiler(load_catalogue(), PARAMETERS, dialect)
    plan = compiler.plan(metrics_needed(load_catalogue(), [metric]))
    text = ";\n\n".join([*plan.statements, plan.values_query]) + ";\n"
    path = SNAPSHOTS / f"{metric}.{dialect}.sql"
    if os.environ.get("KRAFT_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}; run with KRAFT_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def test_snippets_refuse_what_is_not_checked_sql() -> None:
    from kraft.errors import KraftError

    for bad, message in [
        ("DROP TABLE policies", "is a statement"),
        ("policies.nope > 1", "has no column 'nope'"),
        ("secret_column = 1", "unknown column 'secret_column'"),
        ("EXISTS (SELECT 1 FROM pg_user)", "not a table kraft knows"),
        ("read_csv('x') IS NULL", "is not allowed"),
        ("start_date <= :evil", "unknown parameter :evil"),
        ("sum(annual_premium) > 0", "is not allowed"),
    ]:
        with pytest.raises(KraftError, match=message):
            _check(bad)


def _check(snippet: str) -> None:
    from kraft.metrics import snippets

    tree = snippets.parse(snippet, "test")
    snippets.check(tree, "test", tables=["policies"], parameters=["renewal_grace_days"])
