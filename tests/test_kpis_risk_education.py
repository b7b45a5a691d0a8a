"""KRA 3 Risk Management and KRA 4 Customer Education: values worked out by hand.

Default organisation (kpi_books): branch B1 (manager M1) > team T1 (leader RM1) with RM1 and RM2.
"""

from __future__ import annotations

from pathlib import Path

from kpi_books import expect, expect_provisional, interaction, load, policy, survey
from kraft.workspace import Workspace


def test_adequate_coverage_on_last_day(workspace: Workspace, tmp_path: Path) -> None:
    def cover(pid: str, rm: str, start: str, end: str, need: str, si: str, **kw: str) -> dict:
        status = kw.pop("status", "in_force")
        return policy(pid, pid, rm, kw.pop("issue", start), start, end, status,
                      assessed_need=need, sum_insured=si, **kw)  # fmt: skip

    policies = [
        cover("A1", "RM1", "2024-01-01", "2024-12-31", "100", "100"),  # equal: adequate
        cover("A2", "RM1", "2024-01-01", "2024-06-29", "100", "99", status="expired"),
        cover("A3", "RM1", "2024-01-01", "2024-12-31", "100", ""),  # null sum insured: not
        cover("A4", "RM1", "2024-01-01", "2024-12-31", "", "50"),  # no need: left out
        # cancelled exactly on Q1's last day: not in force on 2024-03-31
        cover(
            "A5", "RM1", "2024-01-01", "2024-12-31", "100", "200", status="cancelled",
            cancel_date="2024-03-31",
        ),
        cover("A6", "RM1", "2024-04-01", "2025-03-31", "100", "200", issue="2024-03-25"),
        # ends on Q1's last day: in force that day
        cover("A7", "RM1", "2023-04-01", "2024-03-31", "100", "500", issue="2023-03-20",
              status="expired"),
        cover("B1", "RM2", "2024-01-01", "2025-01-01", "1000", "5000"),
    ]  # fmt: skip
    vals = load(workspace, tmp_path / "book", {"policies": policies}, "2024-12-31")
    expect(
        vals,
        "adequate_coverage_rate",
        {
            # 2024-03-31: in force with need: A1 ✓, A2 ✗, A3 ✗, A7 ✓ (A5 cancelled that day,
            # A6 not started, A4 no need) → 2/4
            ("rm", "RM1", "2024-Q1"): 50.0,
            ("rm", "RM1", "2024-03"): 50.0,
            # 2024-02-29: A1 ✓, A2 ✗, A3 ✗, A5 ✓, A7 ✓ → 3/5
            ("rm", "RM1", "2024-02"): 60.0,
            # 2024-06-30: A1 ✓, A3 ✗, A6 ✓ (A2 ended 06-29) → 2/3
            ("rm", "RM1", "2024-Q2"): 200 / 3,
            ("rm", "RM1", "2024"): 200 / 3,  # 2024-12-31: A1 ✓, A3 ✗, A6 ✓
            ("rm", "RM2", "2024-Q1"): 100.0,  # B1 ✓
            ("team", "T1", "2024-Q1"): 60.0,  # (2 + 1) ÷ (4 + 1)
            ("rm", "RM2", "2023-Q1"): None,  # nothing in force with a need on 2023-03-31
        },
    )


def test_risk_assessment_completion_new_business(workspace: Workspace, tmp_path: Path) -> None:
    def new(pid: str, issue: str, rad: str, **kw: str) -> dict:
        return policy(pid, "C" + pid, "RM1", issue, risk_assessment_date=rad, **kw)

    policies = [
        new("N0", "2023-03-15", "", end="2024-03-14", status="expired"),
        new("N1", "2024-01-10", "2024-01-10"),  # on the issue date: done
        new("N2", "2024-02-10", "2024-02-11"),  # a day late: not done
        new("N3", "2024-03-10", ""),  # none: not done
        new("N4", "2024-03-31", "2024-03-01", status="cancelled", cancel_date="2024-04-05"),
        new("N5", "2024-03-15", "", renewal_of_policy_id="N0"),  # renewal: left out
        new("N6", "2024-04-01", "2024-03-30"),
    ]
    vals = load(workspace, tmp_path / "book", {"policies": policies}, "2024-12-31")
    expect(
        vals,
        "risk_assessment_completion_rate",
        {
            ("rm", "RM1", "2023-Q1"): 0.0,  # N0 ✗ → 0/1
            ("rm", "RM1", "2024-Q1"): 50.0,  # N1 ✓, N2 ✗, N3 ✗, N4 ✓ (any status) → 2/4
            ("rm", "RM1", "2024-01"): 100.0,
            ("rm", "RM1", "2024-03"): 50.0,  # N3 ✗, N4 ✓ (N5 renewal)
            ("rm", "RM1", "2024-Q2"): 100.0,  # N6 ✓
            ("rm", "RM1", "2024-Q3"): None,  # no new business
            ("rm", "RM1", "2024"): 60.0,  # 3 ÷ 5
            ("rm", "RM2", "2024-Q1"): None,
        },
    )


