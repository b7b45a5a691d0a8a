"""The metric compiler: the statements that compute a set of metrics, and the query of their
values, in one dialect (duckdb, postgres, spark).

Each stage lives in kraft.metrics.compile (staging, aggregation, assembly, ...); this module
puts them in order and holds what they share: the catalogue, the parameters and the dialect.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlglot import exp

from kraft.metrics import snippets
from kraft.metrics.compile.aggregation import aggregate_fact
from kraft.metrics.compile.assembly import assemble_metric, derive_metric
from kraft.metrics.compile.context import SqlContext
from kraft.metrics.compile.dialect import Dialect
from kraft.metrics.compile.explain import explain_rows
from kraft.metrics.compile.plans import PROVISIONAL, VALUE_COLUMNS, VALUES_TABLE, FactPlan
from kraft.metrics.compile.sql import union_all
from kraft.metrics.compile.staging import stage_fact, stage_select
from kraft.metrics.spec import Catalogue


@dataclass
class Plan:
    """SQL statements to run in order, and what they produce."""

    dialect: Dialect
    statements: list[str]
    values_query: str  # every value, read once by the transaction that stores them
    metrics: list[str]
    definition_hashes: dict[str, str]


class Compiler:
    """Compiles metrics of one catalogue, under these parameters, to SQL of one dialect."""

    def __init__(
        self, catalogue: Catalogue, parameters: Mapping[str, int | date], dialect: Dialect
    ) -> None:
        self.catalogue = catalogue
        self.parameters = parameters
        self.dialect = dialect
        self.context = SqlContext(parameters, dialect)
        self._merged: dict[str, str] = {}  # merged-interval tables staged, by what they merge

    def sql(self, tree: exp.Expr) -> str:
        return self.context.sql(tree)

    def fact_plans(self, metrics: list[str]) -> dict[str, FactPlan]:
        """The facts these metrics read, each with every measure (and provisional watch) on it."""
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

    def stage_select(self, plan: FactPlan, extra_columns: Iterable[str] = ()) -> exp.Select:
        """The fact's rows: the RM credited, period keys, the columns the measures read."""
        return stage_select(self.context, plan, extra_columns)

    def explain_rows(self, metric_name: str, fact_name: str, rm: str, label: str) -> str:
        """The rows of one fact behind one RM's value for one period, with each measure's test."""
        return explain_rows(self.context, self.catalogue, metric_name, fact_name, rm, label)

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
            statements.append(stage_fact(self.context, plan))
            statements += aggregate_fact(self.context, plan, self._merged)
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
                select = assemble_metric(name, metric, plans)
            else:
                select = derive_metric(name, metric)
            if name in read:
                statements.append(
                    self.sql(
                        exp.insert(select, VALUES_TABLE, columns=list(VALUE_COLUMNS), copy=False)
                    )
                )
            else:
                selects.append(select)
        hashes = {m: self.definition_hash(m) for m in metrics}
        return Plan(self.dialect, statements, self.sql(union_all(selects)), metrics, hashes)


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
