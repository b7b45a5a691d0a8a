"""Admin pages: the framework editor and the users.

The framework editor edits the workspace framework's YAML. It saves only a framework that loads
and passes the SMART lint (errors shown, nothing saved), and never edits a version in use in
place: a save is a new version in a new file beside the current one, then kraft.toml's
`framework` points at it; the old file stays for the scores computed with it. A form opened on
an older version is refused with the text kept, so that two admins cannot overwrite each other.

Users are added, disabled and enabled through kraft.store.users (audited there).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kraft.core.access import Scope
from kraft.errors import KraftError
from kraft.framework.loader import BUILTIN_PACKAGE, builtin_names, parse_framework
from kraft.framework.model import Framework, Role
from kraft.framework.smart import Finding, Severity, validate
from kraft.metrics.spec import load_catalogue
from kraft.scoring.stored import as_of_date
from kraft.scoring.target_table import comparable_actuals
from kraft.store import audit
from kraft.store.metadata import operational
from kraft.store.users import add_user, get_user, list_users, set_active
from kraft.web.deps import CsrfForm, PageScope, RowId, SiteDep
from kraft.web.render import render_page
from kraft.web.site import Site
from kraft.workspace import load_workspace

router = APIRouter(include_in_schema=False)

RMS = operational["relationship_managers"]


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


@dataclass(frozen=True)
class CurrentFramework:
    """The workspace's framework as kraft.toml names it now, with its text."""

    reference: str  # kraft.toml's `framework`: a built-in name or a file path
    path: Path | None  # None for a built-in
    text: str
    framework: Framework

    @property
    def base(self) -> str:
        """What a form was opened on: a stale form carries another one."""
        return hashlib.sha256(f"{self.reference}\n{self.text}".encode()).hexdigest()


def current_framework(site: Site) -> CurrentFramework:
    reference = site.workspace.settings.framework
    if reference in builtin_names():
        resource = resources.files(BUILTIN_PACKAGE).joinpath(f"{reference}.yaml")
        return CurrentFramework(reference, None, resource.read_text("utf-8"), site.framework)
    path = Path(reference)
    if not path.is_absolute():
        path = site.workspace.root / path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KraftError(f"The workspace's framework file {path} cannot be read ({exc}).") from None
    return CurrentFramework(reference, path, text, site.framework)


def next_version(version: str) -> str:
    """2 → 3, 1.4 → 1.5, draft → draft.2: the trailing number counts up."""
    found = re.fullmatch(r"(.*?)(\d+)", version)
    if found:
        return f"{found[1]}{int(found[2]) + 1}"
    return f"{version}.2"


def _with_version(text: str, version: str) -> str:
    """The YAML text with its top-level version set (the line kept where it is)."""
    line = f'version: "{version}"'
    if re.search(r"^version:.*$", text, flags=re.MULTILINE):
        return re.sub(r"^version:.*$", line, text, count=1, flags=re.MULTILINE)
    if re.search(r"^id:.*$", text, flags=re.MULTILINE):
        return re.sub(r"^(id:.*)$", rf"\1\n{line}", text, count=1, flags=re.MULTILINE)
    return f"{line}\n{text}"


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


@dataclass
class EditResult:
    """What the editor found: the parse or lint problems, the warnings, or where it saved."""

    problems: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    saved: Framework | None = None
    saved_file: str = ""
    message: str = ""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.warning]


def check_framework(site: Site, text: str) -> tuple[Framework | None, EditResult]:
    """Load the text as a framework and lint it, as `kraft framework validate` does."""
    result = EditResult()
    try:
        framework = parse_framework(text, source="The edited framework")
    except KraftError as exc:
        result.message = exc.message
        result.problems = exc.details
        return None, result
    with site.read() as conn:
        as_of = as_of_date(conn)
        actuals = (
            comparable_actuals(conn, framework, site.calendar, as_of) if as_of is not None else None
        )
    result.findings = validate(
        framework, known_metrics=load_catalogue().kpi_ids(), recent_actuals=actuals
    )
    if result.errors:
        result.message = (
            f"The framework has {len(result.errors)} SMART or structure error(s); nothing was "
            "saved. Fix them and save again."
        )
    return framework, result


