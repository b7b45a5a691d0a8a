"""The reading commands' way past `kraft serve`'s hold on a DuckDB file: ask the server, with the
local token it wrote beside its lock, for a consistent copy of the database, and read that."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from kraft.errors import KraftError
from kraft.store.database import RunningServer

ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "[::]": "[::1]"}
TIMEOUT = 600.0  # seconds: a copy of a large book takes a while


def local_url(url: str) -> str:
    """The server's URL as this machine reaches it (a server on every address is on loopback)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    reach = ANY_ADDRESS.get(shown, shown)
    netloc = f"{reach}:{parts.port}" if parts.port else reach
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def snapshot_from(server: RunningServer, why: str) -> Path:
    """The path of the server's snapshot of the database; `why` is the lock's own sentence,
    kept in the refusal when the server cannot give one."""
    try:
        token = server.token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise KraftError(
            f"{why.removesuffix('.')}; its local token {server.token_file} cannot be read "
            f"({exc.strerror}): run this command as the user who started the server."
        ) from None
    request = urllib.request.Request(
        f"{local_url(server.url)}/api/v1/local/snapshot",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return Path(json.loads(answer.read())["path"])
    except (OSError, ValueError, KeyError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise KraftError(
            f"{why.removesuffix('.')}; it did not give this reading command a snapshot ({reason})."
        ) from None
