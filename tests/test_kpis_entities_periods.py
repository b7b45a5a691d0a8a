"""Which value rows exist (RMs by hire and exit, managers, leaders, teams, org), team values over
descendant teams, fiscal periods and provisional flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_books import (
    COMPUTED_KPIS,
    COUNT_KPIS,
    LEADER_KPIS,
    MANUAL_KPIS,
    SCORE_KPIS,
    configure,
    expect,
    expect_provisional,
    interaction,
    load,
    policy,
)
from kraft.workspace import Workspace


def test_rows_follow_hire_exit_role_and_leadership(workspace: Workspace, tmp_path: Path) -> None:
    rms = [
        {"rm_id": "M1", "name": "Maya", "team_id": "B1", "role": "manager", "hire_date": "2020-01-01"},
        {"rm_id": "RM1", "name": "Ravi", "team_id": "T1", "hire_date": "2020-01-01"},
        {"rm_id": "RM2", "name": "Asha", "team_id": "T1", "hire_date": "2024-02-15"},
        {"rm_id": "RM3", "name": "Dev", "team_id": "T1", "hire_date": "2020-01-01",
         "exit_date": "2024-04-10", "active": "false"},
        {"rm_id": "RM4", "name": "Esha", "team_id": "T1", "hire_date": "2020-01-01"},
    ]  # fmt: skip
    policies = [
        policy("P1", "C1", "RM1", "2024-01-05", premium="1000"),  # earliest event date
        policy("P2", "C2", "RM2", "2024-03-01", premium="500"),
    ]
    # RM2's one meeting: Q1 still has 3 calendar months (1 ÷ 3), though RM2 joined mid-quarter
    interactions = [interaction("I1", "RM2", "meeting", "2024-03-05")]
    book = {"relationship_managers": rms, "policies": policies, "interactions": interactions}
    vals = load(workspace, tmp_path / "book", book, "2024-06-30")
    expect(
        vals,
        "client_meetings_per_month",
        {("rm", "RM2", "2024-Q1"): 1 / 3, ("rm", "RM2", "2024-03"): 1.0},
    )
    keys = set(vals)
    # RM2 hired 2024-02-15: no January row; February, Q1 and the year exist
    assert ("rm", "RM2", "2024-01", "revenue_per_quarter") not in keys
    expect(
        vals,
        "revenue_per_quarter",
        {
            ("rm", "RM2", "2024-02"): 0.0,
            ("rm", "RM2", "2024-03"): 500.0,
            ("rm", "RM2", "2024-Q1"): 500.0,
            ("rm", "RM2", "2024"): 500.0,
            ("rm", "RM1", "2024-01"): 1000.0,
            ("team", "T1", "2024-Q1"): 1500.0,
            ("team", "B1", "2024-Q1"): 1500.0,
            ("org", "org", "2024-Q1"): 1500.0,
        },
    )
    # RM3 left on 2024-04-10: April and Q2 exist, May does not
    assert ("rm", "RM3", "2024-04", "revenue_per_quarter") in keys
    assert ("rm", "RM3", "2024-Q2", "revenue_per_quarter") in keys
    assert ("rm", "RM3", "2024", "revenue_per_quarter") in keys
    assert ("rm", "RM3", "2024-05", "revenue_per_quarter") not in keys
    # periods run from the earliest event date's month to the as-of date's
    assert ("rm", "RM1", "2023-12", "revenue_per_quarter") not in keys
    assert ("rm", "RM1", "2024-07", "revenue_per_quarter") not in keys
    # a manager has no rows at all
    assert not [k for k in keys if k[:2] == ("rm", "M1")]
    # score-derived KPIs are not produced by compute
    assert not [k for k in keys if k[3] in SCORE_KPIS]
    # RM4 has no rows at all: counts and sums are 0, ratios and means empty; counts over a
    # table this book never imported (activities, compliance_incidents) are not tracked: null
    # (KPIS.md "not tracked", issue #17 item 4: before it they were 0)
    not_tracked = {
        "competitor_analysis_reports",
        "new_market_segments",
        "market_share_initiatives",
        "compliance_trainings_attended",
        "regulatory_violations",
        "certifications_obtained",
        "workshops_attended",
        "knowledge_sharing_initiatives",
    }
    non_leader = [k for k in COMPUTED_KPIS if k not in LEADER_KPIS]
    expect(
        vals,
        "revenue_per_quarter",
        {("rm", "RM4", "2024-Q1"): 0.0},
    )
    problems = []
    for kpi in [*non_leader, *MANUAL_KPIS]:
        want = 0.0 if kpi in COUNT_KPIS and kpi not in not_tracked else None
        key = ("rm", "RM4", "2024-Q1", kpi)
        if key not in vals:
            problems.append(f"{key}: no row")
        elif vals[key][0] != want:
            problems.append(f"{key}: expected {want}, got {vals[key][0]}")
    assert not problems, "\n".join(problems)
    # leader KPIs: RM1 (leads T1) has them, RM2 and RM4 do not, nor teams or the org
    for kpi in LEADER_KPIS:
        assert ("rm", "RM1", "2024-Q1", kpi) in keys
        for who in (("rm", "RM2"), ("rm", "RM4"), ("team", "T1"), ("team", "B1"), ("org", "org")):
            assert (*who, "2024-Q1", kpi) not in keys
    # every computed KPI has a team and an org row
    for kpi in non_leader:
        assert ("team", "T1", "2024-Q1", kpi) in keys, kpi
        assert ("org", "org", "2024-Q1", kpi) in keys, kpi


def test_team_values_include_descendant_teams(workspace: Workspace, tmp_path: Path) -> None:
    teams = [
        {"team_id": "B1", "name": "Branch", "leader_rm_id": "M1"},
        {"team_id": "T1", "name": "Team One", "leader_rm_id": "RM1", "parent_team_id": "B1"},
        {"team_id": "T2", "name": "Team Two", "leader_rm_id": "RM3", "parent_team_id": "T1"},
        {"team_id": "T3", "name": "Team Three", "parent_team_id": "B1"},
    ]
    rms = [
        {"rm_id": "M1", "name": "Maya", "team_id": "B1", "role": "manager", "hire_date": "2020-01-01"},
        {"rm_id": "RM1", "name": "Ravi", "team_id": "T1", "hire_date": "2020-01-01"},
        {"rm_id": "RM2", "name": "Asha", "team_id": "T1", "hire_date": "2020-01-01"},
        {"rm_id": "RM3", "name": "Dev", "team_id": "T2", "hire_date": "2020-01-01"},
        {"rm_id": "RM4", "name": "Esha", "team_id": "T3", "hire_date": "2020-01-01"},
        {"rm_id": "RM5", "name": "Farah", "hire_date": "2020-01-01"},  # in no team
    ]  # fmt: skip
    policies = [
        policy("P1", "C1", "RM1", "2024-01-10", premium="1000"),
        policy("P2", "C2", "RM2", "2024-01-10", premium="2000"),
        policy("P3", "C3", "RM3", "2024-01-10", premium="4000"),
        policy("P4", "C4", "RM4", "2024-01-10", premium="8000"),
        policy("P5", "C5", "RM5", "2024-01-10", premium="16000"),
    ]
    outcomes = [("RM1", "won"), ("RM2", "won"), ("RM2", "lost"), ("RM2", "lost"), ("RM2", "lost"),
                ("RM3", "lost"), ("RM5", "won"), ("RM5", "won")]  # fmt: skip
    leads = [
        {"lead_id": f"L{i}", "rm_id": rm, "created_date": "2024-02-01", "source": "walk_in",
         "status": status, "closed_date": "2024-03-01"}
        for i, (rm, status) in enumerate(outcomes)
    ]  # fmt: skip
    book = {"teams": teams, "relationship_managers": rms, "policies": policies, "leads": leads}
    vals = load(workspace, tmp_path / "book", book, "2024-03-31")
    expect(
        vals,
        "revenue_per_quarter",
        {
            ("team", "T1", "2024-Q1"): 7000.0,  # RM1 1000 + RM2 2000 + RM3 (T2 below T1) 4000
            ("team", "T2", "2024-Q1"): 4000.0,
            ("team", "T3", "2024-Q1"): 8000.0,
            ("team", "B1", "2024-Q1"): 15000.0,  # T1 + T3
            ("org", "org", "2024-Q1"): 31000.0,  # everybody, RM5 in no team included
        },
    )
    expect(
        vals,
        "sales_conversion_rate",
        {
            ("rm", "RM1", "2024-Q1"): 100.0,
            ("rm", "RM2", "2024-Q1"): 25.0,
            ("rm", "RM3", "2024-Q1"): 0.0,
            ("rm", "RM4", "2024-Q1"): None,
            # ratio of sums: (1 + 1 + 0) ÷ (1 + 4 + 1), not the mean of 100, 25, 0
            ("team", "T1", "2024-Q1"): 100 / 3,
            ("team", "T2", "2024-Q1"): 0.0,
            ("team", "T3", "2024-Q1"): None,
            ("team", "B1", "2024-Q1"): 100 / 3,
            ("org", "org", "2024-Q1"): 50.0,  # 4 ÷ 8
        },
    )


def test_fiscal_quarters_with_april_start(workspace: Workspace, tmp_path: Path) -> None:
    configure(workspace, fiscal_year_start_month=4)
    policies = [
        policy("F1", "C1", "RM1", "2024-03-31", premium="100"),  # FY2024-Q4 (Jan–Mar 2024)
        policy("F2", "C2", "RM1", "2024-04-01", premium="200"),  # FY2025-Q1 (Apr–Jun 2024)
        policy("F3", "C3", "RM1", "2024-06-30", premium="400"),  # FY2025-Q1
        policy("F4", "C4", "RM1", "2024-07-01", premium="800"),  # FY2025-Q2
        policy("F5", "C5", "RM1", "2025-03-31", premium="1600"),  # FY2025-Q4
        policy("F6", "C6", "RM1", "2025-04-01", premium="3200"),  # FY2026-Q1
    ]
    # RM2: 36 500 a year = 100 a day from 2024-01-01, for the loss ratio across fiscal quarters
    policies.append(
        policy("G1", "C9", "RM2", "2023-12-20", "2024-01-01", "2025-12-31", premium="36500")
    )
    claims = [
        {"claim_id": "K1", "policy_id": "G1", "intimation_date": "2024-03-15",
         "status": "open", "amount_paid": "910"},
        {"claim_id": "K2", "policy_id": "G1", "intimation_date": "2024-04-15",
         "status": "open", "outstanding_reserve": "455"},
    ]  # fmt: skip
    interactions = [interaction("I1", "RM1", "meeting", "2024-04-10")]
    book = {"policies": policies, "interactions": interactions, "claims": claims}
    vals = load(workspace, tmp_path / "book", book, "2025-04-30")
    # FY2024-Q4 (Jan–Mar 2024): 91 days × 100 = 9100 earned, 910 claimed → 10 %
    # FY2025-Q1 (Apr–Jun 2024): 91 days × 100 = 9100, 455 → 5 %; its previous is FY2024-Q4
    # FY2024-Q3 (Oct–Dec 2023): nothing earned → undefined
    expect(
        vals,
        "loss_ratio_improvement",
        {("rm", "RM2", "FY2025-Q1"): 5.0, ("rm", "RM2", "FY2024-Q4"): None},
    )
    expect(
        vals,
        "revenue_per_quarter",
        {
            ("rm", "RM1", "FY2024-Q4"): 100.0,
            ("rm", "RM1", "FY2025-Q1"): 600.0,  # 200 + 400
            ("rm", "RM1", "FY2025-Q2"): 800.0,
            ("rm", "RM1", "FY2025-Q3"): 0.0,
            ("rm", "RM1", "FY2025-Q4"): 1600.0,
            ("rm", "RM1", "FY2025"): 3000.0,  # April 2024 – March 2025: 200+400+800+1600
            ("rm", "RM1", "FY2026-Q1"): 3200.0,
            ("rm", "RM1", "2024-04"): 200.0,  # months keep calendar labels
            ("org", "org", "FY2025-Q1"): 600.0,
        },
    )
    expect(vals, "client_meetings_per_month", {("rm", "RM1", "FY2025-Q1"): 1 / 3})
    assert not [k for k in vals if k[2] in ("2024-Q2", "2024", "2025-Q1", "2025")]
    expect_provisional(
        vals,
        {
            ("rm", "RM1", "FY2025", "revenue_per_quarter"): False,  # ended 2025-03-31
            ("rm", "RM1", "FY2026-Q1", "revenue_per_quarter"): True,  # ends 2025-06-30
            ("rm", "RM1", "FY2026", "revenue_per_quarter"): True,
            ("rm", "RM1", "2025-04", "revenue_per_quarter"): False,  # ends on the as-of date
        },
    )


@pytest.mark.parametrize("as_of", ["2024-04-20", "2024-04-30"])
def test_provisional_flags(workspace: Workspace, tmp_path: Path, as_of: str) -> None:
    policies = [
        # C1: ends 2024-03-20, renewed from 2024-04-15 (26 days: inside the grace)
        policy("P1", "C1", "RM1", "2023-03-21", end="2024-03-20", status="expired"),
        policy("R1", "C1", "RM1", "2024-04-10", "2024-04-15", renewal_of_policy_id="P1"),
        # C2: ends 2024-02-19, renewed from the next day
        policy("P2", "C2", "RM1", "2023-02-20", end="2024-02-19", status="expired"),
        policy("R2", "C2", "RM1", "2024-02-15", "2024-02-20", renewal_of_policy_id="P2"),
        # C3: ends 2024-03-25 and is not renewed: its grace window is open until 2024-04-24
        policy("P3", "C3", "RM1", "2023-03-26", end="2024-03-25", status="expired"),
    ]
    interactions = [interaction("E1", "RM1", "education_session", "2024-01-10", client_id="C1")]
    book = {"policies": policies, "interactions": interactions}
    vals = load(workspace, tmp_path / "book", book, as_of)
    # C1 ✓ C2 ✓ C3 ✗ → 2 / 3
    expect(vals, "client_retention_rate", {("rm", "RM1", "2024-Q1"): 200 / 3})
    expect(vals, "renewal_rate_after_education", {("rm", "RM1", "2024-Q1"): 100.0})  # P1 ✓
    # DATA.md: a value that depends on a renewal that may still happen is provisional. P1 and
    # P2 are already renewed; P3 (not renewed) may still renew until 2024-03-25 + 30 = 04-24.
    in_grace = as_of < "2024-04-24"
    april_open = as_of < "2024-04-30"
    expect_provisional(
        vals,
        {
            ("rm", "RM1", "2024-Q1", "client_retention_rate"): in_grace,
            ("team", "T1", "2024-Q1", "client_retention_rate"): in_grace,
            ("org", "org", "2024-Q1", "client_retention_rate"): in_grace,
            # only P1 was educated, and it is renewed: nothing left to happen
            ("rm", "RM1", "2024-Q1", "renewal_rate_after_education"): False,
            ("rm", "RM1", "2024-03", "client_retention_rate"): in_grace,
            ("rm", "RM1", "2024-02", "client_retention_rate"): False,
            ("rm", "RM1", "2024-Q1", "revenue_per_quarter"): False,
            ("rm", "RM1", "2024-Q1", "education_sessions"): False,
            ("rm", "RM1", "2024-Q1", "loss_ratio_improvement"): False,
            ("rm", "RM1", "2024-03", "loss_ratio_improvement"): False,
            # April ends 2024-04-30: open as of 04-20, over as of 04-30; nothing is due in it
            ("rm", "RM1", "2024-04", "revenue_per_quarter"): april_open,
            ("rm", "RM1", "2024-04", "loss_ratio_improvement"): april_open,
            ("rm", "RM1", "2024-04", "client_retention_rate"): april_open,
            ("rm", "RM1", "2024-Q2", "revenue_per_quarter"): True,
            ("rm", "RM1", "2024-Q2", "loss_ratio_improvement"): True,
            ("rm", "RM1", "2024", "revenue_per_quarter"): True,
        },
    )
