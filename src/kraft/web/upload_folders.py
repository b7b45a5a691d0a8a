"""Where uploads wait while they are checked and held for Apply: a folder of this server's own
under a kraft-owned temporary folder (one per system user, readable by its owner only).

The server removes its folder when it stops; a server that was killed leaves its folder behind,
so every server sweeps, when it starts, the folders of servers that are gone (their process no
longer runs) or that nothing has touched for STALE_SECONDS (a process id used again)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

STALE_SECONDS = 24 * 3600.0  # far beyond the hour a checked upload is held for Apply


def default_root() -> Path:
    return Path(tempfile.gettempdir()) / f"kraft-uploads-{os.getuid()}"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _stale(folder: Path, now: float) -> bool:
    pid_text = folder.name.split("-", 1)[0]
    if not pid_text.isdigit():
        return False  # not a server's folder: left alone
    if int(pid_text) != os.getpid() and not _running(int(pid_text)):
        return True
    try:
        return now - folder.stat().st_mtime > STALE_SECONDS
    except FileNotFoundError:
        return False


class UploadFolders:
    """This server's folder of uploads: a new folder per upload, all removed at stop."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()
        self.folder = self.root / f"{os.getpid()}-{secrets.token_hex(4)}"

    def sweep(self) -> list[Path]:
        """Remove the folders servers that are gone left behind; the ones removed."""
        if not self.root.is_dir():
            return []
        now = time.time()
        removed = []
        for folder in self.root.iterdir():
            if folder != self.folder and folder.is_dir() and _stale(folder, now):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed

    def new(self) -> Path:
        """A new empty folder for one upload."""
        self.root.mkdir(mode=0o700, exist_ok=True)
        self.folder.mkdir(mode=0o700, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="upload-", dir=self.folder))

    def remove(self) -> None:
        """At stop: every upload of this server goes, held ones included."""
        shutil.rmtree(self.folder, ignore_errors=True)
