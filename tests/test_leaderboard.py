"""Leaderboards (kraft.scoring.leaderboard): ranking with ties, teams with the teams below them,
which values the adjusted run replaces, lower-is-better and small-volume KPIs, score-derived KPIs,
and that the adjusted run is the stored scoring when there is nothing to shrink (leaders too).

The database tests write kpi_values rows straight into a migrated workspace (both databases) and
score them with the runner, so each number is small enough to check by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kraft.framework.model import Framework
from kraft.periods import Calendar
from kraft.scoring.credibility import Estimate, wilson
from kraft.scoring.leaderboard import (
    Roster,
    StoredValue,
    _ranked,
    _shrunk_values,
    _standing_out,
    kpi_leaderboard,
    load_roster,
    overall_leaderboard,
    scorecard_kpis,
)
from kraft.scoring.runner import score_database
from kraft.scoring.scorecard import Person, Value
from kraft.store.database import Database, workspace_database
from kraft.store.metadata import kpi_values, operational
from kraft.workspace import Workspace

CAL = Calendar(1)
Q1, Q2 = CAL.parse("2026-Q1"), CAL.parse("2026-Q2")


# -- pure parts ----------------------------------------------------------------------------------


def test_ranking_shares_a_rank_on_ties_and_puts_the_unranked_last() -> None:
    items = [("a", 3.0), ("b", None), ("c", 1.0), ("d", 3.0), ("e", 2.0)]
    ranked = _ranked(items, key=lambda i: i[1], order=lambda i: i[0])
    assert [(rank, item[0]) for rank, item in ranked] == [
        (1, "c"),
        (2, "e"),
        (3, "a"),
        (3, "d"),  # competition ranking: 1, 2, 3, 3, then the unranked
        (None, "b"),
    ]


def test_a_team_holds_the_teams_below_it() -> None:
    roster = Roster(
        [Person("r1", "T1"), Person("r2", "T2"), Person("r3", "B2"), Person("r4", None)],
        {},
        {"B1": None, "T1": "B1", "T2": "T1", "B2": None},
    )
    assert roster.members(None) is None  # the whole company
    assert roster.members("B1") == {"r1", "r2"}
    assert roster.members("T2") == {"r2"}
    assert roster.members("B2") == {"r3"}


def test_the_adjusted_run_replaces_only_shrunk_rates() -> None:
    raw = {
        "r1": {
            "documentation_accuracy_rate": StoredValue(100.0, 5.0, 5.0, True),
            "workshops_attended": StoredValue(2.0, 2.0, None, False),
        },
        "r2": {"documentation_accuracy_rate": StoredValue(None, 0.0, 0.0, False)},
    }
    found = {
        "documentation_accuracy_rate": {
            "r1": Estimate("r1", 5, 5, wilson(5, 5), 94.0, "company"),
            "r2": Estimate("r2", 0, 0, None, None, None),
        }
    }
    assert _shrunk_values(raw, found) == {
        "r1": {
            "documentation_accuracy_rate": Value(94.0, 5.0, True),  # volume and flag kept
            "workshops_attended": Value(2.0, None, False),
        },
        "r2": {"documentation_accuracy_rate": Value(None, 0.0, False)},
    }
    # a KPI the stored scoring did not score (not tracked, insufficient volume such as a loss
    # ratio on too little earned premium) is left out of the adjusted run as well
    held = _shrunk_values(raw, found, {("r1", "workshops_attended")})
    assert held["r1"] == {"documentation_accuracy_rate": Value(94.0, 5.0, True)}


# -- with a database -----------------------------------------------------------------------------

FRAMEWORK = Framework.model_validate(
    {
        "id": "leaders",
        "role": "Relationship Manager",
        "title": "Leaders",
        "kras": [
            {
                "id": "service",
                "number": 1,
                "title": "Service",
                "weight": 60,
                "kpis": [
                    {
                        "id": "workshops_attended",
                        "name": "Workshops",
                        "kind": "computed",
                        "metric": "workshops_attended",
                        "unit": "count",
                        "direction": "higher_is_better",
                        "grain": "quarter",
                        "target": 2,
                        "threshold": 1,
                    },
                    {
                        "id": "claims_settlement_time",
                        "name": "Claims settlement time",
                        "kind": "computed",
                        "metric": "claims_settlement_time",
                        "unit": "days",
                        "direction": "lower_is_better",
                        "grain": "quarter",
                        "target": 15,
                        "threshold": 21,
                        "scoring": "inverse",
                        "min_volume": 3,
                    },
                ],
            },
            {
                "id": "team_leadership",
                "number": 2,
                "title": "Team leadership",
                "weight": 40,
                "applies_to": "team_leaders",
                "kpis": [
                    {
                        "id": "team_performance_improvement_rate",
                        "name": "Team performance improvement rate",
                        "kind": "score",
                        "unit": "percent",
                        "direction": "higher_is_better",
                        "grain": "quarter",
                        "target": 5,
                        "threshold": 0,
                        "scoring": "linear",
                    }
                ],
            },
        ],
    }
)

# rm → (workshops, (mean settlement days, settled claims)) per quarter
BOOK: dict[str, dict[str, tuple[float, tuple[float, float]]]] = {
    "2026-Q1": {
        "L": (2, (12, 3)),
        "a": (1, (10, 5)),
        "b": (3, (8, 3)),
        "c": (2, (4, 2)),
        "d": (0, (8, 4)),
    },
    "2026-Q2": {
        "L": (2, (20, 6)),
        "a": (2, (10, 5)),
        "b": (2, (8, 3)),
        "c": (1, (4, 2)),
        "d": (4, (8, 4)),
    },
}


def _value_rows() -> list[dict[str, Any]]:
    rows = []
    for label, book in BOOK.items():
        for rm, (workshops, (days, claims)) in book.items():
            for kpi, value, numerator, denominator in (
                ("workshops_attended", workshops, workshops, None),
                ("claims_settlement_time", days, days * claims, claims),
            ):
                rows.append(
                    {
                        "entity_type": "rm",
                        "entity_id": rm,
                        "period": label,
                        "grain": "quarter",
                        "kpi_id": kpi,
                        "value": value,
                        "numerator": numerator,
                        "denominator": denominator,
                        "row_count": 1,
                        "provisional": False,
                        "extra": None,
                        "definition_hash": "test",
                        "run_id": 1,
                        "computed_at": datetime(2026, 7, 1),
                    }
                )
    return rows


@pytest.fixture
def scored(workspace: Workspace) -> Iterator[Database]:
    """Team T1 led by L (members a, b, c); d in T2; M a manager: two quarters, scored."""
    db = workspace_database(workspace.root, workspace.settings.database_url)
    with db.begin() as conn:
        conn.execute(
            sa.insert(operational["teams"]),
            [
                {"team_id": "T1", "name": "One", "leader_rm_id": "L", "parent_team_id": None},
                {"team_id": "T2", "name": "Two", "leader_rm_id": None, "parent_team_id": None},
            ],
        )
        conn.execute(
            sa.insert(operational["relationship_managers"]),
            [
                {"rm_id": rm, "name": rm.upper(), "team_id": team, "role": role}
                for rm, team, role in (
                    ("L", "T1", "rm"),
                    ("a", "T1", "rm"),
                    ("b", "T1", "rm"),
                    ("c", "T1", "rm"),
                    ("d", "T2", "rm"),
                    ("M", "T2", "manager"),
                )
            ],
        )
        conn.execute(sa.insert(kpi_values), _value_rows())
    score_database(db, FRAMEWORK, CAL, run_id=1)
    yield db
    db.dispose()


def test_a_lower_is_better_kpi_ranks_the_smallest_first_and_small_volumes_last(
    scored: Database,
) -> None:
    kpi = FRAMEWORK.kpi("claims_settlement_time")
    with scored.connect() as conn:
        board = kpi_leaderboard(conn, FRAMEWORK, kpi, Q2)
    assert [(s.rank, s.rm_id, s.value, s.denominator) for s in board] == [
        (1, "b", 8.0, 3.0),
        (1, "d", 8.0, 4.0),  # a tie shares the rank
        (3, "a", 10.0, 5.0),
        (4, "L", 20.0, 6.0),
        (None, "c", 4.0, 2.0),  # 2 settled claims < 3: shown, not ranked, not scored
    ]
    assert [s.status for s in board] == [
        "above target",
        "above target",
        "above target",
        "below target",  # 20 days: worse than 15 by more than 10 %, not worse than 21
        "insufficient volume",
    ]
    assert board[-1].insufficient_volume
    assert all(s.interval is None and s.shrunk is None for s in board)  # a mean, no credibility


def test_a_team_filter_ranks_among_the_team(scored: Database) -> None:
    kpi = FRAMEWORK.kpi("claims_settlement_time")
    with scored.connect() as conn:
        board = kpi_leaderboard(conn, FRAMEWORK, kpi, Q2, team="T1")
    assert [(s.rank, s.rm_id) for s in board] == [(1, "b"), (2, "a"), (3, "L"), (None, "c")]


def test_a_score_derived_kpi_ranks_from_its_scores(scored: Database) -> None:
    # Members' overall scores (workshops ratio 60 %, settlement inverse 40 % of KRA "service";
    # KRA 6 does not apply to them):
    #   Q1 a: 1/2 → 50, 15/10 → 150 → 120: (50 + 120)/2 = 85;  Q2 a: 100, 120 → 110
    #   Q1 b: 3/2 → 150 → 120, 15/8 → 120: 120;                 Q2 b: 100, 120 → 110
    #   c: settlement on 2 claims is not scored: Q1 2/2 → 100; Q2 1/2 → 50
    # improvement = (mean Q2 − mean Q1) / mean Q1 × 100 = ((110 + 110 + 50) − (85 + 120 + 100))
    #   / (85 + 120 + 100) × 100 = (270 − 305) / 305 × 100 = −11.4754…
    kpi = FRAMEWORK.kpi("team_performance_improvement_rate")
    with scored.connect() as conn:
        board = kpi_leaderboard(conn, FRAMEWORK, kpi, Q2)
    assert [(s.rank, s.rm_id) for s in board] == [(1, "L")]  # members: not applicable
    assert board[0].value == pytest.approx(-35 / 305 * 100, abs=1e-4)
    assert board[0].denominator == 3.0  # members with an overall score in both quarters
    assert board[0].status == "below threshold"


def test_without_rates_to_shrink_the_adjusted_overall_is_the_stored_one(scored: Database) -> None:
    """The adjusted run is the same scoring: leaders (scored after their members, from the
    members' previous-quarter scores) included."""
    with scored.connect() as conn:
        assert scorecard_kpis(FRAMEWORK, Q2) == [
            "workshops_attended",
            "claims_settlement_time",
            "team_performance_improvement_rate",
        ]
        roster = load_roster(conn)
        board = overall_leaderboard(conn, FRAMEWORK, CAL, Q2, roster=roster)
    assert "M" not in {p.rm_id for p in roster.people}  # a manager is never ranked
    by_rm = {s.rm_id: s for s in board}
    assert set(by_rm) == {"L", "a", "b", "c", "d"}
    for standing in board:
        assert standing.adjusted == standing.overall, standing
    # d, Q2: 4/2 → 200 → 120; 15/8 → 120: overall 120 (Outstanding)
    assert by_rm["d"].overall == Decimal(120)
    assert by_rm["d"].rank == 1
    # L, Q2: service = (2/2 → 100, 15/20 → 75) → 87.5; team improvement −11.4754 % (linear,
    # threshold 0, target 5): 80 + 20 × (−11.4754 − 0) / (5 − 0) = 34.0984;
    # overall = (87.5 × 60 + 34.0984 × 40) / 100 = 66.1393 → 66.14
    assert by_rm["L"].overall == Decimal("66.14")
    assert by_rm["L"].rating_label == "Needs improvement"
    assert by_rm["c"].flags == ("insufficient volume ×1",)


def test_a_kpi_thin_for_most_rms_flags_nobody() -> None:
    """report_accuracy_rate too thin for 3 of 4 RMs is the book's matter; CSAT thin for R4 alone
    marks R4; training thin for 2 of 9 (under a quarter) marks both; doc for 3 of 12 does not."""
    thin = {
        "report_accuracy_rate": ["R1", "R2", "R3"],
        "csat": ["R4"],
        "training": ["R4", "R5"],
        "doc": ["R1", "R2", "R6"],
    }
    rated = {"report_accuracy_rate": 4, "csat": 4, "training": 9, "doc": 12}
    assert _standing_out(thin, rated) == {"R4": 2, "R5": 1}
