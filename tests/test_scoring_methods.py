"""KPI scores and statuses against KPIS.md, "Scoring defaults" (KPI score, Status).

Every expectation is worked out by hand from KPIS.md's formulas, written as Decimal arithmetic.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraft.framework.loader import load_builtin
from kraft.framework.model import KPI, Band, Direction, KpiKind, ScoringMethod, Unit
from kraft.periods import Grain
from kraft.scoring.methods import Goal, Status, met_or_near, performance_status, score

D = Decimal
BUILTIN = load_builtin("insurance_rm")


def builtin_goal(kpi_id: str) -> tuple[KPI, Goal]:
    """A built-in KPI with its framework target and threshold (KPIS.md's table)."""
    kpi = BUILTIN.kpi(kpi_id)
    assert kpi.target is not None
    return kpi, Goal(kpi.target, kpi.threshold)


def make_kpi(
    *,
    scoring: ScoringMethod = ScoringMethod.ratio,
    direction: Direction = Direction.higher_is_better,
    unit: Unit = Unit.percent,
    cap: Decimal = D(120),
    bands: tuple[Band, ...] = (),
) -> KPI:
    return KPI(
        id="probe",
        name="Probe",
        kind=KpiKind.computed,
        unit=unit,
        direction=direction,
        grain=Grain.quarter,
        scoring=scoring,
        cap=cap,
        bands=bands,
    )


def close(actual: Decimal, expected: Decimal) -> bool:
    """Equal to 20 decimal places (divisions like 80 ÷ 85 do not terminate)."""
    return abs(actual - expected) < D("1e-20")


# -- ratio: clamp(actual ÷ target × 100, 0, 120) -------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (D(80), D(80) / D(85) * D(100)),  # below target: 94.1176…
        (D(85), D(100)),  # at target
        (D(90), D(90) / D(85) * D(100)),  # above target: 105.882…
        (D(102), D(120)),  # 102 ÷ 85 × 100 = 120 exactly
        (D(110), D(120)),  # 129.41… clamped at 120
        (D(0), D(0)),
        (D(-5), D(0)),  # negative actual: −5.88… clamped at 0
    ],
)
def test_ratio(actual: Decimal, expected: Decimal) -> None:
    kpi, goal = builtin_goal("client_retention_rate")  # 85 (75), ratio
    assert kpi.scoring is ScoringMethod.ratio
    assert close(score(kpi, actual, goal), expected)


def test_ratio_clamps_at_the_kpis_cap() -> None:
    kpi = make_kpi(cap=D(100))
    goal = Goal(D(50), D(40))
    assert score(kpi, D(55), goal) == D(100)  # 55 ÷ 50 × 100 = 110 > cap 100
    assert score(kpi, D(45), goal) == D(90)  # 45 ÷ 50 × 100
    assert score(make_kpi(), D(55), goal) == D(110)  # default cap 120: unclamped


def test_ratio_with_target_zero() -> None:
    # KPIS.md's ratio formula divides by the target; with target 0 it is undefined. kraft treats a
    # target of 0 as met in full by any non-negative actual (the KPI's cap) and a negative one as 0.
    kpi = make_kpi(unit=Unit.count)
    goal = Goal(D(0), D(0))
    assert score(kpi, D(0), goal) == D(120)
    assert score(kpi, D(3), goal) == D(120)
    assert score(kpi, D(-1), goal) == D(0)
    assert score(make_kpi(unit=Unit.count, cap=D(100)), D(0), goal) == D(100)


# -- inverse: 120 if actual = 0, else clamp(target ÷ actual × 100, 0, 120) -------------------------


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (D(0), D(120)),  # no time at all: the cap
        (D(30), D(50)),  # 15 ÷ 30 × 100
        (D(15), D(100)),  # at target
        (D(20), D(75)),  # 15 ÷ 20 × 100
        (D(21), D(15) / D(21) * D(100)),  # 71.43…
        (D(12.5), D(120)),  # 15 ÷ 12.5 × 100 = 120 exactly
        (D(10), D(120)),  # 150 clamped at 120
        (D(-3), D(0)),  # −500 clamped at 0
    ],
)
def test_inverse(actual: Decimal, expected: Decimal) -> None:
    kpi, goal = builtin_goal("claims_settlement_time")  # 15 (21) days, ↓, inverse
    assert kpi.scoring is ScoringMethod.inverse
    assert close(score(kpi, actual, goal), expected)


def test_inverse_caps_at_the_kpis_cap() -> None:
    kpi = make_kpi(scoring=ScoringMethod.inverse, direction=Direction.lower_is_better, cap=D(110))
    goal = Goal(D(15), D(21))
    assert score(kpi, D(0), goal) == D(110)
    assert score(kpi, D(10), goal) == D(110)  # 150 > cap 110


