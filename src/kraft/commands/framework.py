"""`kraft framework show|validate|render|new|save`: the framework as a tree, checked, as a document,
started for another role, and saved as the workspace's new version."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text
from rich.tree import Tree

from kraft.commands.common import (
    actor,
    calendar_of,
    framework_of,
    kraft_of,
    open_database,
    out,
    warn,
    workspace_of,
    write_or_print,
)
from kraft.commands.tables import table_of
from kraft.core.frameworks import save_framework_version
from kraft.core.tracking import set_kpi_tracked
from kraft.errors import KraftError
from kraft.framework.loader import DEFAULT_FRAMEWORK
from kraft.framework.model import Framework
from kraft.framework.smart import Severity, errors, validate
from kraft.framework.starter import starter_framework
from kraft.metrics.spec import load_catalogue
from kraft.reports.framework_document import DocumentFormat, render_framework_document
from kraft.reports.values import format_value
from kraft.workspace import NoWorkspaceError

FrameworkOption = Annotated[
    str | None,
    typer.Option(
        "--framework",
        "-f",
        help="A built-in framework name or a YAML file (default: the workspace's, else "
        f"{DEFAULT_FRAMEWORK}).",
    ),
]


def register(app: typer.Typer) -> None:
    framework = typer.Typer(
        help="Show, validate, render and start frameworks.", no_args_is_help=True
    )
    framework.command("show")(framework_show)
    framework.command("validate")(framework_validate)
    framework.command("render")(framework_render)
    framework.command("new")(framework_new)
    framework.command("save")(framework_save)
    framework.command("track")(framework_track)
    app.add_typer(framework, name="framework")


def framework_show(ctx: typer.Context, framework: FrameworkOption = None) -> None:
    """Print the framework as a tree: KRAs with weights, KPIs with unit, grain and target."""
    fw = framework_of(ctx, framework)
    tree = Tree(
        Text.assemble(
            (fw.document_title, "bold"), "  ", (f"{fw.id} v{fw.version}, {fw.currency}", "dim")
        )
    )
    for kra in fw.kras:
        scope = " · team leaders only" if kra.applies_to.value == "team_leaders" else ""
        branch = tree.add(
            Text.assemble(
                (f"{kra.number}. {kra.title}", "bold"), "  ", (f"{kra.weight} %", "cyan"), scope
            )
        )
        for kpi in kra.kpis:
            arrow = {"higher_is_better": "↑", "lower_is_better": "↓"}.get(
                kpi.direction.value if kpi.direction else "", "?"
            )
            target = format_value(kpi.target, kpi.unit, fw.currency)
            threshold = format_value(kpi.threshold, kpi.unit, fw.currency)
            grain = kpi.grain.value if kpi.grain else "no grain"
            detail = (
                f"{kpi.id} · {kpi.kind.value} · {arrow} · {grain} · "
                f"target {target} (threshold {threshold})"
            )
            branch.add(Text.assemble(kpi.name, "\n", (detail, "dim")))
    if fw.example:
        example = tree.add(Text(f"Example: {fw.example.title}", style="bold"))
        for i, ex_kpi in enumerate(fw.example.kpis, 1):
            example.add(Text.assemble(f"KPI {i}: {ex_kpi.name}  ", (ex_kpi.id, "dim")))
    out.print(tree)


def framework_validate(
    ctx: typer.Context,
    file: Annotated[
        str | None,
        typer.Argument(help="Framework YAML or built-in name (default: the workspace's)."),
    ] = None,
) -> None:
    """Check every KPI against the SMART rules and the framework's structure; exit 1 on errors."""
    fw = framework_of(ctx, file)
    findings = validate(
        fw, known_metrics=load_catalogue().kpi_ids(), recent_actuals=_recent_actuals(ctx, fw)
    )
    if findings and not out.is_terminal:
        for f in findings:
            fields = (f.severity.value, f.rule.value, f.where, f.problem, f.fix)
            sys.stdout.write("\t".join(fields) + "\n")
    elif findings:
        table = table_of(
            ("Severity", "Rule", "KPI / KRA", "Problem", "How to fix"),
            f"{fw.id}: SMART and structure findings",
        )
        for finding in findings:
            colour = "red" if finding.severity is Severity.error else "yellow"
            table.add_row(
                Text(finding.severity.value, style=colour),
                finding.rule.value,
                finding.where,
                finding.problem,
                finding.fix,
            )
        out.print(table)
    n_errors = len(errors(findings))
    n_warnings = len(findings) - n_errors
    kpi_count = len(fw.kpis())
    if n_errors:
        out.print(
            Text(
                f"{fw.id}: {n_errors} error(s), {n_warnings} warning(s) in {kpi_count} KPIs.", "red"
            )
        )
        raise typer.Exit(1)
    passed = f"{fw.id}: {kpi_count} KPIs in {len(fw.kras)} KRAs pass every SMART and structure rule"
    out.print(Text(passed + (f" ({n_warnings} warning(s))." if n_warnings else "."), "green"))


