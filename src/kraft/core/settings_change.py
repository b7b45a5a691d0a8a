"""A kraft.toml setting changed together with its audit entry: both land or neither does, and
this process sees the new settings at once. Framework versions, KPI tracking and mappings each
name something in kraft.toml this way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraft.core.context import Kraft
from kraft.store import audit
from kraft.workspace import config_with_setting, load_workspace, replace_file


@dataclass(frozen=True)
class SettingChange:
    """What kraft.toml gains and what the audit log says of it."""

    name: str
    value: object
    action: str
    object_type: str
    object_id: str
    old: dict[str, Any]
    new: dict[str, Any]


def change_setting(kraft: Kraft, change: SettingChange, *, actor: str) -> None:
    """Audit the change and rewrite kraft.toml in one writer transaction; the file is put back
    when the transaction does not commit."""
    config = kraft.workspace.config_path
    old_config = config.read_text(encoding="utf-8")
    new_config = config_with_setting(old_config, change.name, change.value)
    replaced = False
    try:
        with kraft.write() as conn:
            audit.append(
                conn,
                actor=actor,
                action=change.action,
                object_type=change.object_type,
                object_id=change.object_id,
                old=change.old,
                new=change.new,
            )
            replace_file(config, new_config)
            replaced = True
    except BaseException:
        if replaced:
            replace_file(config, old_config)
        raise
    kraft.workspace = load_workspace(kraft.workspace.root)


def workspace_reference(kraft: Kraft, path: Path) -> str:
    """How kraft.toml names a file: from the workspace folder when it is inside it."""
    root = kraft.workspace.root
    resolved = path.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)
