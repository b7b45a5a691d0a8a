"""`kraft targets set|list|import|derive`: target versions per company, team, RM and period."""

from __future__ import annotations

import csv
import json
import sys
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from kraft.commands.common import (
    actor,
    calendar_of,
    err,
    kraft_of,
    open_database,
    out,
    parse_period,
    warn,
    workspace_framework,
    workspace_of,
)
from kraft.commands.tables import Column, WideOption, table_of
from kraft.core.targets import save_targets
from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.periods import Grain
from kraft.reports.values import format_value, shown_value
from kraft.scoring import target_table
from kraft.scoring.stored import as_of_date
from kraft.scoring.target_table import TargetInput


class ListFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class DeriveFormat(StrEnum):
    table = "table"
    csv = "csv"


class Baseline(StrEnum):
    """What a derived target improves on."""

    last_year = "last-year"


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Targets per company, team, RM and period, with their history.", no_args_is_help=True
    )
    group.command("set")(targets_set)
    group.command("import")(targets_import)
    group.command("list")(targets_list)
    group.command("derive")(targets_derive)
    app.add_typer(group, name="targets")


ScoreOption = Annotated[
    bool, typer.Option("--score/--no-score", help="Re-score every RM with the new targets.")
]


def _kpi(framework: Framework, kpi_id: str) -> None:
    try:
        framework.kpi(kpi_id)
    except KeyError:
        raise KraftError(
            f"--kpi {kpi_id!r} is not a KPI of framework {framework.id}; "
            "`kraft framework show` lists them."
        ) from None


def _save(
    ctx: typer.Context, items: list[tuple[str, TargetInput]], source: str, score: bool
) -> None:
    kraft = kraft_of(ctx)
    with err.status("Saving and scoring…" if score else "Saving…"):
        saved = save_targets(kraft, items, actor=actor(), source=source, score=score)
    ids = saved.ids
    out.print(
        f"Saved {len(ids)} target version(s) (id {ids[0]}"
        + (f" to {ids[-1]}" if len(ids) > 1 else "")
        + "); earlier versions stay in the history."
    )
    for warning in saved.warnings:
        warn(f"{warning}.")
    if not score:
        return
    if saved.scored is None:
        out.print("No KPI values yet: `kraft compute` will score with these targets.")
    else:
        out.print(f"Re-scored {saved.scored.scorecards:,} scorecards with the new targets.")


def targets_set(
    ctx: typer.Context,
    kpi: Annotated[str, typer.Option("--kpi", help="The KPI id.")],
    target: Annotated[str, typer.Option("--target", help="The target per grain period.")],
    scope: Annotated[str, typer.Option("--scope", help="org, team or rm.")] = "org",
    scope_id: Annotated[
        str | None, typer.Option("--id", help="The team_id or rm_id (org: leave out).")
    ] = None,
    threshold: Annotated[
        str | None, typer.Option("--threshold", help="The least acceptable value.")
    ] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="One period, e.g. 2026-Q1 or 2026.")
    ] = None,
    first: Annotated[str | None, typer.Option("--from", help="First period it applies to.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last period it applies to.")] = None,
    score: ScoreOption = True,
) -> None:
    """Add a target version for a KPI: the company's, a team's (and its descendants') or an RM's."""
    if period and (first or last):
        raise KraftError("Give --period, or --from and --to, not both.")
    if scope == "org":
        scope_id = scope_id or "org"
    elif not scope_id:
        raise KraftError(f"--scope {scope} needs --id (the {scope}'s id).")
    item = TargetInput(
        scope_type=scope,
        scope_id=str(scope_id),
        kpi_id=kpi,
        from_period=period or first,
        to_period=period or last,
        target=target_table.parse_number(target, "--target"),
        threshold=target_table.parse_number(threshold, "--threshold") if threshold else None,
    )
    _save(ctx, [("The target", item)], "cli", score)


