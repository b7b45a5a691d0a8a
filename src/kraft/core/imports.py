"""Importing operational data: read the files, then validate the batch as a whole and write it
all or nothing (kraft.ingest), as the one writer. The one path for `kraft import`, the import
page and POST /api/v1/imports.

Two steps, so that an adapter can say what it is doing between them (reading takes a while on a
big export) and show what the reading found (columns outside the contract) even when the
validation then refuses the batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from kraft.core.context import Kraft
from kraft.errors import InvalidInputError
from kraft.framework.model import KpiKind

if TYPE_CHECKING:  # the readers load pyarrow: only when a command imports
    from kraft.ingest.importer import ImportResult, Mode
    from kraft.ingest.problem_groups import ProblemGroup
    from kraft.ingest.sources import RawTable
    from kraft.ingest.validate import Problem


@dataclass(frozen=True)
class ImportFiles:
    """The tables read from the files, what the reading left out, and the mapping applied."""

    tables: list[RawTable]
    notes: list[str] = field(default_factory=list)
    mapping: Path | None = None
    mapping_sha256: str = ""
    skipped: list[str] = field(default_factory=list)  # files and sheets naming no table

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def ignored(self) -> list[str]:
        """A sentence per file with columns the contract does not know (they are not read)."""
        return [
            f"{t.source}: ignored column(s) not in the contract: {', '.join(t.unknown_columns)}"
            for t in self.tables
            if t.unknown_columns
        ]


def read_import_files(
    paths: Iterable[Path],
    *,
    max_bytes: int | None = None,
    mapping: Path | None = None,
    queries: bool = False,
) -> ImportFiles:
    """Read files (.csv, .parquet, .xlsx sheets) or folders of them as tables of the contract;
    with a mapping file (docs/mapping.md), the files it names through it, and its database
    queries when `queries` allows them (the command line: never a mapping from the web)."""
    from kraft.ingest.sources import read_batch

    paths = list(paths)
    if not paths and mapping is None:
        raise InvalidInputError("Name the files or folders to import.")
    if mapping is None:
        batch = read_batch(paths, max_bytes=max_bytes)
        return ImportFiles(batch.tables, skipped=batch.skipped)
    from kraft.ingest.mapped import read_mapped
    from kraft.ingest.mapping import load_mapping

    read = read_mapped(paths, load_mapping(mapping), max_bytes=max_bytes, queries=queries)
    digest = hashlib.sha256(mapping.read_bytes()).hexdigest()
    return ImportFiles(read.tables, read.notes, mapping, digest, read.skipped)


def workspace_mapping(kraft: Kraft, explicit: Path | None) -> Path | None:
    """The mapping an import applies: the one given, else the workspace's `mapping` setting
    (a path from the workspace folder), so that a scheduled import of the same export needs none."""
    if explicit is not None:
        return explicit
    saved = kraft.settings.mapping
    if saved is None:
        return None
    path = Path(saved) if Path(saved).is_absolute() else kraft.workspace.root / saved
    if not path.is_file():
        raise InvalidInputError(
            f"kraft.toml: mapping = {saved!r} names no file ({path}); correct the setting, or "
            "remove it to import the contract's layout."
        )
    return path


def read_upload(kraft: Kraft, paths: list[Path], *, max_bytes: int | None) -> ImportFiles:
    """Read uploaded files as `kraft import` reads them: through the workspace's saved mapping
    when there is one, never running its database queries (an upload reads only its files)."""
    return read_import_files(
        paths, max_bytes=max_bytes, mapping=workspace_mapping(kraft, None), queries=False
    )


def import_data(
    kraft: Kraft,
    files: ImportFiles,
    *,
    mode: Mode,
    as_of: date | None,
    dry_run: bool,
    actor: str,
) -> ImportResult:
    """Validate the batch and write it in one transaction (a dry run counts the changes and
    writes nothing); kraft.ingest.importer.ImportRejectedError lists every problem."""
    from kraft.ingest.importer import ImportOptions, run_import

    manual = [kpi.id for _, kpi in kraft.framework.kpis() if kpi.kind is KpiKind.manual]

    def validate_and_write() -> ImportResult:
        options = ImportOptions(
            mode=mode,
            as_of=as_of,
            dry_run=dry_run,
            actor=actor,
            calendar=kraft.calendar,
            manual_kpis=manual,
            skipped=files.skipped,
            mapping=(
                {"file": str(files.mapping), "sha256": files.mapping_sha256}
                if files.mapping
                else None
            ),
        )
        return run_import(kraft.db, files.tables, options)

    if dry_run:
        return validate_and_write()
    with kraft.writer():  # waits for a compute or another import
        return validate_and_write()


def problem_groups(
    problems: Sequence[Problem], tables: dict[str, str] | None = None
) -> list[ProblemGroup]:
    """A rejected batch's problems by file, column and kind, each with its count, first examples
    and fix (kraft.ingest.problem_groups: the one grouping of every adapter)."""
    from kraft.ingest.problem_groups import group_problems

    return group_problems(problems, tables)
