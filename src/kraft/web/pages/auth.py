"""Signing in and out of the pages: a session cookie (HTTP-only, SameSite=Lax) holding the user's
id and the session's CSRF token; failed attempts are limited per client address and email."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kraft.store.users import User, authenticate
from kraft.web.deps import CsrfForm, SiteDep
from kraft.web.render import home_of, render_page
from kraft.web.security import SESSION_COOKIE, SESSION_SECONDS
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str | None:
    """Only a path of this site (never //host or a scheme): no open redirect."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def check_login(site: Site, client: str, username: str, password: str) -> User:
    """The user, or HTTPException 401/429 (limited per address and per email)."""
    keys = (f"ip:{client}", f"email:{username.strip().lower()}")
    wait = site.limiter.retry_after(*keys)
    if wait:
        raise HTTPException(
            429,
            f"Too many failed sign-ins; try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    with site.read() as conn:
        user = authenticate(conn, username, password)
    if user is None:
        site.limiter.failed(*keys)
        raise HTTPException(401, "The email or password is wrong, or the user is disabled.")
    site.limiter.succeeded(*keys)
    return user


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> HTMLResponse:
    return render_page(request, "login.html.j2", {"next": next, "username": "", "message": ""})


@router.post("/login")
def login(
    request: Request,
    site: SiteDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    client = request.client.host if request.client else "unknown"
    try:
        user = check_login(site, client, username, password)
    except HTTPException as exc:
        context = {"next": next, "username": username, "message": exc.detail}
        return render_page(
            request,
            "login.html.j2",
            context,
            status_code=exc.status_code,
            headers=dict(exc.headers or {}),
        )
    cookie, _ = site.signer.session_cookie(user.user_id)
    response = RedirectResponse(_safe_next(next) or home_of(user), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=site.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout", dependencies=[CsrfForm])
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
