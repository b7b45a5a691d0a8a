"""KRA 1 Relationship Building and KRA 2 Sales and Revenue: values worked out by hand.

Default organisation (kpi_books): branch B1 (manager M1) > team T1 (leader RM1) with RM1 and RM2.
"""

from __future__ import annotations

from pathlib import Path

from kpi_books import (
    activity,
    expect,
    expect_provisional,
    interaction,
    load,
    numbers,
    policy,
    survey,
)
from kraft.workspace import Workspace


def test_client_retention_grace_boundaries_and_team_distinct(
    workspace: Workspace, tmp_path: Path
) -> None:
    policies = [
        # C1: ends on Q1's last day, renewed on grace day 30 (2024-03-31 + 30 = 2024-04-30): counts.
        policy("P01", "C1", "RM1", "2023-04-01", end="2024-03-31", status="expired"),
        policy("R01", "C1", "RM1", "2024-04-20", "2024-04-30", renewal_of_policy_id="P01"),
        # C2: renewed on day 31 (2024-03-15 + 31 = 2024-04-15): too late, not renewed.
        policy("P02", "C2", "RM1", "2023-03-16", end="2024-03-15", status="expired"),
        policy("R02", "C2", "RM1", "2024-04-10", "2024-04-15", renewal_of_policy_id="P02"),
        # C3: ends on Q2's first day; renewed by another RM (RM2): counts for RM1 in Q2.
        policy("P03", "C3", "RM1", "2023-04-02", end="2024-04-01", status="expired"),
        policy("R03", "C3", "RM2", "2024-03-25", "2024-04-02", renewal_of_policy_id="P03"),
        # C4 cancelled and C5 lapsed: not due for renewal (even though P04 has a "renewal").
        policy(
            "P04", "C4", "RM1", "2023-02-11", end="2024-02-10", status="cancelled",
            cancel_date="2023-06-01",
        ),
        policy("R04", "C4", "RM1", "2024-02-05", "2024-02-11", renewal_of_policy_id="P04"),
        policy(
            "P05", "C5", "RM1", "2023-02-21", end="2024-02-20", status="lapsed",
            cancel_date="2023-08-01",
        ),
        # C6: renewal crossing the year (2024-12-20 → starts 2025-01-05, 16 days), the renewal
        # later cancelled: still counts.
        policy("P06", "C6", "RM1", "2023-12-21", end="2024-12-20", status="expired"),
        policy(
            "R06", "C6", "RM1", "2025-01-02", "2025-01-05", status="cancelled",
            cancel_date="2025-01-20", renewal_of_policy_id="P06",
        ),
        # C7 holds due policies under RM1 (renewed) and RM2 (not renewed), both in Q1.
        policy("P07", "C7", "RM1", "2023-02-16", end="2024-02-15", status="expired"),
        policy("R07", "C7", "RM1", "2024-02-10", "2024-02-16", renewal_of_policy_id="P07"),
        policy("P08", "C7", "RM2", "2023-03-11", end="2024-03-10", status="expired"),
    ]  # fmt: skip
    vals = load(workspace, tmp_path / "book", {"policies": policies}, "2025-01-31")
    expect(
        vals,
        "client_retention_rate",
        {
            # RM1 Q1: due P01 (C1 ✓), P02 (C2 ✗ day 31), P07 (C7 ✓); P04/P05 not due → 2/3
            ("rm", "RM1", "2024-Q1"): 200 / 3,
            ("rm", "RM1", "2024-03"): 50.0,  # P01 ✓, P02 ✗ → 1/2
            ("rm", "RM1", "2024-02"): 100.0,  # P07 ✓ (P04 cancelled, P05 lapsed) → 1/1
            ("rm", "RM1", "2024-Q2"): 100.0,  # P03 (ends 04-01) renewed by RM2 → 1/1
            ("rm", "RM1", "2024-04"): 100.0,
            ("rm", "RM1", "2024-Q3"): None,  # nothing due → empty
            ("rm", "RM1", "2024-Q4"): 100.0,  # P06 renewed 2025-01-05 → 1/1
            # 2024: clients C1 ✓, C2 ✗, C3 ✓, C6 ✓, C7 ✓ → 4/5
            ("rm", "RM1", "2024"): 80.0,
            ("rm", "RM2", "2024-Q1"): 0.0,  # P08 (C7) not renewed → 0/1
            ("rm", "RM2", "2024-Q2"): None,
            # T1 Q1: distinct clients due {C1, C2, C7} (C7 once, under RM1 and RM2);
            # retained {C1, C7} (C7 renewed P07) → 2/3 (a sum of RM rows would give 2/4)
            ("team", "T1", "2024-Q1"): 200 / 3,
            ("team", "B1", "2024-Q1"): 200 / 3,
            ("org", "org", "2024-Q1"): 200 / 3,
            ("org", "org", "2024"): 80.0,  # {C1, C2, C3, C6, C7}, C2 not retained → 4/5
        },
    )
    # the team's distinct clients: 2 retained of 3 due (C7 once)
    parts = numbers(workspace)
    assert parts[("team", "T1", "2024-Q1", "client_retention_rate")] == (2.0, 3.0)
    assert parts[("rm", "RM2", "2024-Q1", "client_retention_rate")] == (0.0, 1.0)
    # as of 2025-01-31, Q4's grace (2024-12-31 + 30 = 2025-01-30) has passed: final.
    expect_provisional(
        vals,
        {
            ("rm", "RM1", "2024-Q4", "client_retention_rate"): False,
            ("rm", "RM1", "2024", "client_retention_rate"): False,
            ("rm", "RM1", "2025-Q1", "client_retention_rate"): True,
        },
    )