def test_claims_settlement_time_mean_over_settled(workspace: Workspace, tmp_path: Path) -> None:
    policies = [
        policy("PC1", "C1", "RM1", "2023-12-01", end="2024-11-30"),
        policy("PC2", "C2", "RM2", "2023-12-01", end="2024-11-30"),
    ]

    def claim(cid: str, pid: str, intimated: str, settled: str, status: str) -> dict:
        return {"claim_id": cid, "policy_id": pid, "intimation_date": intimated,
                "settled_date": settled, "status": status}  # fmt: skip

    claims = [
        claim("K1", "PC1", "2024-01-01", "2024-01-11", "settled"),  # 10 days
        claim("K2", "PC1", "2024-02-01", "2024-03-31", "settled"),  # 28 + 31 = 59 days
        claim("K3", "PC1", "2024-03-01", "2024-03-21", "rejected"),  # excluded
        claim("K4", "PC1", "2024-03-20", "2024-04-01", "settled"),  # 12 days, Q2
        claim("K5", "PC1", "2024-03-25", "", "open"),
        claim("K6", "PC2", "2024-01-05", "2024-01-25", "settled"),  # RM2: 20 days
        claim("K7", "PC1", "2024-02-10", "", "withdrawn"),
    ]
    vals = load(
        workspace, tmp_path / "book", {"policies": policies, "claims": claims}, "2024-12-31"
    )
    expect(
        vals,
        "claims_settlement_time",
        {
            ("rm", "RM1", "2024-Q1"): 34.5,  # (10 + 59) ÷ 2
            ("rm", "RM1", "2024-01"): 10.0,
            ("rm", "RM1", "2024-02"): None,  # nothing settled in February
            ("rm", "RM1", "2024-03"): 59.0,
            ("rm", "RM1", "2024-Q2"): 12.0,
            ("rm", "RM1", "2024-Q3"): None,
            ("rm", "RM1", "2024"): 27.0,  # (10 + 59 + 12) ÷ 3
            ("rm", "RM2", "2024-Q1"): 20.0,
            # mean over the team's claims, not of the RMs' means ((34.5 + 20) ÷ 2 = 27.25)
            ("team", "T1", "2024-Q1"): 89 / 3,  # (10 + 59 + 20) ÷ 3
            ("org", "org", "2024"): 25.25,  # (10 + 59 + 12 + 20) ÷ 4
        },
    )


