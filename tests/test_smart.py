"""SMART and structure rules: each rule with a framework that breaks it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kraft.framework.loader import load_builtin, parse_framework
from kraft.framework.model import (
    KRA,
    Band,
    Direction,
    Framework,
    KpiKind,
    RatingBand,
    ScoringMethod,
    Unit,
)
from kraft.framework.smart import (
    Finding,
    Rule,
    Severity,
    errors,
    is_placeholder,
    percentile,
    validate,
)
from kraft.framework.starter import starter_framework

ERROR = Severity.error
WARNING = Severity.warning


@pytest.fixture(scope="module")
def builtin() -> Framework:
    return load_builtin("insurance_rm")


def with_kpi(framework: Framework, kpi_id: str, **update: Any) -> Framework:
    """The framework with one KPI's fields replaced (no validation, as a draft could be)."""
    assert any(kpi.id == kpi_id for _, kpi in framework.kpis()), kpi_id
    kras = tuple(
        kra.model_copy(
            update={
                "kpis": tuple(
                    kpi.model_copy(update=update) if kpi.id == kpi_id else kpi for kpi in kra.kpis
                )
            }
        )
        for kra in framework.kras
    )
    return framework.model_copy(update={"kras": kras})


def with_kra(framework: Framework, kra_id: str, **update: Any) -> Framework:
    assert any(kra.id == kra_id for kra in framework.kras), kra_id
    kras = tuple(
        kra.model_copy(update=update) if kra.id == kra_id else kra for kra in framework.kras
    )
    return framework.model_copy(update={"kras": kras})


def with_kra_weights(framework: Framework, weights: list[str]) -> Framework:
    """The first len(weights) KRAs of the framework, with these weights."""
    kras = tuple(
        kra.model_copy(update={"weight": Decimal(w)})
        for kra, w in zip(framework.kras, weights, strict=False)
    )
    return framework.model_copy(update={"kras": kras})


def only(findings: list[Finding], rule: Rule) -> list[Finding]:
    return [f for f in findings if f.rule is rule]


def one(findings: list[Finding], rule: Rule, where: str, severity: Severity = ERROR) -> Finding:
    """The single finding of the validation: of this rule, at this place, of this severity."""
    assert len(findings) == 1, findings
    finding = findings[0]
    assert finding.rule is rule
    assert finding.where == where
    assert finding.severity is severity
    assert finding.problem
    assert finding.fix
    return finding


def test_builtin_has_no_findings(builtin: Framework) -> None:
    assert validate(builtin) == []


# --------------------------------------------------------------------------------------------
# Specific
# --------------------------------------------------------------------------------------------

GOOD_DEFINITION = (
    "By policy end date: distinct clients due for renewal who renewed, divided by those due."
)


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        (None, "missing or still a placeholder"),
        ("", "missing or still a placeholder"),
        ("   ", "missing or still a placeholder"),
        ("TODO: what is counted, over what, by which date", "missing or still a placeholder"),
        ("Clients renewed, divided by clients due: TBD later on", "missing or still a placeholder"),
        ("Count of <thing> over the whole quarter for each RM", "missing or still a placeholder"),
        ("Clients who renewed divided by clients due", "has 7 words; at least 8"),
        (
            "This is measured carefully every single period by the manager",
            "does not name what is counted",
        ),
    ],
    ids=["none", "empty", "blank", "todo", "tbd", "angle", "seven_words", "nothing_counted"],
)
def test_specific_errors(builtin: Framework, definition: str | None, problem: str) -> None:
    framework = with_kpi(builtin, "client_retention_rate", definition=definition)
    finding = one(validate(framework), Rule.specific, "client_retention_rate")
    assert problem in finding.problem


def test_specific_placeholder_name(builtin: Framework) -> None:
    framework = with_kpi(builtin, "referral_rate", name="TODO: KPI name")
    one(validate(framework), Rule.specific, "referral_rate")


