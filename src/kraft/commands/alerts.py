"""`kraft alerts`: KPIs at risk, below threshold twice or closing soon, printed or emailed."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from kraft.analysis.alerts import CLOSING_DAYS, Alert, AlertKind
from kraft.commands.analysis import (
    item_json,
    json_number,
    kpi_name,
    print_json,
    shown_kpi_value,
)
from kraft.commands.common import (
    actor,
    check_format,
    format_option,
    kraft_of,
    out,
    table_of,
    warn,
)
from kraft.core.alerts import (
    AlertEmail,
    PeriodAlerts,
    alert_email,
    period_alerts,
    send_alert_email,
)
from kraft.core.context import Kraft
from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.reports import alerts_digest

# --format stays a checked str here: its refusal is the one-line "Error: --format ..." kept.
TABLE_OR_JSON = ("table", "json")


def register(app: typer.Typer) -> None:
    app.command("alerts")(alerts_command)


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
    kraft = kraft_of(ctx, read_only=dry_run or not email)
    if email and not dry_run and kraft.settings.smtp is None:
        raise KraftError(
            f"{kraft.workspace.config_path} has no [smtp] table; add host, port, tls and sender "
            "there (see the README) to send the alerts by email."
        )
    found = period_alerts(kraft, period, closing_days=closing_days)
    if not found.scored:
        warn(f"No scores are stored for {found.period.label}; run `kraft compute` to score it.")
    if email:
        _email_digests(kraft, alert_email(kraft, found), dry_run=dry_run)
        return
    if fmt == "json":
        print_json(
            {
                "period": found.period.label,
                "as_of": found.as_of.isoformat(),
                "open": found.open,
                "alerts": [_alert_json(a) for a in found.alerts],
            }
        )
        return
    _print_alerts(kraft.framework, found)


def _print_alerts(framework: Framework, alerts: PeriodAlerts) -> None:
    """The alerts as a table, each kind in its colour."""
    period, found = alerts.period, alerts.alerts
    state = f"open, as of {alerts.as_of}" if alerts.open else "closed: nothing to pace"
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


def _email_digests(kraft: Kraft, email: AlertEmail, *, dry_run: bool) -> None:
    """Send the digests (kraft.core.alerts), or with --dry-run say who would get what."""
    plan, label, skipped = email.plan, email.alerts.period.label, _skipped(email.plan)
    if dry_run:
        for digest, mail in zip(plan.digests, email.messages, strict=True):
            out.print(f"Would send to {digest.email} ({digest.audience}): {mail['Subject']}")
        out.print(
            f"Dry run: {len(email.messages)} digest(s) for {label} would be sent "
            f"({plan.managers} to managers, {plan.rms} to RMs); nothing was sent{skipped}."
        )
        return
    send_alert_email(kraft, email, actor=actor())
    smtp = kraft.settings.smtp
    assert smtp is not None  # send_alert_email refuses a workspace without one
    out.print(
        f"Sent {len(email.messages)} digest(s) for {label} with {email.lines} alert line(s) "
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
