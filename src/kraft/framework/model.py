"""The framework as typed data: KRAs (what an RM answers for) × KPIs (how well).

Fields that a person fills in (definition, unit, target, ...) may be missing here: the model only
refuses what cannot be read at all; whether a framework is complete and SMART is the linter's job
(`kraft.framework.smart`), so that a half-written framework still loads and gets a useful report.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum, StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kraft.periods import Grain

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64),
    Field(description="lower_snake_case id: letters, digits and _, starting with a letter"),
]


class KpiKind(StrEnum):
    """Where a KPI's value comes from."""

    computed = "computed"  # compiled from operational rows by the metric catalogue
    score = "score"  # derived from kraft's own scores (second scoring pass)
    manual = "manual"  # entered per period in the measurements table


class Unit(Enum):
    """A plain Enum: as a str subclass its member `count` would shadow str.count."""

    percent = "percent"
    count = "count"
    count_per_month = "count_per_month"
    currency = "currency"
    days = "days"
    score_0_100 = "score_0_100"
    points = "points"


class Direction(StrEnum):
    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"


class ScoringMethod(StrEnum):
    ratio = "ratio"
    inverse = "inverse"
    zero_target = "zero_target"
    linear = "linear"
    bands = "bands"
    binary = "binary"


class AppliesTo(StrEnum):
    all = "all"
    team_leaders = "team_leaders"


class Role(StrEnum):
    admin = "admin"
    manager = "manager"
    rm = "rm"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Band(_Strict):
    """One range of a `bands` scoring method: values from `min` (inclusive) score `points`."""

    min: Decimal = Field(description="lowest actual value (inclusive) that earns these points")
    points: Decimal = Field(ge=0, description="score for an actual in this band")


class Gate(_Strict):
    """A rule that caps a score or rating when the KPI misses, whatever the other KPIs say."""

    kind: Literal["kra_score_cap", "rating_cap"] = Field(
        description="kra_score_cap: any non-zero actual caps the KRA's score at `cap`; "
        "rating_cap: an actual below the threshold caps the rating at `cap`"
    )
    cap: Decimal = Field(ge=0, description="the score (kra_score_cap) or rating (rating_cap) cap")


class KPI(_Strict):
    """How well a KRA is done: one SMART measure with its unit, direction, grain and target."""

    id: Identifier
    name: str = Field(min_length=1, description="display name (the seed's wording)")
    definition: str | None = Field(
        default=None, description="the formula in words: what is counted, over what, by which date"
    )
    kind: KpiKind = Field(
        description="computed: from operational rows; score: from kraft's scores; manual: entered"
    )
    metric: str | None = Field(
        default=None, description="computed KPIs: the id of the metric in the metric catalogue"
    )
    unit: Unit | None = Field(
        default=None, description="the unit of the value (percent: 85.0 means 85 %)"
    )
    direction: Direction | None = Field(default=None, description="which way is better")
    grain: Grain | None = Field(
        default=None, description="review period: the shortest period on which it is scored"
    )
    target: Decimal | None = Field(default=None, description="default target per grain period")
    threshold: Decimal | None = Field(
        default=None,
        description="the least acceptable actual; worse than this is 'below threshold'",
    )
    cap: Decimal = Field(default=Decimal(120), gt=0, description="highest KPI score (0–cap)")
    weight: Decimal | None = Field(
        default=None, ge=0, description="weight inside the KRA; all or none given, summing to 100"
    )
    scoring: ScoringMethod = Field(default=ScoringMethod.ratio, description="scoring method")
    bands: tuple[Band, ...] = Field(default=(), description="the bands, for scoring: bands")
    gate: Gate | None = Field(default=None, description="optional gate on the KRA or the rating")
    min_volume: int = Field(
        default=1, ge=0, description="smallest denominator or row count for the KPI to be scored"
    )
    entered_by: tuple[Role, ...] = Field(
        default=(), description="manual KPIs: roles that may enter the measurement"
    )


class KRA(_Strict):
    """What an RM is responsible for: a weighted area holding its KPIs."""

    id: Identifier
    number: int = Field(ge=1, description="position in the document, 1-based")
    title: str = Field(min_length=1, description="the KRA's heading, e.g. Relationship Building")
    statement: str | None = Field(default=None, description="the 'KRA:' sentence")
    short_description: str | None = Field(default=None, description="the 'Short Description:'")
    weight: Decimal = Field(ge=0, description="percent of the overall score; KRAs sum to 100")
    applies_to: AppliesTo = Field(
        default=AppliesTo.all, description="team_leaders: only RMs who lead a team are scored on it"
    )
    kpis: tuple[KPI, ...] = Field(min_length=1, description="the KRA's KPIs, in document order")


class ExampleKPI(_Strict):
    """A KPI of the worked example, measured by the initiative analysis (before/after, DiD)."""

    id: Identifier
    name: str = Field(min_length=1, description="display name (the seed's wording)")
    definition: str | None = Field(default=None, description="how it is measured, in words")
    unit: Unit | None = Field(default=None, description="the unit of the value")
    direction: Direction | None = Field(default=None, description="which way is better")


class Example(_Strict):
    """The seed's 'Real-Time Example of KRA & KPI': an initiative with its own KPIs."""

    title: str = Field(min_length=1, description="the initiative's name")
    statement: str = Field(min_length=1, description="the example's 'KRA:' sentence")
    kpis: tuple[ExampleKPI, ...] = Field(min_length=1, description="listed as KPI 1, KPI 2, ...")
    conclusion: str | None = Field(default=None, description="the closing sentence")


class RatingBand(_Strict):
    rating: int = Field(ge=1, le=9, description="the rating number, highest first")
    label: str = Field(min_length=1, description="e.g. Outstanding")
    min_score: Decimal = Field(
        description="lowest rounded overall score with this rating; the lowest band takes any score"
    )


DEFAULT_RATING_BANDS: tuple[RatingBand, ...] = (
    RatingBand(rating=5, label="Outstanding", min_score=Decimal(110)),
    RatingBand(rating=4, label="Exceeds", min_score=Decimal(95)),
    RatingBand(rating=3, label="Meets", min_score=Decimal(80)),
    RatingBand(rating=2, label="Needs improvement", min_score=Decimal(60)),
    RatingBand(rating=1, label="Unsatisfactory", min_score=Decimal(0)),
)


class Framework(_Strict):
    """A role's KRA/KPI framework, as the seed document structures it."""

    id: Identifier
    role: str = Field(
        min_length=1, description="the role; the document's title is '<role> KRA/KPI'"
    )
    title: str = Field(min_length=1, description="display name in lists and pages")
    version: str = Field(default="1", min_length=1, description="bumped on every change")
    description: str | None = Field(default=None, description="a paragraph for people")
    currency: str = Field(default="INR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    kras: tuple[KRA, ...] = Field(min_length=1, description="the KRAs, in document order")
    example: Example | None = Field(default=None, description="the worked example, if any")
    takeaways: tuple[str, ...] = Field(default=(), description="the 'Key Takeaways' bullets")
    rating_bands: tuple[RatingBand, ...] = Field(
        default=DEFAULT_RATING_BANDS, description="overall score → rating, highest first"
    )

    @property
    def document_title(self) -> str:
        return f"{self.role} KRA/KPI"

    def kpis(self) -> list[tuple[KRA, KPI]]:
        """Every KPI with its KRA, in document order."""
        return [(kra, kpi) for kra in self.kras for kpi in kra.kpis]

    def kpi(self, kpi_id: str) -> KPI:
        for _, kpi in self.kpis():
            if kpi.id == kpi_id:
                return kpi
        raise KeyError(kpi_id)
