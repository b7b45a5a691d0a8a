"""API: the workspace's saved mapping (docs/mapping.md), which every import applies.

GET /api/v1/mapping answers the mapping named in kraft.toml and its text (null: the contract's
own layout). PUT /api/v1/mapping takes a mapping as a YAML body and saves it as the web page does
(kraft.core.mappings.save_uploaded_mapping): checked, a database query refused, kept as
mapping.yaml next to kraft.toml, audited with its sha256. Admin only; 422 with one sentence on
any refusal, and nothing saved.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kraft.core.access import Scope
from kraft.core.mappings import save_uploaded_mapping, saved_mapping_text
from kraft.web.deps import ApiScope, SiteDep

router = APIRouter(tags=["imports"])

MAX_BYTES = 1024 * 1024  # as a mapping file (kraft.ingest.mapping)


class SavedMapping(BaseModel):
    mapping: str | None  # kraft.toml's `mapping` setting
    text: str | None
    sha256: str | None


def _admin(scope: Scope) -> None:
    if not scope.can_import:
        raise HTTPException(403, "Only an admin may read or change the import mapping.")


def _answer(reference: str | None, text: str | None) -> SavedMapping:
    digest = hashlib.sha256(text.encode()).hexdigest() if text is not None else None
    return SavedMapping(mapping=reference, text=text, sha256=digest)


@router.get("/mapping", response_model=SavedMapping)
def get_mapping(site: SiteDep, scope: ApiScope) -> SavedMapping:
    """The saved mapping every import applies (all null: the contract's layout)."""
    _admin(scope)
    return _answer(*saved_mapping_text(site))


@router.put(
    "/mapping",
    response_model=SavedMapping,
    openapi_extra={"requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}}},
)  # fmt: skip
async def put_mapping(request: Request, site: SiteDep, scope: ApiScope) -> SavedMapping:
    """Save a mapping (YAML body) for every later import; a TODO or a query is refused."""
    _admin(scope)
    body = await request.body()
    if len(body) > MAX_BYTES:
        raise HTTPException(413, "A mapping is at most 1 MB; send the mapping file itself.")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(422, "Send the mapping as UTF-8 YAML text.") from None
    await run_in_threadpool(save_uploaded_mapping, site, text, actor=scope.actor)
    return _answer(*saved_mapping_text(site))
