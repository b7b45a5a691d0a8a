"""What every request of `kraft serve` shares: the workspace, its database, framework and calendar,
the signer and login limiter, the templates, and the one writer.

On DuckDB the server is the database's one writer: every write of the app goes through
`Site.write()`, which serialises them in this process (readers get their own connections), so that
no two transactions of the app ever contend for the file. PostgreSQL needs no such lock, and the
same code runs on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Connection

from kraft.cache import Kept, reads_kept
from kraft.framework.loader import resolve_framework
from kraft.framework.model import Framework
from kraft.periods import Calendar
from kraft.store.database import Database
from kraft.web.security import LoginLimiter, Signer
from kraft.workspace import Workspace

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes an upload may have, as `kraft import` allows per file
READS_KEPT = 48  # periods' values and scores, roster, targets: a few hundred MB at 2,000 RMs
READS_SECONDS = 3600.0


def data_version(conn: Connection, framework: Framework) -> tuple[Any, ...]:
    """What the stored values and scores depend on, read in one cheap query: the latest compute
    run, import and audit entry (every target, measurement, framework or user change writes
    one), the framework's version, and which database (a process may serve more than one)."""
    row = conn.execute(
        sa.text(
            "SELECT (SELECT max(run_id) FROM compute_runs), (SELECT max(import_id) FROM "
            "import_runs), (SELECT max(seq) FROM audit_head)"
        )
    ).one()
    return (str(conn.engine.url), *row, framework.id, framework.version)


@dataclass
class Site:
    workspace: Workspace
    db: Database
    signer: Signer
    secure_cookies: bool = False
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    upload_limit: int = UPLOAD_LIMIT
    _writer: threading.Lock = field(default_factory=threading.Lock)
    _templates: Environment | None = None
    _framework: tuple[tuple[str, tuple[int, int] | None], Framework] | None = None
    # Stored reads kept per data version: each period's values and scores of every RM, the
    # roster and the targets (a period's values of 2,000 RMs are about 15 MB).
    reads: Kept = field(default_factory=lambda: Kept(READS_KEPT, READS_SECONDS))
    _generation: int = 0  # counts this process's writes: what it wrote, it reads afresh
    after_write: Callable[[], None] | None = None  # the server reads ahead (kraft.web.warm)

    @property
    def framework(self) -> Framework:
        """The workspace's framework as its file is now (an edit shows without a restart); parsed
        again only when the file changes (a parse takes ~40 ms, too long for every page)."""
        reference = self.workspace.settings.framework
        path = Path(reference) if Path(reference).is_absolute() else self.workspace.root / reference
        try:
            stat = path.stat() if path.is_file() else None
            stamp = (stat.st_mtime_ns, stat.st_size) if stat else None
        except OSError:
            stamp = None
        key = (reference, stamp)
        cached = self._framework
        if cached is None or cached[0] != key:
            cached = (key, resolve_framework(reference, self.workspace.root))
            self._framework = cached
        return cached[1]

    @property
    def calendar(self) -> Calendar:
        return Calendar(self.workspace.settings.fiscal_year_start_month)

    @property
    def compute_parameters(self) -> dict[str, int]:
        settings = self.workspace.settings
        return {
            "renewal_grace_days": settings.renewal_grace_days,
            "free_look_days": settings.free_look_days,
        }

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A reading connection; what the loaders of stored results read through it is kept
        per data version (kraft.cache.reads_kept), so that pages share one bulk read."""
        with self.db.connect() as conn:
            framework = self.framework
            with reads_kept(
                self.reads,
                lambda: (self._generation, *data_version(conn, framework)),
                sole_writer=self.db.is_duckdb,
            ):
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction of the one writer: all of it commits or none."""
        try:
            with self._writer, self.db.begin() as conn:
                yield conn
        finally:
            self._generation += 1

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the writer for work that opens its own transactions (import, compute, a
        re-score); after it, read ahead what the pages will ask for (`after_write`)."""
        try:
            with self._writer:
                yield
        finally:
            self._generation += 1
            if self.after_write is not None:
                self.after_write()

    @property
    def templates(self) -> Environment:
        if self._templates is None:
            self._templates = Environment(
                loader=FileSystemLoader(TEMPLATES),
                autoescape=select_autoescape(["html", "j2"]),
                trim_blocks=True,
                lstrip_blocks=True,
            )
        return self._templates
