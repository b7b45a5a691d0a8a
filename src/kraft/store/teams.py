"""The team hierarchy as the teams table holds it (parent_team_id has no cycles: the import
refuses one)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.store.metadata import operational

TEAMS = operational["teams"]


def teams_below(conn: Connection, team_ids: Iterable[str]) -> frozenset[str]:
    """The teams named and every team under them."""
    children: dict[str, list[str]] = {}
    for row in conn.execute(sa.select(TEAMS.c.team_id, TEAMS.c.parent_team_id)):
        if row.parent_team_id is not None:
            children.setdefault(row.parent_team_id, []).append(row.team_id)
    found: set[str] = set()
    todo = list(team_ids)
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    return frozenset(found)


def led_teams(conn: Connection, leader_rm_id: str) -> frozenset[str]:
    """The teams whose leader_rm_id is the RM record, and every team under them."""
    led = conn.execute(sa.select(TEAMS.c.team_id).where(TEAMS.c.leader_rm_id == leader_rm_id))
    return teams_below(conn, [r[0] for r in led])
