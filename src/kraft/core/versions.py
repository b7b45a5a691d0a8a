"""Optimistic concurrency: a resource's version is the hash of its content (an ETag), and a
change names the version it was made on; a stale one changes nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from kraft.errors import StaleVersionError, VersionRequiredError


def etag_of(content: Mapping[str, Any]) -> str:
    """A strong ETag: the hash of the content as canonical JSON."""
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32] + '"'


def check_if_match(if_match: str | None, current: str, what: str, url: str) -> None:
    """Refuse a change that names no version (`url` gives it) or one that is not the
    resource's version now."""
    if if_match is None or not if_match.strip():
        raise VersionRequiredError(
            f"Changing {what} needs an If-Match header with its ETag; GET {url} first."
        )
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" not in tags and current not in tags:
        raise StaleVersionError(
            f"{what[0].upper()}{what[1:]} has changed since it was read, so nothing was "
            "changed; read it again and redo the change."
        )