def test_specific_good_definition_passes(builtin: Framework) -> None:
    framework = with_kpi(builtin, "client_retention_rate", definition=GOOD_DEFINITION)
    assert validate(framework) == []


def test_specific_eight_words_naming_a_counted_noun_pass(builtin: Framework) -> None:
    definition = "Completed meetings with this RM in the calendar month"  # 9 words, "meetings"
    assert validate(with_kpi(builtin, "client_meetings_per_month", definition=definition)) == []


def test_is_placeholder() -> None:
    assert is_placeholder(None)
    assert is_placeholder("")
    assert is_placeholder("fixme please")
    assert is_placeholder("???")
    assert not is_placeholder("Todos are not placeholders when they are a plain word: todos")
    assert not is_placeholder(GOOD_DEFINITION)


# --------------------------------------------------------------------------------------------
# Measurable
# --------------------------------------------------------------------------------------------


def test_measurable_no_unit(builtin: Framework) -> None:
    finding = one(
        validate(with_kpi(builtin, "referral_rate", unit=None)), Rule.measurable, "referral_rate"
    )
    assert finding.problem == "no unit"


def test_measurable_no_direction(builtin: Framework) -> None:
    finding = one(
        validate(with_kpi(builtin, "referral_rate", direction=None)),
        Rule.measurable,
        "referral_rate",
    )
    assert finding.problem == "no direction"


@pytest.mark.parametrize("metric", [None, "TODO: metric id"])
def test_measurable_computed_kpi_without_metric(builtin: Framework, metric: str | None) -> None:
    framework = with_kpi(builtin, "referral_rate", metric=metric)
    # reported once, under Measurable, not again under Metric reference
    finding = one(validate(framework), Rule.measurable, "referral_rate")
    assert "without a metric" in finding.problem
    known = {kpi.metric for _, kpi in builtin.kpis() if kpi.metric}
    assert validate(framework, known_metrics=known) == [finding]


def test_measurable_manual_kpi_without_entered_by(builtin: Framework) -> None:
    framework = with_kpi(builtin, "automation_time_savings", entered_by=())
    finding = one(validate(framework), Rule.measurable, "automation_time_savings")
    assert "manual" in finding.problem


def test_measurable_bands_scoring_without_bands(builtin: Framework) -> None:
    framework = with_kpi(builtin, "referral_rate", scoring=ScoringMethod.bands, bands=())
    finding = one(validate(framework), Rule.measurable, "referral_rate")
    assert "bands" in finding.problem


def test_measurable_bands_scoring_with_bands_passes(builtin: Framework) -> None:
    bands = (Band(min=Decimal(5), points=Decimal(100)), Band(min=Decimal(0), points=Decimal(0)))
    framework = with_kpi(builtin, "referral_rate", scoring=ScoringMethod.bands, bands=bands)
    assert validate(framework) == []


# --------------------------------------------------------------------------------------------
# Achievable
# --------------------------------------------------------------------------------------------


def test_achievable_no_target(builtin: Framework) -> None:
    framework = with_kpi(builtin, "client_retention_rate", target=None)
    finding = one(validate(framework), Rule.achievable, "client_retention_rate")
    assert finding.problem == "no target"


def test_achievable_no_threshold(builtin: Framework) -> None:
    framework = with_kpi(builtin, "client_retention_rate", threshold=None)
    finding = one(validate(framework), Rule.achievable, "client_retention_rate")
    assert finding.problem == "no threshold"


def test_achievable_higher_is_better_target_below_threshold(builtin: Framework) -> None:
    framework = with_kpi(builtin, "client_retention_rate", target=Decimal(70))
    finding = one(validate(framework), Rule.achievable, "client_retention_rate")
    assert "below threshold 75" in finding.problem


