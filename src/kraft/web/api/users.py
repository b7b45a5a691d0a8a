"""API: the people who sign in, for admins only (403 for anyone else: the whole collection is
theirs). Through kraft.store.users, so that every change is in the audit log (never a password
or its hash), and a disabled user's sessions and tokens stop at once.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from kraft.core.access import Scope, no_such
from kraft.errors import KraftError
from kraft.store import users as store
from kraft.store.roster import rm_exists
from kraft.store.users import MIN_PASSWORD, User
from kraft.web.deps import ApiScope, RowId, SiteDep

router = APIRouter(tags=["users"])


class UserOut(BaseModel):
    user_id: int
    email: str
    role: str
    rm_id: str | None
    active: bool


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    password: str = Field(description=f"at least {MIN_PASSWORD} characters")
    role: Literal["admin", "manager", "rm"]
    rm_id: str | None = Field(
        default=None, description="the relationship_managers row (managers and RMs)"
    )


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    role: Literal["admin", "manager", "rm"] | None = None


def _admin(scope: Scope) -> None:
    if not scope.can_manage_users:
        raise HTTPException(403, "Only an admin manages users.")


def user_out(user: User) -> UserOut:
    return UserOut(**user.public())


@router.get("/users", response_model=list[UserOut])
def users(site: SiteDep, scope: ApiScope) -> list[UserOut]:
    """Every user, by email."""
    _admin(scope)
    with site.read() as conn:
        return [user_out(u) for u in store.list_users(conn)]


@router.post("/users", response_model=UserOut, status_code=201)
def add(body: UserIn, site: SiteDep, scope: ApiScope) -> UserOut:
    """Add a user (a manager or an RM names their RM record); audited."""
    _admin(scope)
    if body.role != "admin" and not body.rm_id:
        raise HTTPException(
            422, f"rm_id: a {body.role} user needs rm_id, the relationship_managers row they are."
        )
    if len(body.password) < MIN_PASSWORD:
        raise HTTPException(
            422, f"password: is shorter than {MIN_PASSWORD} characters; choose a longer one."
        )
    with site.write() as conn:
        if store.find_by_email(conn, body.email) is not None:
            raise HTTPException(409, f"{store.normalise_email(body.email)} is already a user.")
        if body.rm_id and not rm_exists(conn, body.rm_id):
            raise HTTPException(
                422, f"rm_id: {body.rm_id!r} is not in the relationship_managers table."
            )
        try:
            user = store.add_user(
                conn, body.email, body.password, body.role, body.rm_id, actor=scope.actor
            )
        except KraftError as exc:  # what is left to refuse is the address
            raise HTTPException(422, f"email: {exc.message}") from None
    return user_out(user)


@router.patch("/users/{user_id}", response_model=UserOut)
def change(user_id: RowId, body: UserChange, site: SiteDep, scope: ApiScope) -> UserOut:
    """Enable or disable a user, or change their role; audited. An admin cannot disable or
    demote themselves (another admin must), so that the workspace never loses its last one."""
    _admin(scope)
    with site.write() as conn:
        user = store.get_user(conn, user_id)
        if user is None:
            raise no_such("user", str(user_id))
        if user.user_id == scope.user.user_id and (
            body.active is False or body.role not in (None, "admin")
        ):
            raise HTTPException(
                409, "You cannot disable or demote yourself; another admin must do it."
            )
        actor = scope.actor
        try:
            if body.role is not None and body.role != str(user.role):
                user = store.set_role(conn, user.email, body.role, actor=actor)
            if body.active is not None and body.active != user.active:
                user = store.set_active(conn, user.email, body.active, actor=actor)
        except KraftError as exc:
            raise HTTPException(422, f"role: {exc.message}") from None
    return user_out(user)
