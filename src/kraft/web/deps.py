"""FastAPI dependencies: the site, the signed-in user and their scope, CSRF checks.

A page without a session redirects to /login; an API call without a valid bearer token (or a
session cookie with its X-CSRF-Token header) answers 401 as problem+json.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, HTTPException, Path, Request

from kraft.core.access import Scope, scope_of
from kraft.store.users import User, get_user
from kraft.web.security import SESSION_COOKIE, Bearer, Session, same_token
from kraft.web.site import Site

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class SignInRequiredError(Exception):
    """A page asked for without a session: the handler redirects to /login?next=…"""


def get_site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def _session(request: Request, site: Site) -> Session | None:
    return site.signer.read_session(request.cookies.get(SESSION_COOKIE))


def _active(site: Site, signed: Session | Bearer | None) -> User | None:
    """The active user a session or token names, if it was issued under their current token
    version (an older one was signed out, or ended by a password change or disabling)."""
    if signed is None:
        return None
    with site.read() as conn:
        user = get_user(conn, signed.user_id)
    if user is None or not user.active or user.token_version != signed.version:
        return None
    return user


def page_user(request: Request, site: Annotated[Site, Depends(get_site)]) -> User:
    """The user of a page's session; none: sign in first."""
    session = _session(request, site)
    user = _active(site, session)
    if user is None or session is None:
        raise SignInRequiredError()
    request.state.session = session
    request.state.user = user
    return user


def api_user(request: Request, site: Annotated[Site, Depends(get_site)]) -> User:
    """The user of an API call: a bearer token, or the page's session cookie (then a change
    needs the session's CSRF token in X-CSRF-Token, as the pages' scripts send it)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = _active(site, site.signer.read_token(header[7:].strip()))
        if user is None:
            raise HTTPException(
                401, "The bearer token is not valid (expired, signed out, or its user is off)."
            )
        request.state.user = user
        return user
    session = _session(request, site)
    user = _active(site, session)
    if user is None or session is None:
        raise HTTPException(
            401, "Sign in first: POST /api/v1/auth/token and send Authorization: Bearer <token>."
        )
    if request.method not in SAFE_METHODS and not same_token(
        request.headers.get("x-csrf-token"), session.csrf
    ):
        raise HTTPException(403, "The X-CSRF-Token header is missing or wrong; reload the page.")
    request.state.session = session
    request.state.user = user
    return user


def _scope(site: Site, user: User) -> Scope:
    with site.read() as conn:
        return scope_of(conn, user)


def page_scope(
    site: Annotated[Site, Depends(get_site)], user: Annotated[User, Depends(page_user)]
) -> Scope:
    return _scope(site, user)


def api_scope(
    site: Annotated[Site, Depends(get_site)], user: Annotated[User, Depends(api_user)]
) -> Scope:
    return _scope(site, user)


def csrf_form(
    request: Request,
    site: Annotated[Site, Depends(get_site)],
    csrf_token: Annotated[str, Form()] = "",
) -> None:
    """A page's form must carry its session's CSRF token."""
    session = _session(request, site)
    if session is None or not same_token(csrf_token, session.csrf):
        raise HTTPException(403, "The form has expired or did not come from kraft; reload it.")


ROW_ID_MAX = 2**31 - 1  # the largest id an INTEGER column holds: more is refused before a query
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]  # a target_id or user_id in a URL
SiteDep = Annotated[Site, Depends(get_site)]
PageScope = Annotated[Scope, Depends(page_scope)]
ApiScope = Annotated[Scope, Depends(api_scope)]
CsrfForm = Depends(csrf_form)
