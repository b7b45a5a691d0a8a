"""The demo's sign-ins for `kraft serve`: an admin, the manager who leads the most teams, and an RM
of one of those teams (so that the manager sees the RM). Passwords are printed by `kraft demo`:
they are for trying kraft out, never for real data."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.framework.model import Role
from kraft.store.metadata import operational
from kraft.store.roster import is_scored, team_tree
from kraft.store.users import add_user, find_by_email


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: Role
    rm_id: str | None


def demo_logins(conn: Connection) -> list[DemoLogin]:
    teams, rms = operational["teams"], operational["relationship_managers"]
    leaders = conn.execute(
        sa.select(teams.c.leader_rm_id, sa.func.count().label("teams"))
        .select_from(teams.join(rms, rms.c.rm_id == teams.c.leader_rm_id))
        .where(rms.c.role == "manager")
        .group_by(teams.c.leader_rm_id)
        .order_by(sa.desc("teams"), teams.c.leader_rm_id)
    ).first()
    found = [DemoLogin("admin@kraft.demo", "kraft-demo-admin", Role.admin, None)]
    if leaders is None:
        return found
    manager = str(leaders.leader_rm_id)
    found.append(DemoLogin("manager@kraft.demo", "kraft-demo-manager", Role.manager, manager))
    led = sorted(team_tree(conn).led_by(manager))
    rm = conn.execute(
        sa.select(rms.c.rm_id).where(rms.c.team_id.in_(led), is_scored()).order_by(rms.c.rm_id)
    ).scalar()
    if rm is not None:
        found.append(DemoLogin("rm@kraft.demo", "kraft-demo-rm", Role.rm, str(rm)))
    return found


def add_demo_logins(conn: Connection, actor: str) -> list[DemoLogin]:
    """Add the demo's users that are not there yet; every one of them is returned."""
    logins = demo_logins(conn)
    for login in logins:
        if find_by_email(conn, login.email) is None:
            add_user(conn, login.email, login.password, login.role, login.rm_id, actor=actor)
    return logins