def test_achievable_lower_is_better_target_above_threshold(builtin: Framework) -> None:
    framework = with_kpi(builtin, "claims_settlement_time", target=Decimal(25))
    finding = one(validate(framework), Rule.achievable, "claims_settlement_time")
    assert "above threshold 21" in finding.problem


def test_achievable_target_equal_to_threshold_passes(builtin: Framework) -> None:
    framework = with_kpi(builtin, "claims_settlement_time", target=Decimal(21))
    assert validate(framework) == []


def test_achievable_cap_below_100(builtin: Framework) -> None:
    framework = with_kpi(builtin, "client_retention_rate", cap=Decimal(90))
    finding = one(validate(framework), Rule.achievable, "client_retention_rate")
    assert "cap 90 is below 100" in finding.problem


def test_achievable_cap_of_100_passes(builtin: Framework) -> None:
    assert validate(with_kpi(builtin, "client_retention_rate", cap=Decimal(100))) == []


def test_achievable_score_target_above_100(builtin: Framework) -> None:
    framework = with_kpi(builtin, "policy_understanding_score", target=Decimal(120))
    finding = one(validate(framework), Rule.achievable, "policy_understanding_score")
    assert "target 120 is outside what a score_0_100 can be" in finding.problem


def test_achievable_negative_count_target(builtin: Framework) -> None:
    # threshold -1 as well, so that the target is not below the threshold
    framework = with_kpi(builtin, "education_sessions", target=Decimal(-1), threshold=Decimal(-1))
    findings = validate(framework)
    assert [(f.rule, f.where, f.severity) for f in findings] == [
        (Rule.achievable, "education_sessions", ERROR),
        (Rule.achievable, "education_sessions", ERROR),
    ]
    assert "target -1 is outside what a count can be" in findings[0].problem
    assert "threshold -1 is outside what a count can be" in findings[1].problem


def test_achievable_negative_count_target_only(builtin: Framework) -> None:
    framework = with_kpi(builtin, "education_sessions", target=Decimal(-1))
    findings = only(validate(framework), Rule.achievable)
    assert all(f.where == "education_sessions" and f.severity is ERROR for f in findings)
    assert any("target -1 is outside what a count can be" in f.problem for f in findings)


def test_achievable_percent_target_above_100_is_a_warning(builtin: Framework) -> None:
    framework = with_kpi(builtin, "client_retention_rate", target=Decimal(150))
    finding = one(validate(framework), Rule.achievable, "client_retention_rate", WARNING)
    assert "above 100 %" in finding.problem
    assert errors(validate(framework)) == []


def test_achievable_points_may_be_negative(builtin: Framework) -> None:
    # loss_ratio_improvement: target 0, threshold -5 points, no bounds on points
    assert validate(with_kpi(builtin, "loss_ratio_improvement", target=Decimal(-2))) == []


RETENTION_ACTUALS = [Decimal(x) for x in range(50, 91)]  # 41 values: 50, 51, ..., 90


def test_achievable_target_within_recent_actuals_passes(builtin: Framework) -> None:
    # 41 sorted values, linear interpolation (numpy's default):
    #   95th: rank = (41 - 1) × 0.95 = 38 → value[38] = 50 + 38 = 88
    #    5th: rank = (41 - 1) × 0.05 = 2  → value[2]  = 52
    # target 85 lies in [52, 88]: no finding.
    assert percentile(RETENTION_ACTUALS, Decimal(95)) == Decimal(88)
    assert percentile(RETENTION_ACTUALS, Decimal(5)) == Decimal(52)
    findings = validate(builtin, recent_actuals={"client_retention_rate": RETENTION_ACTUALS})
    assert findings == []


def test_achievable_target_above_95th_percentile_is_a_warning(builtin: Framework) -> None:
    framework = with_kpi(builtin, "client_retention_rate", target=Decimal(95))
    findings = validate(framework, recent_actuals={"client_retention_rate": RETENTION_ACTUALS})
    finding = one(findings, Rule.achievable, "client_retention_rate", WARNING)
    assert "above the 95th" in finding.problem
    assert "(88)" in finding.problem
    assert "41 recent actuals" in finding.problem


