"""KRA 5 Market Research, KRA 6 Team Leadership and KRA 7 Compliance: values worked out by hand.

Default organisation (kpi_books): branch B1 (manager M1) > team T1 (leader RM1) with RM1 and RM2.
"""

from __future__ import annotations

from pathlib import Path

from kpi_books import activity, expect, load, numbers, policy, survey
from kraft.workspace import Workspace


def test_market_activity_counts_by_date(workspace: Workspace, tmp_path: Path) -> None:
    activities = [
        # counted by date, not completed_date: Q1
        activity("CA1", "RM1", "competitor_analysis_report", "2024-03-31", completed_date="2024-04-05"),
        activity("CA2", "RM1", "competitor_analysis_report", "2024-02-01", "planned"),
        activity("CA3", "RM1", "competitor_analysis_report", "2024-04-01", completed_date="2024-04-01"),
        activity("CA4", "RM1", "competitor_analysis_report", "2024-05-01", "cancelled"),
        activity("CA5", "RM2", "competitor_analysis_report", "2024-01-10"),
        activity("MS1", "RM1", "market_segment_identified", "2024-01-15"),
        activity("MS2", "RM1", "market_segment_identified", "2024-11-01"),
        activity("MS3", "RM1", "market_segment_identified", "2024-06-01", "planned"),
        activity("MI1", "RM1", "market_initiative", "2024-02-02"),
        activity("MI2", "RM1", "market_initiative", "2024-02-03"),
        activity("MI3", "RM1", "market_initiative", "2024-07-01", "cancelled"),
        activity("CT1", "RM1", "compliance_training", "2024-03-01"),
        activity("CT2", "RM1", "compliance_training", "2024-03-02", "cancelled"),
        activity("CT3", "RM1", "training", "2024-03-03", due_date="2024-03-31", completed_date="2024-03-03"),
    ]  # fmt: skip
    vals = load(workspace, tmp_path / "book", {"activities": activities}, "2024-12-31")
    expect(
        vals,
        "competitor_analysis_reports",
        {
            ("rm", "RM1", "2024-Q1"): 1.0,  # CA1 (dated 03-31, completed in April)
            ("rm", "RM1", "2024-03"): 1.0,
            ("rm", "RM1", "2024-01"): 0.0,
            ("rm", "RM1", "2024-Q2"): 1.0,  # CA3 (CA4 cancelled)
            ("rm", "RM1", "2024-Q3"): 0.0,
            ("rm", "RM2", "2024-Q1"): 1.0,
            ("team", "T1", "2024-Q1"): 2.0,
            ("org", "org", "2024"): 3.0,
        },
    )
    expect(
        vals,
        "new_market_segments",
        {
            ("rm", "RM1", "2024"): 2.0,  # MS1, MS2 (MS3 planned)
            ("rm", "RM1", "2024-Q1"): 1.0,
            ("rm", "RM1", "2024-Q2"): 0.0,
            ("rm", "RM1", "2024-Q4"): 1.0,
            ("rm", "RM2", "2024"): 0.0,
        },
    )
    expect(
        vals,
        "market_share_initiatives",
        {
            ("rm", "RM1", "2024-Q1"): 2.0,
            ("rm", "RM1", "2024-02"): 2.0,
            ("rm", "RM1", "2024-Q3"): 0.0,  # MI3 cancelled
            ("rm", "RM2", "2024-Q1"): 0.0,
        },
    )
    expect(
        vals,
        "compliance_trainings_attended",
        {
            ("rm", "RM1", "2024-Q1"): 1.0,  # CT1 (CT2 cancelled, CT3 is a plain training)
            ("rm", "RM1", "2024-Q2"): 0.0,
        },
    )