def targets_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A CSV: " + ",".join(target_table.CSV_COLUMNS))],
    score: ScoreOption = True,
) -> None:
    """Add the target versions of a CSV file, all or none."""
    workspace = workspace_of(ctx)
    items = target_table.read_csv(path, workspace_framework(workspace), calendar_of(workspace))
    _save(ctx, items, f"import:{path.name}", score)


def targets_list(
    ctx: typer.Context,
    kpi: Annotated[str | None, typer.Option("--kpi", help="Only this KPI.")] = None,
    scope: Annotated[str | None, typer.Option("--scope", help="org, team or rm.")] = None,
    scope_id: Annotated[str | None, typer.Option("--id", help="Only this team or RM.")] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Every version, not only the current ones.")
    ] = False,
    defaults: Annotated[
        bool, typer.Option("--defaults/--no-defaults", help="Show the framework defaults too.")
    ] = True,
    fmt: Annotated[ListFormat, typer.Option("--format", help="table, csv or json.")] = (
        ListFormat.table
    ),
    wide: WideOption = False,
) -> None:
    """The targets in force: framework defaults and the versions added per company, team, RM."""
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    if kpi:
        _kpi(framework, kpi)
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        rows = [
            r
            for r in target_table.stored_targets(
                conn, kpi_id=kpi, scope_type=scope, scope_id=scope_id
            )
            if history or r.current
        ]
    records: list[dict[str, object]] = []
    if defaults and scope in (None, "framework"):
        for _, k in framework.kpis():
            if (kpi is None or k.id == kpi) and k.target is not None:
                records.append(
                    {
                        "target_id": None, "scope_type": "framework", "scope_id": framework.id,
                        "kpi_id": k.id, "from": None, "to": None,
                        "target": k.target, "threshold": k.threshold, "grain": _grain(k.grain),
                        "recorded_at": None, "recorded_by": None, "current": True,
                    }
                )  # fmt: skip
    for r in rows:
        records.append(
            {
                "target_id": r.target_id, "scope_type": r.scope_type, "scope_id": r.scope_id,
                "kpi_id": r.kpi_id, "from": r.from_period, "to": r.to_period,
                "target": r.target, "threshold": r.threshold,
                "grain": _grain(framework.kpi(r.kpi_id).grain) if _known(framework, r.kpi_id)
                else None,
                "recorded_at": r.recorded_at.isoformat(timespec="seconds"),
                "recorded_by": r.recorded_by, "current": r.current,
            }
        )  # fmt: skip
    if fmt is ListFormat.json:
        sys.stdout.write(json.dumps(records, indent=1, default=str) + "\n")
        return
    if fmt is ListFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        columns = list(records[0]) if records else ["target_id", "scope_type", "scope_id"]
        writer.writerow(columns)
        for record in records:
            writer.writerow(["" if record[c] is None else record[c] for c in columns])
        return
    _print_targets(records, framework, wide)


# On a narrow terminal the recording time goes first, then the id, the threshold.
TARGET_COLUMNS = (
    Column("id", numeric=True, spare=3),
    "scope",
    "KPI",
    "periods",
    Column("target", numeric=True),
    Column("threshold", numeric=True, spare=2),
    Column("recorded", spare=4),
)


def _print_targets(records: list[dict[str, object]], framework: Framework, wide: bool) -> None:
    """The target records as a table, values in each KPI's unit."""
    table = table_of(
        TARGET_COLUMNS,
        "Targets (per grain period; counts and sums scale with longer periods)",
        wide=wide,
    )
    for record in records:
        kpi_id = str(record["kpi_id"])
        unit = framework.kpi(kpi_id).unit if _known(framework, kpi_id) else None
        periods = (
            "all"
            if not record["from"] and not record["to"]
            else f"{record['from'] or '…'} to {record['to'] or '…'}"
        )
        recorded = "" if record["recorded_at"] is None else f"{record['recorded_at']}"
        if record["recorded_at"] is not None and not record["current"]:
            recorded += " (replaced)"
        target_value = record["target"]
        threshold_value = record["threshold"]
        table.add_row(
            "" if record["target_id"] is None else str(record["target_id"]),
            f"{record['scope_type']} {record['scope_id']}",
            kpi_id,
            periods,
            format_value(target_value if isinstance(target_value, Decimal) else None, unit, framework.currency),
            format_value(threshold_value if isinstance(threshold_value, Decimal) else None, unit, framework.currency),
            recorded,
        )  # fmt: skip
    out.print(table)


