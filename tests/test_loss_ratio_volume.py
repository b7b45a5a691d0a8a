"""loss_ratio_improvement's minimum volume (issue #17 item 5): scored only when the earned
premium of both periods reaches kraft.toml's loss_ratio_min_earned_premium, else "insufficient
volume". The book is test_kpis_risk_education's loss-ratio book; every figure by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from kpi_books import configure, kraft, load, policy
from kraft.commands.common import open_database
from kraft.framework.loader import load_builtin
from kraft.periods import Calendar
from kraft.scoring.methods import Status
from kraft.scoring.scorecard import Person, Scorer, Value, earned_premium_volume
from kraft.scoring.targets import TargetBook
from kraft.workspace import Settings, Workspace, load_workspace

BUILTIN = load_builtin("insurance_rm")


def test_the_default_minimum_is_ten_lakh() -> None:
    # the demo book's 10th percentile of RM-quarter earned premium, rounded (docs/scoring.md)
    assert Settings().loss_ratio_min_earned_premium == Decimal(1_000_000)


def test_the_volume_is_the_smaller_earned_premium() -> None:
    extra = '{"previous_loss_ratio_denominator": 9700.0, "loss_ratio_denominator": 10920.0}'
    assert earned_premium_volume(extra) == 9700.0
    assert earned_premium_volume('{"loss_ratio_denominator": 5.0}') is None
    assert earned_premium_volume("not json") is None


def test_below_the_minimum_is_insufficient_volume() -> None:
    scorer = Scorer(BUILTIN, TargetBook(BUILTIN, (), {}), (), Decimal(10_000))
    quarter = Calendar(1).parse("2024-Q3")
    values = {"loss_ratio_improvement": Value(-15.0, 9999.0, False)}
    card = scorer.first_pass(Person("RM1", "T1"), quarter, values)
    item = next(k for k in card.kpis if k.kpi_id == "loss_ratio_improvement")
    assert item.status is Status.insufficient_volume and item.score is None
    values = {"loss_ratio_improvement": Value(-15.0, 10000.0, False)}
    card = scorer.first_pass(Person("RM1", "T1"), quarter, values)
    item = next(k for k in card.kpis if k.kpi_id == "loss_ratio_improvement")
    assert item.score == Decimal(40)  # linear: 80 + 20 × (-15 − -5) ÷ (0 − -5)


def claim(cid: str, pid: str, intimated: str, status: str, paid: str, reserve: str) -> dict:
    settled = {"settled": "2024-12-20", "rejected": "2024-12-20"}.get(status, "")
    return {"claim_id": cid, "policy_id": pid, "intimation_date": intimated,
            "status": status, "settled_date": settled, "amount_paid": paid,
            "outstanding_reserve": reserve}  # fmt: skip


def test_both_periods_earned_premium_decides(workspace: Workspace, tmp_path: Path) -> None:
    policies = [
        policy(
            "L1", "C1", "RM1", "2023-12-15", "2024-01-01", "2024-12-31", "cancelled",
            premium="36500", cancel_date="2024-11-01",
        ),
        policy("L2", "C2", "RM1", "2024-02-20", "2024-03-02", "2025-03-01", premium="7300"),
    ]  # fmt: skip
    claims = [
        claim("K1", "L1", "2024-03-31", "settled", "970", ""),
        claim("K2", "L2", "2024-04-01", "open", "", "546"),
        claim("K3", "L1", "2024-07-15", "rejected", "1000", ""),
        claim("K4", "L2", "2024-09-30", "open", "", "1208"),
        claim("K5", "L1", "2024-12-31", "open", "", "494"),
    ]
    configure(workspace, loss_ratio_min_earned_premium=Decimal(10_000))
    load(workspace, tmp_path / "book", {"policies": policies, "claims": claims}, "2024-12-31")
    # earned premium: Q1 9700, Q2 10920, Q3 11040, Q4 4940 (test_kpis_risk_education)
    db = open_database(load_workspace(workspace.root), read_only=True)
    with db.connect() as conn:
        extra = conn.execute(
            sa.text(
                "SELECT extra FROM kpi_values WHERE entity_id = 'RM1' AND period = '2024-Q2' "
                "AND kpi_id = 'loss_ratio_improvement'"
            )
        ).scalar()
        found = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                sa.text(
                    "SELECT period, status, score FROM scores WHERE rm_id = 'RM1' "
                    "AND item_id = 'loss_ratio_improvement' AND grain = 'quarter'"
                )
            )
        }
    assert json.loads(extra) == {  # both loss ratios, each as claims ÷ earned premium
        "previous_loss_ratio": 10.0,
        "previous_loss_ratio_numerator": 970.0,
        "previous_loss_ratio_denominator": 9700.0,
        "loss_ratio": 5.0,
        "loss_ratio_numerator": 546.0,
        "loss_ratio_denominator": 10920.0,
    }
    assert found["2024-Q2"] == ("insufficient volume", None)  # Q1's 9 700 < 10 000
    # 10 920 and 11 040: scored, 40 (provisional: the open claim K4)
    assert (found["2024-Q3"][0], float(found["2024-Q3"][1])) == ("provisional", 40.0)
    assert found["2024-Q4"] == ("insufficient volume", None)  # Q4's 4 940
    assert found["2024-Q1"][0] == "no data"  # 2023-Q4 undefined
    configure(workspace, loss_ratio_min_earned_premium=Decimal(0))
    kraft(workspace, "compute")
    with db.connect() as conn:
        status = conn.execute(
            sa.text(
                "SELECT status FROM scores WHERE rm_id = 'RM1' AND period = '2024-Q4' "
                "AND item_id = 'loss_ratio_improvement'"
            )
        ).scalar()
    assert status == "provisional"  # scored now; the open claim K5 keeps it provisional
