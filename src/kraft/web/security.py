"""Sign-in state: signed session cookies with a CSRF token, bearer tokens, and a login limiter.

Sessions and tokens are signed with the workspace's secret (itsdangerous) and hold the user's id
and token version (users.token_version); every request loads the user again and compares the
version, so signing out, a password change or disabling the user ends them server-side at once. The cookie is
HTTP-only, SameSite=Lax, and Secure unless the server runs on plain HTTP on loopback.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SESSION_COOKIE = "kraft_session"
SESSION_SECONDS = 12 * 3600
TOKEN_SECONDS = 8 * 3600
SECRET_FILE = ".kraft-secret"
SECRET_ENV = "KRAFT_SECRET_KEY"
LOGIN_ATTEMPTS = 5  # failed sign-ins allowed per address and per email in LOGIN_WINDOW
LOGIN_WINDOW = 300.0


def workspace_secret(root: Path) -> str:
    """KRAFT_SECRET_KEY, else the workspace's .kraft-secret (created once, readable by its
    owner only)."""
    given = os.environ.get(SECRET_ENV)
    if given:
        return given
    path = root / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


@dataclass(frozen=True)
class Session:
    user_id: int
    csrf: str
    version: int


@dataclass(frozen=True)
class Bearer:
    user_id: int
    version: int


def _ids(data: Any) -> tuple[int, int] | None:
    """The user id and token version a signed value holds (None: a value from before versions)."""
    if not isinstance(data, dict):
        return None
    user_id, version = data.get("u"), data.get("v")
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    return user_id, version


class Signer:
    """Makes and reads session cookies and bearer tokens."""

    def __init__(self, secret: str) -> None:
        self._sessions = URLSafeTimedSerializer(secret, salt="kraft-session")
        self._tokens = URLSafeTimedSerializer(secret, salt="kraft-api-token")

    def session_cookie(self, user_id: int, version: int) -> tuple[str, Session]:
        session = Session(user_id, secrets.token_urlsafe(24), version)
        return self._sessions.dumps({"u": user_id, "c": session.csrf, "v": version}), session

    def read_session(self, cookie: str | None) -> Session | None:
        data = _load(self._sessions, cookie, SESSION_SECONDS)
        ids = _ids(data)
        return None if ids is None else Session(ids[0], str(data.get("c", "")), ids[1])

    def token(self, user_id: int, version: int) -> str:
        return self._tokens.dumps({"u": user_id, "v": version})

    def read_token(self, token: str | None) -> Bearer | None:
        ids = _ids(_load(self._tokens, token, TOKEN_SECONDS))
        return None if ids is None else Bearer(*ids)


def _load(serializer: URLSafeTimedSerializer, value: str | None, max_age: int) -> Any:
    if not value:
        return None
    try:
        return serializer.loads(value, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and secrets.compare_digest(str(given), expected)


@dataclass
class LoginLimiter:
    """Failed sign-ins per client address and per email within a sliding window; beyond
    LOGIN_ATTEMPTS, sign-in is refused (429) until the oldest failure leaves the window."""

    attempts: int = LOGIN_ATTEMPTS
    window: float = LOGIN_WINDOW
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, *keys: str) -> int:
        """Seconds to wait before another attempt for any of the keys (0: go ahead)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                failures = self._failures.get(key)
                if not failures:
                    continue
                while failures and now - failures[0] > self.window:
                    failures.popleft()
                if len(failures) >= self.attempts:
                    wait = max(wait, self.window - (now - failures[0]))
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
