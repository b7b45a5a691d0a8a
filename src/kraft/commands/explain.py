"""`kraft explain`: one KPI value of one RM and period, with the rows behind it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from kraft.commands.common import calendar_of, open_database, out, workspace_of
from kraft.commands.tables import Column, WideOption, table_of
from kraft.framework.loader import resolve_framework
from kraft.metrics.runner import explain as explain_value
from kraft.metrics.spec import load_catalogue
from kraft.reports.explained import cell_text, value_facts


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)


def explain(
    ctx: typer.Context,
    rm: Annotated[str, typer.Option("--rm", help="The RM's rm_id.")],
    kpi: Annotated[str, typer.Option("--kpi", help="The KPI id, e.g. client_retention_rate.")],
    period: Annotated[str, typer.Option("--period", help="The period label, e.g. 2025-Q1.")],
    limit: Annotated[int, typer.Option(help="Rows shown per row set (0: all).")] = 50,
    show_sql: Annotated[
        bool, typer.Option("--sql", help="Also print the SQL that selects them.")
    ] = False,
    wide: WideOption = False,
) -> None:
    """A KPI value of one RM and period: its definition, numbers and the rows behind it."""
    workspace = workspace_of(ctx)
    db = open_database(workspace, read_only=True)
    framework = resolve_framework(workspace.settings.framework, workspace.root)
    settings = workspace.settings
    result = explain_value(
        db,
        framework,
        load_catalogue(),
        calendar_of(workspace),
        {
            "renewal_grace_days": settings.renewal_grace_days,
            "free_look_days": settings.free_look_days,
        },
        rm_id=rm,
        kpi_id=kpi,
        label=period,
    )
    definition = framework.kpi(kpi)
    out.print(Text(f"{definition.name} ({kpi}) — RM {rm}, {result.period}", style="bold"))
    if definition.definition:
        out.print(definition.definition)
    stored = result.stored
    if stored is None:
        out.print(
            "No value is stored for this RM and period: run `kraft compute` (the RM may "
            "not be employed then, or the KPI may not apply to them)."
        )
    else:
        facts = value_facts(
            stored, definition, framework.currency, result.compared_with, result.period
        )
        for fact in facts:
            out.print(f"{fact.label}: {fact.text}")
        rows = "" if result.compared_with else f"{stored['row_count']} row(s); "
        out.print(
            f"{rows}{'provisional' if stored['provisional'] else 'final'}; "
            f"definition {stored['definition_hash']}, run {stored['run_id']}."
        )
    for row_set in result.row_sets:
        shown = row_set.rows if limit == 0 else row_set.rows[:limit]
        # On a narrow terminal the columns go from the right; the first (the row's id) stays.
        table = table_of(
            [Column(c, spare=i) for i, c in enumerate(row_set.columns)],
            f"{row_set.title}: {len(row_set.rows)} row(s)",
            wide=wide,
        )
        for row in shown:
            table.add_row(*(cell_text(v, framework.currency) for v in row))
        out.print(table)
        if len(shown) < len(row_set.rows):
            out.print(f"… {len(row_set.rows) - len(shown)} more (use --limit 0 for all).")
        if show_sql:
            out.print(row_set.sql)
