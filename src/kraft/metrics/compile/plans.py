"""What the compiler plans per fact, and the names of the values every plan writes."""

from __future__ import annotations

from dataclasses import dataclass, field

from kraft.metrics.spec import Fact, Measure

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


@dataclass
class MeasureColumns:
    value: str  # column of the aggregate (sum for a mean)
    rows: str  # rows meeting the filter
    count: str | None = None  # non-null values, for a mean
    index: int = 0


@dataclass
class FactPlan:
    """One fact's measures, keyed by (metric, measure), and the columns that hold them once
    aggregated (filled in by the aggregation)."""

    name: str
    fact: Fact
    measures: dict[tuple[str, str], Measure] = field(default_factory=dict)
    columns: dict[tuple[str, str], MeasureColumns] = field(default_factory=dict)
