"""The metric catalogue as typed data, validated before anything runs.

See catalogue.yaml for the vocabulary. Every SQL snippet is parsed by SQLGlot and its columns are
checked against the tables it may read (kraft.metrics.snippets), so no free SQL reaches a database.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlglot import exp

from kraft.errors import KraftError
from kraft.metrics.snippets import PERIOD_PLACEHOLDERS, SnippetError, check, parse
from kraft.safe_yaml import YamlRefusedError, load, refused_sentence
from kraft.schema.tables import TABLES_BY_NAME

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
    # A due-based ratio (retention, renewal): the measure counting the due cases whose outcome is
    # known on the as-of date (renewed, or past their grace). Stored in `extra` under its name;
    # pacing forecasts the period as numerator ÷ this × scale, leaving the cases still inside
    # their grace out of both, never counting what is not yet due, or not yet late, as lost.
    decided: str | None = None

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
        if self.decided is not None:
            if self.decided not in self.measures:
                raise ValueError(f"decided names unknown measure {self.decided!r}")
            if self.denominator is None:
                raise ValueError("decided is for a ratio: give a denominator")
        return self

    @property
    def extra_measures(self) -> tuple[str, ...]:
        """The measures stored in `extra`: those reported, and the decided cases."""
        if self.decided is None or self.decided in self.report:
            return self.report
        return (*self.report, self.decided)

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
    """The built-in catalogue, validated: its structure, then every snippet in it."""
    text = resources.files("kraft.metrics").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    return parse_catalogue(text, "The metric catalogue")


def parse_catalogue(text: str, source: str) -> Catalogue:
    """A catalogue from its YAML text, its structure and every snippet in it checked."""
    try:
        catalogue = Catalogue.model_validate(load(text))
    except YamlRefusedError as exc:
        raise KraftError(refused_sentence(source, exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KraftError(f"{source} is invalid at {where}: {first['msg']}.") from None
    check_catalogue(catalogue)
    return catalogue


def check_catalogue(catalogue: Catalogue) -> None:
    """Parse and check every snippet of the catalogue (called when it is loaded)."""
    for fact_name, fact in catalogue.facts.items():
        _check_fact(fact_name, fact)
    for metric_name, metric in catalogue.metrics.items():
        _check_metric(catalogue, metric_name, metric)


def _check_fact(fact_name: str, fact: Fact) -> None:
    """A fact's snippets read its tables; its period snippets may name the period's bounds."""
    tables = [fact.table, *(j.table for j in fact.joins)]
    for table in tables:
        if table not in TABLES_BY_NAME:
            raise SnippetError(f"fact {fact_name}: {table!r} is not a table kraft knows.")
    at = f"fact {fact_name}"
    period_params = (*PARAMETERS, *PERIOD_PLACEHOLDERS)
    for join in fact.joins:
        check(parse(join.condition, f"{at} join"), f"{at} join", tables=tables)
    check(parse(fact.rm, f"{at} rm"), f"{at} rm", tables=tables)
    if fact.where:
        check(
            parse(fact.where, f"{at} where"),
            f"{at} where",
            tables=tables,
            parameters=PARAMETERS,
        )
    when = fact.when
    for key, snippet in (
        ("date", when.date),
        ("label", when.label),
        *((f"overlap.{k}", v) for k, v in (when.overlap or {}).items()),
        *((f"in_force.{k}", v) for k, v in (when.in_force or {}).items()),
    ):
        if snippet:
            check(
                parse(snippet, f"{at} when.{key}"),
                f"{at} when.{key}",
                tables=[fact.table],
                parameters=period_params,
            )
    for name, snippet in fact.columns.items():
        check(
            parse(snippet, f"{at} column {name}"),
            f"{at} column {name}",
            tables=[fact.table],
            parameters=period_params,
        )


def _check_metric(catalogue: Catalogue, metric_name: str, metric: Metric) -> None:
    """Measures read their fact; numerator and denominator name measures; derived, metrics."""
    at = f"metric {metric_name}"
    for measure_name, measure in metric.measures.items():
        fact = catalogue.facts[measure.fact]
        for key, snippet in (("expr", measure.expr), ("filter", measure.filter)):
            if snippet:
                check(
                    parse(snippet, f"{at} {measure_name}.{key}"),
                    f"{at} {measure_name}.{key}",
                    tables=[fact.table],
                    names=fact.columns,
                    parameters=PARAMETERS,
                )
    for key, snippet in (("numerator", metric.numerator), ("denominator", metric.denominator)):
        if snippet:
            check(parse(snippet, f"{at} {key}"), f"{at} {key}", tables=[], names=metric.measures)
    if metric.derived:
        tree = parse(metric.derived, f"{at} derived")
        for func in tree.find_all(exp.Anonymous):
            if func.name.lower() != "previous":
                raise SnippetError(f"{at} derived: only previous(metric) may be called.")
        for column in tree.find_all(exp.Column):
            if column.name not in catalogue.metrics:
                raise SnippetError(f"{at} derived: unknown metric {column.name!r}.")
    if metric.provisional_when is not None:
        watch = metric.provisional_when
        if watch.fact not in catalogue.facts or watch.agg != "count":
            raise SnippetError(f"{at}: provisional_when counts rows of a known fact.")
        if watch.filter:
            fact = catalogue.facts[watch.fact]
            check(
                parse(watch.filter, f"{at} provisional_when"),
                f"{at} provisional_when",
                tables=[fact.table],
                names=fact.columns,
                parameters=PARAMETERS,
            )