def test_loss_ratio_improvement_earned_premium(workspace: Workspace, tmp_path: Path) -> None:
    policies = [
        # 36 500 a year = 100 a day; in force 2024-01-01 to 2024-10-31 (cancelled 11-01)
        policy(
            "L1", "C1", "RM1", "2023-12-15", "2024-01-01", "2024-12-31", "cancelled",
            premium="36500", cancel_date="2024-11-01",
        ),
        # 7 300 a year = 20 a day, from 2024-03-02
        policy("L2", "C2", "RM1", "2024-02-20", "2024-03-02", "2025-03-01", premium="7300"),
    ]  # fmt: skip

    def claim(cid: str, pid: str, intimated: str, status: str, paid: str, reserve: str) -> dict:
        settled = {"settled": "2024-12-20", "rejected": "2024-12-20"}.get(status, "")
        return {"claim_id": cid, "policy_id": pid, "intimation_date": intimated,
                "status": status, "settled_date": settled, "amount_paid": paid,
                "outstanding_reserve": reserve}  # fmt: skip

    claims = [
        claim("K1", "L1", "2024-03-31", "settled", "970", ""),  # Q1 (last day)
        claim("K2", "L2", "2024-04-01", "open", "", "546"),  # Q2 (first day)
        claim("K3", "L1", "2024-07-15", "rejected", "1000", ""),  # any claim status
        claim("K4", "L2", "2024-09-30", "open", "", "1208"),
        claim("K5", "L1", "2024-12-31", "open", "", "494"),  # on a cancelled policy
    ]
    vals = load(
        workspace, tmp_path / "book", {"policies": policies, "claims": claims}, "2024-12-31"
    )
    # Earned premium (÷ 365 always, though 2024 is a leap year):
    #   Q1: L1 91 days × 100 = 9100; L2 Mar 2–31 = 30 × 20 = 600 → 9700; claims 970 → 10 %
    #   Q2: L1 91 × 100 = 9100; L2 91 × 20 = 1820 → 10920; claims 546 → 5 %
    #   Q3: L1 92 × 100 = 9200; L2 92 × 20 = 1840 → 11040; claims 1000 + 1208 → 20 %
    #   Q4: L1 Oct 1–31 = 31 × 100 = 3100 (cancel day excluded); L2 92 × 20 = 1840 → 4940;
    #       claims 494 → 10 %
    #   2023-Q4: nothing in force → undefined
    #   months: Jan 3100, 0 → 0 %; Feb 2900, 0 → 0 %; Mar 3100 + 600 = 3700, 970 → 26.2162… %
    #           Apr 3000 + 600 = 3600, 546 → 15.1666… %; Nov 0 + 600, 0 → 0 %;
    #           Dec 620, 494 → 79.677… %
    expect(
        vals,
        "loss_ratio_improvement",
        {
            ("rm", "RM1", "2024-Q1"): None,  # previous (2023-Q4) undefined
            ("rm", "RM1", "2024-Q2"): 5.0,  # 10 − 5
            ("rm", "RM1", "2024-Q3"): -15.0,  # 5 − 20
            ("rm", "RM1", "2024-Q4"): 10.0,  # 20 − 10
            ("rm", "RM1", "2024-02"): 0.0,  # 0 − 0
            ("rm", "RM1", "2024-03"): -100 * 970 / 3700,  # 0 − 26.216…
            ("rm", "RM1", "2024-04"): 100 * 970 / 3700 - 100 * 546 / 3600,
            ("rm", "RM1", "2024-12"): -100 * 494 / 620,  # 0 − 79.677…
            ("rm", "RM1", "2024"): None,  # 2023 undefined
            ("rm", "RM2", "2024-Q2"): None,  # no premium at all
            ("team", "T1", "2024-Q2"): 5.0,
            ("org", "org", "2024-Q3"): -15.0,
        },
    )
    # An open claim's reserve may still change (DATA.md: a claim not yet settled), so a loss
    # ratio with one stays provisional, and so does an improvement that reads it: Q4 (K5) and
    # Q3 (K4) are provisional though over; Q1 reads Q1 (K1 settled) and 2023-Q4 (no claims).
    expect_provisional(
        vals,
        {
            ("rm", "RM1", "2024-Q4", "loss_ratio_improvement"): True,
            ("rm", "RM1", "2024-Q3", "loss_ratio_improvement"): True,
            ("rm", "RM1", "2024-Q1", "loss_ratio_improvement"): False,
        },
    )


def test_a_policy_cancelled_before_cover_began_is_never_in_force(
    workspace: Workspace, tmp_path: Path
) -> None:
    # DATA.md: a cancel_date may precede start_date (cancelled before cover began: never in
    # force); in force at d needs not (cancel_date <= d), so one cancelled on its start_date
    # is never in force either. Neither earns premium nor counts in a snapshot.
    policies = [
        # 36 500 a year = 100 a day, all 2024; adequately covered
        policy("P1", "C1", "RM1", "2023-12-20", "2024-01-01", "2024-12-31", premium="36500",
               sum_insured="100", assessed_need="100"),
        # cover would have begun 05-25; cancelled 05-10 (was: 05-25 to 05-09, −15 days × 100 =
        # −1 500 of earned premium in May and Q2)
        policy("P2", "C2", "RM1", "2024-04-10", "2024-05-25", "2025-05-24", "cancelled",
               premium="36500", cancel_date="2024-05-10", sum_insured="50",
               assessed_need="100"),
        # cancelled on the day its cover was to begin
        policy("P3", "C3", "RM1", "2024-07-01", "2024-08-15", "2025-08-14", "cancelled",
               premium="73000", cancel_date="2024-08-15"),
    ]  # fmt: skip
    claims = [
        {"claim_id": f"K{n}", "policy_id": "P1", "intimation_date": day, "status": "open",
         "amount_paid": "", "outstanding_reserve": amount}
        for n, (day, amount) in enumerate(
            [("2024-02-10", "910"), ("2024-05-02", "1820"), ("2024-08-15", "920")], start=1
        )
    ]  # fmt: skip
    vals = load(
        workspace, tmp_path / "book", {"policies": policies, "claims": claims}, "2024-12-31"
    )
    # Earned premium is P1's alone: Q1 91 × 100 = 9 100 (910 → 10 %), Q2 9 100 (1 820 → 20 %),
    # Q3 9 200 (920 → 10 %)
    expect(
        vals,
        "loss_ratio_improvement",
        {
            ("rm", "RM1", "2024-Q2"): -10.0,  # 10 − 20
            ("rm", "RM1", "2024-Q3"): 10.0,  # 20 − 10
        },
    )
    # May: 3 100 earned (1 820 → 58.7… %), April: 3 000 (no claim → 0 %)
    expect(vals, "loss_ratio_improvement", {("rm", "RM1", "2024-05"): -100 * 1820 / 3100})
    # on 2024-05-31 only P1 is in force: P2 (inadequate) is not counted
    expect(vals, "adequate_coverage_rate", {("rm", "RM1", "2024-05"): 100.0})


