"""Signing in and out of the pages: a session cookie (HTTP-only, SameSite=Lax) holding the user's
id, token version and the session's CSRF token; failed attempts are limited per client address
and email. Login CSRF: a sign-in whose Origin (or, without one, Referer) is another site, or that
the browser marks Sec-Fetch-Site: cross-site, is refused, so no other site can sign a browser in.
Signing out and changing the password raise the user's token version: old cookies stop working."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kraft.core.access import Scope
from kraft.errors import ForbiddenError, KraftError
from kraft.store.users import MIN_PASSWORD, User, authenticate, change_password, revoke_sessions
from kraft.web.deps import CsrfForm, PageScope, SiteDep
from kraft.web.errors import status_of
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


def same_site(request: Request) -> bool:
    """Whether a state-changing request comes from this site's own pages: its Origin, else its
    Referer, names this host (a browser sends Origin with every cross-site POST); a request with
    neither (a script, curl) is not a browser being led by another site."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True
    # The host only: a proxy passing Host as nginx's $host drops the port ("null": refused).
    return (urlsplit(source).hostname or "") == (request.url.hostname or "").lower()


def signed_in(response: Response, site: Site, user: User) -> Response:
    """Set a fresh session cookie for the user's current token version."""
    cookie, _ = site.signer.session_cookie(user.user_id, user.token_version)
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


def change_own_password(site: Site, scope: Scope, current: str, new: str) -> User:
    """The user's own change, its current password guessed no more often than a sign-in's
    (the same limiter, per email): 429 beyond it, 403 for a wrong one."""
    key = f"email:{scope.user.email}"
    wait = site.limiter.retry_after(key)
    if wait:
        raise HTTPException(
            429,
            f"Too many wrong passwords; try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    try:
        with site.write() as conn:
            return change_password(conn, scope.user.email, new, current=current, actor=scope.actor)
    except ForbiddenError:
        site.limiter.failed(key)
        raise


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
        if not same_site(request):
            raise HTTPException(
                403, "This sign-in did not come from kraft's own page; sign in here."
            )
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
    return signed_in(
        RedirectResponse(_safe_next(next) or home_of(user), status_code=303), site, user
    )


@router.post("/logout", dependencies=[CsrfForm])
def logout(request: Request, site: SiteDep) -> Response:
    """Sign out: the user's token version goes up, so this cookie (and any copy of it, and the
    user's other sessions and tokens) no longer signs anyone in."""
    session = site.signer.read_session(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        with site.write() as conn:
            revoke_sessions(conn, session.user_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, scope: PageScope, changed: bool = False) -> HTMLResponse:
    done = "Your password is changed; your other sessions and tokens are ended." if changed else ""
    return render_page(request, "password.html.j2", {**_password_context(""), "done": done})


@router.post("/account/password", dependencies=[CsrfForm])
def password_change(
    request: Request,
    site: SiteDep,
    scope: PageScope,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
) -> Response:
    """Change one's own password: the other sessions and tokens end, this one is issued afresh."""
    try:
        user = change_own_password(site, scope, current, new)
    except HTTPException as exc:
        context = _password_context(str(exc.detail))
        headers = dict(exc.headers or {})
        return render_page(
            request, "password.html.j2", context, status_code=exc.status_code, headers=headers
        )
    except KraftError as exc:
        context = _password_context(exc.message)
        return render_page(request, "password.html.j2", context, status_code=status_of(exc))
    return signed_in(RedirectResponse("/account/password?changed=1", status_code=303), site, user)


def _password_context(message: str) -> dict[str, object]:
    return {"message": message, "done": "", "min_length": MIN_PASSWORD}
