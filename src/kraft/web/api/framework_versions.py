"""POST /api/v1/frameworks: save an edited framework as the workspace's new version, as the
framework editor page does (kraft.core.frameworks): admins only; checked, audited, all or none.

The body names the version it was edited from (`base`, from GET /api/v1/frameworks/current);
an edit made on an older version is refused (412) so that two admins cannot overwrite each other.
A framework that does not load or breaks a rule answers 422 with every problem under `problems`.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from kraft.core.frameworks import current_framework, save_framework_version
from kraft.web.deps import ApiScope, SiteDep

router = APIRouter(tags=["frameworks"])
YAML_LIMIT = 1_000_000  # characters a framework's YAML may have


class FrameworkEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    yaml: str = Field(max_length=YAML_LIMIT, description="the whole framework as YAML")
    base: str | None = Field(
        default=None,
        description="the `base` of the version it was edited from (GET /frameworks/current); "
        "leave out to save over whatever is current",
    )


class CurrentVersion(BaseModel):
    reference: str = Field(description="kraft.toml's framework: a built-in name or a file")
    id: str
    version: str
    base: str = Field(description="what an edit of this version names as its base")
    yaml: str


class SavedVersion(BaseModel):
    saved: bool = Field(description="false when the text equals the current version")
    id: str
    version: str
    file: str
    message: str
    warnings: list[str]


def _only_admin(scope: ApiScope) -> None:
    if not scope.can_edit_framework:
        raise HTTPException(403, "Only an admin may edit the framework.")


@router.get("/frameworks/current", response_model=CurrentVersion)
def get_current(site: SiteDep, scope: ApiScope) -> CurrentVersion:
    """The workspace's framework as it is now, with the base an edit of it names."""
    _only_admin(scope)
    current = current_framework(site)
    return CurrentVersion(
        reference=current.reference,
        id=current.framework.id,
        version=current.framework.version,
        base=current.base,
        yaml=current.text,
    )


@router.post("/frameworks", response_model=SavedVersion, status_code=201)
def save_version(
    body: FrameworkEdit, site: SiteDep, scope: ApiScope, response: Response
) -> SavedVersion:
    """Save the YAML as the workspace's new framework version (then compute to score with it)."""
    _only_admin(scope)
    check = save_framework_version(site, body.yaml, actor=scope.actor, base=body.base)
    framework = check.saved or check.framework
    assert framework is not None  # a check that saved or found nothing to change has one
    if check.saved is None:
        response.status_code = 200
    return SavedVersion(
        saved=check.saved is not None,
        id=framework.id,
        version=framework.version,
        file=check.saved_file or site.settings.framework,
        message=check.message,
        warnings=[f"{f.where}: {f.problem} {f.fix}" for f in check.warnings],
    )
