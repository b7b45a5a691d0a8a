"""Which temporary tables of a plan Spark computes once (checkpoints): those that two statements
or the values query read; a table read by one statement stays lazy inside that statement's job."""

from __future__ import annotations

from datetime import date

import sqlglot

from kraft.framework.loader import DEFAULT_FRAMEWORK, load_builtin
from kraft.metrics.compile.dialect import SparkSQL
from kraft.metrics.runner import ComputeRequest, prepare_compute
from kraft.metrics.spark import _read_again
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar


def _trees(*statements: str) -> list[sqlglot.exp.Expr]:
    return [sqlglot.parse_one(s, read=SparkSQL) for s in statements]


def test_tables_read_twice_or_by_the_values_are_kept() -> None:
    trees = _trees(
        "CREATE TEMPORARY VIEW a AS SELECT * FROM policies",
        "CREATE TEMPORARY VIEW b AS SELECT * FROM a",
        "CREATE TEMPORARY VIEW c AS SELECT * FROM a JOIN b ON a.x = b.x",
        "CREATE TEMPORARY VIEW d AS SELECT * FROM claims",
        "INSERT INTO kraft_new_values (kpi_id) SELECT kpi_id FROM d",
    )
    values = sqlglot.parse_one("SELECT * FROM c UNION ALL SELECT * FROM kraft_new_values")
    kept = _read_again(trees, values)
    assert {"a", "c", "kraft_new_values"} <= kept  # a: read by b and c; c: by the values
    assert not {"b", "d"} & kept  # read by one statement each: lazy


def test_the_builtin_plan_keeps_what_the_values_read() -> None:
    prepared = prepare_compute(
        load_builtin(DEFAULT_FRAMEWORK),
        load_catalogue(),
        Calendar(1),
        {"renewal_grace_days": 30, "free_look_days": 15},
        ComputeRequest(),
        "spark",
        (date(2025, 12, 31), date(2024, 1, 1), date(2025, 12, 31)),
        {"T1": None},
        {"RM1": "T1"},
    )
    trees = [
        sqlglot.parse_one(s, read="postgres" if "kraft_manual" in s else SparkSQL)
        for s in prepared.statements
    ]
    values = sqlglot.parse_one(prepared.plan.values_query, read=SparkSQL)
    kept = _read_again(trees, values)
    created = [t.this.name for t in trees if isinstance(t, sqlglot.exp.Create)]
    read_by_values = {t.name for t in values.find_all(sqlglot.exp.Table)} & set(created)
    assert len(read_by_values) > 10 and read_by_values <= kept
    assert "kraft_entity_periods" in kept
    assert len(kept & set(created)) < len(created) / 2  # most tables stay lazy
