"""What-if: successes needed (by hand), the ratio shapes read from the catalogue, --value checks,
and `kraft whatif` on the small book of tests/test_alerts_cli.py (both databases).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kraft.analysis.whatif import Growth, parse_value, ratio_shape, successes_needed
from kraft.errors import KraftError
from kraft.framework.loader import load_builtin
from kraft.metrics.spec import load_catalogue
from kraft.workspace import Workspace
from test_alerts_cli import build, fails, kraft, kraft_json

D = Decimal
FRAMEWORK = load_builtin("insurance_rm")
GROWING, FIXED = Growth.growing, Growth.fixed


# -- successes needed -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "d", "t", "growth", "expected"),
    [
        # Growing (won ÷ won or lost): (n + k) ÷ (d + k) ≥ t ÷ 100 ⇔ k ≥ (t·d − 100 n) ÷ (100 − t).
        (1, 5, 50, GROWING, 3),  # (250 − 100) ÷ 50 = 3: 4 of 8
        (5, 25, 25, GROWING, 2),  # 20 %: (625 − 500) ÷ 75 = 1.67 → 2: 7 of 27 = 25.9 %
        (1, 4, 50, GROWING, 2),  # (200 − 100) ÷ 50 = 2: 3 of 6
        (2, 3, 70, GROWING, 1),  # (210 − 200) ÷ 30 = 0.33 → 1: 3 of 4 = 75 %
        (3, 4, 75, GROWING, 0),  # already at target
        (4, 4, 100, GROWING, 0),  # 100 % of 100 %: nothing to do
        (3, 4, 100, GROWING, None),  # a failure counted: 100 % is out of reach
        (0, 0, 50, GROWING, 1),  # no cases: one success makes it 100 %
        (0, 0, 100, GROWING, 1),
        # Fixed (retained ÷ due): (n + k) ÷ d ≥ t ÷ 100 ⇔ k ≥ t·d ÷ 100 − n.
        (3, 4, 80, FIXED, 1),  # 3.2 − 3 → 1: 4 of 4
        (5, 10, 85, FIXED, 4),  # 8.5 − 5 → 4: 9 of 10 = 90 %
        (17, 20, 85, FIXED, 0),  # exactly 85 %
        (3, 4, 100, FIXED, 1),  # the limit: every case left
        (0, 3, 100, FIXED, 3),
        (0, 0, 80, FIXED, None),  # nothing due: nothing to convert
    ],
)
def test_successes_needed(n: int, d: int, t: int, growth: Growth, expected: int | None) -> None:
    assert successes_needed(D(n), D(d), D(t), growth) == expected
    if expected:  # the smallest k: k reaches the target, k − 1 does not
        grows = 1 if growth is GROWING else 0
        reach = [(n + k) * 100 >= t * (d + grows * k) for k in (expected - 1, expected)]
        assert reach == [False, True] or (d == 0 and reach[1])


def test_successes_needed_with_fractional_targets() -> None:
    # 87.5 % of 8 due = 7 exactly: 6 retained need 1 more.
    assert successes_needed(D(6), D(8), D("87.5"), FIXED) == 1
    # 33.3 % growing from 0 of 2: (66.6 − 0) ÷ 66.7 = 0.9985 → 1 (1 of 3 = 33.33 %).
    assert successes_needed(D(0), D(2), D("33.3"), GROWING) == 1


def test_ratio_shapes_from_the_catalogue() -> None:
    catalogue = load_catalogue()
    shapes = {
        kpi.id: shape
        for _, kpi in FRAMEWORK.kpis()
        if (shape := ratio_shape(kpi, catalogue)) is not None
    }
    growing = {k for k, s in shapes.items() if s.growth is GROWING}
    assert growing == {
        "customer_satisfaction_score",  # a new satisfied response
        "sales_conversion_rate",  # a lead won
        "cross_sell_success_rate",
        "risk_assessment_completion_rate",  # a new policy issued assessed
        "documentation_accuracy_rate",
        "innovation_success_rate",
        "report_accuracy_rate",
    }
    assert set(shapes) - growing == {
        "client_retention_rate",  # clients due: renew one of them
        "referral_rate",  # active clients at the start
        "new_business_acquisition_rate",
        "adequate_coverage_rate",
        "renewal_rate_after_education",
        "team_training_completion_rate",  # items due
        "team_goal_achievement_rate",
        "tech_adoption_rate",  # tool rows of a month
        "action_plan_success_rate",
        "skills_training_completion_rate",
    }
    retention = shapes["client_retention_rate"]
    assert (retention.numerator, retention.denominator) == ("retained", "due")
    # Not shares of cases: a growth rate, a mean, a count, a score-derived KPI.
    for kpi_id in (
        "market_penetration_growth_rate",
        "claims_settlement_time",
        "education_sessions",
        "key_metric_variance",
        "automation_time_savings",
    ):
        assert kpi_id not in shapes  # fmt: skip


def test_parse_value() -> None:
    retention = FRAMEWORK.kpi("client_retention_rate")
    shape = ratio_shape(retention, load_catalogue())
    assert parse_value(retention, "85", shape) == 85
    assert parse_value(retention, "85 %", shape) == 85
    assert parse_value(retention, "0", shape) == 0
    for bad, words in (("abc", "not a number"), ("nan", "not a number"), ("101", "0 to 100"),
                       ("-1", "0 to 100"), ("inf", "not a number")):  # fmt: skip
        with pytest.raises(KraftError, match=words):
            parse_value(retention, bad, shape)
    sessions = FRAMEWORK.kpi("education_sessions")
    assert parse_value(sessions, "250", None) == 250
    with pytest.raises(KraftError, match="negative"):
        parse_value(sessions, "-2", None)
    growth = FRAMEWORK.kpi("market_penetration_growth_rate")  # a % that may be negative or > 100
    assert parse_value(growth, "-4", None) == -4 and parse_value(growth, "140", None) == 140
    with pytest.raises(KraftError, match="0 to 100"):
        parse_value(FRAMEWORK.kpi("compliance_audit_rating"), "120", None)


# -- kraft whatif on the small book ---------------------------------------------------------------


@pytest.fixture
def tiny(workspace: Workspace, tmp_path: Path) -> Workspace:
    return build(workspace, tmp_path / "book")


def test_whatif_sales_conversion(tiny: Workspace) -> None:
    # RM1 2025-Q1 as stored: retention 75 of target 80 → 93.75 (on track), sales 20 of 50 → 40
    # (below threshold), sessions 6 of 6 → 100; relationship (93.75 + 40) ÷ 2 = 66.875,
    # overall (60 × 66.875 + 40 × 100) ÷ 100 = 80.125 → 80.13, Meets (3).
    # Sales at 50: 100; relationship 96.875; overall (5812.5 + 4000) ÷ 100 = 98.125 → 98.13,
    # Exceeds (4).
    result = kraft_json(
        tiny, "whatif", "--rm", "RM1", "--period", "2025-Q1",
        "--kpi", "sales_conversion_rate", "--value", "50",
    )  # fmt: skip
    before, after = result["before"], result["after"]
    assert (before["actual"], before["status"], before["kpi_score"]) == (20, "below threshold", 40)
    assert (before["kra_score"], before["overall_score"], before["rating"]) == (66.875, 80.13, 3)
    assert (after["actual"], after["status"], after["kpi_score"]) == (50, "above target", 100)
    assert (after["kra_score"], after["overall_score"], after["rating"]) == (96.875, 98.13, 4)
    assert after["rating_label"] == "Exceeds" and after["coverage"] == 100
    # 1 won of 5 closed, growing: (50 × 5 − 100 × 1) ÷ (100 − 50) = 3 more won (4 of 8).
    assert result["successes"] == {
        "numerator": 1, "denominator": 5, "target": 50, "growth": "growing", "needed": 3,
    }  # fmt: skip
    assert result["team_kpi_as_stored"] is False  # no team KRA in this framework
    # The stored scores say the same as the "before".
    drivers = kraft_json(tiny, "drivers", "--rm", "RM1", "--period", "2025-Q1")
    assert drivers["overall_after"] == before["overall_score"]
    text = kraft(
        tiny, "whatif", "--rm", "RM1", "--period", "2025-Q1",
        "--kpi", "sales_conversion_rate", "--value", "50",
    )  # fmt: skip
    assert "were 50 % instead of 20 %" in text
    assert "Meets (3)" in text and "Exceeds (4)" in text and "80.13" in text and "98.13" in text
    assert "To reach the target of 50 %: 3 more won (now 1 won of 5 closed; each is a new " in text


def test_whatif_retention_and_sessions(tiny: Workspace) -> None:
    # Retention at 85: 85 ÷ 80 × 100 = 106.25; relationship (106.25 + 40) ÷ 2 = 73.125;
    # overall (4387.5 + 4000) ÷ 100 = 83.875 → 83.88, Meets. 3 of 4 due retained, fixed:
    # 80 × 4 ÷ 100 − 3 = 0.2 → 1 more retained.
    result = kraft_json(
        tiny, "whatif", "--rm", "RM1", "--period", "2025-Q1",
        "--kpi", "client_retention_rate", "--value", "85",
    )  # fmt: skip
    assert (result["after"]["kpi_score"], result["after"]["kra_score"]) == (106.25, 73.125)
    assert (result["after"]["overall_score"], result["after"]["rating"]) == (83.88, 3)
    assert result["successes"]["growth"] == "fixed" and result["successes"]["needed"] == 1
    text = kraft(
        tiny, "whatif", "--rm", "RM1", "--period", "2025-Q1",
        "--kpi", "client_retention_rate", "--value", "85",
    )  # fmt: skip
    assert "1 more retained (now 3 retained of 4 due; each turns one of the 4 due" in text
    # Sessions (a count, no successes) at 0: score 0; customer_education 0; overall
    # (60 × 66.875 + 0) ÷ 100 = 40.125 → 40.13, Unsatisfactory (1). Below threshold (0 < 3).
    result = kraft_json(
        tiny, "whatif", "--rm", "RM1", "--period", "2025-Q1",
        "--kpi", "education_sessions", "--value", "0",
    )  # fmt: skip
    after = result["after"]
    assert (after["kpi_score"], after["status"], after["kra_score"]) == (0, "below threshold", 0)
    assert (after["overall_score"], after["rating"], result["successes"]) == (40.13, 1, None)
    # RM3 has no sales and no retention in 2025-Q1: a value brings the KRA in.
    # Sessions 2 of 6 → 33.33…; sales at 50 → 100: overall (60 × 100 + 40 × 33.33…) ÷ 100
    # = 73.333… → 73.33, Needs improvement (2); before: 33.33 alone, Unsatisfactory.
    result = kraft_json(
        tiny, "whatif", "--rm", "RM3", "--period", "2025-Q1",
        "--kpi", "sales_conversion_rate", "--value", "50",
    )  # fmt: skip
    assert result["before"]["status"] == "no data" and result["before"]["kra_score"] is None
    assert (result["before"]["overall_score"], result["before"]["rating"]) == (33.33, 1)
    assert (result["after"]["overall_score"], result["after"]["rating"]) == (73.33, 2)
    # 0 won of 0 closed: one won lead gives 100 %.
    assert (result["successes"]["denominator"], result["successes"]["needed"]) == (0, 1)


def test_whatif_bad_input(tiny: Workspace) -> None:
    base = ["whatif", "--period", "2025-Q1", "--kpi", "sales_conversion_rate", "--value", "50"]
    assert "--rm 'NOBODY' is not in relationship_managers" in fails(tiny, *base, "--rm", "NOBODY")
    assert "role manager" in fails(tiny, *base, "--rm", "M1")
    args = ["whatif", "--rm", "RM1", "--period", "2025-Q1", "--kpi"]
    assert "--kpi 'referral_rate' is not a KPI" in fails(
        tiny, *args, "referral_rate", "--value", "5"
    )
    assert "--value" in fails(tiny, *args, "sales_conversion_rate", "--value", "lots")
    assert "0 to 100" in fails(tiny, *args, "sales_conversion_rate", "--value", "150")
    # A quarterly KPI on a monthly scorecard; a period without data.
    assert "quarter" in fails(
        tiny, "whatif", "--rm", "RM1", "--period", "2025-02", "--kpi", "sales_conversion_rate",
        "--value", "5",
    )  # fmt: skip
    assert "no values for 2027-Q1" in fails(
        tiny, "whatif", "--rm", "RM1", "--period", "2027-Q1", "--kpi", "sales_conversion_rate",
        "--value", "5",
    )  # fmt: skip
    assert "--period" in fails(
        tiny, "whatif", "--rm", "RM1", "--period", "Q1", "--kpi", "sales_conversion_rate",
        "--value", "5",
    )  # fmt: skip


def test_whatif_for_a_leader_keeps_the_team_kpi(workspace: Workspace, tmp_path: Path) -> None:
    # Under the built-in framework RM1 leads T1: KRA 6 applies, and its
    # team_performance_improvement_rate comes from RM2's and RM3's scorecards. The what-if takes
    # it as stored, so re-scoring RM1 as stored gives the stored overall score.
    ws = build(workspace, tmp_path / "book", tiny=False)
    stored = kraft_json(ws, "drivers", "--rm", "RM1", "--period", "2025-Q1", "--top", "0")
    team = next(d for d in stored["drivers"] if d["kpi_id"] == "team_performance_improvement_rate")
    assert team["score_after"] is not None  # scored from the members
    result = kraft_json(
        ws, "whatif", "--rm", "RM1", "--period", "2025-Q1",
        "--kpi", "education_sessions", "--value", "6",
    )  # fmt: skip
    assert result["team_kpi_as_stored"] is True
    assert result["before"] == result["after"]  # 6 is its value
    assert result["before"]["overall_score"] == stored["overall_after"]
    assert "team_performance_improvement_rate stays as stored" in kraft(
        ws, "whatif", "--rm", "RM1", "--period", "2025-Q1",
        "--kpi", "education_sessions", "--value", "9",
    )  # fmt: skip
    # RM2 leads no team: a KRA 6 KPI does not apply.
    assert "team leaders only" in fails(
        ws, "whatif", "--rm", "RM2", "--period", "2025-Q1",
        "--kpi", "employee_satisfaction_score", "--value", "80",
    )  # fmt: skip