def test_market_penetration_growth(workspace: Workspace, tmp_path: Path) -> None:
    def held(pid: str, client: str, start: str, end: str, rm: str = "RM1", **kw: str) -> dict:
        issue = "2023-12-20" if start == "2024-01-01" else start
        return policy(pid, client, rm, issue, start, end, kw.pop("status", "in_force"), **kw)

    policies = [
        held("M1", "C1", "2024-01-01", "2024-12-31"),
        held("M2", "C2", "2024-01-01", "2024-06-30"),  # ends on Q2's last day: in force
        held("M3", "C3", "2024-01-01", "2024-06-29"),
        held("M4", "C4", "2024-04-01", "2025-03-31"),  # starts on Q2's first day
        held("M5", "C5", "2024-04-02", "2025-04-01"),
        # cancelled exactly on 06-30: not in force that day
        held("M6", "C6", "2024-05-01", "2025-04-30", status="cancelled", cancel_date="2024-06-30"),
        # cancelled exactly on 04-01: not in force that day
        held("M7", "C7", "2024-02-01", "2025-01-31", status="cancelled", cancel_date="2024-04-01"),
        held("M8", "C1", "2024-03-01", "2025-02-28"),  # C1 again
        held("M9", "C8", "2024-06-30", "2025-06-29"),
        held("M10", "C1", "2024-01-01", "2024-12-31", rm="RM2"),
    ]
    vals = load(workspace, tmp_path / "book", {"policies": policies}, "2024-06-30")
    expect(
        vals,
        "market_penetration_growth_rate",
        {
            # 2024-01-01: {C1, C2, C3} = 3; 2024-03-31: {C1, C2, C3, C7} = 4 → (4 − 3) ÷ 3
            ("rm", "RM1", "2024-Q1"): 100 / 3,
            # 2024-04-01: {C1, C2, C3, C4} = 4 (M7 cancelled that day);
            # 2024-06-30: {C1, C2, C4, C5, C8} = 5 (M3 ended, M6 cancelled that day) → 1 ÷ 4
            ("rm", "RM1", "2024-Q2"): 25.0,
            # 2024-06-01: {C1 … C6} = 6; 2024-06-30: 5 → −1 ÷ 6
            ("rm", "RM1", "2024-06"): -100 / 6,
            ("rm", "RM1", "2023-12"): None,  # nobody active on 2023-12-01
            ("rm", "RM2", "2024-Q2"): 0.0,  # {C1} → {C1}
            # team: distinct clients {C1, C2, C3, C4} → {C1, C2, C4, C5, C8}: C1 of RM2 counts
            # once → 25 (summing RM counts would give (6 − 5) ÷ 5 = 20)
            ("team", "T1", "2024-Q2"): 25.0,
            ("org", "org", "2024-Q2"): 25.0,
        },
    )
    # numerator: the change in active clients (5 − 4); denominator: active on the first day
    parts = numbers(workspace)
    assert parts[("team", "T1", "2024-Q2", "market_penetration_growth_rate")] == (1.0, 4.0)


LEADER_TEAMS = [
    {"team_id": "B1", "name": "Branch", "leader_rm_id": "M1"},
    {"team_id": "T1", "name": "Team One", "leader_rm_id": "RM1", "parent_team_id": "B1"},
    {"team_id": "T2", "name": "Team Two", "leader_rm_id": "RM3", "parent_team_id": "T1"},
]
LEADER_RMS = [
    {"rm_id": "M1", "name": "Maya", "team_id": "B1", "role": "manager", "hire_date": "2020-01-01"},
    {"rm_id": "RM1", "name": "Ravi", "team_id": "T1", "hire_date": "2020-01-01"},
    {"rm_id": "RM2", "name": "Asha", "team_id": "T1", "hire_date": "2020-01-01"},
    {"rm_id": "RM3", "name": "Dev", "team_id": "T2", "hire_date": "2020-01-01"},
    {"rm_id": "RM4", "name": "Esha", "team_id": "T2", "hire_date": "2020-01-01"},
]


