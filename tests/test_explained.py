"""A KPI value explained as a person reads it: rounded in its unit, no "None", and an
improvement with the two loss ratios it subtracts."""

from __future__ import annotations

import json
from decimal import Decimal

from kraft.framework.loader import load_builtin
from kraft.reports.explained import Fact, cell_text, value_facts
from kraft.reports.values import stored_figure

FRAMEWORK = load_builtin("insurance_rm")


def test_a_ratio_rounds_and_leaves_out_what_it_does_not_have() -> None:
    stored = {"value": 11.11111111111111, "numerator": 1.0, "denominator": 9.0, "extra": None}
    kpi = FRAMEWORK.kpi("client_retention_rate")
    assert value_facts(stored, kpi, "INR", None, "2026-Q3") == [
        Fact("Value", "11.11 %"),
        Fact("Numerator", "1"),
        Fact("Denominator", "9"),
    ]
    undefined = {"value": None, "numerator": None, "denominator": None, "extra": None}
    assert value_facts(undefined, kpi, "INR", None, "2026-Q3") == [
        Fact("Value", "undefined (no data or a zero denominator)")
    ]


def test_an_improvement_shows_both_loss_ratios_it_subtracts() -> None:
    extra = {
        "previous_loss_ratio": 6.851851851851852,
        "previous_loss_ratio_numerator": 566574.2,
        "previous_loss_ratio_denominator": 8268943.913315069,
        "loss_ratio": 12.5,
        "loss_ratio_numerator": 1118693.27,
        "loss_ratio_denominator": 8949546.180986302,
    }
    stored = {"value": -5.648148148148148, "numerator": None, "denominator": None}
    facts = value_facts(
        {**stored, "extra": json.dumps(extra)},
        FRAMEWORK.kpi("loss_ratio_improvement"),
        "INR",
        "2026-Q2",
        "2026-Q3",
    )
    assert facts == [
        Fact("Value", "-5.65 pp"),
        Fact(
            "Loss ratio, 2026-Q2",
            "6.85 % (claims incurred ₹5,66,574 ÷ earned premium ₹82,68,944)",
        ),
        Fact(
            "Loss ratio, 2026-Q3",
            "12.5 % (claims incurred ₹11,18,693 ÷ earned premium ₹89,49,546)",
        ),
    ]


def test_an_improvement_stored_before_the_loss_ratios_were_kept_shows_its_premiums() -> None:
    extra = {"previous_loss_ratio_denominator": 9700.0, "loss_ratio_denominator": None}
    facts = value_facts(
        {"value": None, "extra": json.dumps(extra)},
        FRAMEWORK.kpi("loss_ratio_improvement"),
        "INR",
        "2024-Q1",
        "2024-Q2",
    )
    assert facts[1:] == [
        Fact(
            "Loss ratio, 2024-Q1",
            "undefined (no data or a zero denominator) (earned premium ₹9,700)",
        ),
        Fact("Loss ratio, 2024-Q2", "undefined (no data or a zero denominator)"),
    ]
    assert all("None" not in fact.text for fact in facts)


def test_what_else_was_counted_reads_in_words() -> None:
    stored = {"value": 95.0, "numerator": 19.0, "denominator": 20.0, "extra": '{"decided": 20.0}'}
    facts = value_facts(stored, FRAMEWORK.kpi("client_retention_rate"), "INR", None, "2026-Q3")
    assert facts[-1] == Fact("Decided cases (renewed, or past their grace)", "20")


def test_row_cells_read_as_numbers_people_read() -> None:
    assert [
        cell_text(v, "INR")
        for v in (Decimal("338507.430000"), 4062.2357260273975, None, True, False, "C1", 7)
    ] == ["3,38,507", "4,062.24", "", "yes", "no", "C1", "7"]


def test_a_signed_figure_reads_in_its_unit() -> None:
    kpi = "client_retention_rate"
    assert stored_figure(FRAMEWORK, f"KPI {kpi}", "value", "95.41284403669725") == "95.41 %"
    assert stored_figure(FRAMEWORK, "KPI revenue_per_quarter", "target", "13088578.44") == (
        "₹1,30,88,578"
    )
    assert stored_figure(FRAMEWORK, "overall", "score", "80.6300") == "80.63"
    assert stored_figure(FRAMEWORK, "overall", "coverage", "83.33333333333333") == "83.3 %"
    assert stored_figure(FRAMEWORK, f"KPI {kpi}", "denominator", "8949546.18") == "89,49,546"
    assert stored_figure(FRAMEWORK, f"KPI {kpi}", "status", "on track") == "on track"
    assert stored_figure(FRAMEWORK, "overall", "scorecard", None) == "—"
