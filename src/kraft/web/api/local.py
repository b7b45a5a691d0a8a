"""POST /api/v1/local/snapshot: for the reading commands run beside the server on DuckDB (`kraft
status`, `scores`, `export`, … while `kraft serve` holds the file). They send the local token the
server wrote beside its lock (readable by the workspace's owner only) and get the path of a
consistent copy of the database to read (kraft.core.snapshots). Nobody else may ask: a signed-in
user is refused, whatever their role, since the answer is a file on the server's machine."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from kraft.web.deps import SiteDep, api_user
from kraft.web.security import same_token

router = APIRouter(include_in_schema=False)


class Snapshot(BaseModel):
    path: str


@router.post("/local/snapshot", response_model=Snapshot)
def snapshot(request: Request, site: SiteDep) -> Snapshot:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if (
        site.local_token is None
        or site.snapshots is None
        or not same_token(token, site.local_token)
    ):
        api_user(request, site)  # 401 for a stranger
        raise HTTPException(
            403, "Only kraft's own commands on the server's machine ask for a snapshot."
        )
    return Snapshot(path=str(site.snapshots.current(site)))