def test_team_leadership_kpis(workspace: Workspace, tmp_path: Path) -> None:
    surveys = [
        survey("ES1", "RM1", "employee_satisfaction", "2024-01-10", "4"),  # 75
        survey("ES2", "RM1", "employee_satisfaction", "2024-03-31", "9", "1", "10"),  # 88.88…
        survey("ES3", "RM2", "employee_satisfaction", "2024-02-10", "5"),  # RM2 leads nothing
        survey("ES4", "RM3", "employee_satisfaction", "2024-04-01", "3"),  # 50
        survey("ES5", "M1", "employee_satisfaction", "2024-02-10", "5"),  # a manager
    ]

    def training(
        aid: str, rm: str, due: str, status: str, done: str = "", kind: str = "training"
    ) -> dict:
        return activity(aid, rm, kind, "2024-01-01", status, due_date=due, completed_date=done)

    activities = [
        training("TR1", "RM2", "2024-03-31", "completed", "2024-03-31"),  # on the due date ✓
        training("TR2", "RM2", "2024-02-01", "completed", "2024-02-02"),  # late ✗
        training("TR3", "RM2", "2024-03-01", "planned"),  # overdue ✗
        training("TR4", "RM2", "2024-03-10", "cancelled"),  # excluded
        training("TR5", "RM2", "2024-02-01", "completed", "2024-02-01", kind="workshop"),
        training("TR6", "RM1", "2024-03-01", "completed", "2024-02-28"),  # the leader's own
        training("TR7", "RM3", "2024-01-20", "completed", "2024-01-19"),  # T2's leader
        training("TR8", "RM4", "2024-02-20", "completed", "2024-02-25"),  # T2 member, late
        training("TR9", "RM2", "2024-04-01", "completed", "2024-03-20"),  # Q2 by due date ✓
        training("TR10", "RM2", "2024-03-05", "completed", "2024-03-20", kind="compliance_training"),
    ]  # fmt: skip
    goals = [
        {"goal_id": "G1", "team_id": "T1", "period": "2024-Q1", "met": "true"},
        {"goal_id": "G2", "team_id": "T1", "period": "2024-02", "met": "false"},
        {"goal_id": "G3", "team_id": "T1", "period": "2024-03", "met": "true"},
        {"goal_id": "G4", "team_id": "T1", "period": "2024-04", "met": "true"},
        {"goal_id": "G5", "team_id": "T1", "period": "2024", "met": "false"},
        {"goal_id": "G6", "team_id": "T2", "period": "2024-Q1", "met": "true"},
        {"goal_id": "G7", "team_id": "B1", "period": "2024-Q1", "met": "false"},
    ]
    book = {
        "teams": LEADER_TEAMS,
        "relationship_managers": LEADER_RMS,
        "surveys": surveys,
        "activities": activities,
        "team_goals": goals,
    }
    vals = load(workspace, tmp_path / "book", book, "2024-12-31")
    expect(
        vals,
        "employee_satisfaction_score",
        {
            ("rm", "RM1", "2024-Q1"): (75 + 800 / 9) / 2,  # 81.94…
            ("rm", "RM1", "2024-Q2"): None,
            ("rm", "RM3", "2024-Q1"): None,
            ("rm", "RM3", "2024-Q2"): 50.0,
        },
    )
    expect(
        vals,
        "team_training_completion_rate",
        {
            # T1's members without the leader: RM2 only (RM3, RM4 are in T2):
            # TR1 ✓, TR2 ✗, TR3 ✗ (TR4 cancelled) → 1/3
            ("rm", "RM1", "2024-Q1"): 100 / 3,
            ("rm", "RM1", "2024-03"): 50.0,  # TR1 ✓, TR3 ✗
            ("rm", "RM1", "2024-Q2"): 100.0,  # TR9
            ("rm", "RM1", "2024"): 50.0,  # 2 ÷ 4
            ("rm", "RM3", "2024-Q1"): 0.0,  # T2 without RM3: RM4's TR8 late
            ("rm", "RM3", "2024-Q2"): None,
        },
    )
    expect(
        vals,
        "team_goal_achievement_rate",
        {
            ("rm", "RM1", "2024-Q1"): 200 / 3,  # G1 ✓, G2 ✗, G3 ✓
            ("rm", "RM1", "2024-01"): None,
            ("rm", "RM1", "2024-02"): 0.0,
            ("rm", "RM1", "2024-03"): 100.0,
            ("rm", "RM1", "2024-Q2"): 100.0,  # G4
            ("rm", "RM1", "2024"): 60.0,  # G1–G5: 3 of 5
            ("rm", "RM3", "2024-Q1"): 100.0,  # G6 (T2's own goal)
            ("rm", "RM3", "2024-Q2"): None,
        },
    )
    # the RM's own training rate (KRA 10) over the same rows
    expect(
        vals,
        "skills_training_completion_rate",
        {
            ("rm", "RM2", "2024-Q1"): 100 / 3,
            ("rm", "RM1", "2024-Q1"): 100.0,  # TR6
            ("rm", "RM4", "2024-Q1"): 0.0,  # TR8
            # T1 with descendant T2: TR1 ✓ TR2 ✗ TR3 ✗ TR6 ✓ TR7 ✓ TR8 ✗ → 3/6
            ("team", "T1", "2024-Q1"): 50.0,
            ("team", "T2", "2024-Q1"): 50.0,  # TR7 ✓ TR8 ✗
        },
    )
    # KRA 6 KPIs exist only for RMs (role rm) who lead a team, at entity_type rm only
    for kpi in ("employee_satisfaction_score", "team_training_completion_rate", "team_goal_achievement_rate"):  # fmt: skip
        for key in (
            ("rm", "RM2", "2024-Q1", kpi),
            ("rm", "RM4", "2024-Q1", kpi),
            ("rm", "M1", "2024-Q1", kpi),
            ("team", "T1", "2024-Q1", kpi),
            ("team", "B1", "2024-Q1", kpi),
            ("org", "org", "2024-Q1", kpi),
        ):
            assert key not in vals, f"unexpected row {key}: {vals[key]}"


