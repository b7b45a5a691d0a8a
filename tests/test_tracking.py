"""KPIs "not tracked" (KPIS.md "Scoring defaults"): which table feeds which KPI (from the metric
catalogue), the scorecard of an insurer that sends only policies, claims and CRM data (overall
renormalised, coverage counting the untracked KPIs as applicable), values stored null, the
status and import summary, and turning a KPI off in kraft.toml (audited).

Every expectation is worked out by hand.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from kpi_books import interaction, kraft, load, policy
from kraft.commands.common import open_database
from kraft.framework.loader import load_builtin
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar
from kraft.scoring.methods import Status
from kraft.scoring.scorecard import Person, Scorer, Value
from kraft.scoring.targets import TargetBook
from kraft.scoring.tracking import NEVER_UNTRACKING, kpi_tables, metric_tables, tracking
from kraft.workspace import Workspace, load_workspace

D = Decimal
BUILTIN = load_builtin("insurance_rm")
CATALOGUE = load_catalogue()
CRM_ONLY = {
    "policies",
    "claims",
    "leads",
    "interactions",
    "clients",
    "teams",
    "relationship_managers",
}
SURVEY_KPIS = {
    "customer_satisfaction_score",
    "policy_understanding_score",
    "education_material_feedback",
    "employee_satisfaction_score",
    "digital_service_feedback",
}


def test_tables_feeding_a_kpi_come_from_its_numerator_in_the_catalogue() -> None:
    assert metric_tables(CATALOGUE, "customer_satisfaction_score") == {"surveys"}
    assert metric_tables(CATALOGUE, "referral_rate") == {"leads"}  # not policies (denominator)
    assert metric_tables(CATALOGUE, "loss_ratio_improvement") == {"claims"}  # through loss_ratio
    assert metric_tables(CATALOGUE, "market_penetration_growth_rate") == {"policies"}
    assert metric_tables(CATALOGUE, "team_goal_achievement_rate") == {"team_goals"}
    feeds = kpi_tables(BUILTIN, CATALOGUE)
    assert len(feeds) == 36  # 40 KPIs less 2 manual and 2 score-derived
    assert not set().union(*feeds.values()) & NEVER_UNTRACKING


def test_policies_claims_and_crm_only_leave_22_kpis_untracked() -> None:
    state = tracking(BUILTIN, CATALOGUE, CRM_ONLY)
    assert state.missing_tables == (
        "activities",
        "compliance_audits",
        "compliance_incidents",
        "document_checks",
        "surveys",
        "team_goals",
        "tool_usage",
    )
    assert state.kpis >= SURVEY_KPIS
    assert len(state.kpis) == 22  # 5 survey, 13 activities, 4 one table each
    assert state.untracked["customer_satisfaction_score"] == "no rows ever imported into surveys"
    assert "client_retention_rate" not in state.kpis
    off = tracking(BUILTIN, CATALOGUE, CRM_ONLY, off=["referral_rate", "no_such_kpi"])
    assert off.untracked["referral_rate"] == "turned off in kraft.toml (untracked_kpis)"
    assert "no_such_kpi" not in off.untracked


# -- the scorecard: renormalised overall, coverage -----------------------------------------------

AT_TARGET = {
    "client_retention_rate": Value(85.0, 100.0, False),  # 100
    "client_meetings_per_month": Value(20.0, None, False),  # 100
    "referral_rate": Value(5.0, 100.0, False),  # 100
    "sales_conversion_rate": Value(25.0, 100.0, False),  # 100
    "revenue_per_quarter": Value(1_500_000.0, None, False),  # 100
    "new_business_acquisition_rate": Value(2.5, 100.0, False),  # 2.5 ÷ 5 = 50
    "cross_sell_success_rate": Value(20.0, 100.0, False),  # 100
    "adequate_coverage_rate": Value(70.0, 100.0, False),  # 100
    "risk_assessment_completion_rate": Value(100.0, 100.0, False),  # 100
    "claims_settlement_time": Value(15.0, 10.0, False),  # inverse: 15 ÷ 15 = 100
    "loss_ratio_improvement": Value(0.0, None, False),  # linear at target: 100
    "education_sessions": Value(9.0, None, False),  # 3 a month is 9 a quarter: 100
    "renewal_rate_after_education": Value(90.0, 100.0, False),  # 100
    "market_penetration_growth_rate": Value(3.0, 100.0, False),  # linear at target: 100
}


def test_untracked_kpis_are_not_scored_and_the_overall_renormalises() -> None:
    untracked = tracking(BUILTIN, CATALOGUE, CRM_ONLY).kpis
    scorer = Scorer(BUILTIN, TargetBook(BUILTIN, (), {}), untracked)
    person, period = Person("RM1", "T1"), Calendar(1).parse("2025-Q2")
    # a value the compute would have nulled is ignored all the same
    values = {**AT_TARGET, "workshops_attended": Value(0.0, None, False)}
    card = scorer.finish(scorer.first_pass(person, period, values), values)
    status = {k.kpi_id: k.status for k in card.kpis}
    assert status["customer_satisfaction_score"] is Status.not_tracked
    assert status["workshops_attended"] is Status.not_tracked
    assert all(k.score is None for k in card.kpis if k.kpi_id in untracked)
    kras = {k.kra_id: k for k in card.kras}
    assert kras["relationship_building"].score == 100
    assert kras["sales_revenue"].score == D("87.5")  # (100 + 100 + 50 + 100) ÷ 4
    assert kras["risk_management"].score == 100
    assert kras["customer_education"].score == 100
    assert kras["market_research"].score == 100
    # key_metric_variance: 13 of the 14 scored C KPIs met (new business is not), 92.86 % ÷ 70 %
    # is over 120 %: capped at 120; report_accuracy and action_plan not tracked
    assert kras["reporting"].score == 120
    assert kras["compliance"].score is None  # every KPI not tracked: left out of the overall
    assert kras["technology"].score is None
    assert kras["professional_development"].score is None
    assert "team_leadership" not in kras  # not a leader: not applicable
    # (15×100 + 20×87.5 + 10×100 + 10×100 + 5×100 + 5×120) ÷ (15+20+10+10+5+5) = 6350 ÷ 65
    assert card.overall == D("97.69")
    assert card.rating == 4
    # coverage counts the untracked KPIs as applicable:
    # 15×3/4 + 20×4/4 + 10×4/4 + 10×2/4 + 5×1/3 + 10×0/4 + 5×0/3 + 5×1/4 + 10×0/3 over 90
    expected = (D("11.25") + 20 + 10 + 5 + D(5) / 3 + D("1.25")) / 90 * 100
    assert abs(card.coverage - expected) < D("1e-20")
    assert round(card.coverage, 2) == D("54.63")


# -- through the workspace ------------------------------------------------------------------------


def test_a_book_without_surveys_or_activities(workspace: Workspace, tmp_path: Path) -> None:
    policies = [policy("P1", "C1", "RM1", "2024-01-05"), policy("P2", "C2", "RM2", "2024-02-01")]
    interactions = [interaction("I1", "RM1", "meeting", "2024-03-05")]
    book = {"policies": policies, "interactions": interactions}
    vals = load(workspace, tmp_path / "book", book, "2024-06-30", "--no-score")
    # interactions has rows, none of them RM2's: a count of 0; surveys never held one: null
    assert vals[("rm", "RM2", "2024-Q1", "education_sessions")][0] == 0.0
    assert vals[("rm", "RM1", "2024-03", "client_meetings_per_month")][0] == 1.0
    assert vals[("rm", "RM2", "2024-Q1", "customer_satisfaction_score")][0] is None
    assert vals[("rm", "RM2", "2024-Q1", "workshops_attended")][0] is None
    assert vals[("org", "org", "2024-Q1", "regulatory_violations")][0] is None
    report = json.loads(kraft(workspace, "status", "--format", "json"))
    assert "surveys" in report["tables_never_imported"]
    assert "interactions" not in report["tables_never_imported"]
    assert report["untracked_kpis"]["workshops_attended"] == (
        "no rows ever imported into activities"
    )
    assert "client_meetings_per_month" not in report["untracked_kpis"]
    text = kraft(workspace, "status")
    assert "Never imported:" in text and "customer_satisfaction_score" in text


def test_the_import_summary_names_what_is_not_tracked(workspace: Workspace, tmp_path: Path) -> None:
    from books import write_book

    output = kraft(workspace, "import", str(write_book(tmp_path / "book")))
    assert "Never imported:" in output
    assert "customer_satisfaction_score: no rows ever imported into surveys" in output


def test_turning_a_kpi_off_and_on_is_audited(workspace: Workspace, tmp_path: Path) -> None:
    output = kraft(workspace, "framework", "track", "referral_rate", "--off")
    assert "referral_rate is not tracked now" in output
    settings = load_workspace(workspace.root).settings
    assert settings.untracked_kpis == ("referral_rate",)
    assert "referral_rate is already turned off" in kraft(
        workspace, "framework", "track", "referral_rate", "--off"
    )
    report = json.loads(kraft(workspace, "status", "--format", "json"))
    assert report["untracked_kpis"]["referral_rate"] == (
        "turned off in kraft.toml (untracked_kpis)"
    )
    kraft(workspace, "framework", "track", "referral_rate", "--on")
    assert load_workspace(workspace.root).settings.untracked_kpis == ()
    db = open_database(load_workspace(workspace.root), read_only=True)
    with db.connect() as conn:
        entries = conn.execute(
            sa.text(
                "SELECT object_id, new_value FROM audit_log WHERE action = 'framework.track' "
                "ORDER BY seq"
            )
        ).fetchall()
    assert [(e[0], json.loads(e[1])) for e in entries] == [
        ("referral_rate", {"untracked_kpis": ["referral_rate"]}),
        ("referral_rate", {"untracked_kpis": []}),
    ]
    from typer.testing import CliRunner

    from kraft.cli import app

    wrong = CliRunner().invoke(
        app, ["--workspace", str(workspace.root), "framework", "track", "nope", "--off"]
    )
    assert wrong.exit_code != 0 and "has no KPI 'nope'" in wrong.output


def test_a_database_without_operational_rows_tracks_everything(workspace: Workspace) -> None:
    # its data may be a Parquet folder Spark reads (--source): nothing is derived from it
    from kraft.scoring.tracking import workspace_tracking

    db = open_database(load_workspace(workspace.root), read_only=True)
    with db.connect() as conn:
        state = workspace_tracking(conn, BUILTIN, CATALOGUE, ["referral_rate"])
    assert state.missing_tables == ()
    assert state.untracked == {"referral_rate": "turned off in kraft.toml (untracked_kpis)"}


def test_what_if_scores_as_the_stored_scoring_does(workspace: Workspace, tmp_path: Path) -> None:
    """What-if (and the alerts' forecasts built on it) leaves untracked KPIs out as the stored
    scoring does: its "as stored" overall is the stored one."""
    policies = [policy("P1", "C1", "RM1", "2024-01-05"), policy("P2", "C2", "RM1", "2024-02-01")]
    interactions = [interaction("I1", "RM1", "meeting", "2024-03-05")]
    load(workspace, tmp_path / "book", {"policies": policies, "interactions": interactions},
         "2024-06-30")  # fmt: skip
    stored = json.loads(kraft(workspace, "scores", "--period", "2024-Q1", "--format", "json"))
    mine = next(r for r in stored if r["rm_id"] == "RM1")
    asked = json.loads(
        kraft(workspace, "whatif", "--rm", "RM1", "--period", "2024-Q1", "--kpi",
              "client_meetings_per_month", "--value", "25", "--format", "json")
    )  # fmt: skip
    assert asked["before"]["overall_score"] == mine["overall_score"]
    assert asked["before"]["coverage"] == mine["coverage"]
    untracked = json.loads(
        kraft(workspace, "whatif", "--rm", "RM1", "--period", "2024-Q1", "--kpi",
              "customer_satisfaction_score", "--value", "90", "--format", "json")
    )  # fmt: skip
    assert untracked["before"]["status"] == "not tracked"  # not "no data"
