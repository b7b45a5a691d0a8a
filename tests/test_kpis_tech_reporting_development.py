"""KRA 8 Technology, KRA 9 Reporting and KRA 10 Professional Development, and the two manual
KPIs: values worked out by hand.

Default organisation (kpi_books): branch B1 (manager M1) > team T1 (leader RM1) with RM1 and RM2.
"""

from __future__ import annotations

from pathlib import Path

from kpi_books import MANUAL_KPIS, activity, expect, expect_provisional, load, survey
from kraft.workspace import Workspace


def test_tech_adoption_pools_a_quarters_months(workspace: Workspace, tmp_path: Path) -> None:
    usage = [
        ("RM1", "A", "2024-01", "4"),  # ≥ 4: adopted
        ("RM1", "B", "2024-01", "3"),
        ("RM1", "A", "2024-02", "10"),
        ("RM1", "A", "2024-03", "0"),
        ("RM1", "B", "2024-03", "1"),
        ("RM1", "C", "2024-03", "20"),
        ("RM1", "D", "2024-03", "5"),
        ("RM2", "A", "2024-01", "31"),
    ]
    rows = [{"rm_id": r, "tool": t, "month": m, "active_days": d} for r, t, m, d in usage]
    surveys = [
        survey("DS1", "RM1", "digital_service", "2024-01-10", "5"),  # 100
        survey("DS2", "RM1", "digital_service", "2024-02-10", "2"),  # 25
        survey("DS3", "RM1", "digital_service", "2024-03-31", "6", "0", "10"),  # 60
    ]
    vals = load(
        workspace, tmp_path / "book", {"tool_usage": rows, "surveys": surveys}, "2024-12-31"
    )
    expect(
        vals,
        "tech_adoption_rate",
        {
            ("rm", "RM1", "2024-01"): 50.0,  # 1 of 2
            ("rm", "RM1", "2024-02"): 100.0,  # 1 of 1
            ("rm", "RM1", "2024-03"): 50.0,  # C, D of 4
            # pooled: (1 + 1 + 2) ÷ (2 + 1 + 4) = 4/7 (the mean of the monthly rates is 66.7)
            ("rm", "RM1", "2024-Q1"): 400 / 7,
            ("rm", "RM1", "2024-04"): None,
            ("rm", "RM1", "2024-Q2"): None,
            ("rm", "RM1", "2024"): 400 / 7,
            ("rm", "RM2", "2024-Q1"): 100.0,
            ("rm", "RM2", "2024-02"): None,
            ("team", "T1", "2024-Q1"): 62.5,  # 5 ÷ 8
        },
    )
    expect(
        vals,
        "digital_service_feedback",
        {
            ("rm", "RM1", "2024-Q1"): 185 / 3,  # (100 + 25 + 60) ÷ 3
            ("rm", "RM1", "2024-02"): 25.0,
            ("rm", "RM1", "2024-Q2"): None,
            ("rm", "RM2", "2024-Q1"): None,
        },
    )


def test_innovation_success_by_completed_date(workspace: Workspace, tmp_path: Path) -> None:
    def project(aid: str, day: str, status: str, done: str, outcome: str) -> dict:
        return activity(aid, "RM1", "innovation_project", day, status, completed_date=done, outcome=outcome)  # fmt: skip

    activities = [
        project("IP1", "2023-12-01", "completed", "2024-01-10", "success"),  # 2024 by completion
        project("IP2", "2024-05-01", "completed", "2024-06-30", "failure"),
        project("IP3", "2024-10-01", "completed", "2024-12-31", "success"),  # year's last day
        project("IP4", "2024-04-01", "completed", "2024-05-05", ""),  # no outcome: left out
        project("IP5", "2024-06-01", "planned", "", "success"),  # not completed
        project("IP6", "2024-12-01", "completed", "2025-01-01", "success"),  # 2025
    ]
    vals = load(workspace, tmp_path / "book", {"activities": activities}, "2025-01-31")
    expect(
        vals,
        "innovation_success_rate",
        {
            ("rm", "RM1", "2024"): 200 / 3,  # IP1 ✓, IP2 ✗, IP3 ✓
            ("rm", "RM1", "2023"): None,  # IP1 was dated 2023 but completed in 2024
            ("rm", "RM1", "2024-Q1"): 100.0,
            ("rm", "RM1", "2024-Q2"): 0.0,
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM1", "2025-01"): 100.0,  # IP6
            ("rm", "RM2", "2024"): None,
        },
    )
    expect_provisional(
        vals,
        {
            ("rm", "RM1", "2024", "innovation_success_rate"): False,
            ("rm", "RM1", "2025-01", "innovation_success_rate"): False,  # ends on the as-of date
            ("rm", "RM1", "2025-Q1", "innovation_success_rate"): True,
            ("rm", "RM1", "2025", "innovation_success_rate"): True,
        },
    )


