"""`kraft initiative impact`: the worked example's KPIs and the initiative's measured effect."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from kraft.commands.common import (
    compute_parameters,
    open_database,
    out,
    workspace_framework,
    workspace_of,
    write_or_print,
)
from kraft.commands.tables import Column, table_of

if TYPE_CHECKING:  # the analysis loads numpy: only when the command runs
    from kraft.analysis.initiative import GroupImpact, InitiativeImpact


class ImpactFormat(StrEnum):
    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Initiatives: their measured impact (the worked example).", no_args_is_help=True
    )
    group.command("impact")(impact)
    app.add_typer(group, name="initiative")


def impact(
    ctx: typer.Context,
    initiative_id: Annotated[str, typer.Argument(help="The initiative's initiative_id.")],
    window: Annotated[
        str, typer.Option(help="Months before and after the start, e.g. 3m, 6m, 12m.")
    ] = "6m",
    output_format: Annotated[
        ImpactFormat, typer.Option("--format", help="text (tables) or json (every number).")
    ] = ImpactFormat.text,
    resamples: Annotated[
        int, typer.Option(min=100, max=100_000, help="Bootstrap resamples of the RMs.")
    ] = 2000,
    seed: Annotated[
        int, typer.Option(help="Bootstrap seed: the same seed, the same interval.")
    ] = 0,
) -> None:
    """Participants against non-participants, before and after the start: the example's KPIs
    and the difference in differences of client retention with a bootstrap 95 % interval."""
    from kraft.analysis.initiative import ImpactOptions, initiative_impact, parse_window
    from kraft.metrics.spec import load_catalogue

    months = parse_window(window)
    workspace = workspace_of(ctx)
    db = open_database(workspace, read_only=True)
    framework = workspace_framework(workspace)
    result = initiative_impact(
        db,
        load_catalogue(),
        compute_parameters(workspace),
        initiative_id,
        ImpactOptions(months, resamples, seed),
        example=framework.example,
    )
    if output_format is ImpactFormat.json:
        write_or_print(json.dumps(result.to_json(), indent=2) + "\n", None, "the impact")
        return
    _print_text(result)


def _print_text(result: InitiativeImpact) -> None:
    from kraft.analysis.initiative import kpi_value, points

    out.print(Text(f"{result.name} ({result.initiative_id}): impact", style="bold"))
    cut = " (cut to the data's as-of date)" if result.truncated else ""
    out.print(
        f"Start {result.start_date}; before {result.before.first} to {result.before.last}, "
        f"after {result.after.first} to {result.after.last}: {result.after.days} days each"
        f"{cut}; data as of {result.as_of}."
    )
    part, non = result.participants, result.non_participants
    out.print(
        f"Participants: {len(part.rm_ids)} RMs of the initiative. Non-participants: "
        f"{len(non.rm_ids)} other RMs of role rm employed over both windows."
    )
    table = table_of(
        ["KPI", "Group", *(Column(c, numeric=True) for c in ("Before", "After", "Change"))]
    )

    def cells(group: GroupImpact, kpi_id: str) -> list[str]:
        if kpi_id == "personalised_packages_sold":
            sold = group.before.personalised_packages, group.after.personalised_packages
            return [str(sold[0]), str(sold[1]), f"{sold[1] - sold[0]:+d}"]
        before, after = kpi_value(kpi_id, group.before), kpi_value(kpi_id, group.after)
        change = None if before is None or after is None else after - before
        return [points(before), points(after), f"{points(change, True)} pp"]

    groups = ((part, "Participants"), (non, "Non-participants"))
    for kpi_id, name in result.kpi_names.items():
        unit = "" if kpi_id == "personalised_packages_sold" else " (%)"
        label = "Client retention rate (%)" if kpi_id == "retention_uplift" else name + unit
        for group, title in groups:
            table.add_row(label if group is part else "", title, *cells(group, kpi_id))
        if kpi_id == "retention_uplift":
            for group, title in groups:
                uplift = f"{points(group.retention_uplift, True)} %"
                table.add_row(f"{name} (%)" if group is part else "", title, "", "", uplift)
        table.add_section()
    out.print(table)
    did, interval = result.difference_in_differences, result.interval
    if did is None:
        out.print("Difference in differences of the client retention rate: undefined.")
    else:
        band = (
            "no interval"
            if interval is None
            else f"95 % interval {points(interval.low)} to {points(interval.high)}; "
            f"{interval.resamples} bootstrap resamples of RMs, seed {interval.seed}"
        )
        out.print(
            f"Difference in differences of the client retention rate: {points(did, True)} "
            f"points ({band})."
        )
    if result.provisional:
        out.print(Text("Provisional: some renewals are still inside their grace.", style="yellow"))
    out.print()
    out.print(result.conclusion)
