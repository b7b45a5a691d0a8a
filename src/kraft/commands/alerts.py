"""`kraft alerts`: KPIs at risk, below threshold twice or closing soon, printed or emailed."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from typing import Annotated, Any

import typer

from kraft.analysis.alerts import CLOSING_DAYS, Alert, AlertKind
from kraft.analysis.ranking import DROP_POINTS, KpiAlert, Ranking, RmAlert
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
    warn,
)
from kraft.core.alerts import (
    AlertEmail,
    Narrowing,
    PeriodAlerts,
    alert_email,
    ranked_period_alerts,
    send_alert_email,
)
from kraft.core.context import Kraft
from kraft.errors import KraftError
from kraft.formatting import fixed, signed
from kraft.framework.model import Framework
from kraft.reports import alerts_digest

# --format stays a checked str here: its refusal is the one-line "Error: --format ..." kept.
TABLE_OR_JSON = ("table", "json")
RMS_SHOWN = 7  # at-risk RMs a screen (24 lines) shows by default: three lines each
KPIS_SHOWN = 10  # KPI alerts a screen shows by default
DRIVERS_SHOWN = 2
WIDTH = 80  # the costliest KPIs named for each at-risk RM


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
    team: Annotated[
        str | None, typer.Option("--team", help="Only this team and the teams below it.")
    ] = None,
    rm: Annotated[str | None, typer.Option("--rm", help="Only this RM: their KPI alerts.")] = None,
    kra: Annotated[str | None, typer.Option("--kra", help="Only this KRA's KPI alerts.")] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            help=f"Lines to show (default {RMS_SHOWN} RMs, or {KPIS_SHOWN} KPI alerts with "
            "--rm or --kra; in JSON, all).",
        ),
    ] = None,
    drop: Annotated[
        float,
        typer.Option(
            "--drop", help="Alert an RM whose overall is down this many points from last period."
        ),
    ] = float(DROP_POINTS),
    fmt: Annotated[str, format_option(*TABLE_OR_JSON)] = "table",
) -> None:
    """At-risk RMs (forecast overall below Meets, or down --drop points) by severity, and with
    --rm or --kra their KPI alerts (at risk by pacing, below threshold two periods running,
    closing soon while below target), one per RM and KPI; --email sends them as digests."""
    fmt = check_format(fmt, TABLE_OR_JSON)
    if closing_days < 0 or closing_days > 366:
        raise KraftError(f"--closing-days {closing_days} is not from 0 to 366; give a day count.")
    if limit is not None and limit < 1:
        raise KraftError(f"--limit {limit} is not a positive count; give 1 or more.")
    if not 0 < drop <= 120:
        raise KraftError(f"--drop {drop:g} is not from 0 to 120; give points of the overall score.")
    if dry_run and not email:
        raise KraftError("--dry-run goes with --email; add --email to see who would be sent what.")
    kraft = kraft_of(ctx, read_only=dry_run or not email)
    if email and not dry_run and kraft.settings.smtp is None:
        raise KraftError(
            f"{kraft.workspace.config_path} has no [smtp] table; add host, port, tls and sender "
            "there (see the README) to send the alerts by email."
        )
    narrowing = Narrowing(team, rm, kra)
    found, ranking = ranked_period_alerts(
        kraft, period, closing_days=closing_days, narrowing=narrowing, drop=Decimal(str(drop))
    )
    if not found.scored:
        warn(f"No scores are stored for {found.period.label}; run `kraft compute` to score it.")
    if email:
        _email_digests(kraft, alert_email(kraft, found, ranking), dry_run=dry_run)
        return
    if fmt == "json":
        print_json(_ranking_json(found, ranking, limit, Decimal(str(drop))))
        return
    if rm is not None or kra is not None:
        _print_kpi_alerts(kraft.framework, found, ranking, limit or KPIS_SHOWN)
    else:
        _print_rm_alerts(kraft.framework, found, ranking, limit or RMS_SHOWN)


def _state(found: PeriodAlerts) -> str:
    return f"open, as of {found.as_of}" if found.open else "closed: nothing to pace"


def _print_rm_alerts(
    framework: Framework, found: PeriodAlerts, ranking: Ranking, limit: int
) -> None:
    """The at-risk RMs by severity, each with its costliest KPIs, and a count of the rest:
    two or three lines an RM, within 80 columns."""
    label, rms = found.period.label, ranking.rms
    what = "forecast overall" if found.open else "overall"
    if not rms:
        out.print(f"No RM at risk in {label} ({_state(found)}).")
    else:
        out.print(f"RMs at risk in {label} ({_state(found)}): {len(rms)}, most severe first")
        for r in rms[:limit]:
            change = f", {signed(r.change)} vs {r.previous_period}" if r.change is not None else ""
            capped = " (gate)" if r.rating_capped else ""
            out.print(f"{r.rm_id}  {what} {fixed(r.overall)} {r.rating_label}{capped}{change}")
            costliest = ", ".join(
                f"{kpi_name(framework, d.kpi_id)} −{fixed(d.severity)}"
                for d in r.drivers[:DRIVERS_SHOWN]
            )
            if costliest:
                _wrapped(f"points lost: {costliest}")
    rest = len(rms) - min(limit, len(rms))
    more = f"{rest} more RM(s) at risk (--limit shows them). " if rest else ""
    _wrapped(
        f"{more}{len(ranking.kpis)} KPI alert(s): --rm or --kra lists them by severity, "
        "--team narrows to a team.",
        indent="",
    )


def _wrapped(text: str, indent: str = "  ") -> None:
    """Text within 80 columns, broken between words only."""
    out.print(
        textwrap.fill(
            text,
            WIDTH,
            initial_indent=indent,
            subsequent_indent=indent or "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    )


def _print_kpi_alerts(
    framework: Framework, found: PeriodAlerts, ranking: Ranking, limit: int
) -> None:
    """The KPI alerts by severity, one per RM and KPI with its strongest reason."""
    label, kpis = found.period.label, ranking.kpis
    if not kpis:
        out.print(f"No KPI alerts for {label} ({_state(found)}).")
        return
    out.print(f"KPI alerts for {label} ({_state(found)}): {len(kpis)}, most severe first")
    for k in kpis[:limit]:
        a = k.alert
        out.print(f"{a.rm_id}  {kpi_name(framework, a.kpi_id)}: −{fixed(k.severity)} points")
        values = f"{shown_kpi_value(framework, a.kpi_id, a.actual)}"
        if a.forecast is not None:
            forecast = shown_kpi_value(framework, a.kpi_id, a.forecast)
            values += f" to date, forecast {forecast} ({a.method})"
        goal = shown_kpi_value(framework, a.kpi_id, a.target)
        _wrapped(f"{a.kind}: {values}, target {goal}; {_alert_note(framework, a)}")
    if len(kpis) > limit:
        out.print(f"{len(kpis) - limit} more KPI alert(s) (--limit shows them).")


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


def _ranking_json(
    found: PeriodAlerts, ranking: Ranking, limit: int | None, drop: Decimal
) -> dict[str, Any]:
    return {
        "period": found.period.label,
        "as_of": found.as_of.isoformat(),
        "open": found.open,
        "drop": json_number(drop),
        "rms_total": len(ranking.rms),
        "alerts_total": len(ranking.kpis),
        "rms": [_rm_json(r) for r in ranking.rms[:limit]],
        "alerts": [_kpi_alert_json(k) for k in ranking.kpis[:limit]],
    }


def _rm_json(r: RmAlert) -> dict[str, Any]:
    return {
        "rm_id": r.rm_id,
        "team_id": r.team_id,
        "period": r.period,
        "overall": json_number(r.overall),
        "rating": r.rating,
        "rating_label": r.rating_label,
        "forecast": r.forecast,
        "below_meets": r.below_meets,
        "rating_capped": r.rating_capped,
        "previous_period": r.previous_period,
        "previous_overall": json_number(r.previous_overall),
        "severity": json_number(r.severity),
        "drivers": [
            {
                "kpi_id": d.kpi_id,
                "kra_id": d.kra_id,
                "weight": json_number(d.weight),
                "shortfall": json_number(d.shortfall),
                "severity": json_number(d.severity),
            }
            for d in r.drivers
        ],
    }


def _kpi_alert_json(k: KpiAlert) -> dict[str, Any]:
    return {
        **_alert_json(k.alert),
        "reasons": [r.name for r in k.reasons],
        "team_id": k.team_id,
        "weight": json_number(k.driver.weight) if k.driver else None,
        "shortfall": json_number(k.driver.shortfall) if k.driver else None,
        "severity": json_number(k.severity),
    }


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