def test_compliance_kpis(workspace: Workspace, tmp_path: Path) -> None:
    audits = [
        {"audit_id": "AU1", "rm_id": "RM1", "date": "2024-01-15", "rating": "80"},
        {"audit_id": "AU2", "rm_id": "RM1", "date": "2024-03-31", "rating": "95"},
        {"audit_id": "AU3", "rm_id": "RM1", "date": "2024-04-01", "rating": "70"},
        {"audit_id": "AU4", "rm_id": "RM2", "date": "2024-02-01", "rating": "60"},
    ]
    incidents = [
        {"incident_id": "IN1", "rm_id": "RM1", "date": "2024-01-05", "substantiated": "true"},
        {"incident_id": "IN2", "rm_id": "RM1", "date": "2024-02-05", "substantiated": "false"},
        {"incident_id": "IN3", "rm_id": "RM1", "date": "2024-03-31", "substantiated": "yes"},
        {"incident_id": "IN4", "rm_id": "RM1", "date": "2024-04-01", "substantiated": "no"},
    ]
    checks = [
        {"check_id": "D1", "rm_id": "RM1", "date": "2024-01-02", "in_good_order": "true"},
        {"check_id": "D2", "rm_id": "RM1", "date": "2024-02-02", "in_good_order": "true"},
        {"check_id": "D3", "rm_id": "RM1", "date": "2024-03-03", "in_good_order": "false"},
        {"check_id": "D4", "rm_id": "RM1", "date": "2024-03-31", "in_good_order": "true"},
        {"check_id": "D5", "rm_id": "RM1", "date": "2024-04-01", "in_good_order": "false"},
    ]
    book = {
        "compliance_audits": audits,
        "compliance_incidents": incidents,
        "document_checks": checks,
    }
    vals = load(workspace, tmp_path / "book", book, "2024-12-31")
    expect(
        vals,
        "compliance_audit_rating",
        {
            ("rm", "RM1", "2024-Q1"): 87.5,  # (80 + 95) ÷ 2
            ("rm", "RM1", "2024-Q2"): 70.0,
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM2", "2024-Q2"): None,
            ("team", "T1", "2024-Q1"): 235 / 3,  # (80 + 95 + 60) ÷ 3, not (87.5 + 60) ÷ 2
            ("org", "org", "2024"): 305 / 4,  # (80 + 95 + 70 + 60) ÷ 4
        },
    )
    expect(
        vals,
        "regulatory_violations",
        {
            ("rm", "RM1", "2024-Q1"): 2.0,  # IN1, IN3 substantiated
            ("rm", "RM1", "2024-02"): 0.0,
            ("rm", "RM1", "2024-Q2"): 0.0,
            ("rm", "RM1", "2024"): 2.0,
            ("rm", "RM2", "2024"): 0.0,
        },
    )
    expect(
        vals,
        "documentation_accuracy_rate",
        {
            ("rm", "RM1", "2024-Q1"): 75.0,  # D1, D2, D4 of 4
            ("rm", "RM1", "2024-Q2"): 0.0,  # D5
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM1", "2024"): 60.0,  # 3 ÷ 5
            ("rm", "RM2", "2024-Q1"): None,
        },
    )
