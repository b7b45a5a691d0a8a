"""Alerts: what is at risk in a period (kraft.analysis.alerts), and the digests that send them by
email, one per manager and per RM, each one the mail server accepts written to the audit log."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from email.message import EmailMessage

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.analysis.alerts import Alert, Closing
from kraft.analysis.pacing import is_open
from kraft.analysis.ranking import DROP_POINTS, KpiAlert, Ranking, RmAlert, ranked_alerts
from kraft.core.context import Kraft
from kraft.core.inputs import parse_period
from kraft.errors import InvalidInputError, KraftError
from kraft.mailer import send_all
from kraft.periods import Period
from kraft.reports import alerts_digest
from kraft.scoring.stored import as_of_date
from kraft.store import audit
from kraft.store.metadata import scores
from kraft.store.roster import members, rm_exists, rm_names, team_exists, teams_below

RMS_AT_RISK_SHOWN = 25  # at-risk RMs a page lists, most severe first; the rest are counted
KPI_ALERTS_SHOWN = 25  # KPI alerts a page lists, most severe first


@dataclass(frozen=True)
class PeriodAlerts:
    period: Period
    as_of: date
    alerts: list[Alert]
    scored: bool  # whether the period has scores (else: `kraft compute` first)

    @property
    def open(self) -> bool:
        return is_open(self.period, self.as_of)


@dataclass(frozen=True)
class AlertEmail:
    """The digests to send: the plan (who gets what, who is skipped) and the messages."""

    alerts: PeriodAlerts
    plan: alerts_digest.DigestPlan
    messages: list[EmailMessage]

    @property
    def lines(self) -> int:
        return sum(d.count for d in self.plan.digests)


def data_as_of(kraft: Kraft) -> date:
    """The as-of date of the stored values; refused before the first compute."""
    with kraft.db.connect() as conn:
        as_of = as_of_date(conn)
    if as_of is None:
        raise KraftError("No KPI values are stored yet; run `kraft compute` first.")
    return as_of


def period_with_data(kraft: Kraft, label: str | None, as_of: date, field: str) -> Period:
    """The period asked for (default: the quarter holding the as-of date), not after the data."""
    calendar = kraft.calendar
    period = parse_period(calendar, label, field) if label else calendar.quarter(as_of)
    if period.start > as_of:
        raise InvalidInputError(
            f"{field} {period.label} starts after the data's as-of date {as_of}; "
            f"give a period up to {calendar.period(period.grain, as_of).label}."
        )
    return period


@dataclass(frozen=True)
class Narrowing:
    """Whose alerts to show: a team (and the teams below it), an RM, a KRA's KPIs."""

    team_id: str | None = None
    rm_id: str | None = None
    kra_id: str | None = None


def ranked_period_alerts(
    kraft: Kraft,
    label: str | None,
    *,
    closing_days: int,
    narrowing: Narrowing = Narrowing(),
    drop: Decimal = DROP_POINTS,
    field: str = "--period",
) -> tuple[PeriodAlerts, Ranking]:
    """The period's alerts ranked by severity (kraft.analysis.ranking), narrowed as asked."""
    as_of = data_as_of(kraft)
    period = period_with_data(kraft, label, as_of, field)
    closing = Closing(kraft.compute_parameters, closing_days)
    with kraft.db.connect() as conn:
        rm_ids = _narrowed_rms(kraft, conn, narrowing)
        ranking = ranked_alerts(
            conn, kraft.framework, kraft.calendar, period, as_of, kraft.catalogue,
            closing=closing, rm_ids=rm_ids, drop=drop, policy=kraft.scoring_policy(),
        )  # fmt: skip
        scored = conn.execute(
            sa.select(sa.func.count()).select_from(scores).where(scores.c.period == period.label)
        ).scalar()
    found = PeriodAlerts(period, as_of, [k.alert for k in ranking.kpis], bool(scored))
    return found, ranking.narrowed(kra_id=narrowing.kra_id)


