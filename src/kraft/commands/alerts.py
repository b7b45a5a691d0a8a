"""`kraft alerts`: KPIs at risk, below threshold twice or closing soon, printed or emailed."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.text import Text

from kraft.analysis.alerts import CLOSING_DAYS, Alert, AlertKind, Closing, alerts
from kraft.analysis.pacing import is_open
from kraft.commands.analysis import (
    item_json,
    json_number,
    kpi_name,
    print_json,
    shown_kpi_value,
)
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
from kraft.framework.model import Framework
from kraft.mailer import send_all
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar, Period
from kraft.reports import alerts_digest
from kraft.scoring.stored import as_of_date
from kraft.store import audit
from kraft.store.database import Database
from kraft.store.metadata import scores
from kraft.workspace import Workspace

# --format stays a checked str here: its refusal is the one-line "Error: --format ..." kept.
TABLE_OR_JSON = ("table", "json")


def register(app: typer.Typer) -> None:
    app.command("alerts")(alerts_command)


def _period_with_data(calendar: Calendar, label: str | None, as_of: date, option: str) -> Period:
    """The period asked for (default: the quarter holding the as-of date), not after the data."""
    period = parse_period(calendar, label, option) if label else calendar.quarter(as_of)
    if period.start > as_of:
        raise KraftError(
            f"{option} {period.label} starts after the data's as-of date {as_of}; "
            f"give a period up to {calendar.period(period.grain, as_of).label}."
        )
    return period


def _as_of(db: Database) -> date:
    with db.connect() as conn:
        as_of = as_of_date(conn)
    if as_of is None:
        raise KraftError("No KPI values are stored yet; run `kraft compute` first.")
    return as_of


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
    fmt: Annotated[str, format_option(*TABLE_OR_JSON)] = "table",
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
    db = open_database(workspace, read_only=dry_run or not email)
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
        print_json(
            {
                "period": chosen.label,
                "as_of": as_of.isoformat(),
                "open": open_now,
                "alerts": [_alert_json(a) for a in found],
            }
        )
        return
    _print_alerts(framework, chosen, as_of, open_now, found)


def _print_alerts(
    framework: Framework, period: Period, as_of: date, open_now: bool, found: list[Alert]
) -> None:
    """The alerts as a table, each kind in its colour."""
    state = f"open, as of {as_of}" if open_now else "closed: nothing to pace"
    if not found:
        out.print(f"No alerts for {period.label} ({state}).")
        return
    table = table_of(
        ("RM", "KPI", "alert", "value", "forecast", "target", "threshold", "note"),
        f"Alerts for {period.label} ({state}): {len(found)}",
    )
    styles = {
        AlertKind.at_risk: "red",
        AlertKind.below_threshold_twice: "bold red",
        AlertKind.closing_soon: "yellow",
    }
    for a in found:
        table.add_row(
            a.rm_id,
            kpi_name(framework, a.kpi_id),
            Text(str(a.kind), style=styles[a.kind]),
            shown_kpi_value(framework, a.kpi_id, a.actual),
            shown_kpi_value(framework, a.kpi_id, a.forecast) if a.forecast is not None else "",
            shown_kpi_value(framework, a.kpi_id, a.target),
            shown_kpi_value(framework, a.kpi_id, a.threshold),
            _alert_note(framework, a),
        )
    out.print(table)


def _alert_note(framework: Framework, a: Alert) -> str:
    if a.kind is AlertKind.at_risk:
        return f"{a.method} forecast"
    if a.kind is AlertKind.below_threshold_twice:
        return f"{a.previous_period}: {shown_kpi_value(framework, a.kpi_id, a.previous_actual)}"
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


def _alert_json(a: Alert) -> dict[str, Any]:
    return {
        **item_json(a),
        "kind": a.kind.name,
        "actual": json_number(a.actual),
        "forecast": json_number(a.forecast),
        "method": str(a.method) if a.method else None,
        "target": json_number(a.target),
        "threshold": json_number(a.threshold),
        "previous_period": a.previous_period,
        "previous_actual": json_number(a.previous_actual),
        "closes_on": a.closes_on.isoformat() if a.closes_on else None,
        "pending": a.pending,
    }
