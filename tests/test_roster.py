"""The roster and team tree (kraft.store.roster) on a small hand-built organisation:

    HQ (led by M0, a manager)
    ├── NORTH (led by M1, a manager)
    │   ├── N1 (led by L1, an RM who leads)   R1 (role empty), R2 (rm)
    │   └── N2 (no leader)                     R3 (rm)
    └── SOUTH (led by M2, a manager)          R4 (rm)
    SOLO (a second top team, no leader)        R5 (rm)

M1 manages NORTH, N1, N2 and the RMs in them (L1, R1, R2, R3 and M1 themselves, who sits in
NORTH); M0 manages everything but SOLO; R1's empty role is read as rm.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.store import migrate
from kraft.store import roster as ro
from kraft.store.database import Database
from kraft.store.metadata import operational

TEAMS = [
    ("HQ", "Head office", None, "M0"),
    ("NORTH", "North", "HQ", "M1"),
    ("N1", "North one", "NORTH", "L1"),
    ("N2", "North two", "NORTH", None),
    ("SOUTH", "South", "HQ", "M2"),
    ("SOLO", "Solo", None, None),
]
PEOPLE = [
    ("M0", "HQ", "manager"),
    ("M1", "NORTH", "manager"),
    ("M2", "SOUTH", "manager"),
    ("L1", "N1", "rm"),
    ("R1", "N1", None),
    ("R2", "N1", "rm"),
    ("R3", "N2", "rm"),
    ("R4", "SOUTH", "rm"),
    ("R5", "SOLO", "rm"),
]


def tree() -> ro.TeamTree:
    return ro.TeamTree({t[0]: ro.Team(*t) for t in TEAMS})


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    path: Path = tmp_path_factory.mktemp("roster") / "kraft.duckdb"
    db = Database(f"duckdb:///{path}")
    migrate.upgrade(db)
    with db.begin() as writing:
        writing.execute(
            operational["teams"].insert(),
            [
                {"team_id": t, "name": n, "parent_team_id": p, "leader_rm_id": None}
                for t, n, p, _ in TEAMS
            ],
        )
        writing.execute(
            operational["relationship_managers"].insert(),
            [
                {"rm_id": r, "name": f"Name {r}", "team_id": t, "role": role}
                for r, t, role in PEOPLE
            ],
        )
        for team_id, _, _, leader in TEAMS:
            writing.execute(
                operational["teams"]
                .update()
                .where(operational["teams"].c.team_id == team_id)
                .values(leader_rm_id=leader)
            )
    with db.connect() as reading:
        yield reading
    db.dispose()


def test_children_in_team_id_order_with_the_top_teams_under_none() -> None:
    assert tree().children() == {
        None: ["HQ", "SOLO"],
        "HQ": ["NORTH", "SOUTH"],
        "NORTH": ["N1", "N2"],
    }


def test_children_within_some_teams_makes_an_orphan_a_top_team() -> None:
    assert tree().children(["N1", "N2", "SOUTH"]) == {None: ["N1", "N2", "SOUTH"]}
    assert tree().children(["NORTH", "N2"]) == {None: ["NORTH"], "NORTH": ["N2"]}


def test_teams_below_include_the_named_and_every_nested_team() -> None:
    assert tree().below(["NORTH"]) == {"NORTH", "N1", "N2"}
    assert tree().below(["HQ"]) == {"HQ", "NORTH", "N1", "N2", "SOUTH"}
    assert tree().below(["N2", "SOLO"]) == {"N2", "SOLO"}
    assert tree().below([]) == frozenset()
    assert ro.subtree({"A": None, "B": "A", "C": "B"}, ["B"]) == {"B", "C"}


def test_ancestors_nearest_first() -> None:
    assert tree().ancestors("N1") == ["N1", "NORTH", "HQ"]
    assert tree().ancestors("SOLO") == ["SOLO"]
    assert tree().ancestors(None) == []
    assert tree().ancestors("GONE") == []
    assert ro.ancestors({"A": None, "B": "A", "C": "B"}, "C") == ["C", "B", "A"]


def test_led_teams_are_the_teams_led_and_those_below() -> None:
    assert tree().led_by("M1") == {"NORTH", "N1", "N2"}
    assert tree().led_by("L1") == {"N1"}
    assert tree().led_by("R1") == frozenset()


def test_the_role_rule_reads_an_empty_role_as_rm(conn: Connection) -> None:
    assert [r.role for r in ro.rm_records(conn) if r.rm_id in ("R1", "M1")] == ["manager", "rm"]
    rms = operational["relationship_managers"]
    query = sa.select(rms.c.rm_id).where(ro.is_scored()).order_by(rms.c.rm_id)
    assert list(conn.execute(query).scalars()) == ["L1", "R1", "R2", "R3", "R4", "R5"]
    text = f"SELECT rm_id FROM relationship_managers AS r WHERE {ro.is_scored_sql('r')}"
    assert sorted(conn.execute(sa.text(text)).scalars()) == ["L1", "R1", "R2", "R3", "R4", "R5"]
    assert ro.is_scored_sql() == "coalesce(role, 'rm') = 'rm'"


def test_the_roster(conn: Connection) -> None:
    assert ro.scored_rms(conn) == {
        "L1": "N1", "R1": "N1", "R2": "N1", "R3": "N2", "R4": "SOUTH", "R5": "SOLO",
    }  # fmt: skip
    assert ro.rm_teams(conn)["M1"] == "NORTH" and len(ro.rm_teams(conn)) == len(PEOPLE)
    assert ro.rm_names(conn)["R3"] == "Name R3"
    assert ro.team_names(conn)["N2"] == "North two"
    assert ro.team_of(conn, "R4") == "SOUTH" and ro.team_of(conn, "NOBODY") is None
    assert ro.rm_exists(conn, "M2") and not ro.rm_exists(conn, "NOBODY")
    assert ro.team_exists(conn, "SOLO") and not ro.team_exists(conn, "NOWHERE")
    assert ro.members(conn, ["N1", "SOUTH"]) == {"L1", "R1", "R2", "M2", "R4"}
    assert ro.members(conn, []) == frozenset()
    assert ro.team_tree(conn) == tree()
    assert ro.rm_name(conn, "R2") == "Name R2" and ro.rm_name(conn, "NOBODY") is None
    assert ro.team_name(conn, "HQ") == "Head office" and ro.team_name(conn, "NOWHERE") is None
    assert [r.rm_id for r in ro.rm_records(conn)] == sorted(p[0] for p in PEOPLE)
    assert ro.rm_record(conn, "R1") == ro.RmRecord("R1", "Name R1", "N1", "rm")
    assert ro.rm_record(conn, "M2") == ro.RmRecord("M2", "Name M2", "SOUTH", "manager")
    assert ro.rm_record(conn, "NOBODY") is None


def test_who_manages_whom(conn: Connection) -> None:
    north = ro.managed_by(conn, "M1")
    assert north.team_ids == {"NORTH", "N1", "N2"}
    assert north.rm_ids == {"M1", "L1", "R1", "R2", "R3"}
    everything = ro.managed_by(conn, "M0")
    assert everything.team_ids == {"HQ", "NORTH", "N1", "N2", "SOUTH"}
    assert "R5" not in everything.rm_ids and "R4" in everything.rm_ids
    assert ro.managed_by(conn, "R2") == ro.Managed(frozenset(), frozenset())
    assert ro.managed_by(conn, None) == ro.Managed(frozenset(), frozenset())
