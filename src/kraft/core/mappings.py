"""Mapping files (docs/mapping.md): propose one from an export, check one, and save one in the
workspace so that every later `kraft import` of the same export applies it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kraft.core.context import Kraft
from kraft.store import audit
from kraft.workspace import config_with_setting, load_workspace, replace_file

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
    root = kraft.workspace.root
    resolved = path.resolve()
    reference = (
        resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)
    )
    config = kraft.workspace.config_path
    old_config = config.read_text(encoding="utf-8")
    new_config = config_with_setting(old_config, "mapping", reference)
    before = kraft.settings.mapping
    replaced = False
    try:
        with kraft.write() as conn:
            audit.append(
                conn,
                actor=actor,
                action="mapping.save",
                object_type="workspace",
                object_id="mapping",
                old={"mapping": before},
                new={"mapping": reference},
            )
            replace_file(config, new_config)
            replaced = True
    except BaseException:
        if replaced:
            replace_file(config, old_config)
        raise
    kraft.workspace = load_workspace(root)
    return reference
