"""The biggest movers: the RMs whose overall score changed most between two periods, the same
for the company's overview page and a team report.

An RM moves only with an overall score in both periods; an unchanged score is no move. Rises
come biggest first, falls biggest first, ties in rm_id order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from kraft.scoring.stored import numeric


class Scored(Protocol):
    """An RM's stored overall score for one period."""

    @property
    def rm_id(self) -> str: ...

    @property
    def name(self) -> str | None: ...

    @property
    def team_id(self) -> str | None: ...

    @property
    def overall(self) -> Decimal | None: ...


@dataclass(frozen=True)
class Mover:
    rm_id: str
    name: str | None
    team_id: str | None  # as of the later period
    before: Decimal
    after: Decimal

    @property
    def change(self) -> Decimal:
        return self.after - self.before


@dataclass(frozen=True)
class Movers:
    up: list[Mover]
    down: list[Mover]


def biggest_movers(before: Iterable[Scored], after: Iterable[Scored], limit: int) -> Movers:
    """The `limit` biggest rises and the `limit` biggest falls from `before` to `after`."""
    earlier = {r.rm_id: numeric(r.overall) for r in before}
    moved = [
        Mover(r.rm_id, r.name, r.team_id, b, a)
        for r in after
        if (a := numeric(r.overall)) is not None and (b := earlier.get(r.rm_id)) is not None
    ]
    up = sorted((m for m in moved if m.change > 0), key=lambda m: (-m.change, m.rm_id))
    down = sorted((m for m in moved if m.change < 0), key=lambda m: (m.change, m.rm_id))
    return Movers(up[:limit], down[:limit])
