"""Who may see and change what: every permission of the web app and the API, in one place.

Derived from the data, never kept beside it: an admin sees and edits everything; a manager's
scope is what their RM record manages (kraft.store.roster.managed_by: the teams it leads, with
every team below them, and the RMs of those teams); an RM sees only their own record (and, of their team, only their rank and the
distribution, never other RMs' names or values). Who may enter a manual KPI is the framework's
`entered_by`, and nobody enters a measurement about themselves unless the framework lets the rated
RM do so (management_decision_impact: the manager, never the RM rated).

The use cases of the core ask `Scope` and refuse what is out of scope as not found, so that another
RM's resource looks exactly like one that does not exist. The command line acts in the
operator's scope: everything, as an admin.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.errors import InvalidInputError, NotFoundError
from kraft.framework.model import KPI, Role
from kraft.store.roster import managed_by, rm_exists, team_of
from kraft.store.users import User, find_by_email


@dataclass(frozen=True)
class Scope:
    """What one signed-in user may see and change. rm_ids/team_ids None: everything."""

    user: User
    rm_ids: frozenset[str] | None
    team_ids: frozenset[str] | None
    own_team_id: str | None = None
    acting_as: str | None = None  # who the audit log names, when not a signed-in user

    @property
    def actor(self) -> str:
        """Who the audit log names for a change made in this scope."""
        return self.acting_as or f"web:{self.user.email}"

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def is_admin(self) -> bool:
        return self.user.role is Role.admin

    @property
    def sees_others(self) -> bool:
        """Whether other RMs' names and values may be shown (not to an RM)."""
        return self.user.role is not Role.rm

    def can_see_rm(self, rm_id: str) -> bool:
        return self.rm_ids is None or rm_id in self.rm_ids

    def can_see_team(self, team_id: str) -> bool:
        """The team's page: its leaderboard names RMs, so an RM never sees one."""
        return self.team_ids is None or team_id in self.team_ids

    @property
    def can_see_company(self) -> bool:
        return self.is_admin

    def can_edit_targets(self, scope_type: str, scope_id: str) -> bool:
        """Targets: the admin anywhere; a manager for their teams and those teams' RMs."""
        if self.is_admin:
            return True
        if self.user.role is not Role.manager:
            return False
        if scope_type == "team":
            return self.can_see_team(scope_id)
        if scope_type == "rm":
            return self.can_see_rm(scope_id) and scope_id != self.user.rm_id
        return False

    def can_enter_measurement(self, kpi: KPI, rm_id: str) -> bool:
        """A manual KPI's measurement for an RM: the roles the framework names, within scope;
        the RM rated only where the framework lets an RM enter it, and only for themselves."""
        if not self.can_see_rm(rm_id) or self.user.role not in kpi.entered_by:
            return False
        if self.user.role is Role.rm:
            return rm_id == self.user.rm_id
        return self.is_admin or rm_id != self.user.rm_id

    @property
    def can_import(self) -> bool:
        return self.is_admin

    @property
    def can_compute(self) -> bool:
        return self.is_admin

    @property
    def can_edit_framework(self) -> bool:
        return self.is_admin

    @property
    def can_manage_users(self) -> bool:
        return self.is_admin

    def rm_filter(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """A WHERE clause keeping only rows of RMs in scope (true for an admin)."""
        if self.rm_ids is None:
            return sa.true()
        return column.in_(sorted(self.rm_ids)) if self.rm_ids else sa.false()


def operator_scope(actor: str) -> Scope:
    """The scope of whoever runs kraft on the workspace itself (the command line): everything,
    as an admin, named `actor` in the audit log."""
    return Scope(User(0, actor, Role.admin, None, True), None, None, acting_as=actor)


def scope_of(conn: Connection, user: User) -> Scope:
    """The user's scope, read from teams and relationship_managers as they are now."""
    if user.role is Role.admin:
        return Scope(user, None, None)
    own_team = team_of(conn, user.rm_id) if user.rm_id else None
    if user.role is Role.rm:
        rm_ids = frozenset([user.rm_id]) if user.rm_id else frozenset()
        return Scope(user, rm_ids, frozenset(), own_team)
    managed = managed_by(conn, user.rm_id or None)
    return Scope(user, managed.rm_ids, managed.team_ids, own_team)


def no_such(kind: str, key: str) -> NotFoundError:
    """The same refusal for a missing resource and one out of scope."""
    return NotFoundError(f"There is no {kind} {key}, or it is not in your scope.")


def visible_rm(conn: Connection, scope: Scope, rm_id: str) -> None:
    """Refuse an RM that does not exist or is out of the user's scope."""
    if not scope.can_see_rm(rm_id) or not rm_exists(conn, rm_id):
        raise no_such("RM", rm_id)


def scope_acting_as(conn: Connection, email: str | None, operator: str) -> Scope:
    """The scope of a change made from the command line: the kraft user named (`--as EMAIL`),
    with their rules and named cli:EMAIL in the audit log; else the operator's (`operator`)."""
    if email is None:
        return operator_scope(operator)
    user = find_by_email(conn, email)
    if user is None:
        raise InvalidInputError(f"--as {email} is not a kraft user; `kraft users list` shows them.")
    if not user.active:
        raise InvalidInputError(f"--as {email} is disabled; an admin enables the user first.")
    return replace(scope_of(conn, user), acting_as=f"cli:{user.email}")
