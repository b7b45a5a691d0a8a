"""Rendering a page: the template, with what every page's layout needs (the user, their
navigation, the CSRF token for forms, the workspace's framework title)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from kraft.framework.model import Role
from kraft.store.users import User
from kraft.web.security import SESSION_COOKIE
from kraft.web.shown import Shown

NAVIGATION = (
    ("Company", "/", (Role.admin,)),
    ("My teams", "/teams", (Role.manager,)),
    ("My scorecard", "/me", (Role.rm, Role.manager)),
    ("Framework", "/framework", (Role.admin, Role.manager, Role.rm)),
    ("Targets", "/targets", (Role.admin, Role.manager)),
    ("Measurements", "/measurements", (Role.admin, Role.manager, Role.rm)),
    ("Imports", "/imports", (Role.admin,)),
    ("Compute", "/compute", (Role.admin,)),
    ("Initiatives", "/initiatives", (Role.admin, Role.manager)),
    ("Reviews", "/reviews", (Role.admin, Role.manager, Role.rm)),
    ("Calibration", "/calibration", (Role.admin, Role.manager)),
    ("Users", "/admin/users", (Role.admin,)),
    ("Audit", "/admin/audit", (Role.admin,)),
    ("Data contract", "/help/data-contract", (Role.admin, Role.manager, Role.rm)),
)


def home_of(user: User) -> str:
    """Where a user lands after signing in: the company for an admin, their teams for a
    manager, their own scorecard for an RM."""
    return {Role.admin: "/", Role.manager: "/teams", Role.rm: "/me"}[user.role]


def chart(spec: dict[str, Any], label: str) -> Markup:
    """A Vega-Lite chart for the page's script (static/kraft.js) to draw: the spec as JSON in
    the element, escaped so that no value can close the script, with a text label for screen
    readers."""
    payload = json.dumps(spec).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(
        '<figure class="chart" role="img" aria-label="{label}">'
        '<script type="application/json" class="vega-spec">{payload}</script></figure>'
    ).format(label=label, payload=Markup(payload))


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    user: User | None = None,
) -> HTMLResponse:
    site = request.app.state.site
    user = user or getattr(request.state, "user", None)
    session = getattr(request.state, "session", None) or site.signer.read_session(
        request.cookies.get(SESSION_COOKIE)
    )
    links = [(t, href) for t, href, roles in NAVIGATION if user is not None and user.role in roles]
    html = site.templates.get_template(template).render(
        request=request,
        user=user,
        navigation=links,
        csrf_token=session.csrf if session else "",
        path=request.url.path,
        **{"shown": Shown(site.framework.currency), **context},
    )
    return HTMLResponse(html, status_code=status_code, headers=headers)
