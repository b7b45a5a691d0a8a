"""The framework model and its YAML loader: the built-in framework against KPIS.md, and errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kraft.errors import KraftError
from kraft.framework.loader import (
    dump_framework,
    load_builtin,
    load_framework_file,
    parse_framework,
    resolve_framework,
)
from kraft.framework.model import (
    KPI,
    AppliesTo,
    Direction,
    Framework,
    Gate,
    Grain,
    KpiKind,
    ScoringMethod,
    Unit,
)
from kraft.framework.starter import role_id, starter_framework

# --------------------------------------------------------------------------------------------
# The built-in framework, checked independently against /work/shared/KPIS.md (typed by hand).
# --------------------------------------------------------------------------------------------

KRA_IDS = [
    "relationship_building",
    "sales_revenue",
    "risk_management",
    "customer_education",
    "market_research",
    "team_leadership",
    "compliance",
    "technology",
    "reporting",
    "professional_development",
]
KRA_WEIGHTS = [15, 20, 10, 10, 5, 10, 10, 5, 5, 10]

PCT = Unit.percent
CNT = Unit.count
CPM = Unit.count_per_month
CUR = Unit.currency
DAYS = Unit.days
SCORE = Unit.score_0_100
PTS = Unit.points
UP = Direction.higher_is_better
DOWN = Direction.lower_is_better
M = Grain.month
Q = Grain.quarter
Y = Grain.year
C = KpiKind.computed
S = KpiKind.score
MAN = KpiKind.manual

# (kra_id, kpi_id, unit, direction, grain, target, threshold, kind), in document order.
KPIS_MD: list[tuple[str, str, Unit, Direction, Grain, str, str, KpiKind]] = [
    ("relationship_building", "client_retention_rate", PCT, UP, Q, "85", "75", C),
    ("relationship_building", "client_meetings_per_month", CPM, UP, M, "20", "15", C),
    ("relationship_building", "customer_satisfaction_score", PCT, UP, Q, "85", "75", C),
    ("relationship_building", "referral_rate", PCT, UP, Q, "5", "3", C),
    ("sales_revenue", "sales_conversion_rate", PCT, UP, Q, "25", "18", C),
    ("sales_revenue", "revenue_per_quarter", CUR, UP, Q, "1500000", "1200000", C),
    ("sales_revenue", "new_business_acquisition_rate", PCT, UP, Q, "5", "3", C),
    ("sales_revenue", "cross_sell_success_rate", PCT, UP, Q, "20", "12", C),
    ("risk_management", "adequate_coverage_rate", PCT, UP, Q, "70", "60", C),
    ("risk_management", "risk_assessment_completion_rate", PCT, UP, Q, "100", "95", C),
    ("risk_management", "claims_settlement_time", DAYS, DOWN, Q, "15", "21", C),
    ("risk_management", "loss_ratio_improvement", PTS, UP, Q, "0", "-5", C),
    ("customer_education", "education_sessions", CNT, UP, M, "3", "2", C),
    ("customer_education", "policy_understanding_score", SCORE, UP, Q, "80", "70", C),
    ("customer_education", "renewal_rate_after_education", PCT, UP, Q, "90", "80", C),
    ("customer_education", "education_material_feedback", SCORE, UP, Q, "80", "70", C),
    ("market_research", "competitor_analysis_reports", CNT, UP, Q, "1", "1", C),
    ("market_research", "new_market_segments", CNT, UP, Y, "2", "1", C),
    ("market_research", "market_penetration_growth_rate", PCT, UP, Q, "3", "0", C),
    ("market_research", "market_share_initiatives", CNT, UP, Q, "1", "1", C),
    ("team_leadership", "team_performance_improvement_rate", PCT, UP, Q, "5", "0", S),
    ("team_leadership", "employee_satisfaction_score", SCORE, UP, Q, "75", "65", C),
    ("team_leadership", "team_training_completion_rate", PCT, UP, Q, "90", "80", C),
    ("team_leadership", "team_goal_achievement_rate", PCT, UP, Q, "80", "60", C),
    ("compliance", "compliance_audit_rating", SCORE, UP, Q, "85", "70", C),
    ("compliance", "compliance_trainings_attended", CNT, UP, Q, "1", "1", C),
    ("compliance", "regulatory_violations", CNT, DOWN, Q, "0", "0", C),
    ("compliance", "documentation_accuracy_rate", PCT, UP, Q, "95", "90", C),
    ("technology", "tech_adoption_rate", PCT, UP, M, "90", "75", C),
    ("technology", "digital_service_feedback", SCORE, UP, Q, "80", "70", C),
    ("technology", "automation_time_savings", PCT, UP, Q, "20", "10", MAN),
    ("technology", "innovation_success_rate", PCT, UP, Y, "60", "40", C),
    ("reporting", "report_accuracy_rate", PCT, UP, Q, "95", "85", C),
    ("reporting", "key_metric_variance", PCT, UP, Q, "70", "50", S),
    ("reporting", "action_plan_success_rate", PCT, UP, Q, "85", "70", C),
    ("reporting", "management_decision_impact", SCORE, UP, Q, "75", "60", MAN),
    ("professional_development", "certifications_obtained", CNT, UP, Y, "1", "1", C),
    ("professional_development", "workshops_attended", CNT, UP, Q, "2", "1", C),
    ("professional_development", "skills_training_completion_rate", PCT, UP, Q, "90", "80", C),
    ("professional_development", "knowledge_sharing_initiatives", CNT, UP, Q, "1", "1", C),
]
ALL_KPI_IDS = [row[1] for row in KPIS_MD]

LINEAR = {
    "loss_ratio_improvement",
    "market_penetration_growth_rate",
    "team_performance_improvement_rate",
}
SURVEY_MEANS = {
    "policy_understanding_score",
    "education_material_feedback",
    "employee_satisfaction_score",
    "digital_service_feedback",
}


@pytest.fixture(scope="module")
def builtin() -> Framework:
    return load_builtin("insurance_rm")


def _kpi(framework: Framework, kpi_id: str) -> KPI:
    return framework.kpi(kpi_id)


def test_builtin_loads_the_same_by_name_and_by_resolve(builtin: Framework) -> None:
    assert isinstance(builtin, Framework)
    assert builtin.id == "insurance_rm"
    assert resolve_framework("insurance_rm") == builtin


def test_builtin_kra_ids_in_order(builtin: Framework) -> None:
    assert [kra.id for kra in builtin.kras] == KRA_IDS
    assert [kra.number for kra in builtin.kras] == list(range(1, 11))


def test_builtin_kra_weights(builtin: Framework) -> None:
    assert [kra.weight for kra in builtin.kras] == [Decimal(w) for w in KRA_WEIGHTS]
    assert sum(kra.weight for kra in builtin.kras) == Decimal(100)


def test_builtin_has_40_kpis_four_per_kra_in_document_order(builtin: Framework) -> None:
    assert len(builtin.kpis()) == 40
    assert all(len(kra.kpis) == 4 for kra in builtin.kras)
    assert [(kra.id, kpi.id) for kra, kpi in builtin.kpis()] == [(r[0], r[1]) for r in KPIS_MD]


@pytest.mark.parametrize(
    ("kra_id", "kpi_id", "unit", "direction", "grain", "target", "threshold", "kind"),
    KPIS_MD,
    ids=ALL_KPI_IDS,
)
def test_builtin_kpi_matches_kpis_md(
    builtin: Framework,
    kra_id: str,
    kpi_id: str,
    unit: Unit,
    direction: Direction,
    grain: Grain,
    target: str,
    threshold: str,
    kind: KpiKind,
) -> None:
    kra = next(k for k in builtin.kras if k.id == kra_id)
    kpi = next(k for k in kra.kpis if k.id == kpi_id)
    assert kpi.unit is unit
    assert kpi.direction is direction
    assert kpi.grain is grain
    assert isinstance(kpi.target, Decimal)
    assert isinstance(kpi.threshold, Decimal)
    assert kpi.target == Decimal(target)
    assert kpi.threshold == Decimal(threshold)
    assert kpi.kind is kind
    # A computed KPI names its metric (by the KPI's own id); the others name none.
    if kind is KpiKind.computed:
        assert kpi.metric == kpi_id
    else:
        assert kpi.metric is None


def test_builtin_spot_checks(builtin: Framework) -> None:
    revenue = _kpi(builtin, "revenue_per_quarter")
    assert (revenue.unit, revenue.target, revenue.threshold) == (
        Unit.currency,
        Decimal(1500000),
        Decimal(1200000),
    )
    loss = _kpi(builtin, "loss_ratio_improvement")
    assert (loss.unit, loss.target, loss.threshold) == (Unit.points, Decimal(0), Decimal(-5))
    claims = _kpi(builtin, "claims_settlement_time")
    assert (claims.unit, claims.direction, claims.target, claims.threshold) == (
        Unit.days,
        Direction.lower_is_better,
        Decimal(15),
        Decimal(21),
    )
    meetings = _kpi(builtin, "client_meetings_per_month")
    assert (meetings.unit, meetings.grain, meetings.target, meetings.threshold) == (
        Unit.count_per_month,
        Grain.month,
        Decimal(20),
        Decimal(15),
    )


@pytest.mark.parametrize("kpi_id", ALL_KPI_IDS)
def test_builtin_scoring_methods(builtin: Framework, kpi_id: str) -> None:
    expected = {
        "claims_settlement_time": ScoringMethod.inverse,
        "regulatory_violations": ScoringMethod.zero_target,
    }.get(kpi_id, ScoringMethod.linear if kpi_id in LINEAR else ScoringMethod.ratio)
    assert _kpi(builtin, kpi_id).scoring is expected


def test_builtin_gates(builtin: Framework) -> None:
    gated = {kpi.id: kpi.gate for _, kpi in builtin.kpis() if kpi.gate is not None}
    assert gated == {
        "revenue_per_quarter": Gate(kind="rating_cap", cap=Decimal(2)),
        "regulatory_violations": Gate(kind="kra_score_cap", cap=Decimal(60)),
    }


def test_builtin_only_team_leadership_is_for_team_leaders(builtin: Framework) -> None:
    applies = {kra.id: kra.applies_to for kra in builtin.kras}
    assert applies.pop("team_leadership") is AppliesTo.team_leaders
    assert set(applies.values()) == {AppliesTo.all}


def _expected_min_volume(kpi_id: str, unit: Unit, kind: KpiKind) -> int:
    # KPIS.md "Status": 5 for the % KPIs computed from rows (kind C), 3 for the four survey
    # means and claims_settlement_time, 5 scored KPIs for key_metric_variance, 1 otherwise.
    if kpi_id in SURVEY_MEANS or kpi_id == "claims_settlement_time":
        return 3
    if kpi_id == "key_metric_variance":
        return 5
    if unit is Unit.percent and kind is KpiKind.computed:
        return 5
    return 1


@pytest.mark.parametrize(
    ("kpi_id", "unit", "kind"), [(r[1], r[2], r[7]) for r in KPIS_MD], ids=ALL_KPI_IDS
)
def test_builtin_min_volume(builtin: Framework, kpi_id: str, unit: Unit, kind: KpiKind) -> None:
    assert _kpi(builtin, kpi_id).min_volume == _expected_min_volume(kpi_id, unit, kind)


def test_builtin_min_volume_groups(builtin: Framework) -> None:
    volumes = {kpi.id: kpi.min_volume for _, kpi in builtin.kpis()}
    assert sorted(k for k, v in volumes.items() if v == 3) == sorted(
        [*SURVEY_MEANS, "claims_settlement_time"]
    )
    assert sum(1 for v in volumes.values() if v == 5) == 19  # 18 computed % KPIs + variance
    assert set(volumes.values()) == {1, 3, 5}


def test_builtin_manual_kpis_say_who_enters_them(builtin: Framework) -> None:
    manual = {kpi.id: kpi.entered_by for _, kpi in builtin.kpis() if kpi.kind is KpiKind.manual}
    assert set(manual) == {"automation_time_savings", "management_decision_impact"}
    assert all(manual.values())


def test_builtin_example_and_takeaways(builtin: Framework) -> None:
    assert builtin.example is not None
    assert builtin.example.title == "Client Retention Strategy Implementation"
    assert [kpi.id for kpi in builtin.example.kpis] == [
        "retention_uplift",
        "personalised_packages_sold",
        "post_strategy_csat",
        "retained_client_referral_rate",
    ]
    assert len(builtin.takeaways) == 3


def test_builtin_default_rating_bands(builtin: Framework) -> None:
    bands = [(band.rating, band.min_score) for band in builtin.rating_bands]
    assert bands == [
        (5, Decimal(110)),
        (4, Decimal(95)),
        (3, Decimal(80)),
        (2, Decimal(60)),
        (1, Decimal(0)),
    ]
    assert [band.label for band in builtin.rating_bands] == [
        "Outstanding",
        "Exceeds",
        "Meets",
        "Needs improvement",
        "Unsatisfactory",
    ]


def test_builtin_document_title(builtin: Framework) -> None:
    assert builtin.document_title == "Relationship Manager In Insurance KRA/KPI"


def test_kpi_lookup_unknown_id_raises_key_error(builtin: Framework) -> None:
    with pytest.raises(KeyError):
        builtin.kpi("no_such_kpi")


# --------------------------------------------------------------------------------------------
# Broken YAML: every error names the source, the line, the field path and a fix.
# --------------------------------------------------------------------------------------------

# Line numbers, for the assertions below:
#  1 id   4 kras   5 - id (KRA)   7 title   9 weight   10 kpis   11 - id (KPI)   16 unit
#  19 target   20 threshold
MINIMAL = """\
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


