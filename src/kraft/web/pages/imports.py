"""Imports by upload: check the files as `kraft import --dry-run` does, show every problem, then
apply the checked files through the one writer.

An upload is streamed to a temporary folder as it arrives (never held in memory), each file
refused (413) as soon as it passes the site's upload limit. A checked upload stays in its folder
under a token for an hour, so that Apply imports exactly the files that were checked, without
sending them again; a rejected one is deleted at once. The import itself is
kraft.ingest.importer.run_import: one transaction, so a rejected import changes nothing.

The API (kraft.web.api.imports) shares this module's receiving, checking and applying.
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from kraft.core.access import Scope
from kraft.core.imports import import_data, problem_groups, read_upload
from kraft.core.mappings import WEB_MAPPING, suggest_mapping
from kraft.core.tracking import tracking_state
from kraft.errors import KraftError
from kraft.ingest.importer import ImportRejectedError, Mode
from kraft.ingest.mapping import MappingError
from kraft.ingest.sources import SUFFIXES, UnreadableFilesError
from kraft.ingest.validate import Problem
from kraft.store.metadata import import_runs
from kraft.store.users import User
from kraft.web.deps import CsrfForm, PageScope, SiteDep
from kraft.web.forms import BOOLEAN
from kraft.web.render import render_page
from kraft.web.security import same_token
from kraft.web.site import UPLOAD_LIMIT, Site

router = APIRouter(include_in_schema=False)

SHOWN_GROUPS = 20  # groups of problems (by file and column) on the page; the count is exact
HOLD_SECONDS = 3600  # how long a checked upload waits for Apply
MAX_FILES = 32
FIELD_BYTES = 64 * 1024  # a form field (mode, as_of, the token) is short
CHUNK = 64 * 1024
_REGISTRY_LOCK = threading.Lock()
# A whole upload's body (the app's limit is for forms): each file is held to the site's
# upload limit as it streams in, so this only bounds the count of files and fields.
UPLOAD_BODY_BYTES = MAX_FILES * UPLOAD_LIMIT + MAX_FILES * FIELD_BYTES


def only_importers(scope: PageScope) -> Scope:
    if not scope.can_import:
        raise HTTPException(403, "Only an admin may import data.")
    return scope


ImporterScope = Annotated[Scope, Depends(only_importers)]


# -- receiving -------------------------------------------------------------------------------


@dataclass
class Upload:
    """The files of one request, saved in their own temporary folder, and its other fields."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.0f} MB" if size >= 2**20 else f"{size / 2**10:.0f} kB"


def too_large(name: str, limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"{name} is larger than the upload limit of {_megabytes(limit)}; split it into smaller "
        "files, or import it with `kraft import` while the server is stopped.",
    )


def safe_file_name(given: str) -> str:
    """The base name of an uploaded file (browsers may send a path), if kraft imports it."""
    name = re.split(r"[\\/]", given)[-1].strip()
    if not name or name.startswith(".") or "\x00" in name:
        raise HTTPException(
            422, f"The file name {given!r} cannot be used; name it like policies.csv."
        )
    if Path(name).suffix.lower() not in SUFFIXES:
        raise HTTPException(
            422,
            f"{name}: kraft imports .csv, .parquet and .xlsx files; convert it to one of those.",
        )
    return name