def test_achievable_target_below_5th_percentile_is_a_warning(builtin: Framework) -> None:
    # 40 values 60..99: 5th percentile rank = 39 × 0.05 = 1.95 → 61 + 0.95 × (62 − 61) = 61.95
    actuals = [Decimal(x) for x in range(60, 100)]
    assert percentile(actuals, Decimal(5)) == Decimal("61.95")
    framework = with_kpi(
        builtin, "client_retention_rate", target=Decimal(50), threshold=Decimal(40)
    )
    findings = validate(framework, recent_actuals={"client_retention_rate": actuals})
    finding = one(findings, Rule.achievable, "client_retention_rate", WARNING)
    assert "below the 5th" in finding.problem
    assert "61.95" in finding.problem


def test_achievable_actuals_of_other_kpis_are_not_used(builtin: Framework) -> None:
    framework = with_kpi(builtin, "client_retention_rate", target=Decimal(95))
    findings = validate(framework, recent_actuals={"referral_rate": RETENTION_ACTUALS})
    assert [f.where for f in findings] == ["referral_rate"]  # its own target 5 is below 52
    assert validate(framework, recent_actuals={"client_retention_rate": []}) == []


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        # [1, 2, 3, 4]: rank = 3 × p / 100
        ([1, 2, 3, 4], "50", "2.5"),  # rank 1.5  → 2 + 0.5 × 1
        ([1, 2, 3, 4], "95", "3.85"),  # rank 2.85 → 3 + 0.85 × 1
        ([1, 2, 3, 4], "5", "1.15"),  # rank 0.15 → 1 + 0.15 × 1
        ([1, 2, 3, 4], "0", "1"),
        ([1, 2, 3, 4], "100", "4"),
        ([4, 1, 3, 2], "50", "2.5"),  # order does not matter
        ([7], "5", "7"),  # a single value is every percentile
        ([7], "50", "7"),
        ([7], "95", "7"),
        ([10, 20], "25", "12.5"),  # rank 0.25 → 10 + 0.25 × 10
        ([0, 10, 20, 30, 40], "90", "36"),  # rank 3.6 → 30 + 0.6 × 10
    ],
)
def test_percentile(values: list[int], pct: str, expected: str) -> None:
    assert percentile([Decimal(v) for v in values], Decimal(pct)) == Decimal(expected)


def test_percentile_of_nothing() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], Decimal(50))


# --------------------------------------------------------------------------------------------
# Relevant, Time-bound
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("statement", [None, "TODO: the KRA sentence", ""])
def test_relevant_kra_without_statement(builtin: Framework, statement: str | None) -> None:
    framework = with_kra(builtin, "risk_management", statement=statement)
    finding = one(validate(framework), Rule.relevant, "risk_management")
    assert "claims_settlement_time" in finding.problem  # names the KRA's KPIs


def test_time_bound_no_grain(builtin: Framework) -> None:
    framework = with_kpi(builtin, "workshops_attended", grain=None)
    finding = one(validate(framework), Rule.time_bound, "workshops_attended")
    assert "grain" in finding.problem


# --------------------------------------------------------------------------------------------
# Unique ids
# --------------------------------------------------------------------------------------------


def test_unique_ids_duplicate_kpi(builtin: Framework) -> None:
    framework = with_kpi(builtin, "referral_rate", id="client_retention_rate")
    finding = one(validate(framework), Rule.unique_ids, "client_retention_rate")
    assert "KPI id 'client_retention_rate' is used 2 times" in finding.problem


def test_unique_ids_kpi_duplicating_an_example_kpi(builtin: Framework) -> None:
    framework = with_kpi(builtin, "referral_rate", id="retention_uplift")
    one(validate(framework), Rule.unique_ids, "retention_uplift")


