"""`kraft alerts --email` against a real SMTP server (aiosmtpd) started by the test on a free
loopback port, reading what it received; the book is tests/test_alerts_closing.py's.

The server speaks plain SMTP: STARTTLS is off on loopback (tls = "none" in [smtp]), since the
mail never leaves the machine and the test has no certificate to offer. kraft refuses tls =
"none" with a username for any other host (tests/test_workspace-style check below).

Alerts of 2025-Q2 (as of 2025-04-10, 14 days): RM1 retention of 2025-Q1 closing soon; RM3
sessions at risk; RM4 sessions below threshold two periods running (and at risk: one line, its
strongest reason). RM3 and RM4 are RMs at risk: sessions, their only KPI with a value, forecast
0, so the forecast overall is 0 (Unsatisfactory), and the sessions cost it 100 points.
Users: admin; m1 (manager M1: B1 → T1 = RM1, RM2, RM3); m2 (manager M2: B2 → T2 = RM4);
rm1 (RM1) and a disabled old-rm1 (RM1); rm2 (RM2, no alerts); rm4 (RM4). RM3 has no user.
"""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from typer.testing import CliRunner

from kpi_books import configure
from kraft.cli import app
from kraft.store.database import workspace_database
from kraft.workspace import SmtpSettings, Workspace, load_workspace
from test_alerts_cli import fails, kraft
from test_alerts_closing import build_closing

SENDER = "kraft@insurer.test"