# -- zero_target: 100 at 0, 50 at 1, 0 at 2 or more ---------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected"), [(D(0), D(100)), (D(1), D(50)), (D(2), D(0)), (D(7), D(0))]
)
def test_zero_target(actual: Decimal, expected: Decimal) -> None:
    kpi, goal = builtin_goal("regulatory_violations")
    assert kpi.scoring is ScoringMethod.zero_target
    assert score(kpi, actual, goal) == expected


# -- linear: clamp(80 + 20 × (actual − threshold) ÷ (target − threshold), 0, 120) ----------------


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (D(0), D(80)),  # at the threshold
        (D(3), D(100)),  # at the target
        (D("1.5"), D(80) + D(20) * (D("1.5") - D(0)) / (D(3) - D(0))),  # 90
        (D(1), D(80) + D(20) * (D(1) - D(0)) / (D(3) - D(0))),  # 86.67
        (D(6), D(80) + D(20) * (D(6) - D(0)) / (D(3) - D(0))),  # 120 exactly
        (D(12), D(120)),  # 80 + 80 = 160, clamped
        (D(-6), D(80) + D(20) * (D(-6) - D(0)) / (D(3) - D(0))),  # 40
        (D(-20), D(0)),  # 80 − 133.3 < 0, clamped
    ],
)
def test_linear(actual: Decimal, expected: Decimal) -> None:
    kpi, goal = builtin_goal("market_penetration_growth_rate")  # 3 (0), linear
    assert kpi.scoring is ScoringMethod.linear
    assert close(score(kpi, actual, goal), expected)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (D(-5), D(80)),  # at the threshold −5
        (D(0), D(100)),  # at the target 0
        (D(-2), D(80) + D(20) * (D(-2) - D(-5)) / (D(0) - D(-5))),  # 92
        (D(2), D(80) + D(20) * (D(2) - D(-5)) / (D(0) - D(-5))),  # 108
        (D(-6), D(80) + D(20) * (D(-6) - D(-5)) / (D(0) - D(-5))),  # 76
        (D(-25), D(0)),  # 80 + 20 × (−20) ÷ 5 = 0 exactly
        (D(-30), D(0)),  # −20, clamped
        (D(10), D(120)),  # 140, clamped
    ],
)
def test_linear_with_negative_threshold(actual: Decimal, expected: Decimal) -> None:
    kpi, goal = builtin_goal("loss_ratio_improvement")  # 0 (−5) pp, linear
    assert goal == Goal(D(0), D(-5))
    assert close(score(kpi, actual, goal), expected)


def test_linear_lower_is_better() -> None:
    kpi = make_kpi(
        scoring=ScoringMethod.linear, direction=Direction.lower_is_better, unit=Unit.days
    )
    goal = Goal(D(10), D(20))  # target 10 days, threshold 20 days
    assert score(kpi, D(20), goal) == D(80)
    assert score(kpi, D(10), goal) == D(100)
    assert score(kpi, D(15), goal) == D(80) + D(20) * (D(15) - D(20)) / (D(10) - D(20))  # 90
    assert score(kpi, D(5), goal) == D(80) + D(20) * (D(5) - D(20)) / (D(10) - D(20))  # 110
    assert score(kpi, D(0), goal) == D(120)  # 80 + 20 × (−20) ÷ (−10) = 120
    assert score(kpi, D(60), goal) == D(0)  # 80 + 20 × 40 ÷ (−10) = 0


def test_linear_clamps_at_the_kpis_cap() -> None:
    kpi = make_kpi(scoring=ScoringMethod.linear, cap=D(100))
    assert score(kpi, D(6), Goal(D(3), D(0))) == D(100)  # 120 > cap 100


# -- bands and binary ----------------------------------------------------------------------------

BANDS = (  # deliberately not in order
    Band(min=D(75), points=D(100)),
    Band(min=D(0), points=D(40)),
    Band(min=D(90), points=D(110)),
    Band(min=D(50), points=D(80)),
)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (D(0), D(40)),  # exactly on the lowest band's min
        (D("49.99"), D(40)),
        (D(50), D(80)),  # exactly on a band's min: that band
        (D("74.99"), D(80)),
        (D(75), D(100)),
        (D("89.999"), D(100)),
        (D(90), D(110)),
        (D(500), D(110)),
        (D(-1), D(0)),  # below every band
    ],
)
def test_bands(actual: Decimal, expected: Decimal) -> None:
    kpi = make_kpi(scoring=ScoringMethod.bands, bands=BANDS)
    assert score(kpi, actual, Goal(D(75), D(50))) == expected


def test_bands_points_are_capped() -> None:
    kpi = make_kpi(scoring=ScoringMethod.bands, bands=(Band(min=D(0), points=D(150)),))
    assert score(kpi, D(10), Goal(D(75), D(50))) == D(120)