def test_education_sessions_count_distinct_sessions(workspace: Workspace, tmp_path: Path) -> None:
    interactions = [
        # one group session G1 for three clients: counts once
        interaction("E1", "RM1", "education_session", "2024-01-10", client_id="C1", session_id="G1"),
        interaction("E2", "RM1", "education_session", "2024-01-10", client_id="C2", session_id="G1"),
        interaction("E3", "RM1", "education_session", "2024-01-10", client_id="C3", session_id="G1"),
        interaction("E4", "RM1", "education_session", "2024-02-01", client_id="C1"),
        interaction("E5", "RM1", "education_session", "2024-02-02", "cancelled"),
        interaction("E6", "RM1", "meeting", "2024-02-03"),
        interaction("E7", "RM1", "education_session", "2024-03-31", "no_show"),
        interaction("E8", "RM1", "education_session", "2024-03-31", client_id="C1", session_id="G2"),
        interaction("E9", "RM1", "education_session", "2024-04-01"),
        interaction("E10", "RM2", "education_session", "2024-03-05"),
    ]  # fmt: skip
    vals = load(workspace, tmp_path / "book", {"interactions": interactions}, "2024-06-30")
    expect(
        vals,
        "education_sessions",
        {
            ("rm", "RM1", "2024-01"): 1.0,  # G1 once
            ("rm", "RM1", "2024-02"): 1.0,  # E4 (E5 cancelled, E6 a meeting)
            ("rm", "RM1", "2024-03"): 1.0,  # G2 (E7 no-show)
            ("rm", "RM1", "2024-Q1"): 3.0,
            ("rm", "RM1", "2024-Q2"): 1.0,  # E9
            ("rm", "RM1", "2024-05"): 0.0,
            ("rm", "RM2", "2024-Q1"): 1.0,
            ("team", "T1", "2024-Q1"): 4.0,
            ("org", "org", "2024"): 5.0,
        },
    )