class _Receiver:
    """python-multipart callbacks writing each file part straight to disk, counting bytes."""

    def __init__(self, upload: Upload, limit: int) -> None:
        self.upload = upload
        self.limit = limit
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.name = ""
        self.file_name: str | None = None
        self.handle: Any = None
        self.size = 0
        self.data = bytearray()

    def on_part_begin(self) -> None:
        self.disposition, self.name, self.file_name = b"", "", None
        self.handle, self.size, self.data = None, 0, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            return
        given = options[b"filename"].decode("utf-8", "replace")
        if not given:  # a file input left empty
            self.file_name = ""
            return
        name = safe_file_name(given)
        path = self.upload.folder / name
        if path.exists():
            raise HTTPException(422, f"{name} was sent twice; send each table's file once.")
        if len(self.upload.files) >= MAX_FILES:
            raise HTTPException(422, f"An upload holds at most {MAX_FILES} files; send fewer.")
        self.file_name = name
        self.handle = path.open("wb")
        self.upload.files.append(path)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.handle is not None:
            self.size += end - start
            if self.size > self.limit:
                raise too_large(self.file_name or "The file", self.limit)
            self.handle.write(data[start:end])
        elif self.file_name is None:
            if len(self.data) + end - start > FIELD_BYTES:
                raise HTTPException(413, f"The form field {self.name!r} is too long.")
            self.data.extend(data[start:end])

    def on_part_end(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        elif self.file_name is None and self.name:
            self.upload.fields[self.name] = self.data.decode("utf-8", "replace")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


async def receive_upload(request: Request, limit: int) -> Upload:
    """Stream a multipart/form-data request into a new temporary folder."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise HTTPException(422, "Send the files as multipart/form-data (a form with files).")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit * MAX_FILES + FIELD_BYTES:
        raise too_large("The upload", limit)
    site: Site = request.app.state.site
    upload = Upload(site.uploads.new())  # this server's folder: removed when it stops
    receiver = _Receiver(upload, limit)
    callbacks: Any = {
        name: getattr(receiver, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except HTTPException:
        receiver.close()
        upload.discard()
        raise
    except Exception:
        receiver.close()
        upload.discard()
        raise HTTPException(
            422, "The upload is not a readable multipart form; send it again."
        ) from None
    return upload


# -- checking and applying --------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    mode: Mode
    as_of: date | None


def import_options(fields: dict[str, str]) -> ImportOptions:
    """Mode and as-of date from the form, each refused with one sentence (422)."""
    mode_text = fields.get("mode", "upsert").strip() or "upsert"
    try:
        mode = Mode(mode_text)
    except ValueError:
        raise HTTPException(422, f"The mode {mode_text!r} is not upsert or replace.") from None
    as_of_text = fields.get("as_of", "").strip()
    as_of = None
    if as_of_text:
        try:
            as_of = date.fromisoformat(as_of_text)
        except ValueError:
            raise HTTPException(
                422, f"The as-of date {as_of_text!r} is not a date; write it as YYYY-MM-DD."
            ) from None
    return ImportOptions(mode, as_of)


def flag(fields: dict[str, str], name: str) -> bool:
    text = fields.get(name, "").strip().lower()
    if text not in BOOLEAN:
        raise HTTPException(422, f"The field {name} {text!r} is not true or false.")
    return BOOLEAN[text]


@dataclass
class ImportReport:
    """What a check or an import found: the changes per table, or every problem."""

    dry_run: bool
    mode: Mode
    total: int = 0  # problems
    problems: list[Problem] = field(default_factory=list)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # decimals stored rounded (per table and column), sheets naming no table (not imported)
    rounded: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    message: str = ""
    import_id: int | None = None
    as_of: date | None = None
    as_of_source: str = ""
    # after an import: the contract tables never imported and the KPIs that leaves untracked
    tables_never_imported: list[str] = field(default_factory=list)
    untracked_kpis: dict[str, str] = field(default_factory=dict)
    layout: bool = False  # the files are not in the contract's layout nor the saved mapping's

    @property
    def ok(self) -> bool:
        return self.total == 0

    def public(self, limit: int | None = None) -> dict[str, Any]:
        """The report as the API answers it (problems up to `limit`, the total always)."""
        shown = self.problems if limit is None else self.problems[:limit]
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "mode": self.mode.value,
            "message": self.message,
            "total_errors": self.total,
            "errors": [
                {
                    "file": p.source or None,
                    "row": p.row,
                    "column": p.column,
                    "value": p.value,
                    "reason": p.message,
                }
                for p in shown
            ],
            "groups": [g.as_dict() for g in problem_groups(self.problems)],
            "tables": self.tables,
            "warnings": self.warnings,
            "rounded": self.rounded,
            "skipped": self.skipped,
            "files": self.files,
            "import_id": self.import_id,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "as_of_source": self.as_of_source or None,
            "tables_never_imported": self.tables_never_imported,
            "untracked_kpis": self.untracked_kpis,
        }


def run_upload(
    site: Site, files: list[Path], options: ImportOptions, *, dry_run: bool, actor: str
) -> ImportReport:
    """Validate the files and import them (or, dry run, only count the changes); a problem is
    a report with ok False, never a half-written database."""
    report = ImportReport(dry_run, options.mode, files=[p.name for p in files])
    if not files:
        report.total = 1
        report.problems = [Problem("", None, None, None, "Choose at least one file to import.")]
        report.message = "Nothing to import: no file was sent."
        return report
    try:
        try:
            read = read_upload(site, files, max_bytes=site.upload_limit)
        except (UnreadableFilesError, MappingError):
            report.layout = True
            raise
        report.warnings += read.ignored
        report.skipped = list(read.skipped)
        result = import_data(
            site, read, mode=options.mode, as_of=options.as_of, dry_run=dry_run, actor=actor
        )
    except ImportRejectedError as exc:
        report.total, report.problems = exc.total, exc.problems
        report.message = f"The import was rejected: {exc.total:,} problem(s); nothing was written."
        return report
    except UnreadableFilesError as exc:
        report.total, report.problems = len(exc.problems), exc.problems
        report.message = (
            exc.message
            if not exc.details
            else f"The files cannot be read as tables of the import contract: "
            f"{report.total:,} problem(s); nothing was written."
        )
        return report
    except KraftError as exc:  # a file that cannot be read as a table of the contract
        lines = [exc.message, *exc.details]
        report.total = len(lines)
        report.problems = [Problem("", None, None, None, line) for line in lines]
        report.message = exc.message
        return report
    report.tables = result.summary()
    report.rounded = result.rounded
    report.warnings += [f"{w}" for w in result.warnings]
    report.import_id, report.as_of, report.as_of_source = (
        result.import_id,
        result.as_of,
        result.as_of_source,
    )
    if not dry_run:
        state = tracking_state(site)
        report.tables_never_imported = list(state.missing_tables)
        report.untracked_kpis = state.untracked
    report.message = (
        "Checked: nothing was written yet."
        if dry_run
        else f"Import {result.import_id} committed; data as of {result.as_of or 'unknown'} "
        f"({result.as_of_source})."
    )
    return report


@dataclass
class HeldUpload:
    token: str
    upload: Upload
    options: ImportOptions
    user_id: int
    held_at: float
    report: ImportReport


class HeldUploads:
    """Checked uploads waiting for Apply, by token; each only for the user who checked it."""

    def __init__(self) -> None:
        self._held: dict[str, HeldUpload] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, app: FastAPI) -> HeldUploads:
        with _REGISTRY_LOCK:
            held = getattr(app.state, "held_uploads", None)
            if held is None:
                held = app.state.held_uploads = cls()
        assert isinstance(held, HeldUploads)
        return held

    def hold(self, upload: Upload, options: ImportOptions, user: User, report: ImportReport) -> str:
        self.purge()
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._held[token] = HeldUpload(
                token, upload, options, user.user_id, time.monotonic(), report
            )
        return token

    def take(self, token: str, user: User) -> HeldUpload | None:
        """The held upload (no longer held), if it is this user's and has not expired."""
        self.purge()
        with self._lock:
            held = self._held.get(token)
            if held is None or held.user_id != user.user_id:
                return None
            return self._held.pop(token)

    def purge(self) -> None:
        now = time.monotonic()
        with self._lock:
            old = [t for t, h in self._held.items() if now - h.held_at > HOLD_SECONDS]
            expired = [self._held.pop(t) for t in old]
        for held in expired:
            held.upload.discard()


# -- a mapping for files in another layout ---------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A mapping for the admin to confirm or edit (kraft.ingest.mapping_suggest's proposal, or
    the admin's edit refused with `error`), for the upload held under `token`."""

    text: str
    token: str
    sure: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def todo_lines(self) -> list[tuple[int, str]]:
        """The lines still holding a TODO, numbered, for the page to point at."""
        lines = enumerate(self.text.splitlines(), 1)
        return [(n, line) for n, line in lines if "TODO" in line.split("#")[0]]


def propose_mapping(files: list[Path]) -> Proposal | None:
    """The mapping kraft proposes for the uploaded files, or None when it cannot read them;
    its token is set once the upload is held."""
    try:
        suggestion = suggest_mapping(files)
    except KraftError:
        return None
    return Proposal(suggestion.yaml(), "", suggestion.sure, suggestion.todo)


# -- pages -----------------------------------------------------------------------------------


def _recent_imports(site: Site, limit: int = 10) -> list[dict[str, Any]]:
    import json

    query = sa.select(import_runs).order_by(import_runs.c.import_id.desc()).limit(limit)
    with site.read() as conn:
        rows = conn.execute(query).all()
    recent = []
    for row in rows:
        files = json.loads(row.files or "[]")
        summary: dict[str, dict[str, int]] = json.loads(row.summary or "{}")
        recent.append(
            {
                "import_id": row.import_id,
                "finished_at": row.finished_at,
                "actor": row.actor,
                "mode": row.mode,
                "as_of": row.as_of,
                "files": ", ".join(str(f.get("file")) for f in files),
                "changed": sum(
                    c.get("inserted", 0) + c.get("updated", 0) + c.get("removed", 0)
                    for c in summary.values()
                ),
            }
        )
    return recent


def render_imports(
    request: Request,
    site: Site,
    *,
    report: ImportReport | None = None,
    token: str = "",
    message: str = "",
    status_code: int = 200,
    form: dict[str, str] | None = None,
    proposal: Proposal | None = None,
    notice: str = "",
) -> HTMLResponse:
    groups = problem_groups(report.problems) if report else []
    shown = groups[:SHOWN_GROUPS]
    context = {
        "report": report,
        "groups": shown,
        "more_groups": len(groups) - len(shown),
        "more_problems": report.total - sum(g.count for g in shown) if report else 0,
        "token": token,
        "message": message,
        "form": form or {},
        "limit": _megabytes(site.upload_limit),
        "recent": _recent_imports(site),
        "proposal": proposal,
        "notice": notice,
        "web_mapping": WEB_MAPPING,
    }
    return render_page(request, "imports.html.j2", context, status_code=status_code)


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request, site: SiteDep, scope: ImporterScope) -> HTMLResponse:
    return render_imports(request, site)


