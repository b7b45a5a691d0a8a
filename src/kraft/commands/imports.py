"""`kraft import`: operational data, validated as a whole and written all or nothing."""

from __future__ import annotations

import csv
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kraft.commands.common import (
    actor,
    err,
    kraft_of,
    out,
    parse_date,
    print_tracking,
    warn,
)
from kraft.commands.tables import Column, table_of
from kraft.core.imports import import_data, read_import_files, workspace_mapping
from kraft.core.tracking import tracking_state
from kraft.errors import KraftError
from kraft.formatting import neutralise
from kraft.ingest.validate import Problem

if TYPE_CHECKING:  # the importer loads numpy and pyarrow: only when a command runs
    from kraft.ingest.importer import ImportResult


class ImportMode(Enum):
    """The importer's modes, named here so that `kraft --help` need not load the importer."""

    upsert = "upsert"
    replace = "replace"


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)


def import_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files (.csv, .parquet, .xlsx) or folders (none: a mapping's queries)."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The date the export was taken (default: latest event date)."),
    ] = None,
    mode: Annotated[
        ImportMode,
        typer.Option(
            help="upsert (default): add and update by key; replace: hold exactly the file."
        ),
    ] = ImportMode.upsert,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and count changes; write nothing.")
    ] = False,
    errors_out: Annotated[
        Path | None, typer.Option("--errors-out", help="Write every problem to this CSV file.")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="A mapping file for an export in another layout (docs/mapping.md); default: "
            "the workspace's `mapping` setting.",
        ),
    ] = None,
) -> None:
    """Import operational data: validated as a whole, written all or nothing."""
    from kraft.ingest.importer import ImportRejectedError, Mode

    kraft = kraft_of(ctx)
    as_of_date = parse_date(as_of, "--as-of")
    applied = workspace_mapping(kraft, mapping)
    with err.status("Reading files…"):
        files = read_import_files(paths or [], mapping=applied, queries=True)
    for note in (*files.notes, *files.ignored):
        warn(f"{note}.")
    try:
        with err.status(f"Validating {files.rows:,} rows…"):
            result = import_data(
                kraft,
                files,
                mode=Mode(mode.value),
                as_of=as_of_date,
                dry_run=dry_run,
                actor=actor(),
            )
    except ImportRejectedError as exc:
        if errors_out is not None:
            _write_problems(errors_out, exc.problems)
            exc.details.append(f"All {exc.total} problem(s) are in {errors_out}, a row each.")
        else:
            exc.details.append("--errors-out FILE lists every row.")
        if files.mapping is not None:
            exc.details.append(
                f"The files were read through the mapping {files.mapping}: a value it could not "
                "convert (a date its date_format cannot read) is shown as the export wrote it."
            )
        raise
    print_import(result)
    if files.mapping is not None:
        out.print(f"Mapping applied: {files.mapping}.")
    if not dry_run:
        state = tracking_state(kraft)
        print_tracking(list(state.missing_tables), state.untracked)


def _write_problems(path: Path, problems: list[Problem]) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "row", "column", "value", "problem"])
            for p in problems:
                writer.writerow(
                    [p.source, p.row or "", p.column or "", neutralise(p.value), p.message]
                )
    except OSError as exc:
        raise KraftError(f"Cannot write {path}: {exc.strerror}.") from None


def rounded_lines(rounded: dict[str, dict[str, int]]) -> list[str]:
    """A sentence per table whose decimals were stored rounded to 6 places (DATA.md)."""
    return [
        f"{table}: rounded to 6 decimal places (half to even): "
        + ", ".join(f"{count:,} {column}" for column, count in columns.items())
        + "."
        for table, columns in rounded.items()
    ]


def print_import(result: ImportResult) -> None:
    table = table_of(
        [
            "table",
            *(Column(c, numeric=True) for c in ("inserted", "updated", "unchanged", "removed")),
        ],
        "Dry run: nothing was written" if result.dry_run else "Imported",
    )
    for name, change in result.changes.items():
        counts = change.as_dict()
        table.add_row(
            name, *(f"{counts[k]:,}" for k in ("inserted", "updated", "unchanged", "removed"))
        )
    out.print(table)
    for line in rounded_lines(result.rounded):
        out.print(line)
    for skipped in result.skipped:
        out.print(f"{skipped}.")
    for warning in result.warnings:
        warn(f"{warning}.")
    if not result.dry_run:
        out.print(
            f"Import {result.import_id} committed; data as of {result.as_of or 'unknown'} "
            f"({result.as_of_source})."
        )