def _broken(old: str, new: str) -> str:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new, 1)


def _error(text: str) -> str:
    with pytest.raises(KraftError) as info:
        parse_framework(text, source="x.yaml")
    return str(info.value)


def test_minimal_framework_is_valid() -> None:
    framework = parse_framework(MINIMAL, source="x.yaml")
    assert framework.id == "demo"
    assert framework.kras[0].weight == Decimal(100)
    assert framework.kpi("client_retention").target == Decimal(85)


def test_yaml_syntax_error_names_line() -> None:
    message = _error(_broken("    number: 1", "      number: 1"))
    assert message.startswith("x.yaml line 6")
    assert "YAML syntax error" in message
    assert "check the indentation" in message


def test_empty_file() -> None:
    message = _error("")
    assert "x.yaml" in message
    assert "is empty" in message
    assert "id, role, title and kras" in message


def test_comments_only_file_is_empty() -> None:
    assert "is empty" in _error("# nothing here\n")


def test_top_level_list_instead_of_mapping() -> None:
    message = _error("- id: demo\n- role: Demo\n")
    assert message.startswith("x.yaml line 1")
    assert "must be a YAML mapping" in message


def test_missing_required_field() -> None:
    message = _error(_broken("    title: Only KRA\n", ""))
    assert message.startswith("x.yaml is not a valid framework")
    assert "line 5, field kras.only_kra.title: Field required; add it." in message


