"""The SQL behind a KPI as the KPI page and the API show it: what `kraft compute` runs for a
computed KPI's metric in the database's dialect, or the manual measurements' query."""

from __future__ import annotations

from datetime import date

from kraft.framework.model import KPI, KpiKind
from kraft.metrics.compiler import Compiler, metrics_needed
from kraft.metrics.manual import MANUAL_SQL
from kraft.metrics.runner import DIALECTS
from kraft.metrics.spec import load_catalogue
from kraft.web.site import Site


def kpi_sql(site: Site, kpi: KPI) -> str | None:
    """The KPI's SQL; None for a KPI scored from other KPIs. Compiled once per metric, dialect
    and compute parameters (Site.sql_kept)."""
    if kpi.kind is KpiKind.computed and kpi.metric:
        metric = kpi.metric
        dialect = DIALECTS[site.db.dialect]
        parameters = tuple(sorted(site.compute_parameters.items()))
        return site.sql_kept.get(
            ("metric-sql", metric, dialect, parameters),
            lambda: metric_sql(metric, dialect, dict(parameters)),
        )
    if kpi.kind is KpiKind.manual:
        return MANUAL_SQL.strip() + ";\n"
    return None


def metric_sql(metric: str, dialect: str, parameters: dict[str, int]) -> str:
    """The statements and values query `kraft compute` runs for the metric (and those it derives
    from), for the dialect; as of a fixed date: the SQL's shape does not depend on it."""
    catalogue = load_catalogue()
    compiler = Compiler(catalogue, {**parameters, "as_of": date(2000, 1, 1)}, dialect)
    plan = compiler.plan(metrics_needed(catalogue, [metric]))
    return ";\n\n".join([*plan.statements, plan.values_query]) + ";\n"
