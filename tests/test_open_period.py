"""The open period, to date, and events after the as-of date (DATA.md): values worked out by hand.

The book is exported on 2025-06-06 but imported as of 2025-05-15: 2025-Q2 (1 April to 30 June),
2025-05 and 2025 are open; 2025-04 and 2025-Q1 are closed. Rows dated after 15 May (policies
issued, a cancellation, claims intimated or settled, a lead closed) count nowhere, as if the
export had been taken on 15 May. Default organisation (kpi_books): team T1 with RM1 and RM2.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from kpi_books import activity, expect, expect_provisional, load, numbers, policy
from kraft.analysis.pacing import Method, decided_counts, due_rate, forecasts
from kraft.framework.loader import load_builtin
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar
from kraft.store.database import workspace_database
from kraft.workspace import Workspace

AS_OF = "2025-05-15"

POLICIES = [
    # RM1's renewals. P1 (C1) ends 10 April and is renewed: due, renewed.
    policy("P1", "C1", "RM1", "2024-04-11", end="2025-04-10", status="expired"),
    policy("R1", "C1", "RM1", "2025-04-05", "2025-04-11", end="2026-04-10",
           renewal_of_policy_id="P1"),
    # P2 (C2) ends 5 April, not renewed; its grace ended 5 May: due, lost.
    policy("P2", "C2", "RM1", "2024-04-06", end="2025-04-05", status="expired"),
    # P3 (C3) ends 1 May, not renewed; its grace runs to 31 May: still inside it on 15 May.
    policy("P3", "C3", "RM1", "2024-05-02", end="2025-05-01", status="expired"),
    # P4 (C4) ends 20 June: not yet due on 15 May.
    policy("P4", "C4", "RM1", "2024-06-21", end="2025-06-20"),
    # P5 (C5) ends 10 May; its renewal R5 was issued on 20 May, after the as-of date: R5 does
    # not exist, so P5 is not renewed and still inside its grace (to 9 June).
    policy("P5", "C5", "RM1", "2024-05-11", end="2025-05-10", status="expired"),
    policy("R5", "C5", "RM1", "2025-05-20", "2025-05-20", end="2026-05-19",
           renewal_of_policy_id="P5"),
    # RM2's book for the snapshot, earned premium and claims.
    # E1: 3 650 a year, in force all 2025, no assessed need (not in the coverage ratio).
    policy("E1", "C10", "RM2", "2025-01-01", end="2025-12-31", premium="3650"),
    # A6 cancelled on 20 May (after the as-of date): in force on 15 May, adequate.
    policy("A6", "C11", "RM2", "2025-01-01", end="2025-12-31", status="cancelled",
           cancel_date="2025-05-20", sum_insured="100", assessed_need="100"),
    # A8 ends 31 May: in force on 15 May (not on 30 June), not adequate (50 < 100).
    policy("A8", "C12", "RM2", "2024-06-01", end="2025-05-31", sum_insured="50",
           assessed_need="100"),
    # A9 ended 10 May: not in force on 15 May.
    policy("A9", "C13", "RM2", "2024-05-11", end="2025-05-10", status="expired",
           sum_insured="100", assessed_need="100"),
    # A10 issued 20 May, after the as-of date: does not exist.
    policy("A10", "C14", "RM2", "2025-05-20", end="2026-05-19", sum_insured="100",
           assessed_need="100"),
]  # fmt: skip


def claim(claim_id: str, intimated: str, status: str = "open", **extra: str) -> dict[str, str]:
    return {
        "claim_id": claim_id,
        "policy_id": "E1",
        "intimation_date": intimated,
        "status": status,
        **extra,
    }


CLAIMS = [
    # Q1: intimated 1 February, settled in 10 days, 90 paid.
    claim("K1", "2025-02-01", "settled", settled_date="2025-02-11", amount_paid="90"),
    # Q2 to date: 90 reserved on an open claim.
    claim("K2", "2025-05-01", outstanding_reserve="90"),
    # settled in 10 days in April.
    claim("K3", "2025-04-01", "settled", settled_date="2025-04-11", amount_paid="0"),
    # settled on 30 May, after the as-of date: open on 15 May (not in the settlement time).
    claim("K4", "2025-04-02", "settled", settled_date="2025-05-30", amount_paid="0"),
    # intimated on 20 May, after the as-of date: does not exist.
    claim("K5", "2025-05-20", "settled", settled_date="2025-05-25", amount_paid="1000"),
]


def lead(lead_id: str, status: str, closed: str = "") -> dict[str, str]:
    return {
        "lead_id": lead_id,
        "rm_id": "RM1",
        "created_date": "2025-04-01",
        "source": "walk_in",
        "status": status,
        "closed_date": closed,
    }


LEADS = [
    lead("L1", "won", "2025-04-20"),
    lead("L2", "lost", "2025-05-01"),
    lead("L3", "won", "2025-05-20"),  # closed after the as-of date: open on 15 May
]


ACTIVITIES = [
    # due 10 May, completed on time; due 10 June, planned: not yet due on 15 May (not yet late).
    activity("AP1", "RM1", "action_plan_item", "2025-04-01", due_date="2025-05-10",
             completed_date="2025-05-05"),
    activity("AP2", "RM1", "action_plan_item", "2025-04-01", "planned", due_date="2025-06-10"),
    # due 12 May, completed on 20 May (after the as-of date): planned, and late, on 15 May.
    activity("AP3", "RM1", "action_plan_item", "2025-04-01", due_date="2025-05-12",
             completed_date="2025-05-20"),
]  # fmt: skip


def test_open_quarter_to_date_and_events_after_the_as_of(
    workspace: Workspace, tmp_path: Path
) -> None:
    book = {"policies": POLICIES, "claims": CLAIMS, "leads": LEADS, "activities": ACTIVITIES}
    vals = load(workspace, tmp_path / "book", book, AS_OF)
    assert not {k[2] for k in vals} & {"2025-06", "2025-Q3"}  # nothing after the as-of period
    expect(
        vals,
        "client_retention_rate",
        {
            # Q2 to date: due by 15 May P1 (C1 ✓), P2 (C2 ✗), P3 (C3 ✗ inside grace), P5 (C5 ✗:
            # R5 issued after the as-of date, inside grace); P4 (20 June) not yet due → 1/4.
            # (Counting P4 as lost and R5 as a renewal, as before, would give 2/5.)
            ("rm", "RM1", "2025-Q2"): 25.0,
            ("rm", "RM1", "2025-04"): 50.0,  # closed: P1 ✓, P2 ✗
            ("rm", "RM1", "2025-05"): 0.0,  # open: P3, P5, both inside grace
            ("rm", "RM1", "2025"): 25.0,
        },
    )
    parts = numbers(workspace)
    assert parts[("rm", "RM1", "2025-Q2", "client_retention_rate")] == (1.0, 4.0)
    expect_provisional(
        vals,
        {
            ("rm", "RM1", "2025-Q2", "client_retention_rate"): True,
            ("rm", "RM1", "2025-05", "client_retention_rate"): True,
            ("rm", "RM1", "2025-04", "client_retention_rate"): False,  # P2's grace is over
            ("rm", "RM2", "2025-Q1", "claims_settlement_time"): False,
        },
    )
    # Revenue: R1 (1 000) in Q2; R5 and A10, issued after the as-of date, do not exist.
    expect(
        vals,
        "revenue_per_quarter",
        {
            ("rm", "RM1", "2025-Q2"): 1000.0,
            ("rm", "RM2", "2025-Q2"): 0.0,
            ("rm", "RM2", "2025-Q1"): 4650.0,  # E1 3 650 + A6 1 000 (cancelled after: in force)
        },
    )
    # Coverage on the open quarter's "last day" is taken on 15 May: A6 (cancelled after it) ✓,
    # A8 (ends 31 May) ✗; A9 ended, A10 not issued → 1/2. On 31 March (Q1, closed): A6 ✓,
    # A8 ✗, A9 ✓ → 2/3.
    expect(
        vals,
        "adequate_coverage_rate",
        {
            ("rm", "RM2", "2025-Q2"): 50.0,
            ("rm", "RM2", "2025-05"): 50.0,
            ("rm", "RM2", "2025-04"): 200 / 3,  # 30 April: A6, A8, A9
            ("rm", "RM2", "2025-Q1"): 200 / 3,
        },
    )
    # Settlement time: Q1 K1 10 days; Q2 K3 10 days (K4 settled after the as-of date is open,
    # K5 does not exist) → 10, not (10 + 58) ÷ 2.
    expect(
        vals,
        "claims_settlement_time",
        {("rm", "RM2", "2025-Q1"): 10.0, ("rm", "RM2", "2025-Q2"): 10.0},
    )
    # Loss ratio: Q1 90 ÷ E1, A6, A8 and A9's premium earned over Q1's 90 days. Earned premium
    # of Q2 to date counts 1 April to 15 May (45 days), not the quarter's 91; A6, cancelled
    # after the as-of date, earns to 15 May; A9 to its end on 10 May (40 days); A10 nothing.
    q1_earned = (3650 + 1000 + 1000 + 1000) * 90 / 365  # E1, A6, A8, A9 all Q1 long
    q2_earned = (3650 + 1000) * 45 / 365 + 1000 * 45 / 365 + 1000 * 40 / 365  # A8; A9 to 10 May
    q1_ratio = 100 * 90 / q1_earned
    q2_ratio = 100 * (90 + 0 + 0) / q2_earned  # K2 reserve, K3 and K4 paid 0; K5 absent
    expect(
        vals,
        "loss_ratio_improvement",
        {("rm", "RM2", "2025-Q2"): q1_ratio - q2_ratio},
    )
    # Action plan items due by 15 May: AP1 on time, AP3 late; AP2 not yet due → 1/2.
    expect(vals, "action_plan_success_rate", {("rm", "RM1", "2025-Q2"): 50.0})
    # Sales conversion: L1 won, L2 lost; L3 closed after the as-of date is open → 1/2.
    expect(vals, "sales_conversion_rate", {("rm", "RM1", "2025-Q2"): 50.0})


def test_pacing_leaves_what_is_inside_its_grace_out(workspace: Workspace, tmp_path: Path) -> None:
    load(workspace, tmp_path / "book", {"policies": POLICIES}, AS_OF)
    catalogue, framework = load_catalogue(), load_builtin("insurance_rm")
    db = workspace_database(workspace.root, workspace.settings.database_url)
    try:
        with db.connect() as conn:
            # The stored value counts C3 and C5 (inside their grace) as not renewed: 1/4. The
            # decided clients are C1 (renewed) and C2 (grace over): the forecast is 1/2.
            decided = decided_counts(conn, "2025-Q2", ["RM1"], {"client_retention_rate": "decided"})
            assert decided == {("RM1", "client_retention_rate"): Decimal(2)}
            extra = conn.execute(
                sa.text(
                    "SELECT extra FROM kpi_values WHERE entity_id = 'RM1' AND period = '2025-Q2' "
                    "AND kpi_id = 'client_retention_rate'"
                )
            ).scalar()
            assert json.loads(extra) == {"decided": 2}
            paced = {
                f.kpi_id: f
                for f in forecasts(
                    conn,
                    framework,
                    Calendar(1),
                    Calendar(1).parse("2025-Q2"),
                    date(2025, 5, 15),
                    ["RM1"],
                    catalogue,
                )
            }
    finally:
        db.dispose()
    retention = paced["client_retention_rate"]
    assert retention.to_date == Decimal(25)
    assert retention.forecast == Decimal(50)
    assert retention.method is Method.due_so_far
    assert retention.volume == Decimal(2)


def test_due_rate() -> None:
    assert due_rate(Decimal(1), Decimal(2), Decimal(100)) == Decimal(50)
    assert due_rate(Decimal(0), Decimal(0), Decimal(100)) is None  # nothing decided yet
    assert due_rate(None, Decimal(3), Decimal(100)) is None


def test_due_based_metrics_are_data_in_the_catalogue() -> None:
    catalogue = load_catalogue()
    due_based = {name for name, m in catalogue.metrics.items() if m.decided is not None}
    assert due_based == {"client_retention_rate", "renewal_rate_after_education"}