def _toml_with_framework(text: str, reference: str) -> str:
    line = f"framework = {json.dumps(reference)}"
    if re.search(r"^framework\s*=.*$", text, flags=re.MULTILINE):
        updated = re.sub(r"^framework\s*=.*$", lambda _: line, text, count=1, flags=re.MULTILINE)
    else:
        updated = text.rstrip("\n") + f"\n{line}\n"
    if tomllib.loads(updated).get("framework") != reference:
        raise KraftError("kraft.toml could not be updated; set its framework line by hand.")
    return updated


def _replace_file(path: Path, text: str) -> None:
    """Write the file whole or not at all (a crash leaves the old one)."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_framework(
    site: Site, current: CurrentFramework, framework: Framework, text: str, actor: str
) -> tuple[Framework, str]:
    """Write the framework as a new version in a new file, point kraft.toml at it, and audit
    it, all or nothing. Returns the saved framework and kraft.toml's new reference."""
    version = framework.version
    if version == current.framework.version:
        version = next_version(current.framework.version)
    folder = current.path.parent if current.path is not None else site.workspace.root
    root = site.workspace.root
    while True:
        path = folder / f"{_file_part(framework.id)}-v{_file_part(version)}.yaml"
        if not path.exists():
            break
        if version != framework.version:  # a version kraft chose: count on
            version = next_version(version)
            continue
        raise HTTPException(
            409,
            f"Version {version} of {framework.id} already has a file ({path.name}); give the "
            "new version another number, or leave the version as it is for kraft to count on.",
        )
    new_text = _with_version(text, version)
    saved = parse_framework(new_text, source="The edited framework")
    if saved.version != version or saved.model_copy(update={"version": framework.version}) != (
        framework
    ):
        raise HTTPException(
            422, "The framework's version line could not be set; write version: as a top line."
        )
    reference = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    config = site.workspace.config_path
    old_config = config.read_text(encoding="utf-8")
    new_config = _toml_with_framework(old_config, reference)
    with path.open("x", encoding="utf-8") as handle:  # never over another version's file
        handle.write(new_text)
    replaced = False
    try:
        with site.write() as conn:
            audit.append(
                conn,
                actor=actor,
                action="framework.save",
                object_type="framework",
                object_id=saved.id,
                old={"version": current.framework.version, "file": current.reference},
                new={
                    "version": saved.version,
                    "file": reference,
                    "sha256": hashlib.sha256(new_text.encode()).hexdigest(),
                },
            )
            _replace_file(config, new_config)
            replaced = True
    except BaseException:
        if replaced:
            _replace_file(config, old_config)
        path.unlink(missing_ok=True)
        raise
    site.workspace = load_workspace(root)
    return saved, reference


def _editor(
    request: Request,
    site: Site,
    *,
    text: str | None = None,
    result: EditResult | None = None,
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
    current = current_framework(site)
    if action == "save" and base != current.base:
        stale = (
            f"The framework was changed by someone else since you opened it (it is now version "
            f"{current.framework.version}); your text is kept below: compare it with the "
            "current one, then save again."
        )
        return _editor(request, site, text=text, stale=stale, status_code=409)
    framework, result = check_framework(site, text)
    if framework is None or result.errors:
        return _editor(request, site, text=text, result=result, status_code=422)
    if action != "save":
        result.message = "The framework passes every SMART and structure rule; nothing was saved."
        return _editor(request, site, text=text, result=result)
    if framework.model_copy(update={"version": current.framework.version}) == current.framework:
        result.message = "Nothing changed: the framework is the same as the current version."
        return _editor(request, site, text=text, result=result)
    try:
        saved, reference = save_framework(site, current, framework, text, scope.actor)
    except HTTPException as exc:
        result.message = str(exc.detail)
        return _editor(request, site, text=text, result=result, status_code=exc.status_code)
    result.saved, result.saved_file = saved, reference
    result.message = (
        f"Saved {saved.id} version {saved.version} as {reference}; the workspace uses it now. "
        "Compute to score every RM with it."
    )
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
        records = conn.execute(sa.select(RMS.c.rm_id, RMS.c.name).order_by(RMS.c.rm_id)).all()
    names = {r.rm_id: r.name for r in records}
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
            if (
                rm is not None
                and conn.execute(sa.select(RMS.c.rm_id).where(RMS.c.rm_id == rm)).first() is None
            ):
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
