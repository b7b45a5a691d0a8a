"""`Kraft`: the one object that owns an open workspace: its database, framework, calendar, metric
catalogue, compute parameters and the writer lock.

On DuckDB there is one writer per file: every write of a process goes through `write()` (one
transaction) or `writer()` (work that opens its own transactions: import, compute, re-score), so
that no two transactions of the process contend for the file. PostgreSQL needs no such lock, and
the same code runs on it. The web's Site extends this object with what only a server needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.framework.loader import resolve_framework
from kraft.framework.model import Framework
from kraft.metrics.spec import Catalogue, load_catalogue
from kraft.periods import Calendar
from kraft.scoring.tracking import ScoringPolicy, scoring_policy
from kraft.store.database import Database
from kraft.workspace import Settings, Workspace, load_workspace

FrameworkStamp = tuple[str, tuple[int, int] | None]


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


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


@dataclass(kw_only=True)
class Kraft:
    workspace: Workspace
    db: Database
    # What runs after each write of this process (the server reads ahead: kraft.web.warm).
    after_write: Callable[[], None] | None = None
    # Processes that score (None: as many as fit the book); a threaded server sets 1, since
    # forking a process that runs threads could inherit a held lock.
    scoring_workers: int | None = None
    _writer: threading.Lock = field(default_factory=threading.Lock)
    _framework: tuple[FrameworkStamp, Framework] | None = None
    _generation: int = 0  # counts this process's writes: what it wrote, it reads afresh
    _config_stamp: tuple[int, int] | None = None
    _policy: tuple[tuple[Any, ...], ScoringPolicy] | None = None

    def __post_init__(self) -> None:
        self._config_stamp = _stamp(self.workspace.config_path)

    @property
    def settings(self) -> Settings:
        """kraft.toml as it is now: read again when another process changed it (a framework
        saved from the command line while the server runs on PostgreSQL)."""
        stamp = _stamp(self.workspace.config_path)
        if stamp != self._config_stamp and stamp is not None:
            self.workspace = load_workspace(self.workspace.root)
            self._config_stamp = stamp
        return self.workspace.settings

    @property
    def framework(self) -> Framework:
        """The workspace's framework as its file is now (an edit shows without a restart); parsed
        again only when the file changes (a parse takes ~40 ms, too long for every page)."""
        reference = self.settings.framework
        path = Path(reference) if Path(reference).is_absolute() else self.workspace.root / reference
        key = (reference, _stamp(path) if path.is_file() else None)
        cached = self._framework
        if cached is None or cached[0] != key:
            cached = (key, resolve_framework(reference, self.workspace.root))
            self._framework = cached
        return cached[1]

    @property
    def calendar(self) -> Calendar:
        return Calendar(self.settings.fiscal_year_start_month)

    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue()

    @property
    def compute_parameters(self) -> dict[str, int]:
        """The workspace settings the metric catalogue's snippets read."""
        settings = self.settings
        return {
            "renewal_grace_days": settings.renewal_grace_days,
            "free_look_days": settings.free_look_days,
        }

    def scoring_policy(self) -> ScoringPolicy:
        """The untracked KPIs, first scored period and minimum volumes the workspace asks for.
        They change only with an import or the settings: kept per import, so that a re-score
        after an edit does not scan the tables again."""
        settings, framework = self.settings, self.framework
        with self.db.connect() as conn:
            imported = conn.execute(sa.text("SELECT max(import_id) FROM import_runs")).scalar()
            key = (imported, settings.model_dump_json(), framework.id, framework.version)
            if self._policy is None or self._policy[0] != key:
                found = scoring_policy(conn, framework, self.catalogue, self.calendar, settings)
                self._policy = (key, found)
        return self._policy[1]

    @property
    def generation(self) -> int:
        return self._generation

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction of the one writer: all of it commits or none."""
        try:
            with self._writer, self.db.begin() as conn:
                yield conn
        finally:
            self._generation += 1

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writer to read without a write landing halfway (a snapshot's copy)."""
        with self._writer:
            yield

    def data_version(self, conn: Connection) -> tuple[Any, ...]:
        return data_version(conn, self.framework)

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the writer for work that opens its own transactions (import, compute, a
        re-score); after it, run what follows every write (`after_write`)."""
        try:
            with self._writer:
                yield
        finally:
            self._generation += 1
            if self.after_write is not None:
                self.after_write()