def _recent_actuals(ctx: typer.Context, fw: Framework) -> dict[str, list[Decimal]] | None:
    """Inside a workspace with computed values: last full year's actuals of comparable RMs, for
    the data-driven half of "achievable"; None elsewhere."""
    from kraft.scoring.stored import as_of_date
    from kraft.scoring.target_table import comparable_actuals

    try:
        workspace = workspace_of(ctx)
    except NoWorkspaceError:
        return None
    try:
        db = open_database(workspace, read_only=True)
    except KraftError:  # a database that is behind: checked without data
        return None
    with db.connect() as conn:
        as_of = as_of_date(conn)
        if as_of is None:
            return None
        return comparable_actuals(conn, fw, calendar_of(workspace), as_of)


def framework_render(
    ctx: typer.Context,
    framework: FrameworkOption = None,
    fmt: Annotated[
        DocumentFormat, typer.Option("--format", help="md or html (one self-contained page).")
    ] = DocumentFormat.md,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    detailed: Annotated[
        bool, typer.Option("--detailed", help="Append a SMART table per KRA.")
    ] = False,
) -> None:
    """Write the framework document in the seed's structured format."""
    fw = framework_of(ctx, framework)
    text = render_framework_document(fw, fmt, detailed=detailed)
    write_or_print(text, output, f"the {fw.id} framework document ({fmt.value})")


def framework_new(
    role: Annotated[str, typer.Option(help="The role, e.g. 'Claims Manager'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="YAML file to write.")],
    kras: Annotated[int, typer.Option(help="Number of KRAs.")] = 3,
    kpis: Annotated[int, typer.Option(help="KPIs per KRA.")] = 4,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter framework whose placeholders fail validation until a person fills them."""
    if output.exists() and not force:
        raise KraftError(f"{output} already exists; choose another path or pass --force.")
    write_or_print(starter_framework(role, kras, kpis), output, f"a starter framework for {role}")
    out.print(f"Fill in every TODO, then run: kraft framework validate {output}")


def framework_save(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The edited framework's YAML file.")],
) -> None:
    """Save the YAML as the workspace's new framework version (as the web's framework editor
    does: checked, in a new file beside the current one, kraft.toml pointed at it, audited)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KraftError(f"{file} cannot be read ({exc}); give a framework YAML file.") from None
    check = save_framework_version(kraft_of(ctx), text, actor=actor())
    for warning in check.warnings:
        warn(f"{warning.where}: {warning.problem} {warning.fix}")
    out.print(check.message)


def framework_track(
    ctx: typer.Context,
    kpi: Annotated[str, typer.Argument(help="The KPI's id, e.g. customer_satisfaction_score.")],
    on: Annotated[
        bool, typer.Option("--on/--off", help="--off: this workspace does not track the KPI.")
    ] = True,
) -> None:
    """Turn a KPI off for this workspace (shown as not tracked, never scored) or on again: kept
    in kraft.toml's untracked_kpis, audited, the framework's YAML untouched; then re-scores."""
    out.print(set_kpi_tracked(kraft_of(ctx), kpi, on, actor=actor()))
