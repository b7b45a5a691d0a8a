"""Stored scores read back for people: the export's stable columns and leaderboards."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.framework.model import Framework


@dataclass(frozen=True)
class OverallRow:
    rm_id: str
    name: str | None
    team_id: str | None
    period: str
    grain: str
    overall: Decimal | None
    rating: int | None
    rating_label: str | None
    coverage: Decimal | None
    provisional: bool
    rating_capped_at: Decimal | None
    kras: dict[str, Decimal | None]


def overall_rows(conn: Connection, periods: list[str] | None = None) -> list[OverallRow]:
    """Every stored scorecard (or those of the given periods), with its KRA scores."""
    where = ""
    params: dict[str, Any] = {}
    if periods is not None:
        where = "AND s.period IN :periods"
        params["periods"] = periods
    query = sa.text(
        "SELECT s.rm_id, r.name, r.team_id, s.period, s.grain, s.level, s.item_id, s.score, "
        "s.rating, s.rating_label, s.coverage, s.provisional, s.capped_at "
        "FROM scores AS s LEFT JOIN relationship_managers AS r ON r.rm_id = s.rm_id "
        f"WHERE s.level IN ('overall', 'kra') {where} "
        "ORDER BY s.period, s.rm_id, s.level DESC"
    )
    if periods is not None:
        query = query.bindparams(sa.bindparam("periods", expanding=True))
    cards: dict[tuple[str, str], OverallRow] = {}
    kras: dict[tuple[str, str], dict[str, Decimal | None]] = {}
    for r in conn.execute(query, params):
        key = (r.rm_id, r.period)
        if r.level == "kra":
            kras.setdefault(key, {})[r.item_id] = r.score
            continue
        cards[key] = OverallRow(
            r.rm_id, r.name, r.team_id, r.period, r.grain, r.score, r.rating, r.rating_label,
            r.coverage, bool(r.provisional), r.capped_at, kras.setdefault(key, {}),
        )  # fmt: skip
    return list(cards.values())


def export_records(rows: list[OverallRow], framework: Framework) -> list[dict[str, Any]]:
    """rm_id, period, overall_score, rating, rating_label, coverage and kra:<id> per KRA."""
    records = []
    for row in rows:
        record: dict[str, Any] = {
            "rm_id": row.rm_id,
            "period": row.period,
            "overall_score": _number(row.overall),
            "rating": row.rating,
            "rating_label": row.rating_label,
            "coverage": _number(row.coverage),
        }
        for kra in framework.kras:
            record[f"kra:{kra.id}"] = _number(row.kras.get(kra.id))
        records.append(record)
    return records


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def latest_period(conn: Connection, grain: str) -> str | None:
    """The most recent period of a grain that has scores."""
    labels = [
        r[0]
        for r in conn.execute(
            sa.text("SELECT DISTINCT period FROM scores WHERE grain = :g"), {"g": grain}
        )
    ]
    return max(labels) if labels else None