def test_unique_ids_duplicate_kra(builtin: Framework) -> None:
    framework = with_kra(builtin, "sales_revenue", id="relationship_building")
    finding = one(validate(framework), Rule.unique_ids, "relationship_building")
    assert "KRA id 'relationship_building' is used 2 times" in finding.problem


def test_unique_ids_duplicate_kra_number(builtin: Framework) -> None:
    framework = with_kra(builtin, "sales_revenue", number=1)
    finding = one(validate(framework), Rule.unique_ids, "framework")
    assert "KRA number 1 is used 2 times" in finding.problem


# --------------------------------------------------------------------------------------------
# KRA weights, KPI weights
# --------------------------------------------------------------------------------------------


def test_kra_weights_thirds_sum_exactly_to_100(builtin: Framework) -> None:
    framework = with_kra_weights(builtin, ["33.33", "33.33", "33.34"])
    assert only(validate(framework), Rule.kra_weights) == []
    assert validate(framework) == []


def test_kra_weights_summing_to_99_99(builtin: Framework) -> None:
    framework = with_kra_weights(builtin, ["33.33", "33.33", "33.33"])
    finding = one(validate(framework), Rule.kra_weights, "framework")
    assert "99.99" in finding.problem
    assert "+0.01" in finding.fix


def test_kra_weights_summing_to_110(builtin: Framework) -> None:
    framework = with_kra_weights(builtin, ["50", "60"])
    finding = one(validate(framework), Rule.kra_weights, "framework")
    assert "110" in finding.problem
    assert "-10" in finding.fix


def _with_kpi_weights(framework: Framework, kra_id: str, weights: list[str | None]) -> Framework:
    kra: KRA = next(k for k in framework.kras if k.id == kra_id)
    assert len(kra.kpis) == len(weights)
    kpis = tuple(
        kpi.model_copy(update={"weight": None if w is None else Decimal(w)})
        for kpi, w in zip(kra.kpis, weights, strict=True)
    )
    return with_kra(framework, kra_id, kpis=kpis)


def test_kpi_weights_none_given_passes(builtin: Framework) -> None:
    framework = _with_kpi_weights(builtin, "sales_revenue", [None, None, None, None])
    assert validate(framework) == []


def test_kpi_weights_all_given_summing_to_100_passes(builtin: Framework) -> None:
    framework = _with_kpi_weights(builtin, "sales_revenue", ["25.5", "24.5", "25", "25"])
    assert validate(framework) == []


def test_kpi_weights_some_given(builtin: Framework) -> None:
    framework = _with_kpi_weights(builtin, "sales_revenue", ["50", "50", None, None])
    finding = one(validate(framework), Rule.kpi_weights, "sales_revenue")
    assert "2 of the KRA's 4 KPIs" in finding.problem


def test_kpi_weights_all_given_summing_to_90(builtin: Framework) -> None:
    framework = _with_kpi_weights(builtin, "sales_revenue", ["30", "30", "20", "10"])
    finding = one(validate(framework), Rule.kpi_weights, "sales_revenue")
    assert "sum to 90" in finding.problem


# --------------------------------------------------------------------------------------------
# Metric reference
# --------------------------------------------------------------------------------------------


def _metric_ids(framework: Framework) -> set[str]:
    return {kpi.metric for _, kpi in framework.kpis() if kpi.metric is not None}


def test_metric_reference_all_known_passes(builtin: Framework) -> None:
    known = _metric_ids(builtin)
    assert len(known) == 36  # 40 KPIs minus 2 score and 2 manual
    assert validate(builtin, known_metrics=known) == []


def test_metric_reference_unknown_metric(builtin: Framework) -> None:
    known = _metric_ids(builtin) - {"referral_rate"}
    finding = one(validate(builtin, known_metrics=known), Rule.metric_reference, "referral_rate")
    assert "'referral_rate' is not in the metric catalogue" in finding.problem