@router.post("/imports/check", response_class=HTMLResponse, max_body_size=UPLOAD_BODY_BYTES)
async def check(request: Request, site: SiteDep, scope: ImporterScope) -> Response:
    """Check the uploaded files (a dry run) and keep them for Apply when they pass."""
    upload = await receive_upload(request, site.upload_limit)
    held = False
    try:
        if not same_token(upload.fields.get("csrf_token"), request.state.session.csrf):
            raise HTTPException(403, "The form has expired or did not come from kraft; reload it.")
        form = {k: upload.fields.get(k, "") for k in ("mode", "as_of")}
        try:
            options = import_options(upload.fields)
        except HTTPException as exc:
            return await run_in_threadpool(
                render_imports, request, site, message=exc.detail, status_code=422, form=form
            )
        report = await run_in_threadpool(
            run_upload, site, upload.files, options, dry_run=True, actor=scope.actor
        )
        proposal = None
        if not report.ok and report.layout:
            proposal = await run_in_threadpool(propose_mapping, upload.files)
        if proposal is not None:
            token = HeldUploads.of(request.app).hold(upload, options, scope.user, report)
            proposal, held = replace(proposal, token=token), True
            return await run_in_threadpool(
                render_imports,
                request,
                site,
                report=report,
                proposal=proposal,
                status_code=422,
                form=form,
            )
        if not report.ok:
            return await run_in_threadpool(
                render_imports, request, site, report=report, status_code=422, form=form
            )
        token = HeldUploads.of(request.app).hold(upload, options, scope.user, report)
        held = True
        return await run_in_threadpool(
            render_imports, request, site, report=report, token=token, form=form
        )
    finally:
        if not held:
            upload.discard()


@router.post("/imports/apply", response_class=HTMLResponse, dependencies=[CsrfForm])
def apply(
    request: Request,
    site: SiteDep,
    scope: ImporterScope,
    token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Import the checked files for real; then offer to compute."""
    held = HeldUploads.of(request.app).take(token, scope.user)
    if held is None:
        message = (
            "The checked upload is no longer kept (it was applied, it expired after an hour, or "
            "the server restarted); upload the files again."
        )
        return render_imports(request, site, message=message, status_code=409)
    try:
        report = run_upload(site, held.upload.files, held.options, dry_run=False, actor=scope.actor)
    finally:
        held.upload.discard()
    if not report.ok:
        return render_imports(request, site, report=report, status_code=422)
    return render_page(request, "imports_applied.html.j2", {"report": report})