def test_client_meetings_per_month_sessions_and_averaging(
    workspace: Workspace, tmp_path: Path
) -> None:
    interactions = [
        # one group meeting S1 on two client rows: counts once
        interaction("I01", "RM1", "meeting", "2024-01-10", client_id="C1", session_id="S1"),
        interaction("I02", "RM1", "meeting", "2024-01-10", client_id="C2", session_id="S1"),
        interaction("I03", "RM1", "meeting", "2024-01-20", client_id="C1"),
        interaction("I04", "RM1", "meeting", "2024-02-05", "cancelled"),
        interaction("I05", "RM1", "call", "2024-02-06"),
        interaction("I06", "RM1", "meeting", "2024-03-31"),  # Q1's last day
        interaction("I07", "RM1", "meeting", "2024-04-01"),  # Q2's first day
        interaction("I08", "RM1", "meeting", "2024-03-01", "no_show"),
        interaction("I09", "RM1", "education_session", "2024-03-02"),
        interaction("I10", "RM2", "meeting", "2024-02-10"),
        interaction("I11", "RM2", "meeting", "2024-02-11", client_id="C3", session_id="S2"),
        interaction("I12", "RM2", "meeting", "2024-02-11", client_id="C4", session_id="S2"),
    ]
    vals = load(workspace, tmp_path / "book", {"interactions": interactions}, "2024-12-31")
    expect(
        vals,
        "client_meetings_per_month",
        {
            ("rm", "RM1", "2024-01"): 2.0,  # S1 + I03
            ("rm", "RM1", "2024-02"): 0.0,  # cancelled meeting and a call only
            ("rm", "RM1", "2024-03"): 1.0,  # I06 (I08 no-show, I09 not a meeting)
            ("rm", "RM1", "2024-Q1"): 1.0,  # 3 meetings ÷ 3 months
            ("rm", "RM1", "2024-04"): 1.0,
            ("rm", "RM1", "2024-Q2"): 1 / 3,  # 1 ÷ 3
            ("rm", "RM1", "2024-Q3"): 0.0,
            ("rm", "RM1", "2024"): 4 / 12,  # 4 ÷ 12
            ("rm", "RM2", "2024-02"): 2.0,  # I10 + S2 once
            ("rm", "RM2", "2024-Q1"): 2 / 3,
            ("team", "T1", "2024-Q1"): 5 / 3,  # (3 + 2) ÷ 3
            ("org", "org", "2024"): 6 / 12,  # (4 + 2) ÷ 12
        },
    )


