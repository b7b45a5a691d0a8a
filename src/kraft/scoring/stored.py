"""What `kraft compute` stored, read back: the as-of date of the latest compute and the RMs' KPI
values (kpi_values rows), shared by targets, leaderboards and the analyses.

Values come as the database keeps them (doubles); kraft.formatting.to_decimal gives the decimal a
double prints as, for the callers that compare or report in Decimal.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.cache import checked_once, keeping, read_once, sole_writer
from kraft.store.metadata import compute_runs, kpi_values, scores


def as_of_date(conn: Connection) -> date | None:
    """The as-of date of the latest compute (the stored values' own as-of); None before any."""
    query = sa.select(compute_runs.c.as_of).order_by(compute_runs.c.run_id.desc()).limit(1)
    value = read_once(("as-of",), lambda: conn.execute(query).scalar())
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def numeric(number: object) -> Decimal | None:
    """A stored NUMERIC (the scores table's) as Decimal: DuckDB and PostgreSQL return one; any
    other number as it prints."""
    if number is None:
        return None
    return number if isinstance(number, Decimal) else Decimal(str(number))


@dataclass(frozen=True, slots=True)
class StoredValue:
    """One RM's KPI value for one period, as kpi_values keeps it (with the numerator)."""

    value: float | None
    numerator: float | None
    denominator: float | None
    provisional: bool


RmValues = dict[str, dict[str, dict[str, StoredValue]]]  # period label → rm_id → kpi_id → value


def load_rm_values(
    conn: Connection,
    labels: Iterable[str],
    kpi_ids: Collection[str] | None = None,
    rm_ids: Collection[str] | None = None,
) -> RmValues:
    """The RMs' stored KPI values for the periods named: every KPI and RM unless `kpi_ids` or
    `rm_ids` narrow them (an empty filter finds nothing). Where stored reads are kept
    (kraft.cache.reads_kept), each period's values of every RM are read once and kept."""
    wanted = sorted(set(labels))
    if not wanted or (kpi_ids is not None and not kpi_ids) or (rm_ids is not None and not rm_ids):
        return {}
    if keeping():
        return _narrowed({label: _every_rm(conn, label) for label in wanted}, kpi_ids, rm_ids)
    return _read(conn, wanted, kpi_ids, rm_ids)


def _every_rm(conn: Connection, label: str) -> dict[str, dict[str, StoredValue]]:
    return read_once(("rm-values", label), lambda: _read(conn, [label]).get(label, {}))


def _narrowed(
    found: RmValues, kpi_ids: Collection[str] | None, rm_ids: Collection[str] | None
) -> RmValues:
    kpis = set(kpi_ids) if kpi_ids is not None else None
    narrowed: RmValues = {}
    for label, by_rm in found.items():
        rms = by_rm if rm_ids is None else {rm: by_rm[rm] for rm in rm_ids if rm in by_rm}
        for rm_id, values in rms.items():
            mine = values if kpis is None else {k: v for k, v in values.items() if k in kpis}
            if mine:
                narrowed.setdefault(label, {})[rm_id] = mine
    return narrowed


def _read(
    conn: Connection,
    labels: list[str],
    kpi_ids: Collection[str] | None = None,
    rm_ids: Collection[str] | None = None,
) -> RmValues:
    c = kpi_values.c
    query = sa.select(
        c.period, c.entity_id, c.kpi_id, c.value, c.numerator, c.denominator, c.provisional
    ).where(c.entity_type == "rm", c.period.in_(labels))
    if kpi_ids is not None:
        query = query.where(c.kpi_id.in_(sorted(kpi_ids)))
    if rm_ids is not None:
        query = query.where(c.entity_id.in_(sorted(rm_ids)))
    found: RmValues = {}
    for label, rm_id, kpi_id, value, numerator, denominator, provisional in conn.execute(
        query
    ).fetchall():
        found.setdefault(label, {}).setdefault(rm_id, {})[kpi_id] = StoredValue(
            value, numerator, denominator, bool(provisional)
        )
    return found


def overall_checksum(conn: Connection, label: str) -> tuple[Any, ...]:
    """The count and sums of the period's overall scores: what changes when it is re-scored
    (asked once a page where stored reads are kept)."""
    c = scores.c
    query = sa.select(sa.func.count(), sa.func.sum(c.score), sa.func.sum(c.coverage)).where(
        c.period == label, c.level == "overall"
    )
    return checked_once(("overall", label), lambda: tuple(conn.execute(query).one()))


def scored_periods(conn: Connection, rm_id: str | None = None) -> list[str]:
    """The periods with stored scorecards (of one RM, if named); where stored reads are kept,
    every RM's are read once."""
    if keeping():
        every = read_once(("scored-periods",), lambda: _scored_periods(conn))
        if rm_id is None:
            return sorted({label for labels in every.values() for label in labels})
        return sorted(every.get(rm_id, ()))
    query = "SELECT DISTINCT period FROM scores WHERE level = 'overall'"
    params: dict[str, str] = {}
    if rm_id is not None:
        query += " AND rm_id = :rm"
        params["rm"] = rm_id
    return [r[0] for r in conn.execute(sa.text(query), params)]


def _scored_periods(conn: Connection) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    query = sa.text("SELECT DISTINCT rm_id, period FROM scores WHERE level = 'overall'")
    for rm_id, label in conn.execute(query).fetchall():
        found.setdefault(rm_id, set()).add(label)
    return found


def stored_score_rows(
    conn: Connection, label: str, rm_ids: Collection[str] | None = None
) -> dict[str, list[Any]]:
    """The `scores` rows (KPI, KRA and overall) of the period by RM: the RMs named, or all.
    Where stored reads are kept, the period's rows of every RM are read once per data version
    and checksum of its overall scores (a re-score commits after the change that caused it)."""
    if rm_ids is not None and not rm_ids:
        return {}
    c = scores.c
    if not keeping():
        found: dict[str, list[Any]] = {}
        ids = sorted(rm_ids) if rm_ids is not None else None
        for start in range(0, len(ids) if ids is not None else 1, 500):
            query = sa.select(scores).where(c.period == label)
            if ids is not None:
                query = query.where(c.rm_id.in_(ids[start : start + 500]))
            for row in conn.execute(query).fetchall():
                found.setdefault(row.rm_id, []).append(row)
        return found
    checksum = () if sole_writer() else overall_checksum(conn, label)

    def every_rm() -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for row in conn.execute(sa.select(scores).where(c.period == label)).fetchall():
            found.setdefault(row.rm_id, []).append(row)
        return found

    kept = read_once(("scores", label, checksum), every_rm)
    if rm_ids is None:
        return kept
    return {rm: kept[rm] for rm in rm_ids if rm in kept}
