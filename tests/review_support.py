"""A small hand-built book for the review cycle and calibration tests: teams, RMs, users and
stored scores written straight into a migrated database (DuckDB or PostgreSQL), so that every
computed score and rating is known by hand.

    B1 Branch (leader M1, a manager) ── T1 Team One (leader R1, an RM who leads)
    T2 Team Two (leader M2, a manager), no parent

Scores of 2026-Q1 (quarter), default bands (≥110 5, ≥95 4, ≥80 3, ≥60 2, else 1):
    T1: R1 96.50 → 4, R2 81.00 → 3, R4 79.00 → 2, R5 112.00 → 5, R7 no overall (not rated)
    T2: R3 59.00 → 1, R6 85.00 → 3
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from kraft.core.settling import settling_of
from kraft.framework.loader import resolve_framework
from kraft.framework.model import Framework, Role
from kraft.store import migrate
from kraft.store.database import Database
from kraft.store.metadata import kpi_values, operational, scores, users
from kraft.store.users import User, find_by_email
from kraft.workspace import Settings

PERIOD = "2026-Q1"
SETTLING = settling_of(Settings())  # the default calendar and grace windows (30 days)
TEAMS: list[dict[str, Any]] = [
    {"team_id": "B1", "name": "Branch", "leader_rm_id": "M1", "parent_team_id": None},
    {"team_id": "T1", "name": "Team One", "leader_rm_id": "R1", "parent_team_id": "B1"},
    {"team_id": "T2", "name": "Team Two", "leader_rm_id": "M2", "parent_team_id": None},
]
PEOPLE = [  # rm_id, name, team_id, role
    ("M1", "Maya", "B1", "manager"),
    ("M2", "Mohan", "T2", "manager"),
    ("R1", "Ravi", "T1", "rm"),
    ("R2", "Asha", "T1", "rm"),
    ("R3", "Bina", "T2", "rm"),
    ("R4", "Dev", "T1", "rm"),
    ("R5", "Esha", "T1", "rm"),
    ("R6", "Farid", "T2", "rm"),
    ("R7", "Gita", "T1", "rm"),
]
SCORES = {"R1": "96.50", "R2": "81.00", "R3": "59.00", "R4": "79.00", "R5": "112.00", "R6": "85.00"}
LOGINS = {  # email → role, rm_id
    "admin@test.in": (Role.admin, None),
    "m1@test.in": (Role.manager, "M1"),
    "m2@test.in": (Role.manager, "M2"),
    "r1@test.in": (Role.rm, "R1"),
    "r2@test.in": (Role.rm, "R2"),
    "r3@test.in": (Role.rm, "R3"),
}


def rating_of(score: Decimal) -> tuple[int, str]:
    for minimum, rating, label in (
        (110, 5, "Outstanding"),
        (95, 4, "Exceeds"),
        (80, 3, "Meets"),
        (60, 2, "Needs improvement"),
    ):
        if score >= minimum:
            return rating, label
    return 1, "Unsatisfactory"


@dataclass
class Book:
    db: Database
    framework: Framework

    def user(self, email: str) -> User:
        with self.db.connect() as conn:
            found = find_by_email(conn, email)
        assert found is not None
        return found


def build_book(url: str) -> Book:
    db = Database(url)
    migrate.upgrade(db)
    now = datetime(2026, 4, 2, 9, 0)
    with db.begin() as conn:
        conn.execute(operational["teams"].insert(), TEAMS)
        conn.execute(
            operational["relationship_managers"].insert(),
            [{"rm_id": r, "name": n, "team_id": t, "role": role} for r, n, t, role in PEOPLE],
        )
        conn.execute(
            users.insert(),
            [
                {"user_id": i, "email": email, "password_hash": "not a hash", "role": str(role),
                 "rm_id": rm, "active": True, "created_at": now, "updated_at": now}
                for i, (email, (role, rm)) in enumerate(LOGINS.items(), start=1)
            ],
        )  # fmt: skip
        for rm_id in ("R1", "R2", "R3", "R4", "R5", "R6", "R7"):
            write_scores(conn, rm_id, SCORES.get(rm_id), run_id=1)
    return Book(db, resolve_framework("insurance_rm"))


def write_scores(
    conn: Connection,
    rm_id: str,
    overall: str | None,
    *,
    run_id: int,
    retention: float = 88.0,
    period: str = PERIOD,
) -> None:
    """Replace the RM's stored scorecard as a scoring run does: the overall row, one KRA and
    one KPI (client retention, with its value row), all from run `run_id`."""
    conn.execute(scores.delete().where(scores.c.rm_id == rm_id, scores.c.period == period))
    conn.execute(
        kpi_values.delete().where(kpi_values.c.entity_id == rm_id, kpi_values.c.period == period)
    )
    score = None if overall is None else Decimal(overall)
    rating, label = rating_of(score) if score is not None else (None, None)
    common: dict[str, Any] = {
        "run_id": run_id, "rm_id": rm_id, "period": period, "grain": "quarter",
        "provisional": False, "values_run_id": run_id, "actual": None, "volume": None,
        "target": None, "threshold": None, "target_source": None, "target_id": None,
        "weight": None, "status": None, "coverage": None, "rating": None, "rating_label": None,
        "capped_at": None, "kra_id": None,
    }  # fmt: skip
    conn.execute(
        scores.insert(),
        [
            {**common, "level": "overall", "item_id": "overall", "score": score,
             "coverage": Decimal("100") if score is not None else Decimal(0), "rating": rating,
             "rating_label": label},
            {**common, "level": "kra", "item_id": "relationship_building", "score": score,
             "weight": Decimal(15)},
            {**common, "level": "kpi", "item_id": "client_retention_rate",
             "kra_id": "relationship_building", "actual": retention, "volume": 40.0,
             "target": Decimal(85), "threshold": Decimal(75), "target_source": "framework",
             "weight": Decimal(1), "score": score, "status": "on track"},
        ],
    )  # fmt: skip
    conn.execute(
        kpi_values.insert().values(
            entity_type="rm", entity_id=rm_id, period=period, grain="quarter",
            kpi_id="client_retention_rate", value=retention, numerator=retention * 40 / 100,
            denominator=40.0, row_count=40, provisional=False, extra=None, definition_hash="h",
            run_id=run_id, computed_at=datetime(2026, 4, 1),
        )
    )  # fmt: skip
