"""API: imports by upload, the way to import while `kraft serve` holds the database.

POST /api/v1/imports takes the files as multipart/form-data (field `files`, one or more, named as
the contract's tables) with `mode`, `as_of` and `dry_run`, and answers the validation report:
200 with the changes per table, or 422 with every problem (problem+json with `errors`); nothing
changes in the database on any error.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from kraft.web.deps import ApiScope, SiteDep
from kraft.web.pages.imports import (
    UPLOAD_BODY_BYTES,
    flag,
    import_options,
    receive_upload,
    run_upload,
)

router = APIRouter(tags=["imports"])

API_PROBLEMS = 10_000  # problems listed in one answer; total_errors is always exact

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Files named as the contract's tables: "
                            "policies.csv, clients.xlsx (a sheet per table), leads.parquet.",
                        },
                        "mode": {"type": "string", "enum": ["upsert", "replace"]},
                        "as_of": {"type": "string", "format": "date"},
                        "dry_run": {"type": "boolean", "default": False},
                    },
                }
            }
        },
    }
}
REPORT = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "dry_run": {"type": "boolean"},
        "message": {"type": "string"},
        "total_errors": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "tables": {"type": "object"},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "rounded": {
            "type": "object",
            "description": "Per table and column, the decimals stored rounded to 6 places",
            "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        "skipped": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Sheets that name no table of the contract (not imported)",
        },
        "import_id": {"type": ["integer", "null"]},
        "as_of": {"type": ["string", "null"]},
        "tables_never_imported": {"type": "array", "items": {"type": "string"}},
        "untracked_kpis": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@router.post(
    "/imports",
    max_body_size=UPLOAD_BODY_BYTES,
    openapi_extra=UPLOAD_BODY,
    responses={
        200: {"description": "Checked (dry run) or imported", "content": {"application/json": {"schema": REPORT}}},
        413: {"description": "A file is over the upload limit"},
        422: {"description": "Rejected: every problem in `errors`; nothing was written"},
    },
)  # fmt: skip
async def post_import(request: Request, site: SiteDep, scope: ApiScope) -> JSONResponse:
    """Validate the uploaded files and import them all or nothing (dry_run: only count the
    changes). Admin only; on DuckDB the import waits for the server's one writer."""
    if not scope.can_import:
        raise HTTPException(403, "Only an admin may import data.")
    upload = await receive_upload(request, site.upload_limit)
    try:
        options = import_options(upload.fields)
        dry_run = flag(upload.fields, "dry_run")
        actor = scope.actor
        if dry_run:
            report = await run_in_threadpool(
                run_upload, site, upload.files, options, dry_run=True, actor=actor
            )
        else:
            report = await run_in_threadpool(
                run_upload, site, upload.files, options, dry_run=False, actor=actor
            )
    finally:
        upload.discard()
    body = report.public(API_PROBLEMS)
    if report.ok:
        return JSONResponse(body)
    problem = {"type": "about:blank", "title": "Unprocessable", "status": 422}
    return JSONResponse(
        {**problem, "detail": report.message, **body},
        status_code=422,
        media_type="application/problem+json",
    )
