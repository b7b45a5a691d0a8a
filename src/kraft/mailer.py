"""Sending mail through the SMTP server of kraft.toml's [smtp] table (the standard library's
smtplib): one connection for a batch of messages, and every failure as one sentence."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Sequence
from email.message import EmailMessage

from kraft.errors import KraftError
from kraft.workspace import SMTP_PASSWORD_VAR, SmtpSettings


class MailError(KraftError):
    """The SMTP server could not be reached, or refused a sign-in, a sender or a recipient."""


def _where(settings: SmtpSettings) -> str:
    return f"{settings.host}:{settings.effective_port}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error or "")
        return f"{exc.smtp_code} {text}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {text.decode('utf-8', 'replace')}"
            for address, (code, text) in exc.recipients.items()
        )
    return str(exc) or type(exc).__name__


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    host, port, timeout = settings.host, settings.effective_port, settings.timeout_seconds
    if settings.tls == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    server = smtplib.SMTP(host, port, timeout=timeout)
    if settings.tls == "starttls":
        server.starttls(context=ssl.create_default_context())
        server.ehlo()
    return server


def send_all(
    settings: SmtpSettings,
    messages: Sequence[EmailMessage],
    sent: Callable[[int, EmailMessage], None] | None = None,
) -> None:
    """Send the messages in order over one connection; `sent(i, message)` is called after each
    one the server accepted. Raises MailError (naming how many were sent before) on a failure."""
    if not messages:
        return
    password = settings.login_password()
    if settings.username and not password:
        raise MailError(
            f"kraft.toml [smtp] names the username {settings.username!r} but no password; set "
            f"{SMTP_PASSWORD_VAR} (or password in [smtp])."
        )
    done = 0
    try:
        with _connect(settings) as server:
            if settings.username and password:
                server.login(settings.username, password)
            for message in messages:
                server.send_message(message)
                done += 1
                if sent is not None:
                    sent(done - 1, message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"The SMTP server {_where(settings)} refused the sign-in of {settings.username!r} "
            f"({_reason(exc)}); check username and {SMTP_PASSWORD_VAR}."
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        before = f" after {done} of {len(messages)} messages" if done else ""
        raise MailError(
            f"Sending mail through the SMTP server {_where(settings)} failed{before} "
            f"({_reason(exc)}); check [smtp] in kraft.toml and that the server accepts mail "
            f"from {settings.sender}."
        ) from None