def test_customer_satisfaction_share_satisfied(workspace: Workspace, tmp_path: Path) -> None:
    surveys = [
        survey("S01", "RM1", "csat", "2024-01-05", "5"),  # ≥ 0.8 × 5 = 4: satisfied
        survey("S02", "RM1", "csat", "2024-02-05", "4"),  # = 4: satisfied
        survey("S03", "RM1", "csat", "2024-02-06", "3.9"),  # not
        survey("S04", "RM1", "csat", "2024-03-31", "8", "1", "10"),  # ≥ 0.8 × 10 = 8: satisfied
        survey("S05", "RM1", "csat", "2024-03-01", "7.9", "1", "10"),  # not
        survey("S06", "RM1", "policy_understanding", "2024-03-02", "5"),  # other survey
        survey("S07", "RM1", "csat", "2024-04-01", "2"),  # Q2: not satisfied
        survey("S08", "RM2", "csat", "2024-01-10", "5"),
    ]
    vals = load(workspace, tmp_path / "book", {"surveys": surveys}, "2024-12-31")
    expect(
        vals,
        "customer_satisfaction_score",
        {
            ("rm", "RM1", "2024-Q1"): 60.0,  # S01, S02, S04 of 5 → 3/5
            ("rm", "RM1", "2024-02"): 50.0,  # S02 of S02, S03
            ("rm", "RM1", "2024-Q2"): 0.0,  # 0/1
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM2", "2024-Q1"): 100.0,
            ("team", "T1", "2024-Q1"): 400 / 6,  # (3 + 1) ÷ (5 + 1)
            ("org", "org", "2024"): 400 / 7,  # 4 satisfied of 7 csat responses
        },
    )


ACTIVE_BOOK_POLICIES = [
    # RM1 (policy ids A…): who is in force on 2024-01-01, 2024-04-01 and 2024-07-01
    policy("A01", "C1", "RM1", "2023-12-20", "2024-01-01", "2024-12-31"),
    policy("A02", "C2", "RM1", "2024-04-01", "2024-04-01", "2025-03-31"),  # starts on 04-01
    # cancelled exactly on 2024-04-01: not in force that day
    policy(
        "A03", "C3", "RM1", "2024-01-10", "2024-01-15", "2025-01-14", "cancelled",
        cancel_date="2024-04-01",
    ),
    policy("A04", "C4", "RM1", "2023-03-25", "2023-04-01", "2024-03-31", "expired"),
    policy("A05", "C1", "RM1", "2024-05-01", "2024-05-01", "2025-04-30"),  # C1's second policy
    policy("A06", "C5", "RM1", "2024-04-02", "2024-04-02", "2025-04-01"),
    policy("A07", "C6", "RM1", "2023-12-15", "2024-01-01", "2025-06-30"),
    policy("A08", "C7", "RM1", "2024-05-10", "2024-05-10", "2025-05-09"),
    # RM2: C5's first-ever policy is A00 (same issue date as A06, smaller policy_id)
    policy("A00", "C5", "RM2", "2024-04-02", "2024-04-02", "2025-04-01"),
    policy("B01", "C7", "RM2", "2024-02-01", "2024-02-01", "2025-01-31"),
]  # fmt: skip
# Active clients (distinct clients with a policy in force):
#   RM1 on 2024-01-01: A01 C1, A04 C4, A07 C6 (A03 starts 01-15) → 3
#   RM1 on 2024-04-01: A01 C1, A02 C2, A07 C6 (A03 cancelled that day, A04 ended 03-31) → 3
#   RM1 on 2024-07-01: C1 (A01, A05), C2, C5 (A06), C6, C7 (A08) → 5
#   RM2 on 2024-01-01: none → 0;  RM2 on 2024-04-01: B01 C7 → 1
#   T1 on 2024-04-01: {C1, C2, C6} ∪ {C7} → 4;  T1 on 2024-01-01: {C1, C4, C6} → 3


