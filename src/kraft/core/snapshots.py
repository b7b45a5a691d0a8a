"""Snapshots of a DuckDB database for the commands that only read while `kraft serve` holds it.

DuckDB lets one process write a file, and no other process open it while it does. So the server
(the one writer) makes a consistent copy of the database on request, holding the writer for the
copy, and a reading command opens that copy read-only. A copy is reused while nothing has been
written since (the data version), and the last few are kept for commands still reading them.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from kraft.core.context import Kraft

KEPT = 3  # copies kept: a command may still read an older one


class Snapshots:
    """The copies one server made, in a folder only its user can read, removed when it stops."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kraft-snapshots-"))  # mode 0700
        self._lock = threading.Lock()
        self._made: list[tuple[tuple[object, ...], Path]] = []

    def current(self, kraft: Kraft) -> Path:
        """A copy of the database as it is now: the last one if nothing was written since."""
        with self._lock:
            with kraft.db.connect() as conn:
                version = (kraft.generation, *kraft.data_version(conn))
            if self._made and self._made[-1][0] == version:
                return self._made[-1][1]
            path = self.folder / f"snapshot-{len(self._made) + 1}.duckdb"
            n = len(self._made) + 1
            while path.exists():
                n += 1
                path = self.folder / f"snapshot-{n}.duckdb"
            with kraft.exclusive():
                kraft.db.copy_to(path)
            self._made.append((version, path))
            for _, old in self._made[:-KEPT]:
                old.unlink(missing_ok=True)
            del self._made[:-KEPT]
            return path

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
