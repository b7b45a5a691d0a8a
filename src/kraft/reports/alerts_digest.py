"""The alerts as email digests: one per manager (the alerts of every RM in the teams they lead
and the teams below them) and one per RM (their own), each to the kraft user linked to that RM
record (kraft.store.users). The alerts are kraft.analysis.alerts'; this module only chooses who
reads which and writes them as plain text with an HTML alternative.

Who gets what, decided here and stated in the summary: a manager is a user of role manager
(their scope is kraft.core.access's: teams.leader_rm_id and every team below); an RM's digest goes
to the users of role rm linked to the RM record. A disabled user gets nothing and is counted; an
RM with alerts but no user to read them is counted; nobody is sent an empty digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from sqlalchemy.engine import Connection

from kraft.analysis.alerts import Alert, AlertKind
from kraft.analysis.ranking import RmAlert
from kraft.formatting import fixed, signed
from kraft.framework.model import Framework, Role
from kraft.reports.framework_document import template_environment
from kraft.reports.values import shown_value
from kraft.store.roster import Managed, TeamTree, managed_by, rm_names, team_tree
from kraft.store.users import list_users

RMS_HEADING = "RMs at risk: overall below Meets or falling, most severe first"
DRIVERS_NAMED = 3
HEADINGS = {
    AlertKind.at_risk: "At risk: the forecast misses the target",
    AlertKind.below_threshold_twice: "Below threshold two periods running",
    AlertKind.closing_soon: "Provisional, closing soon: still below target",
}


@dataclass(frozen=True)
class Line:
    """One alert as a digest shows it."""

    rm: str  # "RM1 Asha"
    kpi: str  # the KPI's name
    period: str
    detail: str  # the values, in the KPI's unit

    @property
    def text(self) -> str:
        return f"- {self.rm} · {self.kpi} · {self.period}: {self.detail}"


@dataclass(frozen=True)
class Section:
    kind: AlertKind | None  # None: the RMs at risk
    heading: str
    lines: list[Line]


@dataclass(frozen=True)
class Digest:
    """One message: who reads it, about whom, and the alerts."""

    email: str
    audience: str  # "manager" or "rm"
    rm_id: str  # the reader's RM record
    reader: str  # the reader's name
    about: str  # "your teams (T1 North)" or "you"
    period: str
    as_of: date
    alerts: list[Alert]  # by severity (kraft.analysis.ranking)
    rms: list[RmAlert] = field(default_factory=list)  # the RMs at risk, by severity

    @property
    def count(self) -> int:
        return len(self.alerts) + len(self.rms)

    @property
    def rm_ids(self) -> list[str]:
        return sorted({a.rm_id for a in self.alerts} | {r.rm_id for r in self.rms})


@dataclass
class DigestPlan:
    """The digests to send, and who was left out and why."""

    digests: list[Digest] = field(default_factory=list)
    inactive_users: list[str] = field(default_factory=list)  # emails
    rms_without_user: list[str] = field(default_factory=list)  # rm_ids with alerts
    nothing_to_report: int = 0  # readers whose digest would be empty

    @property
    def managers(self) -> int:
        return sum(1 for d in self.digests if d.audience == "manager")

    @property
    def rms(self) -> int:
        return sum(1 for d in self.digests if d.audience == "rm")


def plan_digests(
    conn: Connection,
    period: str,
    as_of: date,
    found: Sequence[Alert],
    at_risk: Sequence[RmAlert] = (),
) -> DigestPlan:
    """Who receives which alerts (see the module docstring); `found` and `at_risk` in the
    order of kraft.analysis.ranking, which every digest keeps."""
    names = rm_names(conn)
    tree = team_tree(conn)
    by_rm: dict[str, list[Alert]] = {}
    for alert in found:
        by_rm.setdefault(alert.rm_id, []).append(alert)
    risky = {r.rm_id: r for r in at_risk}
    for rm_id in risky:
        by_rm.setdefault(rm_id, [])
    plan = DigestPlan()
    people = list_users(conn)
    for user in people:
        if user.role is not Role.manager or not user.rm_id:
            continue
        managed = managed_by(conn, user.rm_id)
        theirs = [a for a in found if a.rm_id in managed.rm_ids]
        their_rms = [r for r in at_risk if r.rm_id in managed.rm_ids]
        if not theirs and not their_rms:
            plan.nothing_to_report += 1
            continue
        if not user.active:
            plan.inactive_users.append(user.email)
            continue
        about = "your teams (" + ", ".join(_team_name(tree, t) for t in _tops(tree, managed))
        reader = names.get(user.rm_id, user.rm_id)
        digest = Digest(
            user.email, "manager", user.rm_id, reader, about + ")", period, as_of, theirs,
            their_rms,
        )  # fmt: skip
        plan.digests.append(digest)
    readers: dict[str, list[str]] = {}
    inactive: dict[str, list[str]] = {}
    for user in people:
        if user.role is Role.rm and user.rm_id:
            (readers if user.active else inactive).setdefault(user.rm_id, []).append(user.email)
    for rm_id, own in sorted(by_rm.items()):
        for email in readers.get(rm_id, []):
            reader = names.get(rm_id, rm_id)
            mine = [risky[rm_id]] if rm_id in risky else []
            plan.digests.append(Digest(email, "rm", rm_id, reader, "you", period, as_of, own, mine))
        plan.inactive_users += inactive.get(rm_id, [])
        if rm_id not in readers and rm_id not in inactive:
            plan.rms_without_user.append(rm_id)
    plan.nothing_to_report += sum(1 for rm_id in readers if rm_id not in by_rm)
    return plan


def _tops(tree: TeamTree, managed: Managed) -> list[str]:
    """The manager's teams that are not below another of theirs."""
    return tree.children(managed.team_ids).get(None, [])


