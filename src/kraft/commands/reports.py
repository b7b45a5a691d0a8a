"""`kraft report ...`: the documents people act on (framework, scorecards, team, initiative).

This module builds the `report` group: `report framework` is here, the others are added by
kraft.commands.report_scorecard and kraft.commands.report_team.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kraft.commands import report_scorecard, report_team
from kraft.commands.common import framework_of, write_bytes, write_or_print
from kraft.errors import KraftError


def register(app: typer.Typer) -> None:
    report = typer.Typer(
        help="Write reports: the framework document, scorecards, team and initiative reports.",
        no_args_is_help=True,
    )
    report.command("framework")(report_framework)
    report_scorecard.register(report)
    report_team.register(report)
    app.add_typer(report, name="report")


FRAMEWORK_FORMATS = ("md", "html", "pdf")


def report_framework(
    ctx: typer.Context,
    framework: Annotated[
        str | None,
        typer.Option(
            "--framework",
            "-f",
            help="A built-in framework name or a YAML file (default: the workspace's).",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, html or pdf.")] = "md",
    detailed: Annotated[
        bool, typer.Option("--detailed", help="Append a SMART table per KRA.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: stdout; pdf needs a file)."),
    ] = None,
) -> None:
    """The framework document (the same as `kraft framework render`), also as pdf."""
    from kraft.reports.framework_document import DocumentFormat, render_framework_document

    if fmt not in FRAMEWORK_FORMATS:
        raise KraftError(f"--format {fmt!r} is not md, html or pdf; choose one of them.")
    if fmt == "pdf" and output is None:
        raise KraftError("--format pdf needs --output FILE (a pdf is not written to a terminal).")
    fw = framework_of(ctx, framework)
    what = f"the {fw.id} framework document ({fmt})"
    if fmt != "pdf":
        text = render_framework_document(fw, DocumentFormat(fmt), detailed=detailed)
        write_or_print(text, output, what)
        return
    from kraft.reports.pdf import html_to_pdf

    assert output is not None
    pdf = html_to_pdf(render_framework_document(fw, DocumentFormat.html, detailed=detailed))
    write_bytes(pdf, output, what)
