"""Confirming a mapping for an upload in another layout: the admin's mapping (kraft's proposal,
confirmed or edited) is checked, saved in the workspace (audited) by kraft.core.mappings, and the
held upload is checked again through it, ready for the usual Apply.

A refused mapping (a TODO left, a key kraft does not know, a database query) is one sentence on
the page with the text as the admin wrote it; nothing is saved and the upload stays held.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from kraft.core.mappings import WEB_MAPPING, save_uploaded_mapping
from kraft.errors import KraftError
from kraft.web.deps import CsrfForm, SiteDep
from kraft.web.pages.imports import (
    HeldUploads,
    ImporterScope,
    Proposal,
    render_imports,
    run_upload,
)

router = APIRouter(include_in_schema=False)

GONE = (
    "The upload is no longer kept (it expired after an hour, or the server restarted); upload "
    "the files again."
)


@router.post("/imports/mapping", response_class=HTMLResponse, dependencies=[CsrfForm])
def confirm_mapping(
    request: Request,
    site: SiteDep,
    scope: ImporterScope,
    token: Annotated[str, Form()] = "",
    mapping: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Save the confirmed mapping for the workspace, then check the held upload through it."""
    uploads = HeldUploads.of(request.app)
    held = uploads.take(token, scope.user)
    if held is None:
        return render_imports(request, site, message=GONE, status_code=409)
    try:
        save_uploaded_mapping(site, mapping, actor=scope.actor)
    except KraftError as exc:
        again = uploads.hold(held.upload, held.options, scope.user, held.report)
        refused = Proposal(mapping, again, error=exc.message)
        return render_imports(request, site, report=held.report, proposal=refused, status_code=422)
    report = run_upload(site, held.upload.files, held.options, dry_run=True, actor=scope.actor)
    notice = (
        f"The mapping was saved as {WEB_MAPPING} and named in kraft.toml; every later import "
        "applies it."
    )
    if not report.ok and report.layout:  # saved, but the files do not fit it: edit it again
        again = uploads.hold(held.upload, held.options, scope.user, report)
        unfit = Proposal(mapping, again, error=f"The files do not fit it: {report.message}")
        return render_imports(
            request, site, report=report, proposal=unfit, notice=notice, status_code=422
        )
    if not report.ok:
        held.upload.discard()
        return render_imports(request, site, report=report, notice=notice, status_code=422)
    again = uploads.hold(held.upload, held.options, scope.user, report)
    return render_imports(request, site, report=report, token=again, notice=notice)
