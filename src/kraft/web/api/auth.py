"""Bearer tokens for the API: POST /api/v1/auth/token with form fields username and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from kraft.store.users import MIN_PASSWORD, revoke_sessions
from kraft.web.deps import ApiScope, SiteDep
from kraft.web.pages.auth import change_own_password, check_login
from kraft.web.security import TOKEN_SECONDS

router = APIRouter(tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = TOKEN_SECONDS


class Me(BaseModel):
    user_id: int
    email: str
    role: str
    rm_id: str | None


@router.post("/auth/token", response_model=Token)
def token(
    request: Request,
    site: SiteDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Token:
    """A bearer token for the user (valid 8 hours); 401 for a wrong password, 429 after too
    many failures."""
    client = request.client.host if request.client else "unknown"
    user = check_login(site, client, username, password)
    return Token(access_token=site.signer.token(user.user_id, user.token_version))


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(description="the user's password now")
    new: str = Field(description=f"the new password, at least {MIN_PASSWORD} characters")


@router.post("/auth/password", response_model=Token)
def password(body: PasswordChange, site: SiteDep, scope: ApiScope) -> Token:
    """Change one's own password (the current one is required): every session and token of the
    user ends, this one included; the answer is a fresh token. 403 for a wrong current password
    (429 after too many), 422 for a short new one."""
    user = change_own_password(site, scope, body.current, body.new)
    return Token(access_token=site.signer.token(user.user_id, user.token_version))


@router.post("/auth/logout", status_code=204)
def logout(site: SiteDep, scope: ApiScope) -> Response:
    """Sign out: every session and token of the user ends (the token version goes up)."""
    with site.write() as conn:
        revoke_sessions(conn, scope.user.user_id)
    return Response(status_code=204)


@router.get("/auth/me", response_model=Me)
def me(scope: ApiScope) -> Me:
    """Who the token or session belongs to."""
    u = scope.user
    return Me(user_id=u.user_id, email=u.email, role=str(u.role), rm_id=u.rm_id)
