"""Scorecards against KPIS.md, "Scoring defaults": content, statuses, KRA and overall scores,
coverage, gates, rounding, rating, and the score-derived KPIs.

Every expectation is worked out by hand from KPIS.md, written as Decimal arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.framework.loader import load_builtin
from kraft.framework.model import (
    KPI,
    KRA,
    AppliesTo,
    Band,
    Direction,
    Framework,
    Gate,
    KpiKind,
    RatingBand,
    ScoringMethod,
    Unit,
)
from kraft.periods import Calendar, Grain, Period
from kraft.scoring.methods import Status
from kraft.scoring.scorecard import KpiScore, KraScore, Person, Scorecard, Scorer, Value
from kraft.scoring.targets import TargetBook

D = Decimal
UP = Direction.higher_is_better
DOWN = Direction.lower_is_better
CAL = Calendar(1)
MONTH = CAL.parse("2026-04")
QUARTER = CAL.parse("2026-Q2")
YEAR = CAL.parse("2026")
RM = Person("rm1", "north")
LEADER = Person("lead1", "north", leads="north")
BUILTIN = load_builtin("insurance_rm")


# -- building blocks -----------------------------------------------------------------------------


def kpi(
    kpi_id: str,
    *,
    unit: Unit = Unit.percent,
    direction: Direction = UP,
    grain: Grain = Grain.quarter,
    target: str = "100",
    threshold: str | None = "80",
    scoring: ScoringMethod = ScoringMethod.ratio,
    min_volume: int = 1,
    kind: KpiKind = KpiKind.computed,
    weight: str | None = None,
    gate: Gate | None = None,
    bands: tuple[Band, ...] = (),
) -> KPI:
    return KPI(
        id=kpi_id,
        name=kpi_id.replace("_", " ").capitalize(),
        kind=kind,
        unit=unit,
        direction=direction,
        grain=grain,
        target=D(target),
        threshold=None if threshold is None else D(threshold),
        scoring=scoring,
        min_volume=min_volume,
        weight=None if weight is None else D(weight),
        gate=gate,
        bands=bands,
    )


def kra(
    kra_id: str,
    number: int,
    weight: int,
    *kpis: KPI,
    applies_to: AppliesTo = AppliesTo.all,
) -> KRA:
    return KRA(
        id=kra_id,
        number=number,
        title=kra_id.replace("_", " ").capitalize(),
        weight=D(weight),
        applies_to=applies_to,
        kpis=kpis,
    )


def framework(*kras: KRA, bands: tuple[RatingBand, ...] | None = None) -> Framework:
    if bands is None:
        return Framework(id="probe", role="Probe", title="Probe", kras=kras)
    return Framework(id="probe", role="Probe", title="Probe", kras=kras, rating_bands=bands)


def val(value: float | None, denominator: float | None = None, provisional: bool = False) -> Value:
    return Value(value, denominator, provisional)


def scorer(fw: Framework) -> Scorer:
    return Scorer(fw, TargetBook(fw, (), {}))


def scorecard(
    fw: Framework,
    values: Mapping[str, Value],
    person: Person = RM,
    period: Period = QUARTER,
) -> Scorecard:
    s = scorer(fw)
    return s.finish(s.first_pass(person, period, values), values)


def item(card: Scorecard, kpi_id: str) -> KpiScore:
    return next(k for k in card.kpis if k.kpi_id == kpi_id)


def kra_of(card: Scorecard, kra_id: str) -> KraScore:
    return next(k for k in card.kras if k.kra_id == kra_id)


def close(actual: Decimal | None, expected: Decimal) -> bool:
    """Equal to 20 decimal places (means of three do not terminate)."""
    return actual is not None and abs(actual - expected) < D("1e-20")


def single(value: float) -> Scorecard:
    """One KRA with one ratio KPI of target 100: the overall score is the actual."""
    fw = framework(kra("core", 1, 100, kpi("k")))
    return scorecard(fw, {"k": val(value)})


# -- which KPIs a scorecard holds ----------------------------------------------------------------

YEARLY = {"new_market_segments", "innovation_success_rate", "certifications_obtained"}
MONTHLY = {"client_meetings_per_month", "education_sessions", "tech_adoption_rate"}
ALL_KPIS = {kpi.id for _, kpi in BUILTIN.kpis()}


def test_builtin_has_the_grains_of_kpis_md() -> None:
    assert len(ALL_KPIS) == 40
    assert {k.id for _, k in BUILTIN.kpis() if k.grain is Grain.year} == YEARLY
    assert {k.id for _, k in BUILTIN.kpis() if k.grain is Grain.month} == MONTHLY


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (MONTH, MONTHLY),
        (QUARTER, ALL_KPIS - YEARLY),  # month and quarter KPIs
        (YEAR, ALL_KPIS),
    ],
)
def test_scorecard_holds_kpis_no_longer_than_its_period(period: Period, expected: set[str]) -> None:
    card = scorecard(BUILTIN, {}, LEADER, period)
    assert {k.kpi_id for k in card.kpis} == expected
    assert len(card.kpis) == len(expected)


def test_empty_scorecard() -> None:
    card = scorecard(BUILTIN, {}, RM, QUARTER)
    assert all(
        k.status is (Status.not_applicable if k.kra_id == "team_leadership" else Status.no_data)
        for k in card.kpis
    )
    assert all(k.score is None for k in card.kpis)
    assert card.overall is None
    assert card.rating is None
    assert card.coverage == 0


def test_yearly_kpi_value_is_ignored_in_a_quarterly_scorecard() -> None:
    fw = framework(kra("core", 1, 100, kpi("q"), kpi("y", grain=Grain.year)))
    card = scorecard(fw, {"q": val(50.0), "y": val(120.0)})
    assert [k.kpi_id for k in card.kpis] == ["q"]
    assert card.overall == D("50.00")
    yearly = scorecard(fw, {"q": val(50.0), "y": val(120.0)}, period=YEAR)
    assert yearly.overall == (D(50) + D(120)) / 2  # 85.00


# -- statuses: insufficient volume, no data, provisional ----------------------------------------

VOLUME_FW = framework(
    kra(
        "core",
        1,
        100,
        kpi("rate", min_volume=5),  # a % KPI from rows
        kpi("survey", unit=Unit.score_0_100, min_volume=3),  # a survey mean
        kpi("visits", unit=Unit.count, target="4", threshold="2", min_volume=5),
        kpi("revenue", unit=Unit.currency, target="1000", threshold="800", min_volume=5),
        kpi("meetings", unit=Unit.count_per_month, target="20", threshold="15", min_volume=5),
    )
)


def test_insufficient_volume_is_shown_not_scored() -> None:
    values = {
        "rate": val(90.0, 4.0),  # denominator 4 < 5
        "survey": val(80.0, 2.0),  # 2 responses < 3
        "visits": val(4.0),
        "revenue": val(1000.0),
        "meetings": val(20.0),
    }
    card = scorecard(VOLUME_FW, values)
    for kpi_id in ("rate", "survey"):
        shown = item(card, kpi_id)
        assert shown.status is Status.insufficient_volume
        assert shown.score is None
        assert shown.actual is not None  # shown
    assert kra_of(card, "core").scored_kpis == 3
    assert kra_of(card, "core").applicable_kpis == 5
    assert card.overall == D("100.00")  # the three scored KPIs are at target


def test_volume_at_the_minimum_is_scored() -> None:
    values = {"rate": val(90.0, 5.0), "survey": val(80.0, 3.0)}
    card = scorecard(VOLUME_FW, values)
    assert item(card, "rate").score == D(90)  # 90 ÷ 100 × 100
    assert item(card, "rate").status is Status.on_track  # |90 − 100| ≤ 10
    assert item(card, "survey").score == D(80)


def test_counts_and_sums_are_always_scored_even_at_zero() -> None:
    values = {
        "visits": val(0.0),
        "revenue": val(0.0, 0.0),
        "meetings": val(0.0, 0.0),
    }
    card = scorecard(VOLUME_FW, values)
    for kpi_id in ("visits", "revenue", "meetings"):
        counted = item(card, kpi_id)
        assert counted.score == D(0)
        assert counted.status is Status.below_threshold
    assert card.overall == D("0.00")
    assert card.rating == 1


def test_no_data_is_not_scored() -> None:
    card = scorecard(VOLUME_FW, {"rate": val(None, 0.0), "visits": val(2.0)})
    assert item(card, "rate").status is Status.no_data
    assert item(card, "rate").score is None
    assert item(card, "survey").status is Status.no_data  # no value row at all
    assert item(card, "visits").score == D(2) / D(4) * 100  # 50
    assert card.overall == D("50.00")


def test_provisional_value_is_scored_with_status_provisional() -> None:
    values = {"rate": val(60.0, 50.0, provisional=True), "visits": val(4.0)}
    card = scorecard(VOLUME_FW, values)
    rate = item(card, "rate")
    assert rate.status is Status.provisional
    assert rate.provisional
    assert rate.score == D(60)  # 60 ÷ 100 × 100, though below the threshold 80
    assert card.overall == (D(60) + D(100)) / 2  # 80.00


# -- KRA scores, renormalisation and coverage ----------------------------------------------------

COVERAGE_FW = framework(
    kra("alpha", 1, 60, kpi("a1"), kpi("a2"), kpi("a3", min_volume=5)),
    kra("beta", 2, 40, kpi("b1"), kpi("b2")),
    kra("gamma", 3, 20, kpi("c1")),
    kra("lead", 4, 10, kpi("l1"), applies_to=AppliesTo.team_leaders),
)
COVERAGE_VALUES = {
    "a1": val(100.0, 50.0),
    "a2": val(80.0, 50.0),
    "a3": val(50.0, 3.0),  # insufficient volume
    "b1": val(None),
    "c1": val(130.0, 50.0),  # 130 → clamped 120
    "l1": val(100.0, 50.0),
}


def test_kra_score_is_the_mean_of_its_scored_kpis() -> None:
    card = scorecard(COVERAGE_FW, COVERAGE_VALUES)
    assert kra_of(card, "alpha").score == (D(100) + D(80)) / 2  # 90; a3 left out
    assert kra_of(card, "gamma").score == D(120)


def test_overall_renormalises_over_scored_kras() -> None:
    card = scorecard(COVERAGE_FW, COVERAGE_VALUES)
    assert kra_of(card, "beta").score is None  # nothing scored: left out of the overall
    assert "lead" not in {k.kra_id for k in card.kras}  # does not apply to a non-leader
    # (60 × 90 + 20 × 120) ÷ (60 + 20) = 7800 ÷ 80
    assert card.overall == (D(60) * D(90) + D(20) * D(120)) / (D(60) + D(20))  # 97.50
    assert card.rating == 4


def test_coverage() -> None:
    card = scorecard(COVERAGE_FW, COVERAGE_VALUES)
    # Applicable KRAs: alpha (2 of 3 scored), beta (0 of 2), gamma (1 of 1); lead does not apply.
    expected = (D(60) * 2 / 3 + D(40) * 0 / 2 + D(20) * 1 / 1) / (D(60) + D(40) + D(20)) * 100
    assert close(card.coverage, expected)  # 50 %
    assert kra_of(card, "alpha").scored_kpis == 2
    assert kra_of(card, "alpha").applicable_kpis == 3


def test_coverage_and_overall_of_a_leader() -> None:
    card = scorecard(COVERAGE_FW, COVERAGE_VALUES, LEADER)
    # lead applies: (60 × 2/3 + 40 × 0 + 20 × 1 + 10 × 1) ÷ 130 × 100 = 70 ÷ 130 × 100
    expected = (D(60) * 2 / 3 + D(20) + D(10)) / (D(60) + D(40) + D(20) + D(10)) * 100
    assert close(card.coverage, expected)  # 53.85 %
    # (60 × 90 + 20 × 120 + 10 × 100) ÷ 90 = 8800 ÷ 90 = 97.777… → 97.78
    assert card.overall == D("97.78")


def test_full_coverage() -> None:
    fw = framework(kra("alpha", 1, 50, kpi("a1")), kra("beta", 2, 50, kpi("b1")))
    card = scorecard(fw, {"a1": val(100.0), "b1": val(90.0)})
    assert card.coverage == 100
    assert card.overall == D("95.00")


def test_kpi_weights_inside_a_kra() -> None:
    fw = framework(
        kra("alpha", 1, 100, kpi("w70", weight="70"), kpi("w30", weight="30")),
    )
    card = scorecard(fw, {"w70": val(100.0), "w30": val(50.0)})
    assert card.overall == (D(70) * D(100) + D(30) * D(50)) / D(100)  # 85.00
    # With one weighted KPI unscored, the other carries the KRA alone.
    card = scorecard(fw, {"w30": val(50.0)})
    assert kra_of(card, "alpha").score == D(50)


# -- KRA 6: team leaders only --------------------------------------------------------------------

LEADERSHIP_KPIS = {
    "team_performance_improvement_rate",
    "employee_satisfaction_score",
    "team_training_completion_rate",
    "team_goal_achievement_rate",
}
LEADERSHIP_VALUES = {
    "employee_satisfaction_score": val(75.0, 10.0),  # at target 75
    "client_retention_rate": val(85.0, 40.0),  # at target 85
}


def test_team_leadership_not_applicable_to_a_non_leader() -> None:
    card = scorecard(BUILTIN, LEADERSHIP_VALUES, RM)
    leadership = [k for k in card.kpis if k.kra_id == "team_leadership"]
    assert {k.kpi_id for k in leadership} == LEADERSHIP_KPIS
    assert all(k.status is Status.not_applicable and k.score is None for k in leadership)
    assert "team_leadership" not in {k.kra_id for k in card.kras}
    # Relationship building: 1 of 4 scored; the other 8 KRAs applicable, weight 90 in all.
    expected = D(15) * 1 / 4 / D(90) * 100
    assert close(card.coverage, expected)
    assert card.overall == D("100.00")


def test_team_leadership_applies_to_a_leader() -> None:
    card = scorecard(BUILTIN, LEADERSHIP_VALUES, LEADER)
    satisfaction = item(card, "employee_satisfaction_score")
    assert satisfaction.score == D(100)
    assert satisfaction.status is Status.above_target
    leadership = kra_of(card, "team_leadership")
    assert leadership.score == D(100)
    assert (leadership.scored_kpis, leadership.applicable_kpis) == (1, 4)
    # Now all 10 KRAs apply (weight 100): 15 × 1/4 + 10 × 1/4.
    expected = (D(15) * 1 / 4 + D(10) * 1 / 4) / D(100) * 100
    assert close(card.coverage, expected)


# -- gates ---------------------------------------------------------------------------------------


def test_violation_caps_the_compliance_kra_at_60() -> None:
    values = {
        "compliance_audit_rating": val(102.0, 1.0),  # 102 ÷ 85 × 100 = 120
        "compliance_trainings_attended": val(2.0),  # 2 ÷ 1 × 100 = 200 → 120
        "regulatory_violations": val(1.0),  # 50
        "documentation_accuracy_rate": val(95.0, 20.0),  # 100
    }
    card = scorecard(BUILTIN, values)
    compliance = kra_of(card, "compliance")
    assert compliance.uncapped == (D(120) + D(120) + D(50) + D(100)) / 4  # 97.5
    assert compliance.score == D(60)
    assert compliance.capped_at == D(60)
    assert card.overall == D("60.00")  # compliance is the only KRA scored
    assert card.rating == 2


def test_violation_leaves_a_compliance_kra_below_60_unchanged() -> None:
    values = {
        "compliance_audit_rating": val(34.0, 1.0),  # 34 ÷ 85 × 100 = 40
        "compliance_trainings_attended": val(0.0),  # 0
        "regulatory_violations": val(2.0),  # 0
        "documentation_accuracy_rate": val(90.0, 20.0),  # 90 ÷ 95 × 100
    }
    card = scorecard(BUILTIN, values)
    expected = (D(40) + D(0) + D(0) + D(90) / D(95) * 100) / 4  # 33.68…
    assert close(kra_of(card, "compliance").score, expected)
    assert card.overall == D("33.68")


def test_no_violation_no_cap() -> None:
    values = {
        "compliance_audit_rating": val(102.0, 1.0),  # 120
        "regulatory_violations": val(0.0),  # 100
    }
    card = scorecard(BUILTIN, values)
    assert kra_of(card, "compliance").score == (D(120) + D(100)) / 2  # 110
    assert kra_of(card, "compliance").capped_at is None
    assert card.overall == D("110.00")
    assert card.rating == 5


SALES = {
    "sales_conversion_rate": val(30.0, 20.0),  # 30 ÷ 25 × 100 = 120
    "new_business_acquisition_rate": val(6.0, 100.0),  # 6 ÷ 5 × 100 = 120
    "cross_sell_success_rate": val(24.0, 10.0),  # 24 ÷ 20 × 100 = 120
}


def test_revenue_below_threshold_caps_the_rating_not_the_score() -> None:
    values = {**SALES, "revenue_per_quarter": val(1_100_000.0)}  # below 1 200 000
    card = scorecard(BUILTIN, values)
    revenue = D(1_100_000) / D(1_500_000) * 100  # 73.33…
    expected = (D(120) + revenue + D(120) + D(120)) / 4  # 108.333…
    assert close(kra_of(card, "sales_revenue").score, expected)
    assert card.overall == D("108.33")  # the score stands: Exceeds by the bands
    assert card.rating == 2
    assert card.rating_label == "Needs improvement"
    assert card.rating_capped_at == 2


def test_revenue_at_threshold_does_not_cap() -> None:
    values = {**SALES, "revenue_per_quarter": val(1_200_000.0)}  # 80
    card = scorecard(BUILTIN, values)
    assert card.overall == (D(120) + D(80) + D(120) + D(120)) / 4  # 110.00
    assert card.rating == 5
    assert card.rating_label == "Outstanding"
    assert card.rating_capped_at is None


def test_revenue_gate_below_needs_improvement_leaves_the_rating() -> None:
    card = scorecard(BUILTIN, {"revenue_per_quarter": val(300_000.0)})
    assert card.overall == D(300_000) / D(1_500_000) * 100  # 20.00
    assert card.rating == 1
    assert card.rating_label == "Unsatisfactory"


def test_revenue_gate_uses_the_scaled_threshold_in_a_year() -> None:
    # A year holds 4 quarters: target 4 × 1 500 000 = 6 000 000, threshold 4 × 1 200 000.
    card = scorecard(BUILTIN, {**SALES, "revenue_per_quarter": val(4_000_000.0)}, period=YEAR)
    revenue = D(4_000_000) / D(6_000_000) * 100  # 66.67
    assert close(kra_of(card, "sales_revenue").score, (D(360) + revenue) / 4)  # 106.67
    assert card.overall == D("106.67")
    assert card.rating == 2  # 4 000 000 < 4 800 000, though far above 1 200 000
    assert card.rating_capped_at == 2
    card = scorecard(BUILTIN, {**SALES, "revenue_per_quarter": val(4_800_000.0)}, period=YEAR)
    assert card.overall == (D(360) + D(80)) / 4  # 110.00
    assert card.rating == 5


# -- rounding and rating -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "overall", "rating", "label"),
    [
        (94.995, D("95.00"), 4, "Exceeds"),  # half-up, then rated from the rounded value
        (95.0, D("95.00"), 4, "Exceeds"),
        (94.994, D("94.99"), 3, "Meets"),
        (94.985, D("94.99"), 3, "Meets"),  # half-up, not half-even (94.98)
        (109.994, D("109.99"), 4, "Exceeds"),
        (109.995, D("110.00"), 5, "Outstanding"),
        (110.0, D("110.00"), 5, "Outstanding"),
        (120.0, D("120.00"), 5, "Outstanding"),
        (80.0, D("80.00"), 3, "Meets"),
        (79.995, D("80.00"), 3, "Meets"),
        (79.994, D("79.99"), 2, "Needs improvement"),
        (60.0, D("60.00"), 2, "Needs improvement"),
        (59.995, D("60.00"), 2, "Needs improvement"),
        (59.994, D("59.99"), 1, "Unsatisfactory"),
        (0.0, D("0.00"), 1, "Unsatisfactory"),
    ],
)
def test_rounding_and_rating(actual: float, overall: Decimal, rating: int, label: str) -> None:
    card = single(actual)
    assert card.overall == overall
    assert card.overall.as_tuple().exponent == -2  # 2 decimals
    assert (card.rating, card.rating_label) == (rating, label)


def test_rounding_once_at_the_end() -> None:
    fw = framework(kra("core", 1, 100, kpi("k1"), kpi("k2")))
    card = scorecard(fw, {"k1": val(90.005), "k2": val(90.004)})
    # (90.005 + 90.004) ÷ 2 = 90.0045 → 90.00; rounding the KPI scores first would give
    # (90.01 + 90.00) ÷ 2 = 90.005 → 90.01.
    assert kra_of(card, "core").score == (D("90.005") + D("90.004")) / 2
    assert card.overall == D("90.00")


def test_rounding_of_an_exact_half_reached_through_non_terminating_means() -> None:
    """KPIS.md: round the overall half-up once. The exact overall is 79.995 → 80.00 (Meets),
    though the means of three do not terminate in decimals (79.99499… in 28 digits)."""
    fw = framework(
        kra("alpha", 1, 10, kpi("a1"), kpi("a2"), kpi("a3")),
        kra("beta", 2, 20, kpi("b1"), kpi("b2"), kpi("b3")),
        kra("gamma", 3, 10, kpi("c1")),
    )
    values = {
        "a1": val(100.0),
        "a2": val(0.0),
        "a3": val(0.0),  # alpha = 100 ÷ 3
        "b1": val(120.0),
        "b2": val(120.0),
        "b3": val(100.0),  # beta = 340 ÷ 3
        "c1": val(59.98),  # gamma = 59.98
    }
    card = scorecard(fw, values)
    # (10 × 100/3 + 20 × 340/3 + 10 × 59.98) ÷ 40 = (7800/3 + 599.8) ÷ 40 = 3199.8 ÷ 40 = 79.995
    assert card.overall == D("80.00")
    assert card.rating == 3


def test_rating_bands_are_configurable() -> None:
    bands = (
        RatingBand(rating=3, label="Good", min_score=D(90)),
        RatingBand(rating=2, label="Fair", min_score=D(50)),
        RatingBand(rating=1, label="Poor", min_score=D(0)),
    )
    fw = framework(kra("core", 1, 100, kpi("k")), bands=bands)
    for actual, rating, label in [
        (89.995, 3, "Good"),  # 90.00
        (89.994, 2, "Fair"),
        (50.0, 2, "Fair"),
        (49.99, 1, "Poor"),
    ]:
        card = scorecard(fw, {"k": val(actual)})
        assert (card.rating, card.rating_label) == (rating, label)


# -- key_metric_variance -------------------------------------------------------------------------


def variance_framework() -> Framework:
    return framework(
        kra(
            "core",
            1,
            50,
            kpi("k1"),
            kpi("k2"),
            kpi("k3"),
            kpi(
                "k4",
                unit=Unit.days,
                direction=DOWN,
                target="15",
                threshold="21",
                scoring=ScoringMethod.inverse,
                min_volume=3,
            ),
            kpi("k5", kind=KpiKind.manual, target="20", threshold="10"),
            kpi("k6", unit=Unit.points, target="0", threshold="-5", scoring=ScoringMethod.linear),
            kpi("k7", min_volume=5),
            kpi("k8"),
            kpi("k9", grain=Grain.year),
        ),
        kra(
            "reporting",
            2,
            50,
            kpi(
                "key_metric_variance", kind=KpiKind.score, target="70", threshold="50", min_volume=5
            ),
            kpi("other_score", kind=KpiKind.score),
        ),
    )


VARIANCE_VALUES = {
    "k1": val(100.0, 50.0),  # at target: met
    "k2": val(91.0, 50.0),  # |91 − 100| = 9 ≤ 10: near
    "k3": val(89.0, 50.0),  # 11 > 10: not met
    "k4": val(16.5, 10.0),  # ↓ |16.5 − 15| = 1.5 ≤ 1.5: near
    "k5": val(25.0),  # manual, better than 20: met
    "k6": val(-0.1),  # target 0: only 0 or better counts; not met
    "k7": val(100.0, 2.0),  # insufficient volume: not counted
    "k8": val(None),  # no data: not counted
    "k9": val(100.0, 50.0),  # yearly: not in a quarterly scorecard
    "other_score": val(100.0),  # score-derived: not counted
}


def test_key_metric_variance() -> None:
    card = scorecard(variance_framework(), VARIANCE_VALUES)
    variance = item(card, "key_metric_variance")
    share = D(4) / D(6) * 100  # k1, k2, k4, k5 of k1–k6: 66.67 %
    assert close(variance.actual, share)
    assert variance.volume == D(6)
    assert close(variance.score, share / D(70) * 100)  # 95.24
    assert variance.status is Status.on_track  # |66.67 − 70| ≤ 7
    assert close(kra_of(card, "reporting").score, share / D(70) * 100)


def test_key_metric_variance_needs_five_scored_kpis() -> None:
    values = {k: v for k, v in VARIANCE_VALUES.items() if k not in {"k5", "k6"}}
    card = scorecard(variance_framework(), values)
    variance = item(card, "key_metric_variance")
    assert variance.volume == D(4)  # k1–k4
    assert variance.status is Status.insufficient_volume
    assert variance.score is None
    assert kra_of(card, "reporting").score is None


def test_key_metric_variance_all_met() -> None:
    values = {f"k{i}": val(100.0, 50.0) for i in (1, 2, 3)}
    values |= {"k4": val(15.0, 10.0), "k5": val(20.0), "k6": val(0.0)}
    card = scorecard(variance_framework(), values)
    variance = item(card, "key_metric_variance")
    assert variance.actual == D(100)
    assert variance.score == D(120)  # 100 ÷ 70 × 100 = 142.9 → 120
    assert variance.status is Status.above_target


# -- team_performance_improvement_rate through score_all -----------------------------------------

TEAM_FW = framework(
    kra("core", 1, 80, kpi("sales")),
    kra(
        "leadership",
        2,
        20,
        kpi(
            "team_performance_improvement_rate",
            kind=KpiKind.score,
            target="5",
            threshold="0",
            scoring=ScoringMethod.linear,
        ),
        applies_to=AppliesTo.team_leaders,
    ),
)
Q1 = CAL.parse("2026-Q1")
Q2 = CAL.parse("2026-Q2")
PREVIOUS = {"2026-Q1": "2025-Q4", "2026-Q2": "2026-Q1"}
# north ⊃ north_city. mid is in north and leads north_city; lead leads north.
LEAD = Person("lead", "north", leads="north", leads_depth=0)
MEMBER = Person("a", "north")
MID = Person("mid", "north", leads="north_city", leads_depth=1)
SUB = Person("c", "north_city")
SALES_BY_PERIOD = {
    ("lead", "2026-Q1"): 40.0,
    ("lead", "2026-Q2"): 100.0,
    ("a", "2026-Q1"): 90.0,
    ("a", "2026-Q2"): 108.0,
    ("mid", "2026-Q1"): 100.0,
    ("mid", "2026-Q2"): 90.0,
    ("c", "2026-Q1"): 80.0,
    ("c", "2026-Q2"): 84.0,
    ("boss", "2026-Q2"): 100.0,  # a manager: never given to the scorer
}


def team_cards() -> dict[tuple[str, str], Scorecard]:
    values = {key: {"sales": val(sales, 50.0)} for key, sales in SALES_BY_PERIOD.items()}
    cards = scorer(TEAM_FW).score_all([LEAD, MEMBER, MID, SUB], [Q1, Q2], values, PREVIOUS)
    return {(card.rm_id, card.period.label): card for card in cards}


def test_score_all_cards() -> None:
    cards = team_cards()
    assert set(cards) == {
        (rm, q) for rm in ("lead", "a", "mid", "c") for q in ("2026-Q1", "2026-Q2")
    }
    assert cards[("a", "2026-Q1")].overall == D("90.00")
    assert cards[("c", "2026-Q2")].overall == D("84.00")


def test_team_improvement_of_a_sub_team_leader() -> None:
    cards = team_cards()
    # Q1: c has no 2025-Q4 score → no data; leadership left out; mid's overall is core alone.
    q1 = cards[("mid", "2026-Q1")]
    assert item(q1, "team_performance_improvement_rate").status is Status.no_data
    assert q1.overall == D("100.00")
    # Q2: c went 80 → 84: (84 − 80) ÷ 80 × 100 = 5 % = target → 100.
    q2 = cards[("mid", "2026-Q2")]
    improvement = item(q2, "team_performance_improvement_rate")
    assert improvement.actual == (D(84) - D(80)) / D(80) * 100
    assert improvement.volume == D(1)
    assert improvement.score == D(100)
    assert q2.overall == (D(80) * D(90) + D(20) * D(100)) / D(100)  # 92.00


def test_team_improvement_counts_a_scored_sub_team_leader_and_excludes_the_leader() -> None:
    cards = team_cards()
    # lead's team north: a and mid (lead excluded; c is in north_city). mid counts with the
    # overall that includes their own leadership KRA: 100 in Q1, 92 in Q2.
    then = (D(90) + D(100)) / 2  # 95
    now = (D(108) + D(92)) / 2  # 100
    rate = (now - then) / then * 100  # 5.263… %
    improvement = item(cards[("lead", "2026-Q2")], "team_performance_improvement_rate")
    assert close(improvement.actual, rate)
    assert improvement.volume == D(2)
    points = D(80) + D(20) * (rate - D(0)) / (D(5) - D(0))  # 101.05…
    assert close(improvement.score, points)
    # (80 × 100 + 20 × 101.0526…) ÷ 100 = 100.2105… → 100.21
    assert cards[("lead", "2026-Q2")].overall == D("100.21")
    assert cards[("lead", "2026-Q2")].rating == 4
    assert cards[("lead", "2026-Q1")].overall == D("40.00")  # no previous period: core only


def test_team_improvement_does_not_depend_on_the_order_of_people() -> None:
    values = {key: {"sales": val(sales, 50.0)} for key, sales in SALES_BY_PERIOD.items()}
    people = [SUB, MID, MEMBER, LEAD]
    cards = scorer(TEAM_FW).score_all(people, [Q1, Q2], values, PREVIOUS)
    lead = next(c for c in cards if (c.rm_id, c.period.label) == ("lead", "2026-Q2"))
    assert lead.overall == D("100.21")


def test_team_improvement_needs_scores_in_both_periods() -> None:
    values = {key: {"sales": val(sales, 50.0)} for key, sales in SALES_BY_PERIOD.items()}
    del values[("a", "2026-Q1")]  # a has no Q1 score: only mid counts
    cards = scorer(TEAM_FW).score_all([LEAD, MEMBER, MID, SUB], [Q1, Q2], values, PREVIOUS)
    lead = next(c for c in cards if (c.rm_id, c.period.label) == ("lead", "2026-Q2"))
    improvement = item(lead, "team_performance_improvement_rate")
    assert improvement.actual == (D(92) - D(100)) / D(100) * 100  # −8 %
    assert improvement.volume == D(1)
    # 80 + 20 × (−8 − 0) ÷ (5 − 0) = 48; below the threshold 0.
    assert improvement.score == D(48)
    assert improvement.status is Status.below_threshold


# -- properties ----------------------------------------------------------------------------------

PROPERTY_FW = framework(
    kra(
        "alpha",
        1,
        50,
        kpi("rate", target="85", threshold="75", min_volume=5),
        kpi(
            "days",
            unit=Unit.days,
            direction=DOWN,
            target="15",
            threshold="21",
            scoring=ScoringMethod.inverse,
            min_volume=3,
        ),
    ),
    kra(
        "beta",
        2,
        30,
        kpi(
            "improvement",
            unit=Unit.points,
            target="0",
            threshold="-5",
            scoring=ScoringMethod.linear,
        ),
        kpi(
            "violations",
            unit=Unit.count,
            direction=DOWN,
            target="0",
            threshold="0",
            scoring=ScoringMethod.zero_target,
        ),
    ),
    kra(
        "gamma",
        3,
        20,
        kpi("visits", unit=Unit.count, target="3", threshold="2"),
        kpi(
            "banded",
            target="75",
            threshold="50",
            scoring=ScoringMethod.bands,
            bands=(
                Band(min=D(0), points=D(40)),
                Band(min=D(50), points=D(80)),
                Band(min=D(75), points=D(100)),
                Band(min=D(90), points=D(110)),
            ),
        ),
        kpi("met", target="90", threshold="80", scoring=ScoringMethod.binary),
    ),
)
LOWER_IS_BETTER = {"days", "violations"}
NON_NEGATIVE = {"days", "violations", "visits"}
INTEGERS = {"violations", "visits"}


def _decimal_actual(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=low, max_value=high, places=2)


ACTUALS: dict[str, st.SearchStrategy[Decimal]] = {
    "rate": _decimal_actual(-50, 300),
    "days": _decimal_actual(0, 200),
    "improvement": _decimal_actual(-60, 60),
    "violations": st.integers(0, 10).map(Decimal),
    "visits": st.integers(0, 20).map(Decimal),
    "banded": _decimal_actual(-20, 150),
    "met": _decimal_actual(0, 150),
}


def _values(actuals: Mapping[str, Decimal | None]) -> dict[str, Value]:
    return {
        kpi_id: val(None if actual is None else float(actual), 100.0)
        for kpi_id, actual in actuals.items()
    }


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({k: st.none() | s for k, s in ACTUALS.items()}))
def test_overall_lies_between_0_and_120(actuals: dict[str, Decimal | None]) -> None:
    card = scorecard(PROPERTY_FW, _values(actuals))
    if all(actual is None for actual in actuals.values()):
        assert card.overall is None
        return
    assert card.overall is not None
    assert D(0) <= card.overall <= D(120)
    assert D(0) <= card.coverage <= D(100)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(ACTUALS),
    st.sampled_from(sorted(ACTUALS)),
    st.decimals(min_value=D("0.01"), max_value=100, places=2),
)
def test_improving_a_kpi_never_lowers_the_overall(
    actuals: dict[str, Decimal], kpi_id: str, step: Decimal
) -> None:
    if kpi_id in INTEGERS:
        step = step.to_integral_value(rounding="ROUND_CEILING")
    better = dict(actuals)
    if kpi_id in LOWER_IS_BETTER:
        better[kpi_id] = actuals[kpi_id] - step
        if kpi_id in NON_NEGATIVE:
            better[kpi_id] = max(better[kpi_id], D(0))
    else:
        better[kpi_id] = actuals[kpi_id] + step
    before = scorecard(PROPERTY_FW, _values(actuals))
    after = scorecard(PROPERTY_FW, _values(better))
    assert before.overall is not None and after.overall is not None
    assert after.overall >= before.overall
    assert after.coverage == before.coverage