@dataclass
class Inbox:
    """What the server accepted: (envelope recipients, parsed message)."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: bool = False

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook names)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse:
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def to(self, address: str) -> EmailMessage:
        found = [m for rcpt, m in self.received if rcpt == [address]]
        assert len(found) == 1, [r for r, _ in self.received]
        return found[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _user(ws: Workspace, address: str, role: str, rm_id: str | None = None) -> None:
    args = ["--workspace", str(ws.root), "users", "add", address, "--role", role]
    args += ["--rm-id", rm_id] if rm_id else []
    result = CliRunner().invoke(app, [*args, "--password-stdin"], input="a-long-password\n")
    assert result.exit_code == 0, result.output


@pytest.fixture
def mailed(workspace: Workspace, tmp_path: Path, inbox: tuple[Inbox, int]) -> Workspace:
    ws = build_closing(workspace, tmp_path / "book")
    _, port = inbox
    configure(ws, smtp=SmtpSettings(host="127.0.0.1", port=port, tls="none", sender=SENDER))
    ws = load_workspace(ws.root)
    for address, role, rm_id in (
        ("admin@insurer.test", "admin", None),
        ("m1@insurer.test", "manager", "M1"),
        ("m2@insurer.test", "manager", "M2"),
        ("rm1@insurer.test", "rm", "RM1"),
        ("old-rm1@insurer.test", "rm", "RM1"),
        ("rm2@insurer.test", "rm", "RM2"),
        ("rm4@insurer.test", "rm", "RM4"),
    ):
        _user(ws, address, role, rm_id)
    kraft(ws, "users", "disable", "old-rm1@insurer.test")
    return ws


def _lines(message: EmailMessage) -> list[str]:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return [line for line in body.get_content().splitlines() if line.startswith("- ")]


def _html(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    html: str = body.get_content()
    return html


def _audited(ws: Workspace) -> list[tuple[str, str]]:
    db = workspace_database(ws.root, ws.settings.database_url)
    try:
        with db.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT object_id, new_value FROM audit_log WHERE action = 'alerts.email' "
                    "ORDER BY seq"
                )
            ).all()
    finally:
        db.dispose()
    return [(r[0], r[1]) for r in rows]


def test_one_digest_per_manager_and_per_rm(mailed: Workspace, inbox: tuple[Inbox, int]) -> None:
    server, port = inbox
    said = kraft(mailed, "alerts", "--email")
    assert (
        "Sent 4 digest(s) for 2025-Q2 with 8 alert line(s) (2 to managers, 2 to RMs) through "
        f"127.0.0.1:{port}; 1 disabled user(s) skipped; 1 RM(s) with alerts have no active "
        "kraft user (RM3); 1 reader(s) had no alerts."
    ) in " ".join(said.split())
    assert sorted(r[0] for r, _ in server.received) == [
        "m1@insurer.test", "m2@insurer.test", "rm1@insurer.test", "rm4@insurer.test",
    ]  # fmt: skip

    m1 = server.to("m1@insurer.test")  # their tree: RM1, RM2, RM3; never RM4
    assert m1["Subject"] == "kraft: 3 alerts for 2025-Q2 (your teams (B1 North Branch))"
    assert m1["From"] == SENDER and m1["To"] == "Maya <m1@insurer.test>"
    assert _lines(m1) == [
        "- RM3 Dev · Overall score · 2025-Q2: forecast overall 0.00 (Unsatisfactory), -100.00 "
        "since 2025-Q1; costliest KPIs (points of the overall): Education sessions 100.00",
        "- RM3 Dev · Education sessions · 2025-Q2: 0 to date, forecast 0 (run rate); "
        "target 6, threshold 3",
        "- RM1 Ravi · Client retention rate · 2025-Q1: 60 % (provisional), closes on 2025-04-24, "
        "2 still in their window; target 80 %, threshold 60 %",
    ]
    assert "RM4" not in m1.as_string()

    m2 = server.to("m2@insurer.test")
    assert m2["Subject"] == "kraft: 2 alerts for 2025-Q2 (your teams (B2 South Branch))"
    assert _lines(m2) == [
        "- RM4 Kiran <b>K</b> · Overall score · 2025-Q2: forecast overall 0.00 (Unsatisfactory), "
        "-37.50 since 2025-Q1; costliest KPIs (points of the overall): Education sessions 100.00",
        "- RM4 Kiran <b>K</b> · Education sessions · 2025-Q2: forecast 0 (0 to date); "
        "target 6, threshold 3; 2025-Q1: 0",
    ]
    html = _html(m2)  # the HTML alternative: the same lines, escaped
    assert "Kiran &lt;b&gt;K&lt;/b&gt;" in html and "<b>K</b>" not in html
    assert "Below threshold two periods running" in html and "2025-Q1: 0" in html
    assert "RMs at risk" in html and "forecast overall 0.00" in html

    rm1 = server.to("rm1@insurer.test")  # their own alerts only
    assert rm1["Subject"] == "kraft: 1 alert for 2025-Q2 (you)"
    assert [line.split(" · ")[0] for line in _lines(rm1)] == ["- RM1 Ravi"]
    assert "Provisional, closing soon" in rm1.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    rm4 = server.to("rm4@insurer.test")
    assert {line.split(" · ")[0] for line in _lines(rm4)} == {"- RM4 Kiran <b>K</b>"}

    audited = _audited(mailed)  # one entry per digest sent: recipient, count, RMs
    assert [a for a, _ in audited] == [
        "m1@insurer.test", "m2@insurer.test", "rm1@insurer.test", "rm4@insurer.test",
    ]  # fmt: skip
    assert '"alerts":3' in audited[0][1] and '"rm_ids":["RM1","RM3"]' in audited[0][1]
    assert '"audience":"rm"' in audited[2][1] and '"period":"2025-Q2"' in audited[2][1]
    assert "intact" in kraft(mailed, "audit", "verify")


def test_a_dry_run_sends_nothing(mailed: Workspace, inbox: tuple[Inbox, int]) -> None:
    server, _ = inbox
    said = kraft(mailed, "alerts", "--email", "--dry-run", "--period", "2025-Q1")
    # 2025-Q1 is closed: its scored overall stands in for the forecast; RM2 (retention 50 %)
    # and RM4 (no sessions) are RMs at risk besides their KPI alerts.
    assert "Would send to m1@insurer.test (manager): kraft: 2 alerts for 2025-Q1" in said
    assert "Would send to m2@insurer.test (manager): kraft: 2 alerts for 2025-Q1" in said
    assert "Would send to rm2@insurer.test (rm): kraft: 1 alert for 2025-Q1" in said
    assert "Dry run: 5 digest(s) for 2025-Q1 would be sent" in " ".join(said.split())
    assert server.received == [] and _audited(mailed) == []
    assert "--email" in fails(mailed, "alerts", "--dry-run")


def test_a_refusing_server_is_one_clear_sentence(
    mailed: Workspace, inbox: tuple[Inbox, int]
) -> None:
    server, port = inbox
    server.refuse = True
    error = fails(mailed, "alerts", "--email")
    assert f"Sending mail through the SMTP server 127.0.0.1:{port} failed" in error
    assert "550 5.7.1 Relaying denied" in error and "check [smtp] in kraft.toml" in error
    assert server.received == [] and _audited(mailed) == []
    # Nothing listening: the same kind of sentence.
    configure(
        mailed, smtp=SmtpSettings(host="127.0.0.1", port=free_port(), tls="none", sender=SENDER)
    )
    error = fails(mailed, "alerts", "--email")
    assert "Sending mail through the SMTP server 127.0.0.1:" in error and "refused" in error


def test_smtp_settings_are_checked(workspace: Workspace) -> None:
    config = workspace.config_path
    base = config.read_text(encoding="utf-8")
    assert "has no [smtp] table" in fails(workspace, "alerts", "--email")
    for table, wanted in (
        ('host = "mail.insurer.test"\nsender = "kraft@insurer.test"\ntls = "tls"\n', "smtp.tls"),
        ('host = "mail.insurer.test"\nsender = "not an address"\n', "not an email address"),
        ('host = "mail.insurer.test"\nsender = "kraft@insurer.test"\nport = 0\n', "smtp.port"),
        (
            'host = "mail.insurer.test"\nsender = "k@insurer.test"\ntls = "none"\nusername = "k"\n',
            'would send the password to mail.insurer.test unencrypted; use "starttls" or "ssl"',
        ),
    ):
        config.write_text(base + "[smtp]\n" + table, encoding="utf-8")
        error = fails(workspace, "alerts")
        assert "kraft.toml, setting smtp" in error and wanted in error, error
    config.write_text(
        base + '[smtp]\nhost = "127.0.0.1"\nsender = "k@insurer.test"\ntls = "none"\n'
        'username = "k"\n',
        encoding="utf-8",
    )
    smtp = load_workspace(workspace.root).settings.smtp  # clear text is fine on loopback
    assert smtp is not None and smtp.effective_port == 25
