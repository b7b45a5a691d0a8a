"""The roster and the team tree, read once here: who the RMs are, which team each is in, how the
teams nest (parent_team_id has no cycles: the import refuses one), and who manages whom.

Two rules of the data live here and nowhere else:

- the role rule: an RM record's role is `rm` unless it says `manager` (an empty role is `rm`);
  only RMs of role rm are scored and ranked;
- who manages whom: a manager is an RM record that leads a team (teams.leader_rm_id); they manage
  the RMs of the teams they lead and of every team below those.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.store.metadata import operational

RMS = operational["relationship_managers"]
TEAMS = operational["teams"]

SCORED_ROLE = "rm"  # the role an RM record has when its role is empty, and the one scored


# -- the role rule ------------------------------------------------------------------------------


def role_of(rms: sa.FromClause = RMS) -> sa.ColumnElement[str]:
    """The RM record's role, with an empty role read as rm."""
    return sa.func.coalesce(rms.c.role, SCORED_ROLE)


def is_scored(rms: sa.FromClause = RMS) -> sa.ColumnElement[bool]:
    """True for an RM record of role rm (the RMs that are scored and ranked)."""
    return role_of(rms) == SCORED_ROLE


def role_sql(alias: str | None = None) -> str:
    """The role rule for hand-written SQL: `alias` names relationship_managers in the query."""
    column = f"{alias}.role" if alias else "role"
    return f"coalesce({column}, '{SCORED_ROLE}')"


def is_scored_sql(alias: str | None = None) -> str:
    """`is_scored` for hand-written SQL."""
    return f"{role_sql(alias)} = '{SCORED_ROLE}'"


# -- the team tree ------------------------------------------------------------------------------


def subtree(parents: Mapping[str, str | None], team_ids: Iterable[str]) -> frozenset[str]:
    """The teams named and every team under them, by parents (team_id → parent_team_id)."""
    children: dict[str, list[str]] = {}
    for team_id, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(team_id)
    found: set[str] = set()
    todo = list(team_ids)
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    return frozenset(found)


def ancestors(parents: Mapping[str, str | None], team_id: str | None) -> list[str]:
    """The team and every team above it, nearest first, by parents (team_id → parent_team_id);
    the walk stops at a team not in parents."""
    found: list[str] = []
    current = team_id
    while current is not None and current in parents and current not in found:
        found.append(current)
        current = parents[current]
    return found


@dataclass(frozen=True)
class Team:
    team_id: str
    name: str
    parent_team_id: str | None
    leader_rm_id: str | None


@dataclass(frozen=True)
class TeamTree:
    """Every team by team_id, and how they nest."""

    teams: Mapping[str, Team]

    @cached_property
    def _parent_of(self) -> dict[str, str | None]:
        return {t.team_id: t.parent_team_id for t in self.teams.values()}

    @property
    def parents(self) -> dict[str, str | None]:
        """team_id → parent_team_id."""
        return dict(self._parent_of)

    def children(self, within: Collection[str] | None = None) -> dict[str | None, list[str]]:
        """Each team's children in team_id order, under None the top teams; with `within`, only
        those teams, and one whose parent is not among them is a top team."""
        shown = set(self.teams if within is None else within)
        found: dict[str | None, list[str]] = {}
        for team_id in sorted(t for t in shown if t in self.teams):
            parent = self.teams[team_id].parent_team_id
            found.setdefault(parent if parent in shown else None, []).append(team_id)
        return found

    def below(self, team_ids: Iterable[str]) -> frozenset[str]:
        """The teams named and every team under them."""
        return subtree(self._parent_of, team_ids)

    def ancestors(self, team_id: str | None) -> list[str]:
        """The team and every team above it, nearest first (stops at a team not in the tree)."""
        return ancestors(self._parent_of, team_id)

    def led_by(self, rm_id: str) -> frozenset[str]:
        """The teams the RM record leads, and every team under them."""
        return self.below(t.team_id for t in self.teams.values() if t.leader_rm_id == rm_id)


def team_tree(conn: Connection) -> TeamTree:
    rows = conn.execute(
        sa.select(TEAMS.c.team_id, TEAMS.c.name, TEAMS.c.parent_team_id, TEAMS.c.leader_rm_id)
    )
    return TeamTree(
        {r.team_id: Team(r.team_id, r.name, r.parent_team_id, r.leader_rm_id) for r in rows}
    )


