"""The people who sign in to `kraft serve`: email, argon2 password hash, role, the RM record they
are, and whether they may sign in. Every change is in the audit log, never the password or hash.

Roles: an admin sees and edits everything; a manager is an RM record that leads teams (their scope
is derived from teams.leader_rm_id, in kraft.core.access); an rm sees only their own data. So a
manager and an rm must name their relationship_managers row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.errors import ForbiddenError, InvalidInputError, KraftError
from kraft.framework.model import Role
from kraft.store import audit
from kraft.store.metadata import users
from kraft.store.roster import rm_exists

MIN_PASSWORD = 10
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class User:
    user_id: int
    email: str
    role: Role
    rm_id: str | None
    active: bool
    token_version: int = 0  # what a session or token must name to be good (revoke_sessions)

    def public(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "email": self.email,
            "role": str(self.role),
            "rm_id": self.rm_id,
            "active": self.active,
        }


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    digest: str = _hasher().hash(password)
    return digest


def _user(row: Any) -> User:
    return User(
        int(row.user_id),
        row.email,
        Role(row.role),
        row.rm_id,
        bool(row.active),
        int(row.token_version),
    )


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_new_user(conn: Connection, email: str, role: str, rm_id: str | None) -> Role:
    """Refuse, in one sentence, a user that cannot be added."""
    if not EMAIL.match(email):
        raise KraftError(f"{email!r} is not an email address; give one like asha@insurer.in.")
    try:
        chosen = Role(role)
    except ValueError:
        raise KraftError(f"--role {role!r} is not a role; use admin, manager or rm.") from None
    if find_by_email(conn, email) is not None:
        raise KraftError(f"{email} is already a user; `kraft users list` shows them.")
    if chosen is not Role.admin and not rm_id:
        raise KraftError(f"A {chosen} user needs --rm-id, the relationship_managers row they are.")
    if rm_id and not rm_exists(conn, rm_id):
        raise KraftError(
            f"--rm-id {rm_id!r} is not in the relationship_managers table; import it first."
        )
    return chosen


def add_user(
    conn: Connection, email: str, password: str, role: str, rm_id: str | None, *, actor: str
) -> User:
    """Add a user in the caller's transaction, with its audit entry."""
    email = normalise_email(email)
    chosen = check_new_user(conn, email, role, rm_id)
    if len(password) < MIN_PASSWORD:
        raise KraftError(f"The password is shorter than {MIN_PASSWORD} characters; choose longer.")
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE users IN EXCLUSIVE MODE"))
    next_id = conn.execute(sa.select(sa.func.coalesce(sa.func.max(users.c.user_id), 0) + 1))
    user_id = int(next_id.scalar_one())
    now = datetime.now(UTC).replace(tzinfo=None)
    conn.execute(
        users.insert().values(
            user_id=user_id,
            email=email,
            password_hash=hash_password(password),
            role=str(chosen),
            rm_id=rm_id or None,
            active=True,
            created_at=now,
            updated_at=now,
        )
    )
    user = User(user_id, email, chosen, rm_id or None, True)
    audit.append(
        conn, actor=actor, action="user.add", object_type="user", object_id=email, new=user.public()
    )
    return user


def set_active(conn: Connection, email: str, active: bool, *, actor: str) -> User:
    """Enable or disable a user; a disabled user's sessions and tokens stop working at once."""
    user = find_by_email(conn, email)
    if user is None:
        raise KraftError(f"{email} is not a user; `kraft users list` shows them.")
    conn.execute(
        users.update()
        .where(users.c.user_id == user.user_id)
        .values(
            active=active,
            token_version=users.c.token_version + 1,  # enabling again revives no old token
            updated_at=datetime.now(UTC).replace(tzinfo=None),
        )
    )
    audit.append(
        conn,
        actor=actor,
        action="user.enable" if active else "user.disable",
        object_type="user",
        object_id=user.email,
        old={"active": user.active},
        new={"active": active},
    )
    return User(user.user_id, user.email, user.role, user.rm_id, active, user.token_version + 1)


def set_role(conn: Connection, email: str, role: str, *, actor: str) -> User:
    """Change a user's role; a manager or an rm must already name their RM record."""
    user = find_by_email(conn, email)
    if user is None:
        raise KraftError(f"{email} is not a user; `kraft users list` shows them.")
    try:
        chosen = Role(role)
    except ValueError:
        raise KraftError(f"Role {role!r} is not a role; use admin, manager or rm.") from None
    if chosen is not Role.admin and not user.rm_id:
        raise KraftError(
            f"{user.email} has no RM record, so cannot be a {chosen}; add a user with one."
        )
    conn.execute(
        users.update()
        .where(users.c.user_id == user.user_id)
        .values(role=str(chosen), updated_at=datetime.now(UTC).replace(tzinfo=None))
    )
    audit.append(
        conn,
        actor=actor,
        action="user.role",
        object_type="user",
        object_id=user.email,
        old={"role": str(user.role)},
        new={"role": str(chosen)},
    )
    return User(user.user_id, user.email, chosen, user.rm_id, user.active, user.token_version)


def revoke_sessions(conn: Connection, user_id: int) -> int:
    """End every session and token of the user (they name an older version now); the new
    version, for a session issued afresh."""
    conn.execute(
        users.update()
        .where(users.c.user_id == user_id)
        .values(token_version=users.c.token_version + 1)
    )
    version = conn.execute(sa.select(users.c.token_version).where(users.c.user_id == user_id))
    return int(version.scalar_one())


def change_password(
    conn: Connection, email: str, new: str, *, current: str | None, actor: str
) -> User:
    """Set a user's password, ending all their sessions and tokens (the caller may issue one
    afresh). `current`: the user's own password, required when they change it themselves;
    None for an admin's reset (`kraft users password`)."""
    user = find_by_email(conn, email)
    if user is None:
        raise KraftError(f"{email} is not a user; `kraft users list` shows them.")
    if current is not None:
        row = conn.execute(sa.select(users.c.password_hash).where(users.c.user_id == user.user_id))
        if not _hasher().verify(current, row.scalar_one()):
            raise ForbiddenError("The current password is wrong; nothing changed.")
    if len(new) < MIN_PASSWORD:
        raise InvalidInputError(
            f"The new password is shorter than {MIN_PASSWORD} characters; choose longer."
        )
    conn.execute(
        users.update()
        .where(users.c.user_id == user.user_id)
        .values(
            password_hash=hash_password(new),
            token_version=users.c.token_version + 1,
            updated_at=datetime.now(UTC).replace(tzinfo=None),
        )
    )
    audit.append(
        conn,
        actor=actor,
        action="user.password",
        object_type="user",
        object_id=user.email,
        new={"by": "self" if current is not None else "admin"},
    )
    return User(
        user.user_id, user.email, user.role, user.rm_id, user.active, user.token_version + 1
    )


def find_by_email(conn: Connection, email: str) -> User | None:
    row = conn.execute(sa.select(users).where(users.c.email == normalise_email(email))).first()
    return None if row is None else _user(row)


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(sa.select(users).where(users.c.user_id == user_id)).first()
    return None if row is None else _user(row)


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.email))]


def authenticate(conn: Connection, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (the same answer for a wrong
    password, an unknown email and a disabled user; the hash is checked in each case, so that
    the time taken tells nothing)."""
    row = conn.execute(sa.select(users).where(users.c.email == normalise_email(email))).first()
    hasher = _hasher()
    if row is None:
        hasher.verify(password, _dummy_hash())
        return None
    if not hasher.verify(password, row.password_hash) or not row.active:
        return None
    return _user(row)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not a password of anyone")