def test_unknown_field() -> None:
    message = _error(_broken("    weight: 100", "    wieght: 100"))
    assert "line 9, field kras.only_kra.wieght" in message
    assert "Extra inputs are not permitted" in message
    assert "remove it or correct its spelling" in message
    # the real field is then missing, and said so
    assert "field kras.only_kra.weight: Field required; add it." in message


def test_non_number_target() -> None:
    message = _error(_broken("target: 85", "target: eighty"))
    assert "line 19, field kras.only_kra.kpis.client_retention.target:" in message
    assert "valid decimal" in message
    assert "write a plain number such as 85 or 1500000" in message


def test_invalid_enum() -> None:
    message = _error(_broken("unit: percent", "unit: percentage"))
    assert "line 16, field kras.only_kra.kpis.client_retention.unit:" in message
    assert "'percent'" in message
    assert "use one of the values listed" in message


def test_bad_id() -> None:
    message = _error(_broken("id: client_retention\n", "id: Client-Retention\n"))
    assert "line 11, field kras.only_kra.kpis.Client-Retention.id:" in message
    assert "use lower_snake_case" in message


def test_duplicate_key() -> None:
    message = _error(_broken("        target: 85\n", "        target: 85\n        target: 90\n"))
    assert message.startswith("x.yaml line 20:")
    assert "'target' appears twice" in message
    assert "kras[0].kpis[0]" in message or "kras.only_kra.kpis.client_retention" in message
    assert "keep one of them" in message