@pytest.mark.parametrize(
    ("direction", "actual", "expected"),
    [
        (Direction.higher_is_better, D(5), D(100)),  # met: at target
        (Direction.higher_is_better, D(9), D(100)),  # met: better than target
        (Direction.higher_is_better, D("4.99"), D(0)),  # not met
        (Direction.lower_is_better, D(5), D(100)),
        (Direction.lower_is_better, D(1), D(100)),
        (Direction.lower_is_better, D("5.01"), D(0)),
    ],
)
def test_binary(direction: Direction, actual: Decimal, expected: Decimal) -> None:
    kpi = make_kpi(scoring=ScoringMethod.binary, direction=direction)
    assert score(kpi, actual, Goal(D(5), D(3))) == expected


# -- statuses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (D(85), Status.above_target),  # at target counts as above
        (D(99), Status.above_target),
        (D(80), Status.on_track),  # 85 − 80 = 5 ≤ 8.5
        (D("76.5"), Status.on_track),  # 85 − 76.5 = 8.5 = 10 % of 85
        (D("76.4"), Status.below_target),  # 8.6 > 8.5, and not below 75
        (D(75), Status.below_target),  # at the threshold is not below it
        (D("74.9"), Status.below_threshold),
        (D(0), Status.below_threshold),
    ],
)
def test_status_higher_is_better(actual: Decimal, expected: Status) -> None:
    kpi, goal = builtin_goal("client_retention_rate")  # 85 (75)
    assert performance_status(kpi, actual, goal) is expected


def test_status_below_threshold_wins_over_on_track() -> None:
    # risk_assessment_completion_rate: 100 (95). 94 is within 10 % of 100 but below 95.
    kpi, goal = builtin_goal("risk_assessment_completion_rate")
    assert performance_status(kpi, D(94), goal) is Status.below_threshold
    assert performance_status(kpi, D(96), goal) is Status.on_track


def test_status_below_threshold_whatever_the_score() -> None:
    kpi = make_kpi(scoring=ScoringMethod.bands, bands=(Band(min=D(0), points=D(100)),))
    goal = Goal(D(80), D(50))
    assert score(kpi, D(40), goal) == D(100)
    assert performance_status(kpi, D(40), goal) is Status.below_threshold


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (D(15), Status.above_target),  # at target
        (D(12), Status.above_target),  # fewer days is better
        (D(0), Status.above_target),
        (D("16.5"), Status.on_track),  # 1.5 = 10 % of 15
        (D("16.6"), Status.below_target),
        (D(21), Status.below_target),  # at the threshold is not worse than it
        (D("21.1"), Status.below_threshold),  # worse: above the threshold
        (D(40), Status.below_threshold),
    ],
)
def test_status_lower_is_better(actual: Decimal, expected: Status) -> None:
    kpi, goal = builtin_goal("claims_settlement_time")  # 15 (21) days, ↓
    assert performance_status(kpi, actual, goal) is expected


def test_status_regulatory_violations() -> None:
    kpi, goal = builtin_goal("regulatory_violations")  # 0 (0), ↓
    assert performance_status(kpi, D(0), goal) is Status.above_target
    assert performance_status(kpi, D(1), goal) is Status.below_threshold


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (D(0), Status.above_target),
        (D(3), Status.above_target),
        (D("-0.5"), Status.below_target),  # within 10 % of 0 means exactly 0
        (D(-5), Status.below_target),
        (D("-5.01"), Status.below_threshold),
    ],
)
def test_status_negative_threshold(actual: Decimal, expected: Status) -> None:
    kpi, goal = builtin_goal("loss_ratio_improvement")  # 0 (−5)
    assert performance_status(kpi, actual, goal) is expected


def test_status_without_threshold() -> None:
    kpi = make_kpi()
    goal = Goal(D(100), None)
    assert performance_status(kpi, D(0), goal) is Status.below_target
    assert performance_status(kpi, D(90), goal) is Status.on_track


# -- met_or_near: at or better than target, or |actual − target| ≤ 0.1 × |target| ----------------


@pytest.mark.parametrize(
    ("kpi_id", "actual", "expected"),
    [
        ("client_retention_rate", D(85), True),  # at target
        ("client_retention_rate", D(120), True),  # better, by far more than 10 %
        ("client_retention_rate", D("76.5"), True),  # 8.5 = 10 % of 85
        ("client_retention_rate", D("76.4"), False),
        ("claims_settlement_time", D("16.5"), True),  # ↓: 1.5 = 10 % of 15
        ("claims_settlement_time", D("16.6"), False),
        ("claims_settlement_time", D(3), True),  # far better (fewer days)
        ("loss_ratio_improvement", D(0), True),  # target 0: actual 0
        ("loss_ratio_improvement", D(1), True),  # ↑ better than 0
        ("loss_ratio_improvement", D("-0.1"), False),
        ("regulatory_violations", D(0), True),
        ("regulatory_violations", D(1), False),  # ↓ target 0: only 0 itself
    ],
)
def test_met_or_near(kpi_id: str, actual: Decimal, expected: bool) -> None:
    kpi, goal = builtin_goal(kpi_id)
    assert met_or_near(kpi, actual, goal.target) is expected
