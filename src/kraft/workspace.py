"""A workspace is a folder holding kraft.toml: its settings, and by default its DuckDB file."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kraft.errors import KraftError

CONFIG_NAME = "kraft.toml"
ENV_VAR = "KRAFT_WORKSPACE"
SMTP_PASSWORD_VAR = "KRAFT_SMTP_PASSWORD"
MAIL_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
PERIOD_LABEL = re.compile(r"^(FY)?\d{4}(-(0[1-9]|1[0-2]|Q[1-4]))?$")
DEFAULT_SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class NoWorkspaceError(KraftError):
    """No workspace was named and none was found upwards from the current folder."""


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: mail that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SmtpSettings(BaseModel):
    """kraft.toml's [smtp] table: the mail server `kraft alerts --email` sends through."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1, description="the SMTP server's name or address")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="default 587 (starttls), 465 (ssl), 25 (none)"
    )
    tls: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls, ssl, or none (only for a server on loopback)"
    )
    sender: str = Field(description="the From address, e.g. kraft@insurer.in")
    username: str | None = Field(default=None, description="to sign in to the server")
    password: str | None = Field(
        default=None, description=f"better given in the environment variable {SMTP_PASSWORD_VAR}"
    )
    timeout_seconds: int = Field(default=30, ge=1, le=600)

    @field_validator("sender")
    @classmethod
    def _address(cls, value: str) -> str:
        if not MAIL_ADDRESS.match(value.strip()):
            raise ValueError(f"{value!r} is not an email address; write one like kraft@insurer.in")
        return value.strip()

    @model_validator(mode="after")
    def _clear_text_only_on_loopback(self) -> SmtpSettings:
        if self.tls == "none" and self.username and not is_loopback(self.host):
            raise ValueError(
                f'tls = "none" would send the password to {self.host} unencrypted; use '
                '"starttls" or "ssl" (tls = "none" is for a relay on this machine)'
            )
        return self

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_SMTP_PORTS[self.tls]

    def login_password(self) -> str | None:
        """The password to sign in with: $KRAFT_SMTP_PASSWORD, else the one in kraft.toml."""
        return os.environ.get(SMTP_PASSWORD_VAR) or self.password


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
    untracked_kpis: tuple[str, ...] = Field(
        default=(),
        description="KPIs this workspace does not track (shown as not tracked, not scored); "
        "change with `kraft framework track KPI --off|--on`",
    )
    first_scored_period: str | None = Field(
        default=None,
        description="the first period scored, e.g. 2024-Q4 (default: the quarter a year after "
        "the earliest issue_date's, once every tracked table holds rows); earlier ones are "
        "computed, not scored",
    )
    loss_ratio_min_earned_premium: Decimal = Field(
        default=Decimal(1_000_000),
        ge=0,
        description="loss_ratio_improvement is scored only when both periods' earned premium "
        "reaches this (else: insufficient volume)",
    )
    mapping: str | None = Field(
        default=None,
        description="the mapping file (docs/mapping.md) `kraft import` applies when given no "
        "--mapping; a path from the workspace folder",
    )
    smtp: SmtpSettings | None = Field(
        default=None, description="the mail server for `kraft alerts --email` (a [smtp] table)"
    )

    @field_validator("first_scored_period")
    @classmethod
    def _period_label(cls, value: str | None) -> str | None:
        if value is not None and not PERIOD_LABEL.match(value.strip()):
            raise ValueError(
                f"{value!r} is not a period label; write a month, quarter or year such as "
                "2024-10, 2024-Q4 or FY2025-Q3"
            )
        return value.strip() if value is not None else None


@dataclass(frozen=True)
class Workspace:
    root: Path
    settings: Settings

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME


def render_config(settings: Settings) -> str:
    def value(v: object) -> str:
        if isinstance(v, tuple | list):
            return json.dumps(list(v))
        return json.dumps(v) if isinstance(v, str) else str(v)

    lines = [
        "# kraft workspace settings. Period labels follow fiscal_year_start_month: 1 gives",
        "# 2026-Q1 and 2026; any other month gives FY2026-Q1 and FY2026 (named by the year it ends).",
    ]
    for name, field in Settings.model_fields.items():
        if name == "smtp":
            continue  # a table: after every plain key
        if field.description:
            lines.append(f"# {name}: {field.description}")
        setting = getattr(settings, name)
        if setting is None:  # TOML has no null: an unset optional setting is a comment
            lines.append(f"# {name} = ")
            continue
        lines.append(f"{name} = {value(setting)}")
    lines.append(
        "# [smtp]: the mail server for `kraft alerts --email`: host, port, tls (starttls, ssl or"
    )
    lines.append("# none), sender, username; the password in $" + SMTP_PASSWORD_VAR)
    if settings.smtp is not None:
        lines.append("[smtp]")
        for name, setting in settings.smtp.model_dump(exclude_none=True).items():
            lines.append(f"{name} = {json.dumps(setting)}")
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
        message = str(err["msg"])
        if err["type"] == "value_error":  # kraft's own sentence, with its fix
            message = message.removeprefix("Value error, ")
            raise KraftError(f"{config}, setting {key}: {message}.") from None
        hint = "remove it" if err["type"] == "extra_forbidden" else "correct the value"
        raise KraftError(f"{config}, setting {key}: {message}; {hint}.") from None
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


def replace_file(path: Path, text: str) -> None:
    """Write the file whole or not at all (a crash leaves the old one)."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def config_with_setting(text: str, name: str, setting: object) -> str:
    """kraft.toml's text with the top-level `name` set to `setting` (the rest kept as is)."""
    rendered = json.dumps(list(setting) if isinstance(setting, tuple | list) else setting)
    line = f"{name} = {rendered}"
    pattern = rf"^#?\s*{re.escape(name)}\s*=.*$"
    if re.search(pattern, text, flags=re.MULTILINE):
        updated = re.sub(pattern, lambda _: line, text, count=1, flags=re.MULTILINE)
    else:
        head, table, rest = text.partition("\n[")  # plain keys go before the first table
        updated = head.rstrip("\n") + f"\n{line}\n" + (table + rest if table else "")
    parsed = tomllib.loads(updated).get(name)
    expected = list(setting) if isinstance(setting, tuple) else setting
    if parsed != expected:
        raise KraftError(f"kraft.toml could not be updated; set its {name} line by hand.")
    return updated


def with_setting(workspace: Workspace, name: str, setting: object) -> Workspace:
    """The workspace with one setting of kraft.toml changed (the file rewritten whole, the rest
    of it kept as is), read back."""
    text = workspace.config_path.read_text(encoding="utf-8")
    replace_file(workspace.config_path, config_with_setting(text, name, setting))
    return load_workspace(workspace.root)
