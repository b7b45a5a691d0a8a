"""The metric catalogue as typed data, validated before anything runs.

See catalogue.yaml for the vocabulary. Every SQL snippet is parsed by SQLGlot and its columns are
checked against the tables it may read (kraft.metrics.snippets), so no free SQL reaches a database.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kraft.errors import KraftError

Aggregation = Literal["count", "count_distinct", "sum", "mean", "median", "min", "max"]
ADDITIVE: frozenset[str] = frozenset({"count", "sum"})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Join(_Spec):
    table: str
    condition: str


class When(_Spec):
    """How a fact's rows meet periods: exactly one of the four ways."""

    date: str | None = None
    snapshot: Literal["first_day", "last_day"] | None = None
    in_force: dict[Literal["start", "end"], str] | None = None
    overlap: dict[Literal["start", "end"], str] | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> When:
        ways = [self.date, self.snapshot, self.overlap, self.label]
        if sum(w is not None for w in ways) != 1:
            raise ValueError("give exactly one of date, snapshot, overlap, label")
        if (self.snapshot is None) != (self.in_force is None):
            raise ValueError("snapshot and in_force go together")
        for interval in (self.overlap, self.in_force):
            if interval is not None and set(interval) != {"start", "end"}:
                raise ValueError("an interval needs start and end")
        return self

    @property
    def kind(self) -> str:
        if self.date is not None:
            return "date"
        if self.snapshot is not None:
            return "snapshot"
        if self.overlap is not None:
            return "overlap"
        return "label"


class Fact(_Spec):
    table: str
    joins: tuple[Join, ...] = ()
    rm: str
    when: When
    where: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)


class Measure(_Spec):
    fact: str
    agg: Aggregation
    expr: str | None = None
    filter: str | None = None

    @model_validator(mode="after")
    def _expr_needed(self) -> Measure:
        if self.agg != "count" and self.expr is None:
            raise ValueError(f"agg {self.agg} needs expr")
        return self

    @property
    def additive(self) -> bool:
        return self.agg in ADDITIVE


class Metric(_Spec):
    """numerator [÷ denominator] × scale, or a per-month average, or derived from other metrics."""

    kpi: bool = True
    measures: dict[str, Measure] = Field(default_factory=dict)
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0
    per_month: bool = False
    derived: str | None = None
    report: tuple[str, ...] = ()
    # Rows that may still change the value (a due policy inside its grace, an open claim): any
    # such row keeps the value provisional, as does a period that is not over.
    provisional_when: Measure | None = None
    leaders_only: bool = False

    @model_validator(mode="after")
    def _shape(self) -> Metric:
        if self.derived is not None:
            if self.measures or self.numerator:
                raise ValueError("a derived metric has no measures or numerator of its own")
            return self
        if not self.measures or self.numerator is None:
            raise ValueError("give measures and a numerator (or derived)")
        if self.per_month and self.denominator is not None:
            raise ValueError("per_month divides by the period's months: no denominator")
        for name in self.report:
            if name not in self.measures:
                raise ValueError(f"report names unknown measure {name!r}")
        return self

    @property
    def is_mean(self) -> bool:
        """A single mean measure as numerator: value = sum ÷ rows (stored as such)."""
        return (
            self.denominator is None
            and self.numerator in self.measures
            and self.measures[self.numerator].agg == "mean"
        )


class Catalogue(_Spec):
    facts: dict[str, Fact]
    metrics: dict[str, Metric]

    @model_validator(mode="after")
    def _references(self) -> Catalogue:
        for name, metric in self.metrics.items():
            for measure_name, measure in metric.measures.items():
                if measure.fact not in self.facts:
                    raise ValueError(
                        f"metric {name} measure {measure_name}: no fact {measure.fact!r}"
                    )
        return self

    def kpi_ids(self) -> list[str]:
        return [name for name, metric in self.metrics.items() if metric.kpi]


PARAMETERS = ("renewal_grace_days", "free_look_days", "as_of")


@cache
def load_catalogue() -> Catalogue:
    """The built-in catalogue, validated (structure here, snippets in kraft.metrics.snippets)."""
    text = resources.files("kraft.metrics").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    try:
        catalogue = Catalogue.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KraftError(f"The metric catalogue is invalid at {where}: {first['msg']}.") from None
    from kraft.metrics.snippets import check_catalogue

    check_catalogue(catalogue)
    return catalogue
