"""What `kraft compute` stored, read back: the as-of date of the latest compute and the RMs' KPI
values (kpi_values rows), shared by targets, leaderboards and the analyses.

Values come as the database keeps them (doubles); `to_decimal` gives the decimal a double prints
as, for the callers that compare or report in Decimal.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.store.metadata import compute_runs, kpi_values


def as_of_date(conn: Connection) -> date | None:
    """The as-of date of the latest compute (the stored values' own as-of); None before any."""
    query = sa.select(compute_runs.c.as_of).order_by(compute_runs.c.run_id.desc()).limit(1)
    value = conn.execute(query).scalar()
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def to_decimal(number: float | Decimal | None) -> Decimal | None:
    """A stored double as the decimal it prints as (66.66666666666667, not its binary expansion)."""
    if number is None:
        return None
    if isinstance(number, Decimal):
        return number
    return Decimal(repr(float(number)))


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
    `rm_ids` narrow them (an empty filter finds nothing)."""
    wanted = sorted(set(labels))
    if not wanted or (kpi_ids is not None and not kpi_ids) or (rm_ids is not None and not rm_ids):
        return {}
    c = kpi_values.c
    query = sa.select(
        c.period, c.entity_id, c.kpi_id, c.value, c.numerator, c.denominator, c.provisional
    ).where(c.entity_type == "rm", c.period.in_(wanted))
    if kpi_ids is not None:
        query = query.where(c.kpi_id.in_(sorted(kpi_ids)))
    if rm_ids is not None:
        query = query.where(c.entity_id.in_(sorted(rm_ids)))
    found: RmValues = {}
    for label, rm_id, kpi_id, value, numerator, denominator, provisional in conn.execute(query):
        found.setdefault(label, {}).setdefault(rm_id, {})[kpi_id] = StoredValue(
            value, numerator, denominator, bool(provisional)
        )
    return found