def test_metric_reference_is_not_checked_without_a_catalogue(builtin: Framework) -> None:
    framework = with_kpi(builtin, "referral_rate", metric="no_such_metric")
    assert validate(framework) == []
    one(
        validate(framework, known_metrics=_metric_ids(builtin)),
        Rule.metric_reference,
        "referral_rate",
    )


def test_metric_reference_manual_kpi_naming_a_metric(builtin: Framework) -> None:
    framework = with_kpi(builtin, "automation_time_savings", metric="tech_adoption_rate")
    finding = one(validate(framework), Rule.metric_reference, "automation_time_savings")
    assert "manual KPI names metric 'tech_adoption_rate'" in finding.problem


def test_metric_reference_score_kpi_naming_a_metric(builtin: Framework) -> None:
    framework = with_kpi(builtin, "key_metric_variance", metric="report_accuracy_rate")
    assert framework.kpi("key_metric_variance").kind is KpiKind.score
    one(validate(framework), Rule.metric_reference, "key_metric_variance")


# --------------------------------------------------------------------------------------------
# Rating bands
# --------------------------------------------------------------------------------------------


def _bands(*rows: tuple[int, int]) -> tuple[RatingBand, ...]:
    return tuple(
        RatingBand(rating=rating, label=f"R{rating}", min_score=Decimal(score))
        for rating, score in rows
    )


def test_rating_bands_out_of_order(builtin: Framework) -> None:
    framework = builtin.model_copy(
        update={"rating_bands": _bands((1, 0), (2, 60), (3, 80), (4, 95), (5, 110))}
    )
    finding = one(validate(framework), Rule.rating_bands, "framework")
    assert "highest to lowest" in finding.problem


def test_rating_bands_duplicate_rating(builtin: Framework) -> None:
    framework = builtin.model_copy(update={"rating_bands": _bands((3, 80), (3, 60), (1, 0))})
    one(validate(framework), Rule.rating_bands, "framework")


@pytest.mark.parametrize(
    "rows",
    [
        ((5, 110), (4, 95), (3, 95), (2, 60), (1, 0)),  # equal
        ((5, 110), (4, 80), (3, 95), (2, 60), (1, 0)),  # rising
    ],
    ids=["equal", "rising"],
)
def test_rating_bands_min_score_not_strictly_falling(
    builtin: Framework, rows: tuple[tuple[int, int], ...]
) -> None:
    framework = builtin.model_copy(update={"rating_bands": _bands(*rows)})
    finding = one(validate(framework), Rule.rating_bands, "framework")
    assert "min_score" in finding.problem


def test_rating_bands_custom_three_bands_pass(builtin: Framework) -> None:
    framework = builtin.model_copy(update={"rating_bands": _bands((3, 90), (2, 50), (1, 0))})
    assert validate(framework) == []


# --------------------------------------------------------------------------------------------
# errors(), ordering, YAML-built frameworks
# --------------------------------------------------------------------------------------------


def test_errors_keeps_only_error_findings(builtin: Framework) -> None:
    framework = with_kpi(builtin, "client_retention_rate", target=Decimal(150))
    framework = with_kpi(framework, "referral_rate", unit=None)
    findings = validate(framework)
    assert {f.severity for f in findings} == {ERROR, WARNING}
    errs = errors(findings)
    assert errs == [f for f in findings if f.severity is ERROR]
    assert [(f.rule, f.where) for f in errs] == [(Rule.measurable, "referral_rate")]
    assert errors([]) == []


def test_findings_come_in_document_order(builtin: Framework) -> None:
    framework = with_kpi(builtin, "knowledge_sharing_initiatives", grain=None)
    framework = with_kpi(framework, "client_retention_rate", grain=None)
    framework = with_kra_weights(framework, [str(w) for w in [15, 20, 10, 10, 5, 10, 10, 5, 5, 11]])
    where = [(f.rule, f.where) for f in validate(framework)]
    assert where == [
        (Rule.kra_weights, "framework"),
        (Rule.time_bound, "client_retention_rate"),
        (Rule.time_bound, "knowledge_sharing_initiatives"),
    ]


