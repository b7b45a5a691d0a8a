"""Admin pages: the framework editor and the users.

The framework editor edits the workspace framework's YAML. It saves only a framework that loads
and passes the SMART lint (errors shown, nothing saved), and never edits a version in use in
place: a save is a new version in a new file beside the current one, then kraft.toml's
`framework` points at it; the old file stays for the scores computed with it. A form opened on
an older version is refused with the text kept, so that two admins cannot overwrite each other.

Users are added, disabled and enabled through kraft.store.users (audited there).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kraft.core.access import Scope
from kraft.core.frameworks import (
    FrameworkCheck,
    FrameworkRejectedError,
    check_framework,
    current_framework,
    save_framework_version,
)
from kraft.errors import KraftError, StaleVersionError
from kraft.framework.model import Role
from kraft.store.roster import rm_exists, rm_names
from kraft.store.users import add_user, get_user, list_users, set_active
from kraft.web.deps import CsrfForm, PageScope, RowId, SiteDep
from kraft.web.errors import status_of
from kraft.web.render import render_page
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)


def only_framework_editors(scope: PageScope) -> Scope:
    if not scope.can_edit_framework:
        raise HTTPException(403, "Only an admin may edit the framework.")
    return scope


def only_user_managers(scope: PageScope) -> Scope:
    if not scope.can_manage_users:
        raise HTTPException(403, "Only an admin may manage users.")
    return scope


EditorScope = Annotated[Scope, Depends(only_framework_editors)]
UsersScope = Annotated[Scope, Depends(only_user_managers)]


# -- the framework editor -------------------------------------------------------------------


def _editor(
    request: Request,
    site: Site,
    *,
    text: str | None = None,
    result: FrameworkCheck | None = None,
    stale: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    current = current_framework(site)
    context = {
        "current": current,
        "text": current.text if text is None else text,
        "base": current.base,
        "result": result,
        "stale": stale,
    }
    return render_page(request, "framework_edit.html.j2", context, status_code=status_code)


@router.get("/admin/framework", response_class=HTMLResponse)
def framework_editor(request: Request, site: SiteDep, scope: EditorScope) -> HTMLResponse:
    return _editor(request, site)


@router.post("/admin/framework", response_class=HTMLResponse, dependencies=[CsrfForm])
def framework_save(
    request: Request,
    site: SiteDep,
    scope: EditorScope,
    text: Annotated[str, Form(alias="yaml")] = "",
    base: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "save",
) -> HTMLResponse:
    """Check (action=check) or save the edited YAML; any refusal keeps the text as typed."""
    text = text.replace("\r\n", "\n")
    if action != "save":
        result = check_framework(site, text)
        if result.framework is None or result.errors:
            return _editor(request, site, text=text, result=result, status_code=422)
        result.message = "The framework passes every SMART and structure rule; nothing was saved."
        return _editor(request, site, text=text, result=result)
    try:
        result = save_framework_version(site, text, actor=scope.actor, base=base)
    except StaleVersionError as exc:
        stale = exc.message.replace("your text is kept:", "your text is kept below:")
        return _editor(request, site, text=text, stale=stale, status_code=409)
    except FrameworkRejectedError as exc:
        return _editor(request, site, text=text, result=exc.check, status_code=422)
    except KraftError as exc:
        failed = FrameworkCheck(message=exc.message)
        return _editor(request, site, text=text, result=failed, status_code=status_of(exc))
    if result.saved is None:  # nothing changed
        return _editor(request, site, text=text, result=result)
    return _editor(request, site, result=result)


# -- users ----------------------------------------------------------------------------------


def _users_page(
    request: Request,
    site: Site,
    *,
    message: str = "",
    done: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with site.read() as conn:
        people = list_users(conn)
        names = rm_names(conn)
    context: dict[str, Any] = {
        "people": people,
        "names": names,
        "roles": [str(r) for r in Role],
        "message": message,
        "done": done,
        "form": form or {"role": "rm"},
    }
    return render_page(request, "admin_users.html.j2", context, status_code=status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, site: SiteDep, scope: UsersScope, done: str = "") -> HTMLResponse:
    notes = {"added": "The user was added.", "disabled": "The user was disabled."}
    notes["enabled"] = "The user was enabled."
    return _users_page(request, site, done=notes.get(done, ""))


@router.post("/admin/users", dependencies=[CsrfForm])
def add(
    request: Request,
    site: SiteDep,
    scope: UsersScope,
    email: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "rm",
    rm_id: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """Add a user; a refusal keeps what was typed (but never the password)."""
    form = {"email": email, "role": role, "rm_id": rm_id}
    rm = rm_id.strip() or None
    try:
        if role not in {str(r) for r in Role}:
            raise KraftError(f"The role {role!r} is not admin, manager or rm.")
        if role != "admin" and rm is None:
            raise KraftError(
                f"A {role} needs an RM record: give the rm_id of the relationship_managers row "
                "they are."
            )
        with site.write() as conn:
            if rm is not None and not rm_exists(conn, rm):
                raise KraftError(f"There is no RM record {rm!r}; import it first.")
            add_user(conn, email, password, role, rm, actor=scope.actor)
    except KraftError as exc:
        return _users_page(request, site, message=exc.message, form=form, status_code=422)
    return RedirectResponse("/admin/users?done=added", status_code=303)


@router.post("/admin/users/{user_id}/active", dependencies=[CsrfForm])
def activate(
    request: Request,
    site: SiteDep,
    scope: UsersScope,
    user_id: RowId,
    active: Annotated[str, Form()] = "",
) -> Response:
    """Disable or enable a user (a disabled user's sessions and tokens stop at once)."""
    wanted = active.strip().lower() in ("true", "1", "yes", "on")
    with site.read() as conn:
        person = get_user(conn, user_id)
    if person is None:
        raise HTTPException(404, "There is no such user.")
    if person.user_id == scope.user.user_id and not wanted:
        return _users_page(
            request,
            site,
            message="You cannot disable your own sign-in; ask another admin to do it.",
            status_code=422,
        )
    with site.write() as conn:
        set_active(conn, person.email, wanted, actor=scope.actor)
    return RedirectResponse(
        f"/admin/users?done={'enabled' if wanted else 'disabled'}", status_code=303
    )
