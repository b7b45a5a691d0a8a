"""`kraft alerts`, `kraft whatif`, `kraft variance` and `kraft drivers`: analysis of the stored
values and scores (kraft.analysis), as tables or JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.table import Table
from rich.text import Text

from kraft.analysis.alerts import CLOSING_DAYS, Alert, AlertKind, Closing, alerts
from kraft.analysis.pacing import is_open
from kraft.analysis.variance import (
    Comparison,
    Flag,
    Variance,
    drivers,
    stored_scorecard,
    variances,
)
from kraft.analysis.whatif import Growth, Outcome, WhatIf, what_if
from kraft.commands.common import (
    actor,
    calendar_of,
    check_format,
    compute_parameters,
    format_option,
    open_database,
    out,
    parse_period,
    table_of,
    warn,
    workspace_framework,
    workspace_of,
)
from kraft.errors import KraftError
from kraft.formatting import fixed, plain, signed_short
from kraft.framework.model import KPI, Framework
from kraft.mailer import send_all
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar, Period
from kraft.reports import alerts_digest
from kraft.reports.values import shown_value
from kraft.scoring.stored import as_of_date
from kraft.store import audit
from kraft.store.database import Database
from kraft.store.metadata import scores
from kraft.workspace import Workspace

TABLE_OR_JSON = ("table", "json")

PeriodOption = Annotated[str, typer.Option("--period", help="The period label, e.g. 2025-Q1.")]
FormatOption = Annotated[str, format_option(*TABLE_OR_JSON)]


def register(app: typer.Typer) -> None:
    app.command("alerts")(alerts_command)
    app.command("whatif")(whatif_command)
    app.command("variance")(variance_command)
    app.command("drivers")(drivers_command)


# -- shared ---------------------------------------------------------------------------------------


def _num(number: Decimal | None) -> float | None:
    """A Decimal for JSON (exact enough to read; the tables show 2 decimals)."""
    return None if number is None else float(number)


def _shown(framework: Framework, kpi_id: str, value: Decimal | None) -> str:
    """A KPI value in its unit, to 2 decimals."""
    kpi = _kpi(framework, kpi_id)
    return shown_value(value, kpi.unit if kpi else None, framework.currency)


def _kpi(framework: Framework, kpi_id: str) -> KPI | None:
    try:
        return framework.kpi(kpi_id)
    except KeyError:
        return None


def _kpi_name(framework: Framework, kpi_id: str) -> str:
    kpi = _kpi(framework, kpi_id)
    return kpi.name if kpi else kpi_id


def _as_of(db: Database) -> date:
    with db.connect() as conn:
        as_of = as_of_date(conn)
    if as_of is None:
        raise KraftError("No KPI values are stored yet; run `kraft compute` first.")
    return as_of


def _period_with_data(calendar: Calendar, label: str | None, as_of: date, option: str) -> Period:
    """The period asked for (default: the quarter holding the as-of date), not after the data."""
    period = parse_period(calendar, label, option) if label else calendar.quarter(as_of)
    if period.start > as_of:
        raise KraftError(
            f"{option} {period.label} starts after the data's as-of date {as_of}; "
            f"give a period up to {calendar.period(period.grain, as_of).label}."
        )
    return period


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# -- kraft alerts ---------------------------------------------------------------------------------


def alerts_command(
    ctx: typer.Context,
    period: Annotated[
        str | None,
        typer.Option(
            "--period", help="The period label (default: the quarter holding the as-of date)."
        ),
    ] = None,
    closing_days: Annotated[
        int,
        typer.Option(
            "--closing-days",
            help="Provisional values whose window closes within this many days are alerted.",
        ),
    ] = CLOSING_DAYS,
    email: Annotated[
        bool,
        typer.Option(
            "--email",
            help="Send one digest per manager and per RM through the smtp table of kraft.toml.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --email: say who would get what; send nothing.")
    ] = False,
    fmt: FormatOption = "table",
) -> None:
    """KPIs at risk by pacing in an open period, KPIs below threshold two periods running, and
    provisional values about to close while still below target; --email sends them as digests."""
    fmt = check_format(fmt, TABLE_OR_JSON)
    if closing_days < 0 or closing_days > 366:
        raise KraftError(f"--closing-days {closing_days} is not from 0 to 366; give a day count.")
    if dry_run and not email:
        raise KraftError("--dry-run goes with --email; add --email to see who would be sent what.")
    workspace = workspace_of(ctx)
    if email and not dry_run and workspace.settings.smtp is None:
        raise KraftError(
            f"{workspace.config_path} has no [smtp] table; add host, port, tls and sender there "
            "(see the README) to send the alerts by email."
        )
    db = open_database(workspace)
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    as_of = _as_of(db)
    chosen = _period_with_data(calendar, period, as_of, "--period")
    closing = Closing(compute_parameters(workspace), closing_days)
    with db.connect() as conn:
        found = alerts(conn, framework, calendar, chosen, as_of, load_catalogue(), closing=closing)
        scored = conn.execute(
            sa.select(sa.func.count()).select_from(scores).where(scores.c.period == chosen.label)
        ).scalar()
    open_now = is_open(chosen, as_of)
    if not scored:
        warn(f"No scores are stored for {chosen.label}; run `kraft compute` to score it.")
    if email:
        _email_digests(workspace, db, framework, chosen, as_of, found, dry_run=dry_run)
        return
    if fmt == "json":
        _print_json(
            {
                "period": chosen.label,
                "as_of": as_of.isoformat(),
                "open": open_now,
                "alerts": [_alert_json(a) for a in found],
            }
        )
        return
    state = f"open, as of {as_of}" if open_now else "closed: nothing to pace"
    if not found:
        out.print(f"No alerts for {chosen.label} ({state}).")
        return
    table = table_of(
        ("RM", "KPI", "alert", "value", "forecast", "target", "threshold", "note"),
        f"Alerts for {chosen.label} ({state}): {len(found)}",
    )
    styles = {
        AlertKind.at_risk: "red",
        AlertKind.below_threshold_twice: "bold red",
        AlertKind.closing_soon: "yellow",
    }
    for a in found:
        table.add_row(
            a.rm_id,
            _kpi_name(framework, a.kpi_id),
            Text(str(a.kind), style=styles[a.kind]),
            _shown(framework, a.kpi_id, a.actual),
            _shown(framework, a.kpi_id, a.forecast) if a.forecast is not None else "",
            _shown(framework, a.kpi_id, a.target),
            _shown(framework, a.kpi_id, a.threshold),
            _alert_note(framework, a),
        )
    out.print(table)


def _alert_note(framework: Framework, a: Alert) -> str:
    if a.kind is AlertKind.at_risk:
        return f"{a.method} forecast"
    if a.kind is AlertKind.below_threshold_twice:
        return f"{a.previous_period}: {_shown(framework, a.kpi_id, a.previous_actual)}"
    still = f", {a.pending} still in their window" if a.pending else ""
    return f"{a.period} closes on {a.closes_on}{still}"


def _email_digests(
    workspace: Workspace,
    db: Database,
    framework: Framework,
    period: Period,
    as_of: date,
    found: list[Alert],
    *,
    dry_run: bool,
) -> None:
    """One digest per manager and per RM; each one sent is in the audit log (who sent it, to
    whom, about which RMs, how many alerts), written as the server accepts it."""
    with db.connect() as conn:
        plan = alerts_digest.plan_digests(conn, period.label, as_of, found)
        names = alerts_digest.rm_names(conn)
    smtp = workspace.settings.smtp
    sender = smtp.sender if smtp else "kraft@localhost"
    messages = [alerts_digest.message(framework, d, sender, names) for d in plan.digests]
    skipped = _skipped(plan)
    if dry_run:
        for digest, mail in zip(plan.digests, messages, strict=True):
            out.print(f"Would send to {digest.email} ({digest.audience}): {mail['Subject']}")
        out.print(
            f"Dry run: {len(messages)} digest(s) for {period.label} would be sent "
            f"({plan.managers} to managers, {plan.rms} to RMs); nothing was sent{skipped}."
        )
        return
    assert smtp is not None  # checked before any work
    who = actor()
    failure: KraftError | None = None
    with db.begin() as conn:

        def record(index: int, _mail: object) -> None:
            digest = plan.digests[index]
            audit.append(
                conn,
                actor=who,
                action="alerts.email",
                object_type="alert_digest",
                object_id=digest.email,
                new={
                    "period": digest.period,
                    "as_of": digest.as_of.isoformat(),
                    "audience": digest.audience,
                    "alerts": digest.count,
                    "rm_ids": digest.rm_ids,
                    "smtp": f"{smtp.host}:{smtp.effective_port}",
                },
            )

        try:
            send_all(smtp, messages, record)
        except KraftError as exc:  # the digests accepted before it stay in the audit log
            failure = exc
    if failure is not None:
        raise failure
    total = sum(d.count for d in plan.digests)
    out.print(
        f"Sent {len(messages)} digest(s) for {period.label} with {total} alert line(s) "
        f"({plan.managers} to managers, {plan.rms} to RMs) through "
        f"{smtp.host}:{smtp.effective_port}{skipped}."
    )


def _skipped(plan: alerts_digest.DigestPlan) -> str:
    parts = []
    if plan.inactive_users:
        parts.append(f"{len(plan.inactive_users)} disabled user(s) skipped")
    if plan.rms_without_user:
        parts.append(
            f"{len(plan.rms_without_user)} RM(s) with alerts have no active kraft user "
            f"({', '.join(plan.rms_without_user)})"
        )
    if plan.nothing_to_report:
        parts.append(f"{plan.nothing_to_report} reader(s) had no alerts")
    return "; " + "; ".join(parts) if parts else ""


def _item_json(item: Alert | Variance) -> dict[str, Any]:
    """Which KPI of which RM in which period: the keys an alert and a variance start with."""
    return {
        "rm_id": item.rm_id,
        "kpi_id": item.kpi_id,
        "kra_id": item.kra_id,
        "period": item.period,
    }


def _alert_json(a: Alert) -> dict[str, Any]:
    return {
        **_item_json(a),
        "kind": a.kind.name,
        "actual": _num(a.actual),
        "forecast": _num(a.forecast),
        "method": str(a.method) if a.method else None,
        "target": _num(a.target),
        "threshold": _num(a.threshold),
        "previous_period": a.previous_period,
        "previous_actual": _num(a.previous_actual),
        "closes_on": a.closes_on.isoformat() if a.closes_on else None,
        "pending": a.pending,
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
    fmt: FormatOption = "table",
) -> None:
    """An RM's KPI, KRA and overall score and rating if one KPI had another value; for a ratio
    KPI, how many more successes would reach its target."""
    fmt = check_format(fmt, TABLE_OR_JSON)
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    chosen = parse_period(calendar, period, "--period")
    db = open_database(workspace)
    with db.connect() as conn:
        result = what_if(conn, framework, load_catalogue(), rm, chosen, kpi, value)
    if fmt == "json":
        _print_json(_whatif_json(result))
        return
    definition = framework.kpi(result.kpi_id)
    kra = next(k for k in framework.kras if k.id == result.kra_id)
    out.print(
        Text(
            f"What if {result.rm_id}'s {definition.name} ({result.kpi_id}) in {result.period} "
            f"were {_shown(framework, result.kpi_id, result.value)} instead of "
            f"{_shown(framework, result.kpi_id, result.before.actual)}?",
            style="bold",
        )
    )
    table = Table()
    for column in ("", "now", "what if"):
        table.add_column(column)
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
    target = _shown(framework, kpi_id, s.target)
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
        "actual": _num(o.actual),
        "status": str(o.status),
        "kpi_score": _num(o.kpi_score),
        "kra_score": _num(o.kra_score),
        "overall_score": _num(o.overall),
        "rating": o.rating,
        "rating_label": o.rating_label,
        "coverage": _num(o.coverage),
        "rating_capped_at": o.rating_capped_at,
    }


def _whatif_json(result: WhatIf) -> dict[str, Any]:
    s = result.successes
    return {
        "rm_id": result.rm_id,
        "period": result.period,
        "kpi_id": result.kpi_id,
        "kra_id": result.kra_id,
        "value": _num(result.value),
        "before": _outcome_json(result.before),
        "after": _outcome_json(result.after),
        "team_kpi_as_stored": result.team_kpi_as_stored,
        "successes": None
        if s is None
        else {
            "numerator": _num(s.numerator),
            "denominator": _num(s.denominator),
            "target": _num(s.target),
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
    fmt: FormatOption = "table",
) -> None:
    """Each KPI against its target, the previous period, the same period last year and the team
    median; differences beyond the tolerance are flagged favourable or unfavourable."""
    fmt = check_format(fmt, TABLE_OR_JSON)
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    chosen = parse_period(calendar, period, "--period")
    share = _tolerance(tolerance)
    db = open_database(workspace)
    with db.connect() as conn:
        found = variances(
            conn,
            framework,
            calendar,
            chosen,
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
    if fmt == "json":
        _print_json(
            {
                "period": chosen.label,
                "tolerance_percent": _num(share * 100),
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
    first = shown[0]
    table = table_of(
        (
            "RM",
            "KPI",
            "actual",
            "vs target",
            f"vs {first.previous_period}",
            f"vs {first.last_year_period}",
            "vs team median",
        ),
        f"Variance in {chosen.label}, tolerance ±{plain(share * 100)} %: "
        f"{len(shown)} of {len(found)} KPI values" + ("" if show_all else " flagged"),
    )
    for v in shown:
        table.add_row(
            v.rm_id,
            _kpi_name(framework, v.kpi_id),
            _shown(framework, v.kpi_id, v.actual) + (" (provisional)" if v.provisional else ""),
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
        return Text(_shown(framework, kpi_id, c.reference))
    change = (
        f"{signed_short(c.percent)} %"
        if c.percent is not None
        else signed_short(c.difference) + " (abs)"
    )
    text = f"{_shown(framework, kpi_id, c.reference)}: {change}"
    if c.flag is Flag.favourable:
        return Text(text + " fav", style="green")
    if c.flag is Flag.unfavourable:
        return Text(text + " unfav", style="red")
    return Text(text)


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "reference": _num(c.reference),
        "difference": _num(c.difference),
        "percent": _num(c.percent),
        "flag": str(c.flag) if c.flag else None,
    }


def _variance_json(v: Variance) -> dict[str, Any]:
    return {
        **_item_json(v),
        "actual": _num(v.actual),
        "provisional": v.provisional,
        "target": _comparison_json(v.target),
        "previous": {"period": v.previous_period, **_comparison_json(v.previous)},
        "last_year": {"period": v.last_year_period, **_comparison_json(v.last_year)},
        "team_median": _comparison_json(v.team_median),
    }


# -- kraft drivers --------------------------------------------------------------------------------


def drivers_command(
    ctx: typer.Context,
    rm: Annotated[str, typer.Option("--rm", help="The RM's rm_id.")],
    period: PeriodOption,
    top: Annotated[int, typer.Option(help="Show this many KPIs (0: all).")] = 10,
    fmt: FormatOption = "table",
) -> None:
    """Which KPIs moved the RM's overall score most since the previous period: the change of
    each KPI's contribution to the overall score."""
    fmt = check_format(fmt, TABLE_OR_JSON)
    if top < 0:
        raise KraftError(f"--top {top} is negative; give 0 (all) or more.")
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    calendar = calendar_of(workspace)
    chosen = parse_period(calendar, period, "--period")
    previous = calendar.previous(chosen)
    db = open_database(workspace)
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
    if fmt == "json":
        _print_json(
            {
                "rm_id": rm,
                "period": chosen.label,
                "previous_period": previous.label,
                "overall_before": _num(before_overall),
                "overall_after": _num(after.overall),
                "drivers": [
                    {
                        "kpi_id": d.kpi_id,
                        "kra_id": d.kra_id,
                        "score_before": _num(d.score_before),
                        "score_after": _num(d.score_after),
                        "contribution_before": _num(d.contribution_before),
                        "contribution_after": _num(d.contribution_after),
                        "delta": _num(d.delta),
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
    table = table_of(("KPI", "KRA", "score before", "score after", "contribution", "change"))
    for d in shown:
        table.add_row(
            _kpi_name(framework, d.kpi_id),
            d.kra_id,
            fixed(d.score_before),
            fixed(d.score_after),
            f"{fixed(d.contribution_before)} → {fixed(d.contribution_after)}",
            signed_short(d.delta),
        )
    out.print(table)