def test_duplicate_top_level_key() -> None:
    message = _error(MINIMAL + "id: again\n")
    assert message.startswith("x.yaml line 21:")
    assert "'id' appears twice in the top level" in message


def test_several_problems_are_all_reported() -> None:
    text = _broken("target: 85", "target: eighty").replace("unit: percent", "unit: percentage")
    with pytest.raises(KraftError) as info:
        parse_framework(text, source="x.yaml")
    details = info.value.details
    assert any("kpis.client_retention.target" in d for d in details)
    assert any("kpis.client_retention.unit" in d for d in details)
    assert all(d.startswith("line ") for d in details)


def test_one_bad_field_is_reported_as_one_problem() -> None:
    # docs/framework-format.md shows a bad target as "(1 problem)". pydantic's tuple validation
    # adds a `too_short` error for every tuple whose item failed, which the loader passes on as
    # "Tuple should have at least 1 item ...; give at least one entry" for kras and kpis,
    # although both have an entry.
    message = _error(_broken("target: 85", "target: eighty"))
    assert "give at least one entry" not in message, (
        "BUG (loader.parse_framework): spurious too_short problems reported:\n" + message
    )
    assert "(1 problem)" in message, message


def test_an_empty_kra_list_is_reported() -> None:
    message = _error(MINIMAL.split("kras:")[0] + "kras: []\n")
    assert "line 4, field kras:" in message
    assert "give at least one entry" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(KraftError) as info:
        load_framework_file(path)
    assert str(path) in str(info.value)
    assert "no such file" in str(info.value)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MINIMAL.replace("Demo Role", "Rôle").encode("latin-1"))
    with pytest.raises(KraftError) as info:
        load_framework_file(path)
    assert str(path) in str(info.value)
    assert "not UTF-8" in str(info.value)


