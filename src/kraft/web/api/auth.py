"""Bearer tokens for the API: POST /api/v1/auth/token with form fields username and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel

from kraft.web.deps import ApiScope, SiteDep
from kraft.web.pages.auth import check_login
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
    return Token(access_token=site.signer.token(user.user_id))


@router.get("/auth/me", response_model=Me)
def me(scope: ApiScope) -> Me:
    """Who the token or session belongs to."""
    u = scope.user
    return Me(user_id=u.user_id, email=u.email, role=str(u.role), rm_id=u.rm_id)