def _known(framework: Framework, kpi_id: str) -> bool:
    return any(k.id == kpi_id for _, k in framework.kpis())


def _grain(grain: Grain | None) -> str | None:
    return grain.value if grain else None


def targets_derive(
    ctx: typer.Context,
    kpi: Annotated[str, typer.Option("--kpi", help="The KPI id.")],
    baseline: Annotated[
        Baseline,
        typer.Option("--baseline", help="last-year: each RM's value in the last full year."),
    ] = Baseline.last_year,
    uplift: Annotated[
        str, typer.Option("--uplift", help="How much better than the baseline, e.g. 5%.")
    ] = "5%",
    for_period: Annotated[
        str | None,
        typer.Option("--for", help="The period range the targets apply to (default: next year)."),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Save the proposals as RM targets (else only show).")
    ] = False,
    fmt: Annotated[DeriveFormat, typer.Option("--format", help="table or csv.")] = (
        DeriveFormat.table
    ),
    score: ScoreOption = True,
) -> None:
    """Propose each RM's target from their own history: last year's value, improved by --uplift."""
    factor = _uplift_factor(uplift)
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    _kpi(framework, kpi)
    definition = framework.kpi(kpi)
    db = open_database(workspace, read_only=not apply)
    with db.connect() as conn:
        as_of = as_of_date(conn)
        if as_of is None:
            raise KraftError("There are no KPI values yet; run `kraft compute` first.")
        year = target_table.last_full_year(calendar, as_of)
        proposals = target_table.derive(conn, definition, calendar, year, factor)
    if for_period is not None:
        applies_to = parse_period(calendar, for_period, "--for").label
    else:
        applies_to = calendar.year(year.end + timedelta(days=1)).label
    if fmt is DeriveFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(target_table.CSV_COLUMNS)
        for p in proposals:
            writer.writerow(["rm", p.rm_id, kpi, applies_to, "", "", p.target, p.threshold or ""])
    else:
        table = table_of(
            [Column("RM", whole=True)]
            + [
                Column(c, numeric=True)
                for c in (f"baseline {year.label}", "proposed target", "threshold")
            ],
            f"{kpi}: proposed targets for {applies_to} "
            f"({year.label} per {_grain(definition.grain)}, {uplift} better)",
        )
        for p in proposals:
            table.add_row(
                p.rm_id,
                shown_value(p.baseline, definition.unit, framework.currency),
                shown_value(p.target, definition.unit, framework.currency),
                shown_value(p.threshold, definition.unit, framework.currency),
            )
        out.print(table)
        out.print(
            f"{len(proposals)} RM(s) with a credible value in {year.label}; the others keep "
            "their team's or the framework's target."
        )
    if not proposals or not apply:
        if proposals and fmt is DeriveFormat.table:
            out.print("Nothing saved: add --apply to save them as RM targets.")
        return
    items = [
        (
            f"{p.rm_id}",
            TargetInput("rm", p.rm_id, kpi, applies_to, applies_to, p.target, p.threshold),
        )
        for p in proposals
    ]
    _save(ctx, items, f"derive:{baseline}:{uplift}", score)


def _uplift_factor(uplift: str) -> Decimal:
    """--uplift as a fraction: "5%" and "0.05" are both 0.05."""
    text = uplift.strip()
    factor = target_table.parse_number(text, "--uplift")
    if text.endswith("%"):
        factor = factor / Decimal(100)
    if factor < 0:
        raise KraftError(f"--uplift {uplift} is negative; give how much better, e.g. 5%.")
    return factor
