"""Variance flags and driver contributions, worked out by hand.

A comparison is flagged when |actual − reference| > tolerance × |reference| (default 10 %), on
either side: "favourable" when the actual is the better one by the KPI's direction.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from kraft.analysis.variance import (
    Basis,
    Change,
    Comparison,
    Flag,
    compare,
    contributions,
    drivers,
    median,
    same_period_last_year,
)
from kraft.framework.loader import load_builtin
from kraft.framework.model import KPI, KRA, Direction, Framework, KpiKind, Unit
from kraft.periods import Calendar, Grain
from kraft.reports.scorecard_lines import change_text, comparison_text
from kraft.scoring.methods import Goal, Status
from kraft.scoring.scorecard import KpiScore, KraScore, Person, Scorecard, Scorer, Value
from kraft.scoring.targets import TargetBook

D = Decimal
BUILTIN = load_builtin("insurance_rm")
RETENTION = BUILTIN.kpi("client_retention_rate")  # ↑
SETTLEMENT = BUILTIN.kpi("claims_settlement_time")  # ↓
VIOLATIONS = BUILTIN.kpi("regulatory_violations")  # ↓, target 0
CAL = Calendar(1)


def close(a: Decimal | None, b: Decimal) -> bool:
    assert a is not None
    return abs(a - b) < D("1e-20")


# -- comparisons ----------------------------------------------------------------------------------


def test_compare_against_target_higher_is_better() -> None:
    below = compare(RETENTION, D(70), D(85))  # 15 short; 10 % of 85 = 8.5
    assert below.difference == -15
    assert (below.percent, below.change) == (None, Change.points)  # a % KPI: 15 pp, no percent
    assert below.flag is Flag.unfavourable
    near = compare(RETENTION, D(80), D(85))  # 5 short, within 8.5
    assert (near.difference, near.flag) == (-5, None)
    edge = compare(RETENTION, D("76.5"), D(85))  # exactly 8.5 short: not beyond
    assert edge.flag is None
    above = compare(RETENTION, D("93.6"), D(85))  # 8.6 over: beyond, the good side
    assert above.flag is Flag.favourable
    assert change_text(above, RETENTION, "INR") == "+8.6 pp"


def test_compare_lower_is_better() -> None:
    faster = compare(SETTLEMENT, D(12), D(15))  # 3 days faster than 15; 10 % = 1.5
    assert (faster.difference, faster.percent, faster.flag) == (-3, -20, Flag.favourable)
    slower = compare(SETTLEMENT, D(18), D(15))
    assert (slower.difference, slower.percent, slower.flag) == (3, 20, Flag.unfavourable)
    assert compare(SETTLEMENT, D("16.5"), D(15)).flag is None  # exactly 10 %


def test_compare_zero_and_missing_references() -> None:
    none_yet = compare(VIOLATIONS, D(0), D(0))
    assert none_yet == Comparison(D(0), D(0), None, None, Change.absolute)  # no percent of 0
    one = compare(VIOLATIONS, D(1), D(0))  # any difference from 0 is beyond the tolerance
    assert one == Comparison(D(0), D(1), None, Flag.unfavourable, Change.absolute)
    assert compare(RETENTION, D(80), None) == Comparison(None, None, None, None)
    assert compare(RETENTION, None, D(85)) == Comparison(D(85), None, None, None)
    # A negative reference: no percent of it (was −60 %); direction still decides the flag.
    drop = compare(BUILTIN.kpi("loss_ratio_improvement"), D(-8), D(-5))
    assert (drop.difference, drop.percent, drop.flag) == (-3, None, Flag.unfavourable)
    assert drop.change is Change.absolute


def test_changes_of_percent_kpis_are_in_points() -> None:
    # retention 60 % after 75 %: −15 pp (not −20 %); a count keeps its percent: 12 after 15 −20 %
    fell = compare(RETENTION, D(60), D(75))
    assert (fell.difference, fell.percent, fell.change) == (-15, None, Change.points)
    assert comparison_text(RETENTION, fell, "INR") == "-15 pp unfav"
    sessions = BUILTIN.kpi("education_sessions")
    counted = compare(sessions, D(12), D(15))
    assert (counted.percent, counted.change) == (-20, Change.relative)
    assert change_text(counted, sessions, "INR") == "-20 %"


def test_no_percent_where_values_can_cross_zero() -> None:
    # market_penetration_growth_rate (linear): −5 after 0.61 was "−919.67 %"; it is −5.61 pp.
    # A % KPI is told in points anyway; a linear KPI of another unit, or any value ≤ 0 on
    # either side, by its difference alone.
    growth = BUILTIN.kpi("market_penetration_growth_rate")
    crossed = compare(growth, D(-5), D("0.61"))
    assert (crossed.difference, crossed.percent) == (D("-5.61"), None)
    assert change_text(crossed, growth, "INR") == "-5.61 pp"
    revenue = BUILTIN.kpi("revenue_per_quarter")
    from_nothing = compare(revenue, D(300000), D(0))
    assert (from_nothing.percent, from_nothing.change) == (None, Change.absolute)
    assert change_text(from_nothing, revenue, "INR") == "+₹3,00,000"
    to_nothing = compare(revenue, D(0), D(150000))
    assert change_text(to_nothing, revenue, "INR") == "-₹1,50,000"
    both = compare(revenue, D(150000), D(100000))  # both positive: +50 %
    assert change_text(both, revenue, "INR") == "+50 %"


def test_a_kpi_at_its_score_cap_shows_the_cap() -> None:
    # revenue 8.7 lakh against 1 lakh: 872.57 % of target would score 872 → capped at 120
    revenue = BUILTIN.kpi("revenue_per_quarter")
    goal = Goal(target=D(100000), threshold=D(50000))
    capped = compare(revenue, D("872570"), goal.target, goal=goal)
    assert (capped.cap, capped.percent, capped.flag) == (D(120), D("772.57"), Flag.favourable)
    assert comparison_text(revenue, capped, "INR") == "at cap (120) fav"
    # 119.99 % of target scores 119.99: below the cap, its percent shown
    under = compare(revenue, D("119990"), goal.target, goal=goal)
    assert under.cap is None and change_text(under, revenue, "INR") == "+19.99 %"
    # exactly 120 % of target reaches it
    assert compare(revenue, D(120000), goal.target, goal=goal).cap == 120
    # a ↓ KPI (inverse): 10 days against 15 scores 150 → at cap; 14 days scores 107.14
    settle = Goal(target=D(15), threshold=D(20))
    assert compare(SETTLEMENT, D(10), D(15), goal=settle).cap == 120
    assert compare(SETTLEMENT, D(14), D(15), goal=settle).cap is None


def test_an_open_periods_forecast_is_labelled() -> None:
    sessions = BUILTIN.kpi("education_sessions")
    paced = compare(sessions, D(9), D(6), basis=Basis.forecast)  # +50 % by the forecast
    assert comparison_text(sessions, paced, "INR") == "+50 % (forecast) fav"


def test_tolerance_is_a_parameter() -> None:
    assert compare(RETENTION, D(70), D(85), D("0.2")).flag is None  # 15 ≤ 17
    assert compare(RETENTION, D(84), D(85), D(0)).flag is Flag.unfavourable  # any difference
    assert compare(RETENTION, D(85), D(85), D(0)).flag is None


def test_median_and_last_year() -> None:
    assert median([D(75), D(100), None]) == D("87.5")
    assert median([D(6), D(0), D(2)]) == 2
    assert median([None, None]) is None
    assert same_period_last_year(CAL, CAL.parse("2025-Q2")).label == "2024-Q2"
    assert same_period_last_year(CAL, CAL.parse("2025-03")).label == "2024-03"
    assert same_period_last_year(CAL, CAL.parse("2025")).label == "2024"
    april = Calendar(4)
    assert same_period_last_year(april, april.parse("FY2026-Q1")).label == "FY2025-Q1"
    assert same_period_last_year(april, april.parse("FY2026")).label == "FY2025"


# -- drivers --------------------------------------------------------------------------------------


def kpi(kpi_id: str, unit: Unit, grain: Grain, target: str, threshold: str) -> KPI:
    return KPI(
        id=kpi_id,
        name=kpi_id,
        kind=KpiKind.computed,
        unit=unit,
        direction=Direction.higher_is_better,
        grain=grain,
        target=D(target),
        threshold=D(threshold),
    )


# Relationship (60): r1 a % (target 80), r2 a monthly count (target 10 a month, 30 a quarter);
# compliance (40): c1 a % (target 90).
SMALL = Framework(
    id="small",
    role="RM",
    title="Small",
    kras=(
        KRA(
            id="relationship",
            number=1,
            title="Relationship",
            weight=D(60),
            kpis=(
                kpi("r1", Unit.percent, Grain.quarter, "80", "60"),
                kpi("r2", Unit.count, Grain.month, "10", "5"),
            ),
        ),
        KRA(
            id="compliance",
            number=2,
            title="Compliance",
            weight=D(40),
            kpis=(kpi("c1", Unit.percent, Grain.quarter, "90", "80"),),
        ),
    ),
)
Q1, Q2 = CAL.parse("2025-Q1"), CAL.parse("2025-Q2")
RM = Person("RM1", "T1")


def card(values: dict[str, float | None], period_label: str) -> Scorecard:
    scorer = Scorer(SMALL, TargetBook(SMALL, [], {}))
    period = CAL.parse(period_label)
    own = {k: Value(v, 10, False) for k, v in values.items()}
    return scorer.finish(scorer.first_pass(RM, period, own), own)


def test_contributions_sum_to_the_overall_score() -> None:
    # r1 60 → 75; r2 36 of 30 → 120 (cap); c1 45 → 50. KRA 1 = 97.5, KRA 2 = 50;
    # overall = (60 × 97.5 + 40 × 50) ÷ 100 = 78.5.
    q1 = card({"r1": 60.0, "r2": 36.0, "c1": 45.0}, "2025-Q1")
    assert q1.overall == D("78.50")
    parts = contributions(q1)
    assert parts == {"r1": D("22.5"), "r2": D(36), "c1": D(20)}  # 0.6 × 75 ÷ 2, 0.6 × 120 ÷ 2
    assert sum(parts.values()) == D("78.5")


def test_contributions_with_uneven_scores_round_to_the_overall() -> None:
    # r1 70 → 87.5, r2 7 of 30 → 23.33…, c1 89 → 98.88…: the sum is the unrounded overall.
    q = card({"r1": 70.0, "r2": 7.0, "c1": 89.0}, "2025-Q1")
    parts = contributions(q)
    kra = {k.kra_id: k.score for k in q.kras}
    assert kra["relationship"] is not None and kra["compliance"] is not None
    unrounded = (D(60) * kra["relationship"] + D(40) * kra["compliance"]) / D(100)
    assert close(sum(parts.values()), unrounded)
    assert sum(parts.values()).quantize(D("0.01"), rounding=ROUND_HALF_UP) == q.overall


def test_contributions_under_a_capped_kra() -> None:
    # Compliance capped at 60 from an uncapped 90 (c1 100, c2 80): its KPIs share the 60 in
    # proportion to their scores: 0.5 × 60 × 100/180 and 0.5 × 60 × 80/180; d1 gives 0.5 × 100.
    capped = Scorecard(
        "RM1",
        Q1,
        [
            KpiScore("compliance", "c1", D(1), None, Status.above_target, score=D(100)),
            KpiScore("compliance", "c2", D(1), None, Status.below_target, score=D(80)),
            KpiScore("other", "d1", D(1), None, Status.above_target, score=D(100)),
        ],
        [
            KraScore("compliance", D(50), D(60), D(90), 2, 2, capped_at=D(60)),
            KraScore("other", D(50), D(100), D(100), 1, 1),
        ],
        overall=D(80),
    )
    parts = contributions(capped)
    assert close(parts["c1"], D(30) * D(100) / D(180))  # 16.67
    assert close(parts["c2"], D(30) * D(80) / D(180))  # 13.33
    assert parts["d1"] == 50
    assert close(sum(parts.values()), D(80))


def test_contributions_weights_and_unscored() -> None:
    # KPI weights 3 : 1 inside a KRA; an unscored KPI and a KRA with none scored give nothing.
    weighted = Scorecard(
        "RM1",
        Q1,
        [
            KpiScore("a", "a1", D(1), None, Status.above_target, score=D(100), weight=D(75)),
            KpiScore("a", "a2", D(1), None, Status.below_target, score=D(60), weight=D(25)),
            KpiScore("a", "a3", None, None, Status.no_data),
            KpiScore("b", "b1", None, None, Status.no_data),
        ],
        [KraScore("a", D(30), D(90), D(90), 2, 3), KraScore("b", D(70), None, None, 0, 1)],
    )
    # KRA a = (75 × 100 + 25 × 60) ÷ 100 = 90, alone scored: a1 = 75, a2 = 15.
    assert contributions(weighted) == {"a1": D(75), "a2": D(15)}
    assert contributions(Scorecard("RM1", Q1, [], [])) == {}


def test_drivers_largest_change_first() -> None:
    before = card({"r1": 60.0, "r2": 36.0, "c1": 45.0}, "2025-Q1")  # 78.5, as above
    # r1 80 → 100; r2 still 120; c1 no data: compliance drops out, relationship is everything:
    # overall = (100 + 120) ÷ 2 = 110. Contributions: r1 50, r2 60.
    after = card({"r1": 80.0, "r2": 36.0, "c1": None}, "2025-Q2")
    assert after.overall == D("110.00")
    found = drivers(before, after)
    assert [(d.kpi_id, d.delta) for d in found] == [
        ("r1", D("27.5")),  # 22.5 → 50
        ("r2", D(24)),  # 36 → 60: the same score weighs more once compliance is not scored
        ("c1", D(-20)),  # 20 → 0
    ]
    assert sum(d.delta for d in found) == D("31.5")  # 110 − 78.5
    r1 = found[0]
    assert (r1.score_before, r1.score_after) == (D(75), D(100))
    assert found[2].score_after is None
    # No earlier scorecard: every contribution is new.
    assert [(d.kpi_id, d.delta) for d in drivers(None, after)] == [
        ("r2", D(60)),
        ("r1", D(50)),
    ]
