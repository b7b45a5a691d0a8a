"""`kraft mapping`: propose a mapping for an export in another layout, check one, save one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kraft.commands.common import actor, err, kraft_of, out, warn
from kraft.core.imports import read_import_files
from kraft.core.mappings import check_mapping, save_workspace_mapping, suggest_mapping
from kraft.errors import KraftError


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Mapping files: import an export in another layout (docs/mapping.md).",
        no_args_is_help=True,
    )
    group.command("suggest")(mapping_suggest)
    group.command("check")(mapping_check)
    group.command("use")(mapping_use)
    app.add_typer(group, name="mapping")


def mapping_suggest(
    paths: Annotated[list[Path], typer.Argument(help="The export's files or folders.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the mapping to this file.")
    ] = None,
) -> None:
    """Propose a mapping from the headers and a sample of every file and sheet."""
    suggestion = suggest_mapping(paths)
    text = suggestion.yaml()
    if output is None:
        out.print(text.rstrip("\n"))
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise KraftError(f"Cannot write {output}: {exc.strerror}.") from None
        err.print(f"Wrote {output}.")
    err.print("Sure:")
    for line in suggestion.sure:
        err.print(f"  {line}")
    if suggestion.todo:
        err.print(f"Needs a look ({len(suggestion.todo)}):")
        for line in suggestion.todo:
            err.print(f"  {line}")
    else:
        err.print("Nothing needs a look; check it with `kraft mapping check`.")


def mapping_check(
    mapping: Annotated[Path, typer.Argument(help="The mapping file.")],
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders to read through it.")
    ] = None,
) -> None:
    """Check a mapping file; with files, read them through it (nothing is imported)."""
    checked = check_mapping(mapping)
    if not paths and not any(t.query for t in checked.tables.values()):
        out.print(f"{mapping} is a valid mapping.")
        return
    files = read_import_files(paths or [], mapping=mapping, queries=True)
    for note in (*files.notes, *files.ignored):
        warn(f"{note}.")
    for table in files.tables:
        out.print(f"{table.table} ← {table.source}: {table.rows:,} row(s)")
    out.print(f"{mapping} reads the files; `kraft import --mapping {mapping}` validates them.")


def mapping_use(
    ctx: typer.Context,
    mapping: Annotated[Path, typer.Argument(help="The mapping file every import applies.")],
) -> None:
    """Save the mapping in kraft.toml: every later `kraft import` applies it."""
    kraft = kraft_of(ctx)
    reference = save_workspace_mapping(kraft, mapping, actor=actor())
    out.print(f'kraft.toml: mapping = "{reference}"; `kraft import` applies it from now on.')
