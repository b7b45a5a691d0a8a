"""`kraft measurements list|set|delete`: the manual KPIs' measurements, entered as on the web
(kraft.core.measurements: the framework's entered_by, the value's range, audited, re-scored)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from kraft.commands.common import actor, err, kraft_of, out
from kraft.commands.tables import Column, WideOption, table_of
from kraft.core.access import Scope, scope_acting_as
from kraft.core.context import Kraft
from kraft.core.inputs import parse_decimal
from kraft.core.measurements import (
    Measurement,
    add_measurement,
    change_measurement,
    delete_measurement,
    get_measurement,
    list_measurements,
)
from kraft.errors import NotFoundError
from kraft.formatting import plain

measurements_app = typer.Typer(
    help="Measurements of the manual KPIs (entered by hand), per RM and period.",
    no_args_is_help=True,
)

RmOption = Annotated[str, typer.Option("--rm", help="The RM measured (an rm_id).")]
KpiOption = Annotated[str, typer.Option("--kpi", help="The manual KPI's id.")]
PeriodOption = Annotated[str, typer.Option("--period", help="The period, e.g. 2026-Q1.")]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Enter it as this kraft user (their email), with their rules; default: as the "
        "workspace's operator (an admin).",
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(measurements_app, name="measurements")


def _scope(kraft: Kraft, email: str | None) -> Scope:
    with kraft.db.connect() as conn:
        return scope_acting_as(conn, email, actor())


@measurements_app.command("list")
def measurements_list(
    ctx: typer.Context,
    rm: Annotated[str | None, typer.Option("--rm", help="Only this RM.")] = None,
    kpi: Annotated[str | None, typer.Option("--kpi", help="Only this KPI.")] = None,
    period: Annotated[str | None, typer.Option("--period", help="Only this period.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Write JSON.")] = False,
    wide: WideOption = False,
) -> None:
    """The stored measurements, by RM, KPI and period."""
    kraft = kraft_of(ctx, read_only=True)
    with kraft.db.connect() as conn:
        found = list_measurements(conn, _scope(kraft, None), rm_id=rm, kpi_id=kpi, period=period)
    if as_json:
        sys.stdout.write(json.dumps([m.content() for m in found], indent=2) + "\n")
        return
    table = table_of(
        (
            Column("rm", whole=True),
            "kpi",
            Column("period", whole=True),
            Column("value", numeric=True),
            Column("note", spare=1),
        ),
        f"{len(found)} measurement(s)",
        wide=wide,
    )
    for m in found:
        table.add_row(m.rm_id, m.kpi_id, m.period, plain(m.value), m.note or "")
    out.print(table)


@measurements_app.command("set")
def measurements_set(
    ctx: typer.Context,
    rm: RmOption,
    kpi: KpiOption,
    period: PeriodOption,
    value: Annotated[str, typer.Option("--value", help="The measured value.")],
    note: Annotated[str | None, typer.Option("--note", help="Why, or where it came from.")] = None,
    as_user: AsOption = None,
) -> None:
    """Enter a measurement, or change the one stored; then re-score the RM."""
    kraft = kraft_of(ctx)
    scope = _scope(kraft, as_user)
    number = parse_decimal(value, "--value", required=True)
    assert number is not None  # required: a number or a refusal
    with kraft.db.connect() as conn:
        try:
            get_measurement(conn, scope, rm, kpi, period)
            exists = True
        except NotFoundError:
            exists = False
    with err.status("Saving and scoring…"):
        if exists:  # the operator changes what is stored now: any version
            changed = Measurement(rm, kpi, period, number, note)
            saved = change_measurement(kraft, scope, changed, "*")
        else:
            saved = add_measurement(
                kraft, scope, rm_id=rm, kpi_id=kpi, period=period, value=number, note=note
            )
    verb = "Changed" if exists else "Entered"
    out.print(f"{verb} {saved.what}: {plain(saved.value)}; the RM is re-scored.")


@measurements_app.command("delete")
def measurements_delete(
    ctx: typer.Context, rm: RmOption, kpi: KpiOption, period: PeriodOption, as_user: AsOption = None
) -> None:
    """Delete a measurement; then re-score the RM."""
    kraft = kraft_of(ctx)
    scope = _scope(kraft, as_user)
    with err.status("Deleting and scoring…"):
        deleted = delete_measurement(kraft, scope, rm, kpi, period, "*")
    out.print(f"Deleted {deleted.what}; the RM is re-scored.")
