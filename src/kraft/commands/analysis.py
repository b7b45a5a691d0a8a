"""`kraft whatif`, `kraft variance` and `kraft drivers`: analysis of the stored values and scores
(kraft.analysis), as tables or JSON; the helpers here also serve `kraft alerts`."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.text import Text

from kraft.analysis.alerts import Alert
from kraft.analysis.open_variance import variances_as_of
from kraft.analysis.variance import (
    Basis,
    Comparison,
    Flag,
    Variance,
    drivers,
    stored_scorecard,
)
from kraft.analysis.whatif import Growth, Outcome, WhatIf, what_if
from kraft.commands.common import (
    calendar_of,
    kraft_of,
    open_database,
    out,
    parse_period,
    workspace_framework,
    workspace_of,
)
from kraft.commands.tables import Column, WideOption, table_of
from kraft.errors import KraftError
from kraft.formatting import fixed, plain, signed_short
from kraft.framework.model import KPI, Framework
from kraft.metrics.spec import load_catalogue
from kraft.reports.scorecard_lines import change_text
from kraft.reports.values import shown_value
from kraft.scoring.stored import as_of_date


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


PeriodOption = Annotated[str, typer.Option("--period", help="The period label, e.g. 2025-Q1.")]
FormatOption = Annotated[TableOrJson, typer.Option("--format", help="table or json.")]


def register(app: typer.Typer) -> None:
    app.command("whatif")(whatif_command)
    app.command("variance")(variance_command)
    app.command("drivers")(drivers_command)


# -- shared ---------------------------------------------------------------------------------------


def json_number(number: Decimal | None) -> float | None:
    """A Decimal for JSON (exact enough to read; the tables show 2 decimals)."""
    return None if number is None else float(number)


def shown_kpi_value(framework: Framework, kpi_id: str, value: Decimal | None) -> str:
    """A KPI value in its unit, to 2 decimals."""
    kpi = _kpi(framework, kpi_id)
    return shown_value(value, kpi.unit if kpi else None, framework.currency)


def _kpi(framework: Framework, kpi_id: str) -> KPI | None:
    try:
        return framework.kpi(kpi_id)
    except KeyError:
        return None


def kpi_name(framework: Framework, kpi_id: str) -> str:
    kpi = _kpi(framework, kpi_id)
    return kpi.name if kpi else kpi_id


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def item_json(item: Alert | Variance) -> dict[str, Any]:
    """Which KPI of which RM in which period: the keys an alert and a variance start with."""
    return {
        "rm_id": item.rm_id,
        "kpi_id": item.kpi_id,
        "kra_id": item.kra_id,
        "period": item.period,
    }


# -- kraft whatif ---------------------------------------------------------------------------------


def whatif_command(
    ctx: typer.Context,
    rm: Annotated[str, typer.Option("--rm", help="The RM's rm_id.")],
    period: PeriodOption,
    kpi: Annotated[str, typer.Option("--kpi", help="The KPI id, e.g. client_retention_rate.")],
    value: Annotated[
        str, typer.Option("--value", help="The KPI's new value in its unit (85 for 85 %).")
    ],
    fmt: FormatOption = TableOrJson.table,
) -> None:
    """An RM's KPI, KRA and overall score and rating if one KPI had another value; for a ratio
    KPI, how many more successes would reach its target."""
    kraft = kraft_of(ctx, read_only=True)
    chosen = parse_period(kraft.calendar, period, "--period")
    policy = kraft.scoring_policy()
    with kraft.db.connect() as conn:
        result = what_if(conn, kraft.framework, kraft.catalogue, rm, chosen, kpi, value, policy)
    framework = kraft.framework
    if fmt is TableOrJson.json:
        print_json(_whatif_json(result))
        return
    definition = framework.kpi(result.kpi_id)
    kra = next(k for k in framework.kras if k.id == result.kra_id)
    out.print(
        Text(
            f"What if {result.rm_id}'s {definition.name} ({result.kpi_id}) in {result.period} "
            f"were {shown_kpi_value(framework, result.kpi_id, result.value)} instead of "
            f"{shown_kpi_value(framework, result.kpi_id, result.before.actual)}?",
            style="bold",
        )
    )
    table = table_of(("", "now", "what if"))
    b, a = result.before, result.after
    for label, now, then in (
        ("KPI status", str(b.status), str(a.status)),
        ("KPI score", fixed(b.kpi_score), fixed(a.kpi_score)),
        (f"KRA score: {kra.title}", fixed(b.kra_score), fixed(a.kra_score)),
        ("Overall score", fixed(b.overall), fixed(a.overall)),
        ("Rating", _rating(b), _rating(a)),
        ("Coverage", f"{fixed(b.coverage)} %", f"{fixed(a.coverage)} %"),
    ):
        table.add_row(label, now, then)
    out.print(table)
    if result.team_kpi_as_stored:
        out.print(
            "team_performance_improvement_rate stays as stored: it follows the team members' "
            "scores."
        )
    if result.successes is not None:
        out.print(_successes_sentence(framework, result))


def _rating(outcome: Outcome) -> str:
    if outcome.rating is None:
        return "—"
    capped = ", capped by a gate" if outcome.rating_capped_at is not None else ""
    return f"{outcome.rating_label} ({outcome.rating}{capped})"


def _successes_sentence(framework: Framework, result: WhatIf) -> str:
    s = result.successes
    assert s is not None
    kpi_id = result.kpi_id
    num, den = s.shape.numerator, s.shape.denominator
    n, d = plain(s.numerator), plain(s.denominator)
    target = shown_kpi_value(framework, kpi_id, s.target)
    now = f"now {n} {num} of {d} {den}"
    if s.shape.growth is Growth.growing:
        how = f"each is a new case, so {num} and {den} both grow by 1"
        if s.needed is None:
            return (
                f"No number of further {num} reaches the target of {target} ({now}): "
                f"{den} already holds cases that did not succeed."
            )
    else:
        how = f"each turns one of the {d} {den} into {num}; {den} stays {d}"
        if s.needed is None:
            if s.denominator == 0:
                return f"No {den} cases in {result.period}, so none to turn into {num}."
            return f"The target of {target} cannot be reached with {d} {den} ({now})."
    if s.needed == 0:
        return f"At or above the target of {target} already ({now})."
    return f"To reach the target of {target}: {s.needed} more {num} ({now}; {how})."


def _outcome_json(o: Outcome) -> dict[str, Any]:
    return {
        "actual": json_number(o.actual),
        "status": str(o.status),
        "kpi_score": json_number(o.kpi_score),
        "kra_score": json_number(o.kra_score),
        "overall_score": json_number(o.overall),
        "rating": o.rating,
        "rating_label": o.rating_label,
        "coverage": json_number(o.coverage),
        "rating_capped_at": o.rating_capped_at,
    }


def _whatif_json(result: WhatIf) -> dict[str, Any]:
    s = result.successes
    return {
        "rm_id": result.rm_id,
        "period": result.period,
        "kpi_id": result.kpi_id,
        "kra_id": result.kra_id,
        "value": json_number(result.value),
        "before": _outcome_json(result.before),
        "after": _outcome_json(result.after),
        "team_kpi_as_stored": result.team_kpi_as_stored,
        "successes": None
        if s is None
        else {
            "numerator": json_number(s.numerator),
            "denominator": json_number(s.denominator),
            "target": json_number(s.target),
            "growth": str(s.shape.growth),
            "needed": s.needed,
        },
    }


# -- kraft variance -------------------------------------------------------------------------------


def variance_command(
    ctx: typer.Context,
    period: PeriodOption,
    rm: Annotated[str | None, typer.Option("--rm", help="Only this RM.")] = None,
    team: Annotated[str | None, typer.Option("--team", help="Only the RMs of this team.")] = None,
    tolerance: Annotated[
        str, typer.Option(help="Flag differences beyond this percent of the reference.")
    ] = "10",
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every KPI, not only the flagged ones.")
    ] = False,
    fmt: FormatOption = TableOrJson.table,
    wide: WideOption = False,
) -> None:
    """Each KPI against its target, the previous period, the same period last year and the team
    median; differences beyond the tolerance are flagged favourable or unfavourable."""
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    chosen = parse_period(calendar, period, "--period")
    share = _tolerance(tolerance)
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        as_of = as_of_date(conn)
        found = variances_as_of(
            conn,
            framework,
            calendar,
            chosen,
            as_of,
            load_catalogue(),
            rm_ids=[rm] if rm else None,
            team_id=team,
            tolerance=share,
        )
    if not found and (rm or team):
        who = f"RM {rm}" if rm else f"team {team}"
        raise KraftError(
            f"No values for {who} in {chosen.label}; check --rm/--team (scored RMs only) and "
            "--period, or run `kraft compute`."
        )
    shown = found if show_all else [v for v in found if v.flagged]
    if fmt is TableOrJson.json:
        print_json(
            {
                "period": chosen.label,
                "tolerance_percent": json_number(share * 100),
                "variances": [_variance_json(v) for v in shown],
            }
        )
        return
    if not shown:
        out.print(
            f"Nothing beyond ±{plain(share * 100)} % in {chosen.label} "
            f"({len(found)} KPI values compared; --all shows them)."
        )
        return
    _print_variances(framework, chosen.label, shown, len(found), share, as_of, show_all, wide)


def _print_variances(
    framework: Framework,
    label: str,
    shown: Sequence[Variance],
    compared: int,
    share: Decimal,
    as_of: object,
    show_all: bool,
    wide: bool,
) -> None:
    """The variances as a table; an open period says what it compares (its forecasts)."""
    first = shown[0]
    opened = (
        f"; open, as of {as_of}: counts and sums by their forecast, rates and means to date"
        if first.basis is not Basis.actual
        else ""
    )
    table = table_of(
        (
            Column("RM", whole=True, spare=1),
            "KPI",
            "actual",
            "vs target",
            Column(f"vs {first.previous_period}", spare=2),
            Column(f"vs {first.last_year_period}", spare=4),
            Column("vs team median", spare=3),
        ),
        f"Variance in {label}, tolerance ±{plain(share * 100)} %: "
        f"{len(shown)} of {compared} KPI values" + ("" if show_all else " flagged") + opened,
        wide=wide,
    )
    for v in shown:
        forecast = shown_kpi_value(framework, v.kpi_id, v.forecast)
        table.add_row(
            v.rm_id,
            kpi_name(framework, v.kpi_id),
            shown_kpi_value(framework, v.kpi_id, v.actual)
            + (" (provisional)" if v.provisional else "")
            + (f", forecast {forecast}" if v.forecast is not None else ""),
            *(
                _comparison_cell(framework, v.kpi_id, c)
                for c in (v.target, v.previous, v.last_year, v.team_median)
            ),
        )
    out.print(table)


def _tolerance(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().rstrip("%").strip())
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise KraftError(
            f"--tolerance {text!r} is not a percent of 0 or more; give e.g. 10 for ±10 %."
        )
    return value / 100


def _comparison_cell(framework: Framework, kpi_id: str, c: Comparison) -> Text:
    if c.reference is None:
        return Text("—")
    if c.difference is None:
        return Text(shown_kpi_value(framework, kpi_id, c.reference))
    change = change_text(c, _kpi(framework, kpi_id), framework.currency)
    text = f"{shown_kpi_value(framework, kpi_id, c.reference)}: {change}"
    if c.flag is Flag.favourable:
        return Text(text + " fav", style="green")
    if c.flag is Flag.unfavourable:
        return Text(text + " unfav", style="red")
    return Text(text)


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "reference": json_number(c.reference),
        "difference": json_number(c.difference),
        "percent": json_number(c.percent),
        "change": c.change.value,
        "at_cap": json_number(c.cap),
        "basis": c.basis.value,
        "flag": str(c.flag) if c.flag else None,
    }


def _variance_json(v: Variance) -> dict[str, Any]:
    return {
        **item_json(v),
        "actual": json_number(v.actual),
        "provisional": v.provisional,
        "forecast": json_number(v.forecast),
        "basis": v.basis.value,
        "target": _comparison_json(v.target),
        "previous": {"period": v.previous_period, **_comparison_json(v.previous)},
        "last_year": {"period": v.last_year_period, **_comparison_json(v.last_year)},
        "team_median": _comparison_json(v.team_median),
    }


# -- kraft drivers --------------------------------------------------------------------------------


# On a narrow terminal the KRA goes first, then the contributions, the score before.
DRIVER_COLUMNS = (
    "KPI",
    Column("KRA", whole=True, spare=3),
    Column("score before", numeric=True, spare=1),
    Column("score after", numeric=True),
    Column("contribution", spare=2),
    Column("change", numeric=True),
)


def drivers_command(
    ctx: typer.Context,
    rm: Annotated[str, typer.Option("--rm", help="The RM's rm_id.")],
    period: PeriodOption,
    top: Annotated[int, typer.Option(help="Show this many KPIs (0: all).")] = 10,
    fmt: FormatOption = TableOrJson.table,
    wide: WideOption = False,
) -> None:
    """Which KPIs moved the RM's overall score most since the previous period: the change of
    each KPI's contribution to the overall score."""
    if top < 0:
        raise KraftError(f"--top {top} is negative; give 0 (all) or more.")
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    chosen = parse_period(calendar, period, "--period")
    previous = calendar.previous(chosen)
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        after = stored_scorecard(conn, rm, chosen)
        before = stored_scorecard(conn, rm, previous)
    if after is None:
        raise KraftError(
            f"No scores for --rm {rm} in {chosen.label}; give an RM of role rm and a period "
            "with data, or run `kraft compute` to score them."
        )
    found = drivers(before, after)
    shown: Sequence[Any] = found if top == 0 else found[:top]
    before_overall = before.overall if before else None
    if fmt is TableOrJson.json:
        print_json(
            {
                "rm_id": rm,
                "period": chosen.label,
                "previous_period": previous.label,
                "overall_before": json_number(before_overall),
                "overall_after": json_number(after.overall),
                "drivers": [
                    {
                        "kpi_id": d.kpi_id,
                        "kra_id": d.kra_id,
                        "score_before": json_number(d.score_before),
                        "score_after": json_number(d.score_after),
                        "contribution_before": json_number(d.contribution_before),
                        "contribution_after": json_number(d.contribution_after),
                        "delta": json_number(d.delta),
                    }
                    for d in shown
                ],
            }
        )
        return
    change = (
        f"{fixed(before_overall)} → {fixed(after.overall)}"
        if before is not None
        else f"{fixed(after.overall)} (no scores for {previous.label})"
    )
    out.print(Text(f"{rm}: overall score {previous.label} → {chosen.label}: {change}", "bold"))
    table = table_of(DRIVER_COLUMNS, wide=wide)
    for d in shown:
        table.add_row(
            kpi_name(framework, d.kpi_id),
            d.kra_id,
            fixed(d.score_before),
            fixed(d.score_after),
            f"{fixed(d.contribution_before)} → {fixed(d.contribution_after)}",
            signed_short(d.delta),
        )
    out.print(table)