def _narrowed_rms(kraft: Kraft, conn: Connection, narrowing: Narrowing) -> set[str] | None:
    """The RMs of --team (and the teams below it) and --rm; refused when unknown."""
    kras = {k.id for k in kraft.framework.kras}
    if narrowing.kra_id is not None and narrowing.kra_id not in kras:
        raise InvalidInputError(
            f"--kra {narrowing.kra_id!r} is not a KRA of the framework {kraft.framework.id}; "
            "see `kraft framework show` for the KRA ids."
        )
    chosen: set[str] | None = None
    if narrowing.team_id is not None:
        if not team_exists(conn, narrowing.team_id):
            raise InvalidInputError(
                f"--team {narrowing.team_id!r} is not in teams; give the team_id of a team."
            )
        chosen = set(members(conn, teams_below(conn, [narrowing.team_id])))
    if narrowing.rm_id is not None:
        if not rm_exists(conn, narrowing.rm_id):
            raise InvalidInputError(
                f"--rm {narrowing.rm_id!r} is not in relationship_managers; give an RM's rm_id."
            )
        chosen = {narrowing.rm_id} if chosen is None else chosen & {narrowing.rm_id}
    return chosen


@dataclass(frozen=True)
class AtRisk:
    """The ranked alerts of the open quarter (kraft.analysis.ranking), the most severe shown."""

    period: Period | None  # the open quarter on the as-of date, if any
    as_of: date | None
    rms: list[RmAlert]
    rms_total: int
    kpis: list[KpiAlert]
    kpis_total: int
    names: dict[str, str | None]


def at_risk(kraft: Kraft, conn: Connection, rm_ids: Collection[str] | None) -> AtRisk:
    """The RMs at risk and the KPI alerts of the quarter open on the as-of date (of the RMs
    named, or all), by severity: the ranking `kraft alerts` and the digests use, with the values
    closing soon and the workspace's scoring policy."""
    as_of = as_of_date(conn)
    if as_of is None:
        return AtRisk(None, None, [], 0, [], 0, {})
    quarter = kraft.calendar.quarter(as_of)
    if not is_open(quarter, as_of):
        return AtRisk(None, as_of, [], 0, [], 0, {})
    ranking = ranked_alerts(
        conn, kraft.framework, kraft.calendar, quarter, as_of, kraft.catalogue,
        closing=Closing(kraft.compute_parameters), rm_ids=rm_ids, policy=kraft.scoring_policy(),
    )  # fmt: skip
    rms, kpis = ranking.rms[:RMS_AT_RISK_SHOWN], ranking.kpis[:KPI_ALERTS_SHOWN]
    shown = {r.rm_id for r in rms} | {k.rm_id for k in kpis}
    names: dict[str, str | None] = {rm: name for rm, name in rm_names(conn).items() if rm in shown}
    return AtRisk(quarter, as_of, rms, len(ranking.rms), kpis, len(ranking.kpis), names)


def alert_email(kraft: Kraft, found: PeriodAlerts, ranking: Ranking) -> AlertEmail:
    """One digest per manager (their teams' RMs) and per RM (their own), from kraft.toml's
    [smtp] sender, in the order of the ranking."""
    with kraft.db.connect() as conn:
        plan = alerts_digest.plan_digests(
            conn, found.period.label, found.as_of, found.alerts, ranking.rms
        )
        names = rm_names(conn)
    smtp = kraft.settings.smtp
    sender = smtp.sender if smtp else "kraft@localhost"
    messages = [alerts_digest.message(kraft.framework, d, sender, names) for d in plan.digests]
    return AlertEmail(found, plan, messages)


def send_alert_email(kraft: Kraft, email: AlertEmail, *, actor: str) -> None:
    """Send the digests; each one the server accepts is in the audit log (who sent it, to whom,
    about which RMs, how many alerts), kept even when a later one fails."""
    smtp = kraft.settings.smtp
    if smtp is None:
        raise InvalidInputError(
            f"{kraft.workspace.config_path} has no [smtp] table; add host, port, tls and sender "
            "there (see the README) to send the alerts by email."
        )
    failure: KraftError | None = None
    with kraft.write() as conn:

        def record(index: int, _mail: object) -> None:
            digest = email.plan.digests[index]
            audit.append(
                conn,
                actor=actor,
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
            send_all(smtp, email.messages, record)
        except KraftError as exc:  # the digests accepted before it stay in the audit log
            failure = exc
    if failure is not None:
        raise failure