def test_referral_rate_over_active_clients_on_first_day(
    workspace: Workspace, tmp_path: Path
) -> None:
    leads = [
        {"lead_id": "L1", "rm_id": "RM1", "created_date": "2024-04-02", "source": "referral",
         "referred_by_client_id": "C1", "status": "open"},
        {"lead_id": "L2", "rm_id": "RM1", "created_date": "2024-05-02", "source": "referral",
         "referred_by_client_id": "C1", "status": "won", "closed_date": "2024-05-20"},
        {"lead_id": "L3", "rm_id": "RM1", "created_date": "2024-06-30", "source": "referral",
         "referred_by_client_id": "C3", "status": "lost", "closed_date": "2024-07-05"},
        {"lead_id": "L4", "rm_id": "RM1", "created_date": "2024-06-01", "source": "walk_in",
         "status": "open"},
        {"lead_id": "L5", "rm_id": "RM1", "created_date": "2024-03-31", "source": "referral",
         "referred_by_client_id": "C2", "status": "open"},
        {"lead_id": "L6", "rm_id": "RM1", "created_date": "2024-07-01", "source": "referral",
         "referred_by_client_id": "C4", "status": "open"},
        {"lead_id": "L7", "rm_id": "RM2", "created_date": "2024-04-15", "source": "referral",
         "referred_by_client_id": "C1", "status": "open"},
    ]  # fmt: skip
    book = {"policies": ACTIVE_BOOK_POLICIES, "leads": leads}
    vals = load(workspace, tmp_path / "book", book, "2024-09-30")
    expect(
        vals,
        "referral_rate",
        {
            ("rm", "RM1", "2024-Q1"): 100 / 3,  # referrers {C2} (L5 on 03-31) ÷ 3 active
            ("rm", "RM1", "2024-Q2"): 200 / 3,  # {C1 (L1, L2), C3 (L3, lost)} ÷ 3
            ("rm", "RM1", "2024-04"): 100 / 3,  # {C1} ÷ 3 active on 04-01
            ("rm", "RM1", "2024-Q3"): 20.0,  # {C4} (L6 on 07-01) ÷ 5
            ("rm", "RM2", "2024-Q1"): None,  # no active clients on 01-01
            ("rm", "RM2", "2024-Q2"): 100.0,  # {C1} ÷ 1
            ("team", "T1", "2024-Q2"): 50.0,  # {C1, C3} (C1 once over RM1 and RM2) ÷ 4
        },
    )


def test_new_business_acquisition_first_policy_ever(workspace: Workspace, tmp_path: Path) -> None:
    vals = load(workspace, tmp_path / "book", {"policies": ACTIVE_BOOK_POLICIES}, "2024-09-30")
    expect(
        vals,
        "new_business_acquisition_rate",
        {
            # Q1: C3's first policy A03 (2024-01-10) by RM1 → 1 ÷ 3 active on 01-01
            ("rm", "RM1", "2024-Q1"): 100 / 3,
            # Q2: C2 (A02) only: C5's first is A00 (RM2, tie broken by policy_id), C1 and C7
            # had earlier policies → 1 ÷ 3
            ("rm", "RM1", "2024-Q2"): 100 / 3,
            ("rm", "RM1", "2024-Q3"): 0.0,  # none ÷ 5
            ("rm", "RM2", "2024-Q1"): None,  # C7 (B01) new, but 0 active clients on 01-01
            ("rm", "RM2", "2024-Q2"): 100.0,  # C5 (A00) ÷ 1 (C7)
            ("team", "T1", "2024-Q1"): 200 / 3,  # {C3, C7} ÷ 3
            ("team", "T1", "2024-Q2"): 50.0,  # {C2, C5} ÷ 4
        },
    )


def test_sales_conversion_and_cross_sell_by_closed_date(
    workspace: Workspace, tmp_path: Path
) -> None:
    def lead(lead_id: str, rm: str, created: str, status: str, closed: str, cross: str) -> dict:
        return {"lead_id": lead_id, "rm_id": rm, "created_date": created, "source": "walk_in",
                "status": status, "closed_date": closed, "cross_sell": cross}  # fmt: skip

    leads = [
        lead("L1", "RM1", "2024-02-01", "won", "2024-03-31", "true"),  # Q1's last day
        lead("L2", "RM1", "2024-01-10", "lost", "2024-02-10", "true"),
        lead("L3", "RM1", "2024-01-02", "won", "2024-01-15", "false"),
        lead("L4", "RM1", "2024-03-20", "lost", "2024-04-01", "true"),  # Q2 by closed_date
        lead("L5", "RM1", "2024-01-05", "open", "", "true"),  # open: in neither
        lead("L6", "RM1", "2024-04-01", "won", "2024-05-05", ""),  # not a cross-sell
        lead("L7", "RM2", "2024-01-20", "lost", "2024-02-01", "true"),
    ]
    vals = load(workspace, tmp_path / "book", {"leads": leads}, "2024-12-31")
    expect(
        vals,
        "sales_conversion_rate",
        {
            ("rm", "RM1", "2024-Q1"): 200 / 3,  # won L1, L3 ÷ closed L1, L2, L3
            ("rm", "RM1", "2024-Q2"): 50.0,  # won L6 ÷ L4, L6
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM1", "2024"): 60.0,  # 3 ÷ 5
            ("rm", "RM2", "2024-Q1"): 0.0,
            ("team", "T1", "2024-Q1"): 50.0,  # 2 ÷ 4
        },
    )
    expect(
        vals,
        "cross_sell_success_rate",
        {
            ("rm", "RM1", "2024-Q1"): 50.0,  # cross-sell won L1 ÷ L1, L2
            ("rm", "RM1", "2024-Q2"): 0.0,  # 0 ÷ L4
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM1", "2024"): 100 / 3,  # 1 ÷ 3
            ("rm", "RM2", "2024-Q1"): 0.0,
            ("team", "T1", "2024-Q1"): 100 / 3,  # 1 ÷ (2 + 1)
        },
    )


