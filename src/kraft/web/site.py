"""What every request of `kraft serve` shares: the workspace, its database, framework and calendar,
the signer and login limiter, the templates, and the one writer.

On DuckDB the server is the database's one writer: every write of the app goes through
`Site.write()`, which serialises them in this process (readers get their own connections), so that
no two transactions of the app ever contend for the file. PostgreSQL needs no such lock, and the
same code runs on it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Connection

from kraft.framework.loader import resolve_framework
from kraft.framework.model import Framework
from kraft.periods import Calendar
from kraft.store.database import Database
from kraft.web.security import LoginLimiter, Signer
from kraft.workspace import Workspace

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes an upload may have, as `kraft import` allows per file


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
        with self.db.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction of the one writer: all of it commits or none."""
        with self._writer, self.db.begin() as conn:
            yield conn

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the writer for work that opens its own transactions (import, compute)."""
        with self._writer:
            yield

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
