"""What every request of `kraft serve` shares: the workspace context (its database, framework,
calendar and the one writer: kraft.core.context.Kraft), the signer and login limiter, the
templates, and everything the server keeps in memory: the stored reads and what the pages make
of them per data version, the SQL the KPI pages show, the chart runtime."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Connection

from kraft.cache import Kept, reads_kept
from kraft.core.context import Kraft
from kraft.core.snapshots import Snapshots
from kraft.web.security import LoginLimiter, Signer
from kraft.web.upload_folders import UploadFolders

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes an upload may have, as `kraft import` allows per file
READS_KEPT = 48  # periods' values and scores, roster, targets: a few hundred MB at 2,000 RMs
READS_SECONDS = 3600.0
KEPT_ENTRIES = 128  # a kept board of 2,000 RMs is about a megabyte
EACH_ENTRIES = 1024  # a team's charts, an explain view: small, and many
REPORTS_KEPT = 512  # scorecards kept apart from the boards, so that many RMs evict no board
KEPT_SECONDS = 3600.0  # a kept result is read again after this, whatever the version says
SQL_KEPT = 256  # metrics' SQL by dialect and parameters: it never changes while the server runs


@dataclass(kw_only=True)
class Site(Kraft):
    """The workspace context (kraft.core.context.Kraft) and what only a server needs."""

    signer: Signer
    scoring_workers: int | None = 1  # in this process: a threaded server must not fork
    secure_cookies: bool = False
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    upload_limit: int = UPLOAD_LIMIT
    uploads: UploadFolders = field(default_factory=UploadFolders)  # removed when the server stops
    _templates: Environment | None = None
    # On DuckDB: the token of the commands run beside the server, and the copies of the
    # database it makes for them (kraft.web.api.local).
    local_token: str | None = None
    snapshots: Snapshots | None = None
    # Stored reads kept per data version: each period's values and scores of every RM, the
    # roster and the targets (a period's values of 2,000 RMs are about 15 MB).
    reads: Kept = field(default_factory=lambda: Kept(READS_KEPT, READS_SECONDS))
    # What the pages make of them, keyed by data version: the company's boards, cards and lists;
    # apart, so that many teams or RMs evict no board, what there is one of per team or RM
    # (a team's charts, an explain view) and each RM's scorecard report.
    kept: Kept = field(default_factory=lambda: Kept(KEPT_ENTRIES, KEPT_SECONDS))
    kept_each: Kept = field(default_factory=lambda: Kept(EACH_ENTRIES, KEPT_SECONDS))
    reports_kept: Kept = field(default_factory=lambda: Kept(REPORTS_KEPT, KEPT_SECONDS))
    sql_kept: Kept = field(default_factory=lambda: Kept(SQL_KEPT, math.inf))
    _vega: str | None = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A reading connection; what the loaders of stored results read through it is kept
        per data version (kraft.cache.reads_kept), so that pages share one bulk read."""
        with (
            self.db.connect() as conn,
            reads_kept(
                self.reads,
                lambda: (self.generation, *self.data_version(conn)),
                sole_writer=self.db.is_duckdb,
            ),
        ):
            yield conn

    @property
    def vega_bundle(self) -> str:
        """The Vega runtime the charts draw with, from vl-convert (no CDN), made once."""
        if self._vega is None:
            import vl_convert

            self._vega = vl_convert.javascript_bundle(
                "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"
            )
        return self._vega

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