def test_reporting_kpis(workspace: Workspace, tmp_path: Path) -> None:
    def report(aid: str, day: str, status: str, corrections: str) -> dict:
        return activity(aid, "RM1", "performance_report", day, status, corrections=corrections)

    def plan(aid: str, due: str, status: str, done: str = "") -> dict:
        return activity(aid, "RM1", "action_plan_item", "2024-01-01", status, due_date=due, completed_date=done)  # fmt: skip

    activities = [
        report("PR1", "2024-01-31", "completed", "0"),
        report("PR2", "2024-02-29", "completed", ""),  # null counts as 0
        report("PR3", "2024-03-31", "completed", "2"),
        report("PR4", "2024-03-15", "planned", "0"),  # not completed: left out
        report("PR5", "2024-04-30", "completed", "1"),
        plan("AP1", "2024-03-31", "completed", "2024-03-31"),  # on the due date ✓
        plan("AP2", "2024-01-15", "completed", "2024-01-20"),  # late ✗
        plan("AP3", "2024-02-10", "planned"),  # overdue ✗
        plan("AP4", "2024-03-01", "cancelled"),  # excluded
        plan("AP5", "2024-02-20", "completed", "2024-01-01"),  # early ✓
        plan("AP6", "2024-04-01", "completed", "2024-03-25"),  # Q2 by due date ✓
    ]
    vals = load(workspace, tmp_path / "book", {"activities": activities}, "2024-12-31")
    expect(
        vals,
        "report_accuracy_rate",
        {
            ("rm", "RM1", "2024-Q1"): 200 / 3,  # PR1 ✓, PR2 ✓, PR3 ✗
            ("rm", "RM1", "2024-02"): 100.0,
            ("rm", "RM1", "2024-Q2"): 0.0,  # PR5 ✗
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM2", "2024-Q1"): None,
        },
    )
    expect(
        vals,
        "action_plan_success_rate",
        {
            ("rm", "RM1", "2024-Q1"): 50.0,  # AP1 ✓ AP2 ✗ AP3 ✗ AP5 ✓ → 2/4
            ("rm", "RM1", "2024-01"): 0.0,  # AP2 ✗
            ("rm", "RM1", "2024-02"): 50.0,  # AP3 ✗ AP5 ✓
            ("rm", "RM1", "2024-Q2"): 100.0,  # AP6
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM1", "2024"): 60.0,  # 3 ÷ 5
        },
    )