def test_revenue_free_look_and_boundaries(workspace: Workspace, tmp_path: Path) -> None:
    policies = [
        policy("V0", "C1", "RM1", "2023-03-31", end="2024-03-30", status="expired", premium="900"),
        policy("V1", "C1", "RM1", "2024-01-10", premium="1000"),
        # free-look: cancelled on issue + 30 days (2024-02-01 + 30 = 2024-03-02): excluded
        policy(
            "V2", "C2", "RM1", "2024-02-01", status="cancelled", cancel_date="2024-03-02",
            premium="2500.50",
        ),
        # cancelled on day 31 (2024-03-03): counts
        policy(
            "V3", "C3", "RM1", "2024-02-01", status="cancelled", cancel_date="2024-03-03",
            premium="700",
        ),
        # a renewal, lapsed (not a cancellation): counts, issued on Q1's last day
        policy(
            "V4", "C1", "RM1", "2024-03-31", status="lapsed", cancel_date="2024-04-15",
            premium="300", renewal_of_policy_id="V0",
        ),
        policy("V5", "C4", "RM1", "2024-04-01", premium="5000"),  # Q2's first day
        policy("V6", "C5", "RM2", "2024-06-30", premium="250.25"),
    ]  # fmt: skip
    vals = load(workspace, tmp_path / "book", {"policies": policies}, "2024-12-31")
    expect(
        vals,
        "revenue_per_quarter",
        {
            ("rm", "RM1", "2023-Q1"): 900.0,
            ("rm", "RM1", "2024-Q1"): 2000.0,  # V1 1000 + V3 700 + V4 300 (V2 free-look)
            ("rm", "RM1", "2024-02"): 700.0,  # V3
            ("rm", "RM1", "2024-03"): 300.0,  # V4
            ("rm", "RM1", "2024-Q2"): 5000.0,  # V5
            ("rm", "RM1", "2024-Q3"): 0.0,  # nothing issued: 0, not empty
            ("rm", "RM1", "2024"): 7000.0,
            ("rm", "RM2", "2024-Q1"): 0.0,
            ("rm", "RM2", "2024-Q2"): 250.25,
            ("team", "T1", "2024-Q2"): 5250.25,
            ("org", "org", "2024"): 7250.25,
        },
    )


def test_relationship_values_are_final_once_period_is_over(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A count is provisional only while its period is open; the as-of month is still final
    when the as-of date is its last day."""
    activities = [activity("K1", "RM1", "knowledge_sharing", "2024-01-05")]
    interactions = [interaction("I1", "RM1", "meeting", "2024-06-30")]
    book = {"activities": activities, "interactions": interactions}
    vals = load(workspace, tmp_path / "book", book, "2024-06-30")
    expect(vals, "client_meetings_per_month", {("rm", "RM1", "2024-06"): 1.0})
    expect_provisional(
        vals,
        {
            ("rm", "RM1", "2024-06", "client_meetings_per_month"): False,
            ("rm", "RM1", "2024-Q2", "client_meetings_per_month"): False,
            ("rm", "RM1", "2024", "client_meetings_per_month"): True,
        },
    )