YAML_FRAMEWORK = """\
id: demo
role: Demo Role
title: Demo
kras:
  - id: only_kra
    number: 1
    title: Only KRA
    statement: The role is responsible for keeping clients.
    weight: 100
    kpis:
      - id: client_retention
        name: Client retention
        definition: Distinct clients who renewed divided by distinct clients due for renewal.
        kind: computed
        metric: client_retention_rate
        unit: percent
        direction: higher_is_better
        grain: quarter
        target: 85
        threshold: 75
"""


def test_small_yaml_framework_passes() -> None:
    framework = parse_framework(YAML_FRAMEWORK, source="x.yaml")
    assert validate(framework) == []
    assert validate(framework, known_metrics={"client_retention_rate"}) == []


def test_small_yaml_framework_with_several_gaps() -> None:
    text = (
        YAML_FRAMEWORK.replace("weight: 100", "weight: 90")
        .replace("        unit: percent\n", "")
        .replace("        grain: quarter\n", "")
    )
    findings = validate(parse_framework(text, source="x.yaml"))
    assert [(f.rule, f.where, f.severity) for f in findings] == [
        (Rule.kra_weights, "framework", ERROR),
        (Rule.measurable, "client_retention", ERROR),
        (Rule.time_bound, "client_retention", ERROR),
    ]


def test_kpi_direction_enum_values(builtin: Framework) -> None:
    # sanity: frameworks made with model_copy keep enum members, not strings
    framework = with_kpi(builtin, "referral_rate", direction=Direction.lower_is_better)
    assert framework.kpi("referral_rate").direction is Direction.lower_is_better
    assert framework.kpi("referral_rate").unit is Unit.percent


# --------------------------------------------------------------------------------------------
# The starter framework
# --------------------------------------------------------------------------------------------


def test_starter_framework_fails_smart_but_not_structure() -> None:
    framework = parse_framework(starter_framework("Claims Manager"), source="starter.yaml")
    findings = validate(framework)
    error_rules = {f.rule for f in errors(findings)}
    assert {
        Rule.specific,
        Rule.measurable,
        Rule.achievable,
        Rule.relevant,
        Rule.time_bound,
    } <= error_rules
    assert Rule.unique_ids not in error_rules
    assert Rule.kra_weights not in error_rules
    # every KPI is flagged under each KPI rule, every KRA under Relevant
    kpi_ids = {kpi.id for _, kpi in framework.kpis()}
    for rule in (Rule.specific, Rule.measurable, Rule.achievable, Rule.time_bound):
        assert {f.where for f in only(findings, rule)} == kpi_ids
    assert {f.where for f in only(findings, Rule.relevant)} == {"kra_1", "kra_2", "kra_3"}
    assert sum(kra.weight for kra in framework.kras) == Decimal(100)


def test_starter_framework_weights_of_three_kras() -> None:
    framework = parse_framework(starter_framework("X", kras=3), source="starter.yaml")
    assert [kra.weight for kra in framework.kras] == [Decimal(34), Decimal(33), Decimal(33)]


@pytest.mark.parametrize("kras", [1, 6, 7, 20])
def test_starter_framework_weights_always_sum_to_100(kras: int) -> None:
    framework = parse_framework(starter_framework("X", kras=kras), source="starter.yaml")
    assert len(framework.kras) == kras
    assert only(validate(framework), Rule.kra_weights) == []


def test_comparison_signs_are_not_placeholders() -> None:
    from kraft.framework.smart import is_placeholder

    assert not is_placeholder("claims with amount < 1000 and settlement days > 30, of all claims")
    assert is_placeholder("<describe what is counted>")
    assert is_placeholder("Share of TODO policies")