def test_professional_development_kpis(workspace: Workspace, tmp_path: Path) -> None:
    def training(aid: str, due: str, status: str, done: str = "", kind: str = "training") -> dict:
        return activity(aid, "RM1", kind, "2024-01-01", status, due_date=due, completed_date=done)

    activities = [
        activity("CE1", "RM1", "certification", "2024-02-01"),
        activity("CE2", "RM1", "certification", "2024-11-30"),
        activity("CE3", "RM1", "certification", "2024-05-01", "planned"),
        activity("W1", "RM1", "workshop", "2024-01-10"),
        activity("W2", "RM1", "seminar", "2024-03-31"),
        activity("W3", "RM1", "seminar", "2024-02-02", "cancelled"),
        activity("W4", "RM1", "workshop", "2024-04-01"),
        activity("KS1", "RM1", "knowledge_sharing", "2024-03-31"),
        activity("KS2", "RM1", "knowledge_sharing", "2024-01-01"),
        activity("KS3", "RM1", "knowledge_sharing", "2024-02-15", "planned"),
        training("ST1", "2024-03-31", "completed", "2024-03-30"),  # ✓
        training("ST2", "2024-02-01", "completed", "2024-02-02"),  # late ✗
        training("ST3", "2024-03-15", "planned"),  # overdue ✗
        training("ST4", "2024-03-20", "cancelled"),  # excluded
        training("ST5", "2024-03-01", "completed", "2024-03-10", kind="compliance_training"),
        training("ST6", "2024-04-01", "completed", "2024-04-01"),  # ✓ Q2
    ]
    vals = load(workspace, tmp_path / "book", {"activities": activities}, "2024-12-31")
    expect(
        vals,
        "certifications_obtained",
        {
            ("rm", "RM1", "2024"): 2.0,
            ("rm", "RM1", "2024-Q1"): 1.0,
            ("rm", "RM1", "2024-Q2"): 0.0,
            ("rm", "RM2", "2024"): 0.0,
        },
    )
    expect(
        vals,
        "workshops_attended",
        {
            ("rm", "RM1", "2024-Q1"): 2.0,  # W1 workshop + W2 seminar (W3 cancelled)
            ("rm", "RM1", "2024-Q2"): 1.0,
            ("rm", "RM1", "2024"): 3.0,
        },
    )
    expect(
        vals,
        "knowledge_sharing_initiatives",
        {
            ("rm", "RM1", "2024-Q1"): 2.0,
            ("rm", "RM1", "2024-02"): 0.0,
            ("team", "T1", "2024-Q1"): 2.0,
        },
    )
    expect(
        vals,
        "skills_training_completion_rate",
        {
            ("rm", "RM1", "2024-Q1"): 100 / 3,  # ST1 ✓ ST2 ✗ ST3 ✗ (ST4 cancelled, ST5 other)
            ("rm", "RM1", "2024-Q2"): 100.0,
            ("rm", "RM1", "2024"): 50.0,  # 2 ÷ 4
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM2", "2024-Q1"): None,
        },
    )


def test_manual_kpis_exact_period_else_mean_of_shorter(
    workspace: Workspace, tmp_path: Path
) -> None:
    # management_decision_impact is entered already on the 0–100 scale (a 1–5 rating r as
    # (r − 1) × 25), as the demo book does; the engine takes the entered value as is.
    measured = [
        ("RM1", "automation_time_savings", "2024-Q1", "25"),
        ("RM1", "automation_time_savings", "2024-01", "10"),
        ("RM1", "automation_time_savings", "2024-02", "20"),
        ("RM1", "automation_time_savings", "2024-04", "30"),
        ("RM1", "automation_time_savings", "2024-05", "12"),
        ("RM1", "management_decision_impact", "2024-Q1", "75"),
        ("RM1", "management_decision_impact", "2024-Q2", "50"),
    ]
    rows = [{"rm_id": r, "kpi_id": k, "period": p, "value": v} for r, k, p, v in measured]
    activities = [activity("K1", "RM1", "knowledge_sharing", "2024-01-02")]
    book = {"measurements": rows, "activities": activities}
    vals = load(workspace, tmp_path / "book", book, "2024-12-31")
    expect(
        vals,
        "automation_time_savings",
        {
            ("rm", "RM1", "2024-01"): 10.0,
            ("rm", "RM1", "2024-02"): 20.0,
            ("rm", "RM1", "2024-03"): None,
            ("rm", "RM1", "2024-Q1"): 25.0,  # entered for the quarter itself: months ignored
            ("rm", "RM1", "2024-Q2"): 21.0,  # no quarter entry: (30 + 12) ÷ 2
            ("rm", "RM1", "2024-Q3"): None,
            # no year entry: every shorter period inside 2024: (25 + 10 + 20 + 30 + 12) ÷ 5
            ("rm", "RM1", "2024"): 19.4,
            ("rm", "RM2", "2024-Q1"): None,
        },
    )
    expect(
        vals,
        "management_decision_impact",
        {
            ("rm", "RM1", "2024-Q1"): 75.0,
            ("rm", "RM1", "2024-Q2"): 50.0,
            ("rm", "RM1", "2024-01"): None,
            ("rm", "RM1", "2024"): 62.5,  # (75 + 50) ÷ 2
            ("rm", "RM2", "2024-Q1"): None,
        },
    )
    for kpi in MANUAL_KPIS:
        for key in (("team", "T1", "2024-Q1", kpi), ("org", "org", "2024-Q1", kpi)):
            assert key not in vals, f"manual KPIs are rm-level only: {key}"