def test_renewal_rate_after_education_window(workspace: Workspace, tmp_path: Path) -> None:
    def due(pid: str, client: str, issue: str, end: str, **kw: str) -> dict:
        return policy(pid, client, "RM1", issue, end=end, status=kw.pop("status", "expired"), **kw)

    def renewal(pid: str, client: str, of: str, start: str) -> dict:
        return policy(pid, client, "RM1", start, start, "2025-12-31", renewal_of_policy_id=of)

    policies = [
        due("R1", "C1", "2023-04-01", "2024-03-31"),
        renewal("RR1", "C1", "R1", "2024-04-10"),
        due("R2", "C2", "2023-03-21", "2024-03-20"),  # not renewed
        due("R3", "C3", "2023-02-11", "2024-02-10"),
        renewal("RR3", "C3", "R3", "2024-02-11"),
        due("R4", "C4", "2023-03-02", "2024-03-01"),
        renewal("RR4", "C4", "R4", "2024-03-02"),
        due("R5", "C5", "2023-03-06", "2024-03-05"),
        renewal("RR5", "C5", "R5", "2024-03-06"),
        due("R6", "C6", "2023-01-16", "2024-01-15"),
        renewal("RR6", "C6", "R6", "2024-01-16"),
        due("R7", "C7", "2023-02-16", "2024-02-15", status="lapsed", cancel_date="2023-10-01"),
    ]
    interactions = [
        # 2024-03-31 − 365 days = 2023-04-01: first day of R1's window
        interaction("X1", "RM1", "education_session", "2023-04-01", client_id="C1"),
        interaction("X2", "RM1", "education_session", "2024-03-20", client_id="C2"),  # = end
        # 2024-02-10 − 365 = 2023-02-10: X3 a day before the window
        interaction("X3", "RM1", "education_session", "2023-02-09", client_id="C3"),
        interaction("X4", "RM2", "education_session", "2023-10-10", client_id="C4"),  # other RM
        interaction("X5", "RM1", "education_session", "2023-10-10", "cancelled", client_id="C5"),
        interaction("X6", "RM1", "education_session", "2024-01-16", client_id="C6"),  # after end
        interaction("X7", "RM1", "education_session", "2023-10-10", client_id="C7"),  # not due
        interaction("X8", "RM1", "meeting", "2023-12-01", client_id="C3"),  # not education
    ]
    book = {"policies": policies, "interactions": interactions}
    vals = load(workspace, tmp_path / "book", book, "2024-06-30")
    expect(
        vals,
        "renewal_rate_after_education",
        {
            # due with education in the window: R1 (renewed), R2 (not) → 1/2
            ("rm", "RM1", "2024-Q1"): 50.0,
            ("rm", "RM1", "2024-03"): 50.0,
            ("rm", "RM1", "2024-02"): None,  # R3 outside the window, R7 lapsed
            ("rm", "RM1", "2024-01"): None,  # R6's session after its end date
            ("rm", "RM2", "2024-Q1"): None,  # RM2 has no due policies
            ("team", "T1", "2024-Q1"): 50.0,
        },
    )
    # the plain retention over the same book: C1 ✓ C2 ✗ C3 ✓ C4 ✓ C5 ✓ C6 ✓ → 5/6
    expect(vals, "client_retention_rate", {("rm", "RM1", "2024-Q1"): 500 / 6})
    # as of 2024-06-30, Q1's grace ended 2024-04-30: final
    expect_provisional(vals, {("rm", "RM1", "2024-Q1", "renewal_rate_after_education"): False})


def test_survey_means_rescaled(workspace: Workspace, tmp_path: Path) -> None:
    surveys = [
        survey("U1", "RM1", "policy_understanding", "2024-01-05", "5"),  # (5−1)/4 → 100
        survey("U2", "RM1", "policy_understanding", "2024-02-05", "3"),  # 50
        survey("U3", "RM1", "policy_understanding", "2024-03-05", "1"),  # 0
        survey("U4", "RM1", "policy_understanding", "2024-03-06", "7", "1", "10"),  # 6/9 → 66.67
        survey("U5", "RM1", "policy_understanding", "2024-03-31", "10", "0", "10"),  # 100
        survey("U6", "RM1", "csat", "2024-03-07", "1"),  # another survey
        survey("U7", "RM2", "policy_understanding", "2024-02-01", "4"),  # 75
        survey("F1", "RM1", "education_material", "2024-01-10", "4"),  # 75
        survey("F2", "RM1", "education_material", "2024-02-10", "2", "1", "10"),  # 1/9 → 11.11
        survey("F3", "RM1", "education_material", "2024-04-01", "5", "1", "5"),  # 100
    ]
    vals = load(workspace, tmp_path / "book", {"surveys": surveys}, "2024-06-30")
    understanding_q1 = (100 + 50 + 0 + 600 / 9 + 100) / 5  # 63.333…
    expect(
        vals,
        "policy_understanding_score",
        {
            ("rm", "RM1", "2024-Q1"): understanding_q1,
            ("rm", "RM1", "2024-01"): 100.0,
            ("rm", "RM1", "2024-03"): (0 + 600 / 9 + 100) / 3,
            ("rm", "RM1", "2024-Q2"): None,
            ("rm", "RM2", "2024-Q1"): 75.0,
            # mean over the team's 6 responses, not of the two RM means
            ("team", "T1", "2024-Q1"): (understanding_q1 * 5 + 75) / 6,
        },
    )
    expect(
        vals,
        "education_material_feedback",
        {
            ("rm", "RM1", "2024-Q1"): (75 + 100 / 9) / 2,  # 43.055…
            ("rm", "RM1", "2024-Q2"): 100.0,
            ("rm", "RM1", "2024-03"): None,  # no responses in March
            ("rm", "RM2", "2024-Q1"): None,
        },
    )
