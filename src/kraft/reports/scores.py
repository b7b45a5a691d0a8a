"""Stored scores read back for people: the export's stable columns and the leaderboards' records.

The export's columns are fixed (rm_id, period, overall_score, rating, rating_label, coverage, then
kra:<id> per KRA in framework order, then final_rating: the rating after the review); leaderboards
as CSV or JSON keep the raw value beside the interval and the shrunk rate, so that a ranking can
always be checked against the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.framework.model import Framework
from kraft.periods import Grain
from kraft.scoring.leaderboard import KpiStanding, OverallStanding
from kraft.scoring.review import final_ratings

SCORE_EXPORT_COLUMNS = ("rm_id", "period", "overall_score", "rating", "rating_label", "coverage")
OVERALL_BOARD_COLUMNS = (
    "rank",
    "rm_id",
    "name",
    "team_id",
    "overall_score",
    "adjusted_overall",
    "rating",
    "rating_label",
    "coverage",
    "flags",
)
KPI_BOARD_COLUMNS = (
    "rank",
    "rm_id",
    "name",
    "team_id",
    "value",
    "numerator",
    "denominator",
    "interval_low",
    "interval_high",
    "shrunk",
    "shrunk_toward",
    "status",
    "insufficient_volume",
)
BOARD_TEXT_COLUMNS = frozenset({"rm_id", "name", "team_id", "rating_label", "flags", "status"})
EXPORT_TEXT_COLUMNS = frozenset({"rm_id", "period", "rating_label", "name", "team_id", "team_name"})
GRAIN_ORDER = {Grain.month: 0, Grain.quarter: 1, Grain.year: 2}


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
    final_rating: int | None = None  # after the review (kraft.scoring.review); None: not reviewed
    team_name: str | None = None


def overall_rows(
    conn: Connection,
    periods: list[str] | None = None,
    grain: Grain | None = None,
) -> list[OverallRow]:
    """Every stored scorecard (or those of the given periods or grain), with its KRA scores:
    months, then quarters, then years, each oldest first (a grain's labels sort by time), then
    by rm_id."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if periods is not None:
        clauses.append("AND s.period IN :periods")
        params["periods"] = periods
    if grain is not None:
        clauses.append("AND s.grain = :grain")
        params["grain"] = grain.value
    query = sa.text(
        "SELECT s.rm_id, r.name, r.team_id, t.name AS team_name, s.period, s.grain, s.level, "
        "s.item_id, s.score, s.rating, s.rating_label, s.coverage, s.provisional, s.capped_at "
        "FROM scores AS s LEFT JOIN relationship_managers AS r ON r.rm_id = s.rm_id "
        "LEFT JOIN teams AS t ON t.team_id = r.team_id "
        f"WHERE s.level IN ('overall', 'kra') {' '.join(clauses)}"
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
            team_name=r.team_name,
        )  # fmt: skip
    for key, rating in final_ratings(conn, periods).items():
        if key in cards:
            cards[key] = replace(cards[key], final_rating=rating)
    return sorted(
        cards.values(), key=lambda row: (GRAIN_ORDER[Grain(row.grain)], row.period, row.rm_id)
    )


def export_columns(framework: Framework) -> list[str]:
    """The contract's columns, then final_rating (appended after them, so that a reader of the
    contract's columns by position is not broken by it)."""
    return [*SCORE_EXPORT_COLUMNS, *(f"kra:{kra.id}" for kra in framework.kras), "final_rating"]


def export_records(rows: list[OverallRow], framework: Framework) -> list[dict[str, Any]]:
    """rm_id, period, overall_score, rating, rating_label, coverage, kra:<id> per KRA and
    final_rating (the rating after the review: empty when not reviewed)."""
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
        record["final_rating"] = row.final_rating
        records.append(record)
    return records


# Who each row is, for a person reading a sheet: after rm_id in the workbooks (not in the CSV,
# whose columns are the integrators' contract).
PEOPLE_COLUMNS = ("name", "team_id", "team_name")


def sheet_columns(framework: Framework) -> list[str]:
    """The export's columns with the RM's name and team after rm_id: a workbook's."""
    first, *rest = export_columns(framework)
    return [first, *PEOPLE_COLUMNS, *rest]


def sheet_records(rows: list[OverallRow], framework: Framework) -> list[dict[str, Any]]:
    """The export's records with the RM's name and team (sheet_columns)."""
    return [
        {**record, "name": row.name, "team_id": row.team_id, "team_name": row.team_name}
        for row, record in zip(rows, export_records(rows, framework), strict=True)
    ]


def _standing(s: OverallStanding | KpiStanding) -> dict[str, Any]:
    """The columns both leaderboards start with: who, and where they rank."""
    return {"rank": s.rank, "rm_id": s.rm_id, "name": s.name, "team_id": s.team_id}


def overall_board_records(standings: Sequence[OverallStanding]) -> list[dict[str, Any]]:
    return [
        {
            **_standing(s),
            "overall_score": _number(s.overall),
            "adjusted_overall": _number(s.adjusted),
            "rating": s.rating,
            "rating_label": s.rating_label,
            "coverage": _number(s.coverage),
            "flags": "; ".join(s.flags),
        }
        for s in standings
    ]


def kpi_board_records(standings: Sequence[KpiStanding]) -> list[dict[str, Any]]:
    return [
        {
            **_standing(s),
            "value": s.value,
            "numerator": s.numerator,
            "denominator": s.denominator,
            "interval_low": s.interval[0] if s.interval else None,
            "interval_high": s.interval[1] if s.interval else None,
            "shrunk": s.shrunk,
            "shrunk_toward": s.prior,
            "status": s.status,
            "insufficient_volume": s.insufficient_volume,
        }
        for s in standings
    ]


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def latest_period(conn: Connection, grain: str) -> str | None:
    """The most recent period of a grain that has scores (labels of one grain sort by time)."""
    labels = [
        r[0]
        for r in conn.execute(
            sa.text("SELECT DISTINCT period FROM scores WHERE grain = :g"), {"g": grain}
        )
    ]
    return max(labels) if labels else None
