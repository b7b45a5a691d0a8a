"""The period a read page shows: the one asked for if it has scores, by default the latest closed
quarter with scores; the groups the picker offers; and the data versions that key whatever a page
keeps for it (Site.kept). Only scored periods are offered: those before the workspace's first
scored period (kraft.scoring.tracking) are computed but never scored, so never offered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from kraft.cache import current_version, sole_writer
from kraft.core.context import data_version
from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.periods import Calendar, Grain, Period
from kraft.scoring.stored import as_of_date, overall_checksum, scored_periods

GRAIN_ORDER = (Grain.quarter, Grain.month, Grain.year)  # the picker's groups, in this order


def period_version(conn: Connection, base: tuple[Any, ...], label: str) -> tuple[Any, ...]:
    """The data version with a checksum of the period's overall scores, unless this process is
    the database's one writer (then the version counts every write): a re-score by another
    process commits after the change's own audit entry."""
    return (*base, label, *(() if sole_writer() else overall_checksum(conn, label)))


@dataclass(frozen=True)
class PeriodChoice:
    """The period shown, those the picker offers (newest first within each grain), and the
    versions of the data read for it (the keys of whatever is kept)."""

    period: Period
    groups: list[tuple[str, list[str]]]  # ("Quarters", ["2025-Q4", ...]), ...
    base: tuple[Any, ...]  # data_version
    version: tuple[Any, ...]  # period_version: the base and the period's scores


def choose_period(
    conn: Connection,
    calendar: Calendar,
    framework: Framework,
    label: str | None,
    rm_id: str | None = None,
) -> PeriodChoice:
    """The period asked for, if it has scores; by default the latest closed quarter with scores
    (else the latest scored quarter, month or year). Refuses in one sentence otherwise."""
    base = current_version() or data_version(conn, framework)
    labels, parsed, as_of = _periods(conn, calendar, rm_id)
    groups = []
    for grain in GRAIN_ORDER:
        mine = sorted((p for p in parsed if p.grain is grain), key=lambda p: p.start, reverse=True)
        if mine:
            groups.append((f"{grain.value.capitalize()}s", [p.label for p in mine]))
    whose = f" for {rm_id}" if rm_id else ""
    chosen: Period | None = None
    if label:
        try:
            chosen = calendar.parse(label)
        except ValueError as exc:
            raise KraftError(f"The period {exc}.") from None
        if chosen.label not in labels:
            raise KraftError(
                f"There are no scores{whose} for {chosen.label}; choose a scored period."
            )
    elif not parsed:
        raise KraftError(f"There are no scores{whose} yet; an admin runs the compute first.")
    else:
        quarters = [p for p in parsed if p.grain is Grain.quarter]
        closed = [p for p in quarters if as_of is not None and p.closed_by(as_of)]
        by_grain = [[p for p in parsed if p.grain is g] for g in GRAIN_ORDER]
        candidates = next(c for c in (closed, quarters, *by_grain) if c)
        chosen = max(candidates, key=lambda p: p.start)
    return PeriodChoice(chosen, groups, base, period_version(conn, base, chosen.label))


def _periods(
    conn: Connection, calendar: Calendar, rm_id: str | None
) -> tuple[set[str], list[Period], date | None]:
    labels = set(scored_periods(conn, rm_id))
    parsed = []
    for text in labels:
        try:
            parsed.append(calendar.parse(text))
        except ValueError:
            continue  # a label of another calendar: not offered
    return labels, parsed, as_of_date(conn)