def test_file_errors_name_the_path(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text(MINIMAL.replace("target: 85", "target: eighty"), encoding="utf-8")
    with pytest.raises(KraftError) as info:
        load_framework_file(path)
    assert str(info.value).startswith(f"{path} is not a valid framework")


def test_load_framework_file_reads_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_framework_file(path) == parse_framework(MINIMAL, source="x")


# --------------------------------------------------------------------------------------------
# resolve_framework
# --------------------------------------------------------------------------------------------


def test_resolve_unknown_name_names_the_builtins() -> None:
    with pytest.raises(KraftError) as info:
        resolve_framework("no_such_framework")
    message = str(info.value)
    assert "'no_such_framework'" in message
    assert "insurance_rm" in message


def test_load_builtin_unknown_name() -> None:
    with pytest.raises(KraftError, match="insurance_rm"):
        load_builtin("no_such_framework")


def test_resolve_relative_path_from_base_dir(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(MINIMAL, encoding="utf-8")
    assert resolve_framework("demo.yaml", base_dir=tmp_path).id == "demo"


def test_resolve_missing_yaml_path(tmp_path: Path) -> None:
    with pytest.raises(KraftError, match="no such file"):
        resolve_framework("missing.yaml", base_dir=tmp_path)


# --------------------------------------------------------------------------------------------
# dump_framework
# --------------------------------------------------------------------------------------------


def test_dump_round_trip_builtin(builtin: Framework) -> None:
    text = dump_framework(builtin)
    assert text.startswith("id: insurance_rm\n")
    assert parse_framework(text, source="dumped") == builtin


def _with_kra_weights(framework: Framework, weights: list[str]) -> Framework:
    kras = tuple(
        kra.model_copy(update={"weight": Decimal(w)})
        for kra, w in zip(framework.kras, weights, strict=False)
    )
    return framework.model_copy(update={"kras": kras})


def test_dump_round_trip_decimal_weights(builtin: Framework) -> None:
    framework = _with_kra_weights(builtin, ["33.33", "33.33", "33.34"])
    again = parse_framework(dump_framework(framework), source="dumped")
    assert again == framework
    assert [kra.weight for kra in again.kras] == [
        Decimal("33.33"),
        Decimal("33.33"),
        Decimal("33.34"),
    ]
    assert sum(kra.weight for kra in again.kras) == Decimal(100)


def test_dump_round_trip_keeps_full_decimal_precision(builtin: Framework) -> None:
    # Three weights that sum to exactly 100 in Decimal. dump_framework writes them as YAML floats
    # and parse_framework reads them back through float, so they come back as
    # 33.333333333333336 (and then sum to more than 100).
    weights = ["33.333333333333333333", "33.333333333333333333", "33.333333333333333334"]
    framework = _with_kra_weights(builtin, weights)
    assert sum(kra.weight for kra in framework.kras) == Decimal(100)
    again = parse_framework(dump_framework(framework), source="dumped")
    assert [kra.weight for kra in again.kras] == [Decimal(w) for w in weights], (
        "BUG (loader.dump_framework/parse_framework): decimals lose precision through float"
    )


# --------------------------------------------------------------------------------------------
# starter framework
# --------------------------------------------------------------------------------------------


def test_starter_framework_loads() -> None:
    framework = parse_framework(starter_framework("Claims Manager"), source="starter.yaml")
    assert framework.id == "claims_manager"
    assert framework.role == "Claims Manager"
    assert len(framework.kras) == 3
    assert all(len(kra.kpis) == 4 for kra in framework.kras)


def test_starter_framework_quotes_the_role() -> None:
    role = 'Claims "Senior": Manager'
    framework = parse_framework(starter_framework(role), source="starter.yaml")
    assert framework.role == role
    assert framework.id == "claims_senior_manager"


def test_role_id() -> None:
    assert role_id("Claims Manager") == "claims_manager"
    assert role_id("  Senior Agent (Tier 2) ") == "senior_agent_tier_2"


@pytest.mark.parametrize("role", ["123", "", "!!!", "_9"])
def test_role_id_needs_a_letter_first(role: str) -> None:
    with pytest.raises(KraftError, match="at least one letter"):
        role_id(role)


@pytest.mark.parametrize(("kras", "kpis"), [(0, 4), (21, 4), (3, 0), (3, 11)])
def test_starter_framework_sizes_out_of_range(kras: int, kpis: int) -> None:
    with pytest.raises(KraftError, match="1 to 20 KRAs"):
        starter_framework("X", kras=kras, kpis_per_kra=kpis)