def _team_name(tree: TeamTree, team_id: str) -> str:
    team = tree.teams.get(team_id)
    return f"{team_id} {team.name if team else ''}".strip()


# -- writing it ---------------------------------------------------------------------------


def _detail(framework: Framework, alert: Alert) -> str:
    try:
        kpi = framework.kpi(alert.kpi_id)
        unit = kpi.unit
    except KeyError:
        unit = None

    def shown(value: Decimal | None) -> str:
        return shown_value(value, unit, framework.currency)

    goal = f"target {shown(alert.target)}, threshold {shown(alert.threshold)}"
    if alert.kind is AlertKind.at_risk:
        return (
            f"{shown(alert.actual)} to date, forecast {shown(alert.forecast)} "
            f"({alert.method}); {goal}"
        )
    if alert.kind is AlertKind.below_threshold_twice:
        if alert.forecast is not None:
            now = f"forecast {shown(alert.forecast)} ({shown(alert.actual)} to date)"
        else:
            now = f"actual {shown(alert.actual)}"
        return f"{now}; {goal}; {alert.previous_period}: {shown(alert.previous_actual)}"
    still = f", {alert.pending} still in their window" if alert.pending else ""
    return f"{shown(alert.actual)} (provisional), closes on {alert.closes_on}{still}; {goal}"


def _rm_line(framework: Framework, r: RmAlert, names: dict[str, str]) -> Line:
    what = "forecast overall" if r.forecast else "overall"
    change = f", {signed(r.change)} since {r.previous_period}" if r.change is not None else ""
    costliest = ", ".join(
        f"{_kpi_name(framework, d.kpi_id)} {fixed(d.severity)}" for d in r.drivers[:DRIVERS_NAMED]
    )
    capped = ", capped by a gate" if r.rating_capped else ""
    detail = f"{what} {fixed(r.overall)} ({r.rating_label}{capped}){change}"
    if costliest:
        detail += f"; costliest KPIs (points of the overall): {costliest}"
    return Line(f"{r.rm_id} {names.get(r.rm_id, '')}".strip(), "Overall score", r.period, detail)


def sections(framework: Framework, digest: Digest, names: dict[str, str]) -> list[Section]:
    """The RMs at risk, then the KPI alerts grouped by kind in the order of AlertKind; each
    in the order of severity (kraft.analysis.ranking)."""
    found: list[Section] = []
    if digest.rms:
        lines = [_rm_line(framework, r, names) for r in digest.rms]
        found.append(Section(None, RMS_HEADING, lines))
    for kind in AlertKind:
        lines = [
            Line(
                f"{a.rm_id} {names.get(a.rm_id, '')}".strip(),
                _kpi_name(framework, a.kpi_id),
                a.period,
                _detail(framework, a),
            )
            for a in digest.alerts
            if a.kind is kind
        ]
        if lines:
            found.append(Section(kind, HEADINGS[kind], lines))
    return found


def _kpi_name(framework: Framework, kpi_id: str) -> str:
    try:
        return framework.kpi(kpi_id).name
    except KeyError:
        return kpi_id


def subject(digest: Digest) -> str:
    noun = "alert" if digest.count == 1 else "alerts"
    return f"kraft: {digest.count} {noun} for {digest.period} ({digest.about})"


def text_body(framework: Framework, digest: Digest, names: dict[str, str]) -> str:
    noun = "alert" if digest.count == 1 else "alerts"
    lines = [
        f"Hello {digest.reader},",
        "",
        f"{digest.count} {noun} for {digest.period} about {digest.about}, from the data as of "
        f"{digest.as_of}.",
    ]
    for section in sections(framework, digest, names):
        lines += ["", f"{section.heading}:"]
        lines += [line.text for line in section.lines]
    lines += ["", "kraft · KRA/KPI performance management", ""]
    return "\n".join(lines)


def html_body(framework: Framework, digest: Digest, names: dict[str, str]) -> str:
    template = template_environment(autoescape=True).get_template("alerts_digest.html.j2")
    return str(
        template.render(
            digest=digest,
            subject=subject(digest),
            sections=sections(framework, digest, names),
        )
    )


def message(
    framework: Framework, digest: Digest, sender: str, names: dict[str, str]
) -> EmailMessage:
    """The digest as an email: plain text, with the HTML version as its alternative."""
    mail = EmailMessage()
    mail["Subject"] = subject(digest)
    mail["From"] = sender
    mail["To"] = formataddr((digest.reader, digest.email))
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(text_body(framework, digest, names))
    mail.add_alternative(html_body(framework, digest, names), subtype="html")
    return mail
