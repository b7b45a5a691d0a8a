"""`kraft initiative impact`: the worked example's KPIs, the DiD of retention and its interval.

The hand-made book (both databases): initiative I1 starts 2025-01-01; with --window 3m the before
window is 2024-10-01 to 2024-12-31 and the after window 2025-01-01 to 2025-03-31. As of
2025-04-15 (grace 30 days).

Participants P1, P2 (M1 is listed too but is a manager: left out). Non-participants N1, N2 (N3,
hired 2024-11-01, and N4, who left 2025-02-15, were not employed over both windows: left out).

Due clients (policy end_date in the window, renewed within grace ✓ or not ✗):

| RM | before | after |
|---|---|---|
| P1 | C1 ✓, C2 ✗ → 1/2 | C3 ✓ (two policies due, one renewed), C4 ✓ (renewed by N1), C5 ✗ (renewed 40 days late) → 2/3 |
| P2 | C6 ✓, C7 ✗ → 1/2 | C8 ✓, C9 ✓ → 2/2 |
| N1 | C10 ✓, C11 ✓, C12 ✗ → 2/3 | C13 ✓, C14 ✗ (ends 2025-03-25: inside grace on the as-of date) → 1/2 |
| N2 | C15 ✓ → 1/1 | C16 ✓, C17 ✓ → 2/2 |

Participants 2/4 = 50 % → 4/5 = 80 %: +30 points, uplift 30 ÷ 50 × 100 = 60 %.
Non-participants 3/4 = 75 % → 3/4 = 75 %: 0 points, uplift 0 %. DiD = 30 − 0 = 30 points.

The bootstrap's possible draws: participants P1P1 2/4 → 4/6 (+16.67), P1P2 (+30), P2P2 2/4 → 4/4
(+50); non-participants N1N1 4/6 → 2/4 (−16.67), otherwise 0. The smallest DiD, 16.67 − 0, has
probability 1/4 × 3/4 = 3/16 and the largest, 50 + 16.67, 1/4 × 1/4 = 1/16, both above 2.5 %:
the 95 % percentile interval is exactly [50/3, 200/3] = [16.6667, 66.6667].

Personalised packages (personalised policies issued in the window to a client holding a policy
issued before the window began): participants before 1 (K4), after 3 (K1, the renewal A3R and
K7; not K2 to a new client, K3 not personalised, K6 after the window); non-participants 0 and 1
(K5). K8 in the before window goes to C25, whose first policy was issued inside that window: not
counted.

CSAT (score ≥ 0.8 × scale_max): participants before 1/2 = 50 %, after 3/5 = 60 % (4 of 5 and 8
of 10 are satisfied; the policy_understanding response and the one after the window are not
counted); non-participants before 1/1 = 100 %, after 0/1 = 0 %.

Referrals from retained clients (a lead of any RM created in the same window): participants
before C1 of C1, C6 → 1/2 = 50 %; after C3, C8, C9 (twice) of C3, C4, C8, C9 → 3/4 = 75 % (C5
referred but was not retained); non-participants before 0/3, after C16 of C13, C16, C17 → 1/3.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from kpi_books import kraft, policy, survey
from kraft.analysis.initiative import (
    Interval,
    bootstrap_did,
    initiative_impact,
    parse_window,
    windows,
)
from kraft.cli import app
from kraft.demo.book.constants import INITIATIVE_ID, RENEWAL_UPLIFT
from kraft.demo.book.generate import generate_book
from kraft.errors import KraftError
from kraft.ingest.importer import ImportOptions, Mode, run_import
from kraft.ingest.sources import from_arrow
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar
from kraft.periods import add_months as shift_months
from kraft.store import migrate
from kraft.store.database import Database
from kraft.workspace import Workspace

from books import Row, write_table

AS_OF = "2025-04-15"
PARAMETERS = {"renewal_grace_days": 30, "free_look_days": 30}


def _rm(rm_id: str, team: str, **extra: str) -> Row:
    return {"rm_id": rm_id, "name": rm_id, "team_id": team, "hire_date": "2020-01-01", **extra}


def _due(pid: str, client: str, rm: str, end: str, **extra: str) -> Row:
    """A one-year policy ending on `end` that ran to its end."""
    last = date.fromisoformat(end)
    first = (last + timedelta(days=1)).replace(year=last.year - 1)
    return policy(pid, client, rm, first.isoformat(), end=end, status="expired", **extra)


def _renewal(pid: str, of: str, client: str, rm: str, start: str, issue: str, **extra: str) -> Row:
    first = date.fromisoformat(start)
    end = first.replace(year=first.year + 1) - timedelta(days=1)
    return policy(
        pid, client, rm, issue, start=start, end=end.isoformat(), renewal_of_policy_id=of, **extra
    )


def _lead(lead_id: str, rm: str, created: str, referred_by: str) -> Row:
    return {
        "lead_id": lead_id,
        "rm_id": rm,
        "created_date": created,
        "source": "referral",
        "referred_by_client_id": referred_by,
        "status": "open",
    }


def _book() -> dict[str, list[Row]]:
    policies = [
        # P1
        _due("A1", "C1", "P1", "2024-11-30"),
        _renewal("A1R", "A1", "C1", "P1", "2024-12-01", "2024-11-25"),
        _due("A2", "C2", "P1", "2024-12-15"),
        _due("A3", "C3", "P1", "2025-02-28"),
        _renewal("A3R", "A3", "C3", "P1", "2025-03-01", "2025-02-25", personalised="true"),
        _due("A3b", "C3", "P1", "2025-02-28", product_line="health"),
        _due("A4", "C4", "P1", "2025-03-10"),
        _renewal("A4R", "A4", "C4", "N1", "2025-03-20", "2025-03-15"),
        _due("A5", "C5", "P1", "2025-01-20"),
        _renewal("A5R", "A5", "C5", "P1", "2025-03-01", "2025-02-27"),
        policy(
            "A6",
            "C21",
            "P1",
            "2024-02-02",
            end="2025-02-01",
            status="cancelled",
            cancel_date="2024-06-01",
        ),
        # P2
        _due("B1", "C6", "P2", "2024-10-15"),
        _renewal("B1R", "B1", "C6", "P2", "2024-10-16", "2024-10-10"),
        _due("B2", "C7", "P2", "2024-11-10"),
        _due("B3", "C8", "P2", "2025-02-10"),
        _renewal("B3R", "B3", "C8", "P2", "2025-02-11", "2025-02-05"),
        _due("B4", "C9", "P2", "2025-03-20"),
        _renewal("B4R", "B4", "C9", "P2", "2025-03-21", "2025-03-18"),
        # N1
        _due("D1", "C10", "N1", "2024-10-20"),
        _renewal("D1R", "D1", "C10", "N1", "2024-10-21", "2024-10-15"),
        _due("D2", "C11", "N1", "2024-11-20"),
        _renewal("D2R", "D2", "C11", "N1", "2024-11-21", "2024-11-18"),
        _due("D3", "C12", "N1", "2024-12-20"),
        _due("D4", "C13", "N1", "2025-01-15"),
        _renewal("D4R", "D4", "C13", "N1", "2025-01-16", "2025-01-10"),
        _due("D5", "C14", "N1", "2025-03-25"),
        # N2
        _due("E1", "C15", "N2", "2024-12-01"),
        _renewal("E1R", "E1", "C15", "N2", "2024-12-02", "2024-11-28"),
        _due("E2", "C16", "N2", "2025-01-31"),
        _renewal("E2R", "E2", "C16", "N2", "2025-02-01", "2025-01-28"),
        _due("E3", "C17", "N2", "2025-03-01"),
        _renewal("E3R", "E3", "C17", "N2", "2025-03-02", "2025-02-26"),
        _due("E4", "C22", "N2", "2025-05-01"),  # due after the after window
        _due("E5", "C23", "N2", "2024-09-30"),  # due before the before window
        # N3 (hired 2024-11-01) and N4 (left 2025-02-15): not in either group
        policy("F1", "C18", "N3", "2024-11-05", end="2025-02-15", status="expired"),
        _due("G1", "C19", "N4", "2024-12-10"),
        # personalised packages
        policy("K1", "C1", "P1", "2025-02-01", personalised="true"),
        policy("K2", "C20", "P1", "2025-02-05", personalised="true"),
        policy("K3", "C2", "P1", "2025-02-06"),
        policy("K4", "C7", "P2", "2024-11-20", personalised="true"),
        policy("K5", "C10", "N1", "2025-03-01", personalised="true"),
        policy("K6", "C9", "P2", "2025-04-10", personalised="true"),
        policy("K7first", "C24", "P2", "2024-12-05"),
        policy("K7", "C24", "P2", "2025-03-05", personalised="true"),
        policy("K8first", "C25", "P1", "2024-10-05"),
        policy("K8", "C25", "P1", "2024-12-01", personalised="true"),
    ]
    surveys = [
        survey("R1", "P1", "csat", "2024-11-05", "5", "1", "5"),
        survey("R2", "P1", "csat", "2024-12-05", "3", "1", "5"),
        survey("R3", "P1", "csat", "2025-01-10", "5", "1", "5"),
        survey("R4", "P1", "csat", "2025-02-10", "4", "1", "5"),
        survey("R5", "P1", "csat", "2025-03-10", "2", "1", "5"),
        survey("R6", "P2", "csat", "2025-02-15", "8", "1", "10"),
        survey("R7", "P2", "csat", "2025-03-15", "7", "1", "10"),
        survey("R8", "P2", "policy_understanding", "2025-02-01", "5", "1", "5"),
        survey("R9", "P1", "csat", "2025-04-05", "5", "1", "5"),
        survey("R10", "N1", "csat", "2024-10-10", "4", "1", "5"),
        survey("R11", "N1", "csat", "2025-01-20", "3", "1", "5"),
    ]
    leads = [
        _lead("L1", "N1", "2025-02-10", "C3"),
        _lead("L2", "P1", "2024-12-01", "C4"),
        _lead("L3", "P2", "2025-03-15", "C9"),
        _lead("L4", "P2", "2025-03-16", "C9"),
        _lead("L5", "P1", "2025-02-20", "C5"),
        _lead("L6", "P1", "2024-11-15", "C1"),
        _lead("L7", "N2", "2025-01-05", "C8"),
        _lead("L8", "N1", "2025-03-30", "C16"),
    ]
    clients = sorted({p["client_id"] for p in policies}, key=lambda c: int(c[1:]))
    return {
        "teams": [
            {"team_id": "B1", "name": "Branch", "leader_rm_id": "M1"},
            {"team_id": "T1", "name": "One", "leader_rm_id": "P1", "parent_team_id": "B1"},
            {"team_id": "T2", "name": "Two", "leader_rm_id": "N1", "parent_team_id": "B1"},
        ],
        "relationship_managers": [
            _rm("M1", "B1", role="manager"),
            _rm("P1", "T1"),
            _rm("P2", "T1"),
            _rm("N1", "T2"),
            _rm("N2", "T2"),
            _rm("N3", "T2", hire_date="2024-11-01"),
            _rm("N4", "T2", exit_date="2025-02-15", active="false"),
        ],
        "clients": [{"client_id": c, "name": c} for c in clients],
        "policies": policies,
        "surveys": surveys,
        "leads": leads,
        "initiatives": [
            {"initiative_id": "I1", "name": "Retention pilot", "start_date": "2025-01-01"},
            {"initiative_id": "I2", "name": "Next year", "start_date": "2026-01-01"},
            {"initiative_id": "I3", "name": "Managers only", "start_date": "2025-01-01"},
        ],
        "initiative_participants": [
            {"initiative_id": "I1", "rm_id": "P1"},
            {"initiative_id": "I1", "rm_id": "P2"},
            {"initiative_id": "I1", "rm_id": "M1"},
            {"initiative_id": "I3", "rm_id": "M1"},
        ],
    }


@pytest.fixture
def loaded(workspace: Workspace, tmp_path: Path) -> Workspace:
    folder = tmp_path / "book"
    for name, rows in _book().items():
        write_table(folder, name, rows)
    kraft(workspace, "import", str(folder), "--as-of", AS_OF)
    return workspace


def _fails(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output, output
    assert result.exit_code == 1, output
    return output


def _figures(**values: float | int | None) -> dict[str, float | int | None]:
    keys = [
        "client_retention_rate",
        "retained_clients",
        "due_clients",
        "pending_policies",
        "personalised_packages_sold",
        "post_strategy_csat",
        "satisfied_responses",
        "csat_responses",
        "retained_client_referral_rate",
        "referring_clients",
    ]
    assert set(values) == set(keys)
    return {k: values[k] for k in keys}


def test_hand_computed_book_json(loaded: Workspace) -> None:
    report = json.loads(
        kraft(loaded, "initiative", "impact", "I1", "--window", "3m", "--format", "json")
    )
    assert report["initiative"] == {
        "initiative_id": "I1",
        "name": "Retention pilot",
        "start_date": "2025-01-01",
        "end_date": None,
    }
    assert report["as_of"] == AS_OF
    assert report["window"] == {
        "months": 3,
        "days": 90,
        "truncated": False,
        "before": {"first": "2024-10-01", "last": "2024-12-31"},
        "after": {"first": "2025-01-01", "last": "2025-03-31"},
    }
    part, non = report["groups"]["participants"], report["groups"]["non_participants"]
    assert part["rm_ids"] == ["P1", "P2"]
    assert non["rm_ids"] == ["N1", "N2"]
    assert part["before"] == _figures(
        client_retention_rate=50.0, retained_clients=2, due_clients=4, pending_policies=0,
        personalised_packages_sold=1, post_strategy_csat=50.0, satisfied_responses=1,
        csat_responses=2, retained_client_referral_rate=50.0, referring_clients=1,
    )  # fmt: skip
    assert part["after"] == _figures(
        client_retention_rate=80.0, retained_clients=4, due_clients=5, pending_policies=0,
        personalised_packages_sold=3, post_strategy_csat=60.0, satisfied_responses=3,
        csat_responses=5, retained_client_referral_rate=75.0, referring_clients=3,
    )  # fmt: skip
    assert non["before"] == _figures(
        client_retention_rate=75.0, retained_clients=3, due_clients=4, pending_policies=0,
        personalised_packages_sold=0, post_strategy_csat=100.0, satisfied_responses=1,
        csat_responses=1, retained_client_referral_rate=0.0, referring_clients=0,
    )  # fmt: skip
    assert non["after"] == _figures(
        client_retention_rate=75.0, retained_clients=3, due_clients=4, pending_policies=1,
        personalised_packages_sold=1, post_strategy_csat=0.0, satisfied_responses=0,
        csat_responses=1, retained_client_referral_rate=33.3333, referring_clients=1,
    )  # fmt: skip
    assert (part["retention_change_points"], part["retention_uplift"]) == (30.0, 60.0)
    assert (non["retention_change_points"], non["retention_uplift"]) == (0.0, 0.0)
    did = report["difference_in_differences"]
    assert did["points"] == 30.0
    interval = did["interval"]
    assert (interval["low"], interval["high"]) == (16.6667, 66.6667)
    assert (interval["resamples"], interval["valid_resamples"], interval["seed"]) == (2000, 2000, 0)
    assert report["provisional"] is True  # C14 is still inside its grace on 2025-04-15
    kpis = {k["id"]: k for k in report["kpis"]}
    assert list(kpis) == [
        "retention_uplift",
        "personalised_packages_sold",
        "post_strategy_csat",
        "retained_client_referral_rate",
    ]
    assert kpis["retention_uplift"]["participants"] == {
        "before": 50.0,
        "after": 80.0,
        "value": 60.0,
    }
    assert kpis["personalised_packages_sold"]["non_participants"] == {"before": 0, "after": 1}
    assert kpis["post_strategy_csat"]["name"] == (
        "Client satisfaction survey score post-strategy execution"
    )
    conclusion = report["conclusion"]
    assert "went from 50 % to 80 % (a relative change of +60 %)" in conclusion
    assert "an increase of 30 points (95 % interval 16.67 to 66.67)" in conclusion
    assert "Participants sold 3 personalised packages" in conclusion
    assert "provisional: 1 due policies" in conclusion


def test_hand_computed_book_text(loaded: Workspace) -> None:
    text = kraft(loaded, "initiative", "impact", "I1", "--window", "3m", "--seed", "5")
    assert "before 2024-10-01 to 2024-12-31, after 2025-01-01 to 2025-03-31: 90 days each" in text
    assert "Participants: 2 RMs of the initiative. Non-participants: 2 other RMs" in text
    assert (
        "Difference in differences of the client retention rate: +30 points (95 % interval "
        "16.67 to 66.67; 2000 bootstrap resamples of RMs, seed 5)."
    ) in text
    assert "Provisional" in text
    flat = " ".join(text.split())
    assert "│ Client retention rate (%) │ Participants │ 50 │ 80 │ +30 pp │" in flat
    assert "│ │ Non-participants │ 75 │ 75 │ 0 pp │" in flat
    assert "│ Non-participants │ │ │ 0 % │" in flat  # the uplift
    assert "│ Participants │ 1 │ 3 │ +2 │" in flat  # personalised packages sold
    assert "In the 3 months from the start of Retention pilot on 2025-01-01" in flat
    assert "an increase of 30 points" in flat


def test_truncated_windows_and_no_effect_wording(loaded: Workspace) -> None:
    # --window 6m: the after window would end 2025-06-30, past the as-of date; both windows are
    # cut to the 105 days observed (2025-01-01 to 2025-04-15; before 2024-09-18 to 2024-12-31).
    # E5 (C23, due 2024-09-30, not renewed) now falls in the before window: non-participants
    # 3/5 = 60 % before; after, E4 (2025-05-01) is still outside: 3/4 = 75 % (+15); participants
    # +30 as before: DiD 15.
    report = json.loads(kraft(loaded, "initiative", "impact", "I1", "--format", "json"))
    assert report["window"]["truncated"] is True
    assert report["window"]["days"] == 105
    assert report["window"]["before"] == {"first": "2024-09-18", "last": "2024-12-31"}
    assert report["window"]["after"] == {"first": "2025-01-01", "last": "2025-04-15"}
    assert report["groups"]["non_participants"]["before"]["client_retention_rate"] == 60.0
    assert report["difference_in_differences"]["points"] == 15.0
    assert "both windows were cut to the 105 days observed" in report["conclusion"]
    # A window with an interval that includes 0: 1 month (December against January). N3 (hired
    # 2024-11-01) and N4 (left 2025-02-15) are now employed over both windows: non-participants.
    # Participants: before P1 C2 ✗ (A1, due 2024-11-30, is outside) → 0/1; after P1 C5 ✗, P2
    # none → 0/1: +0. Non-participants: before N1 C12 ✗, N2 C15 ✓, N4 C19 ✗ (N3 none) → 1/3;
    # after N1 C13 ✓, N2 C16 ✓ → 2/2: +66.67. DiD −66.67. Draws: participants +0 (P2P2, with no
    # client due, is left out). Non-participants: 4 draws, b of N2 and c of N3: the change is
    # 100 − 100 b/(4 − c) where defined. DiD −100 (no N2, some N1) has probability 65/256 and 0
    # (only N2 and N3, some N2) 15/256 = 5.9 %, both above 2.5 %: the interval is [−100, 0].
    one = json.loads(
        kraft(loaded, "initiative", "impact", "I1", "--window", "1m", "--format", "json")
    )
    assert one["groups"]["non_participants"]["rm_ids"] == ["N1", "N2", "N3", "N4"]
    assert one["difference_in_differences"]["points"] == -66.6667
    assert one["difference_in_differences"]["interval"]["low"] == -100.0
    assert one["difference_in_differences"]["interval"]["high"] == 0.0
    assert (
        "includes 0, so no effect of the initiative on retention can be claimed"
        in (one["conclusion"])
    )


def test_bad_input_is_one_sentence(loaded: Workspace) -> None:
    out = _fails(loaded, "initiative", "impact", "NOPE")
    assert "There is no initiative 'NOPE'; the initiatives are: I1, I2, I3." in out
    for bad in ("6", "0m", "61m", "6x", "m", "six months"):
        out = _fails(loaded, "initiative", "impact", "I1", "--window", bad)
        assert f"--window {bad!r} is not a number of months" in out
    out = _fails(loaded, "initiative", "impact", "I2")
    assert "starts on 2026-01-01, after the data's as-of date 2025-04-15" in out
    out = _fails(loaded, "initiative", "impact", "I3")
    assert "Initiative 'I3' has no participants of role rm" in out


def test_windows_and_month_arithmetic() -> None:
    assert shift_months(date(2025, 3, 31), -1) == date(2025, 2, 28)
    assert shift_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert shift_months(date(2025, 1, 15), 12) == date(2026, 1, 15)
    assert shift_months(date(2025, 1, 1), -6) == date(2024, 7, 1)
    before, after, cut = windows(date(2025, 1, 1), 6, date(2025, 12, 31))
    assert (before.first, before.last, after.first, after.last, cut) == (
        date(2024, 7, 1), date(2024, 12, 31), date(2025, 1, 1), date(2025, 6, 30), False,
    )  # fmt: skip
    before, after, cut = windows(date(2025, 1, 1), 6, date(2025, 6, 30))  # exactly reaches
    assert not cut
    before, after, cut = windows(date(2025, 1, 1), 6, date(2025, 1, 10))
    assert (before.first, before.last, after.first, after.last, cut) == (
        date(2024, 12, 22), date(2024, 12, 31), date(2025, 1, 1), date(2025, 1, 10), True,
    )  # fmt: skip
    assert before.days == after.days == 10
    with pytest.raises(KraftError, match="no window after the start"):
        windows(date(2025, 1, 1), 6, date(2024, 12, 31))
    assert parse_window("6m") == 6
    assert parse_window(" 12M ") == 12
    assert parse_window("60m") == 60


def test_bootstrap_degenerate_and_two_rm_cases() -> None:
    # Every RM alike: every draw is the same, 1/2 → 2/2 (+50) against 3/4 → 3/4 (0): [50, 50].
    same = bootstrap_did(
        np.array([[1, 2, 2, 2], [1, 2, 2, 2], [1, 2, 2, 2]]),
        np.array([[3, 4, 3, 4], [3, 4, 3, 4]]),
        resamples=1000,
        seed=3,
    )
    assert same == Interval(50.0, 50.0, 1000, 1000, 3)
    # Two participants: a 1/2 → 2/2 (+50), b 2/2 → 1/2 (−50); draws aa +50, bb −50, ab 3/4 →
    # 3/4 (0), each of aa and bb with probability 1/4: the interval is [−50, 50].
    two = bootstrap_did(
        np.array([[1, 2, 2, 2], [2, 2, 1, 2]]), np.array([[1, 1, 1, 1]]), resamples=1000, seed=1
    )
    assert two is not None
    assert (two.low, two.high, two.valid) == (-50.0, 50.0, 1000)
    # A participant with no client due before: draws of it alone have no before rate and are
    # left out (about a quarter); the others are 0/1 → 1/1 with c (+100) or c alone (+100).
    partial = bootstrap_did(
        np.array([[0, 0, 1, 1], [0, 1, 1, 1]]), np.array([[1, 1, 1, 1]]), resamples=1000, seed=2
    )
    assert partial is not None
    assert 650 < partial.valid < 850
    assert (partial.low, partial.high) == (100.0, 100.0)
    # No comparison group: no interval.
    assert bootstrap_did(np.array([[1, 1, 1, 1]]), np.zeros((0, 4), dtype=np.int64)) is None
    # Same seed, same interval; the default draws at least 1000 resamples.
    rng = np.random.default_rng(0)
    a = rng.integers(1, 20, size=(30, 4)) * np.array([1, 2, 1, 2])
    b = rng.integers(1, 20, size=(40, 4)) * np.array([1, 2, 1, 2])
    first, again = bootstrap_did(a, b, seed=9), bootstrap_did(a, b, seed=9)
    assert first == again
    assert first is not None
    assert first.resamples >= 1000
    assert first.low < first.high


def test_demo_book_retention_uplift_parameter() -> None:
    default = generate_book(rms=20, months=6, seed=4)
    same = generate_book(rms=20, months=6, seed=4, retention_uplift=RENEWAL_UPLIFT)
    none = generate_book(rms=20, months=6, seed=4, retention_uplift=0.0)
    for name, t in default.items():
        assert same[name].equals(t), name
    assert none["initiative_participants"].equals(default["initiative_participants"])
    assert none["relationship_managers"].equals(default["relationship_managers"])
    assert not none["policies"].equals(default["policies"])
    with pytest.raises(ValueError, match="retention_uplift"):
        generate_book(rms=20, months=6, retention_uplift=1.5)


# --- Demo books large enough to detect the effect (DuckDB only) --------------------------------
#
# 150 RMs × 15 months, seed 3: the initiative starts 2024-08-01 (month 15 // 2), so the 6-month
# windows are 2024-02-01 to 2024-07-31 and 2024-08-01 to 2025-01-31, and the as-of date
# 2025-03-31 is past every grace (no provisional value). About 50 participants and 85
# non-participants with some 90 due clients each a month give an interval about ±1.2 points
# wide: the planted +6 points lies 5 half-widths from 0. (Seeds 1–8 all gave intervals that
# contain 6 and exclude 0, and with no planted effect intervals that contain 0.) Each book takes
# about 3 s to generate and import.

BIG = {"rms": 150, "months": 15, "seed": 3, "start": date(2024, 1, 1)}


def _big_impact(tmp_path: Path, uplift: float) -> Any:
    book = generate_book(**BIG, retention_uplift=uplift)  # type: ignore[arg-type]
    db = Database(f"duckdb:///{tmp_path / 'big.duckdb'}")
    try:
        migrate.upgrade(db)
        raws = [from_arrow(name, f"demo {name}", data) for name, data in book.items()]
        del book
        options = ImportOptions(mode=Mode.replace, as_of=date(2025, 3, 31), calendar=Calendar(1))
        run_import(db, raws, options)
        return initiative_impact(db, load_catalogue(), PARAMETERS, INITIATIVE_ID)
    finally:
        db.dispose()


def test_demo_book_planted_effect_is_recovered(tmp_path: Path) -> None:
    impact = _big_impact(tmp_path, RENEWAL_UPLIFT)
    assert impact.before.first == date(2024, 2, 1)
    assert impact.after.last == date(2025, 1, 31)
    assert not impact.truncated
    assert not impact.provisional
    assert len(impact.participants.rm_ids) > 40
    assert len(impact.non_participants.rm_ids) > 70
    interval = impact.interval
    assert interval is not None
    assert interval.contains(6.0), interval
    assert interval.low > 0, interval
    assert 4.5 < float(impact.difference_in_differences) < 7.5
    assert "an increase of" in impact.conclusion
    # the secondary effects: personalised packages (30 % instead of 4 %) and CSAT
    part = impact.participants
    assert part.after.personalised_packages > 3 * part.before.personalised_packages
    assert part.after.csat > part.before.csat


def test_demo_book_without_an_effect_finds_none(tmp_path: Path) -> None:
    impact = _big_impact(tmp_path, 0.0)
    interval = impact.interval
    assert interval is not None
    assert interval.contains(0.0), interval
    assert "includes 0" in impact.conclusion