def teams_below(conn: Connection, team_ids: Iterable[str]) -> frozenset[str]:
    """The teams named and every team under them."""
    return team_tree(conn).below(team_ids)


def team_exists(conn: Connection, team_id: str) -> bool:
    found = conn.execute(sa.select(TEAMS.c.team_id).where(TEAMS.c.team_id == team_id)).first()
    return found is not None


def team_name(conn: Connection, team_id: str) -> str | None:
    """The team's name (None: no such team)."""
    return conn.execute(sa.select(TEAMS.c.name).where(TEAMS.c.team_id == team_id)).scalar()


def team_names(conn: Connection) -> dict[str, str]:
    return {r.team_id: r.name for r in conn.execute(sa.select(TEAMS.c.team_id, TEAMS.c.name))}


# -- the roster ---------------------------------------------------------------------------------


def rm_name(conn: Connection, rm_id: str) -> str | None:
    """The RM record's name (None: no such RM)."""
    return conn.execute(sa.select(RMS.c.name).where(RMS.c.rm_id == rm_id)).scalar()


def rm_names(conn: Connection) -> dict[str, str]:
    """rm_id → name, of every RM record, in rm_id order."""
    query = sa.select(RMS.c.rm_id, RMS.c.name).order_by(RMS.c.rm_id)
    return {r.rm_id: r.name for r in conn.execute(query)}


@dataclass(frozen=True)
class RmRecord:
    """One row of relationship_managers, its role by the role rule."""

    rm_id: str
    name: str | None
    team_id: str | None
    role: str


def _records(conn: Connection, *where: sa.ColumnElement[bool]) -> list[RmRecord]:
    query = sa.select(RMS.c.rm_id, RMS.c.name, RMS.c.team_id, role_of().label("role"))
    rows = conn.execute(query.where(*where).order_by(RMS.c.rm_id))
    return [RmRecord(r.rm_id, r.name, r.team_id, r.role) for r in rows]


def rm_records(conn: Connection) -> list[RmRecord]:
    """Every RM record (any role), in rm_id order."""
    return _records(conn)


def rm_record(conn: Connection, rm_id: str) -> RmRecord | None:
    found = _records(conn, RMS.c.rm_id == rm_id)
    return found[0] if found else None


def rm_exists(conn: Connection, rm_id: str) -> bool:
    """Whether there is an RM record (of any role) with the id."""
    return conn.execute(sa.select(RMS.c.rm_id).where(RMS.c.rm_id == rm_id)).first() is not None


def team_of(conn: Connection, rm_id: str) -> str | None:
    """The RM record's team (None: no team, or no such RM)."""
    return conn.execute(sa.select(RMS.c.team_id).where(RMS.c.rm_id == rm_id)).scalar()


def rm_teams(conn: Connection) -> dict[str, str | None]:
    """rm_id → team_id, of every RM record."""
    return {r.rm_id: r.team_id for r in conn.execute(sa.select(RMS.c.rm_id, RMS.c.team_id))}


def scored_rms(conn: Connection) -> dict[str, str | None]:
    """rm_id → team_id of the RMs of role rm, in rm_id order."""
    query = sa.select(RMS.c.rm_id, RMS.c.team_id).where(is_scored()).order_by(RMS.c.rm_id)
    return {r.rm_id: r.team_id for r in conn.execute(query)}


def members(conn: Connection, team_ids: Collection[str]) -> frozenset[str]:
    """The RM records (any role) whose team is one of those named."""
    if not team_ids:
        return frozenset()
    query = sa.select(RMS.c.rm_id).where(RMS.c.team_id.in_(sorted(team_ids)))
    return frozenset(str(r) for r in conn.execute(query).scalars())


# -- who manages whom ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Managed:
    """What a manager's RM record manages: the teams it leads with every team below them, and
    the RM records of those teams."""

    team_ids: frozenset[str]
    rm_ids: frozenset[str]


def managed_by(conn: Connection, manager_rm_id: str | None) -> Managed:
    """What the RM record manages (nothing for None: a user without an RM record)."""
    if manager_rm_id is None:
        return Managed(frozenset(), frozenset())
    teams = team_tree(conn).led_by(manager_rm_id)
    return Managed(teams, members(conn, teams))
