"""Mapping files (docs/mapping.md): propose one from an export, check one, and save one in the
workspace so that every later `kraft import` of the same export applies it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from kraft.core.context import Kraft
from kraft.core.imports import workspace_mapping
from kraft.core.settings_change import SettingChange, change_setting, workspace_reference
from kraft.errors import InvalidInputError
from kraft.workspace import replace_file

if TYPE_CHECKING:  # the readers load pyarrow: only when a command needs them
    from kraft.ingest.mapping import Mapping
    from kraft.ingest.mapping_suggest import Suggestion


def suggest_mapping(paths: list[Path]) -> Suggestion:
    """A mapping proposed from the headers and a sample of every source; TODOs for a person."""
    from kraft.ingest.mapping_suggest import suggest_mapping as suggest

    return suggest(paths)


def check_mapping(path: Path) -> Mapping:
    """The mapping file read and checked (kraft.ingest.mapping.MappingError names the key)."""
    from kraft.ingest.mapping import load_mapping

    return load_mapping(path)


def save_workspace_mapping(kraft: Kraft, path: Path, *, actor: str) -> str:
    """Check the mapping, then name it in kraft.toml (audited). Returns the reference saved:
    a path from the workspace folder when the file is inside it."""
    check_mapping(path)
    reference = workspace_reference(kraft, path)
    change = SettingChange(
        name="mapping",
        value=reference,
        action="mapping.save",
        object_type="workspace",
        object_id="mapping",
        old={"mapping": kraft.settings.mapping},
        new={"mapping": reference, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
    )
    change_setting(kraft, change, actor=actor)
    return reference


WEB_MAPPING = "mapping.yaml"  # the file next to kraft.toml that a mapping saved on the web is


def saved_mapping_text(kraft: Kraft) -> tuple[str | None, str | None]:
    """The workspace's saved mapping: its reference in kraft.toml and its text (None, None
    when the workspace imports the contract's layout)."""
    path = workspace_mapping(kraft, None)
    if path is None:
        return None, None
    return kraft.settings.mapping, path.read_text(encoding="utf-8-sig")


def save_uploaded_mapping(kraft: Kraft, text: str, *, actor: str) -> str:
    """Check a mapping written on the web, refuse its database queries (a web admin never runs
    SQL with the server's credentials), then keep it as mapping.yaml next to kraft.toml and
    name it there (audited with its sha256), so that every later import applies it."""
    from kraft.ingest.mapping import parse_mapping

    text = text.replace("\r\n", "\n")  # a browser's textarea sends CRLF
    mapping = parse_mapping(text, "The mapping")
    queries = [name for name, entry in mapping.tables.items() if entry.query is not None]
    if queries:
        raise InvalidInputError(
            f"The mapping: tables.{queries[0]}.query is a database query, which runs only from "
            "the command line or a mapping named in kraft.toml by `kraft mapping use`; map "
            "the uploaded files instead."
        )
    path = kraft.workspace.root / WEB_MAPPING
    old = path.read_bytes() if path.is_file() else None
    replace_file(path, text)
    try:
        return save_workspace_mapping(kraft, path, actor=actor)
    except BaseException:
        if old is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(old)
        raise
