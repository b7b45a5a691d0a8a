"""A workspace is a folder holding kraft.toml: its settings, and by default its DuckDB file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kraft.errors import KraftError

CONFIG_NAME = "kraft.toml"
ENV_VAR = "KRAFT_WORKSPACE"


class NoWorkspaceError(KraftError):
    """No workspace was named and none was found upwards from the current folder."""


class Settings(BaseModel):
    """The settings of kraft.toml. Unknown keys are refused so that a typo is not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = Field(
        default="duckdb:///kraft.duckdb",
        description="SQLAlchemy URL; a relative DuckDB path is taken from the workspace folder",
    )
    framework: str = Field(
        default="insurance_rm", description="a built-in framework name or a YAML file's path"
    )
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "INR"
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)
    renewal_grace_days: int = Field(default=30, ge=0, le=366)
    free_look_days: int = Field(default=30, ge=0, le=366)


@dataclass(frozen=True)
class Workspace:
    root: Path
    settings: Settings

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME


def render_config(settings: Settings) -> str:
    def value(v: object) -> str:
        return f'"{v}"' if isinstance(v, str) else str(v)

    lines = [
        "# kraft workspace settings. Period labels follow fiscal_year_start_month: 1 gives",
        "# 2026-Q1 and 2026; any other month gives FY2026-Q1 and FY2026 (named by the year it ends).",
    ]
    for name, field in Settings.model_fields.items():
        if field.description:
            lines.append(f"# {name}: {field.description}")
        lines.append(f"{name} = {value(getattr(settings, name))}")
    return "\n".join(lines) + "\n"


def init_workspace(directory: Path, settings: Settings) -> tuple[Workspace, bool]:
    """Create the workspace; returns it and whether it was created (False: it already existed)."""
    config = directory / CONFIG_NAME
    if config.exists():
        return load_workspace(directory), False
    if directory.exists() and not directory.is_dir():
        raise KraftError(f"{directory} is a file, not a folder; choose another path.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        config.write_text(render_config(settings), encoding="utf-8")
    except OSError as exc:
        raise KraftError(f"Cannot create the workspace in {directory}: {exc.strerror}.") from None
    return Workspace(directory.resolve(), settings), True


def load_workspace(directory: Path) -> Workspace:
    config = directory / CONFIG_NAME
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KraftError(
            f"{directory} is not a kraft workspace (it has no {CONFIG_NAME}); "
            f"run `kraft init {directory}` to create one."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise KraftError(f"{config}: {exc}; fix the TOML syntax there.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KraftError(f"{config} cannot be read ({exc}).") from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        hint = "remove it" if err["type"] == "extra_forbidden" else "correct the value"
        raise KraftError(f"{config}, setting {key}: {err['msg']}; {hint}.") from None
    return Workspace(directory.resolve(), settings)


def find_workspace(explicit: Path | None = None, start: Path | None = None) -> Workspace:
    """--workspace, else $KRAFT_WORKSPACE, else the nearest folder upwards holding kraft.toml."""
    if explicit is not None:
        return load_workspace(explicit)
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return load_workspace(Path(from_env))
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return load_workspace(folder)
    raise NoWorkspaceError(
        f"No kraft workspace found: no {CONFIG_NAME} in {here} or any folder above it; "
        f"run `kraft init` to create one, or pass --workspace DIR (or set {ENV_VAR})."
    )
