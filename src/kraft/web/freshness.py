"""How fresh the data a page shows is: the as-of date, the latest import and the latest compute
(and whether an import is newer than the scores)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.scoring.stored import as_of_date


@dataclass(frozen=True)
class Freshness:
    """What a page says of the data's age, read in two small queries."""

    as_of: date | None
    imported_at: datetime | None
    imported_by: str | None
    computed_at: datetime | None
    compute_run: int | None
    compute_as_of: date | None

    @property
    def compute_behind(self) -> bool:
        """An import newer than the latest compute: the scores do not show it yet."""
        return (
            self.imported_at is not None
            and self.computed_at is not None
            and self.imported_at > self.computed_at
        )


def freshness(conn: Connection) -> Freshness:
    imported = conn.execute(
        sa.text("SELECT finished_at, actor, as_of FROM import_runs ORDER BY import_id DESC LIMIT 1")
    ).first()
    computed = conn.execute(
        sa.text("SELECT run_id, finished_at, as_of FROM compute_runs ORDER BY run_id DESC LIMIT 1")
    ).first()
    return Freshness(
        as_of=as_of_date(conn),
        imported_at=imported.finished_at if imported else None,
        imported_by=imported.actor if imported else None,
        computed_at=computed.finished_at if computed else None,
        compute_run=computed.run_id if computed else None,
        compute_as_of=computed.as_of if computed else None,
    )
