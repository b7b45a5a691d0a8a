"""The manual KPIs' values, by one rule written once in SQL: a period's value is the measurement
entered for exactly that period; failing that, the mean of the measurements entered for shorter
periods inside it; failing that, null (KPIS.md).

`kraft compute` runs it over every RM and period of the spine (MANUAL_SQL); a measurement entered,
changed or deleted between computes runs the same statement over the one RM, KPI and the stored
periods the measurement feeds (`refresh_manual_values`), so both store the same numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.metrics.compile.plans import VALUE_COLUMNS, VALUES_TABLE
from kraft.periods import Calendar, Period


def manual_sql(values: str, entity_periods: str, kpis: str, labels: str, periods: str) -> str:
    """The rule as an INSERT into `values`, over the named relations: the (entity, period) pairs
    to fill, the manual KPIs, every period label a measurement may name, and the periods."""
    return f"""
INSERT INTO {values} ({", ".join(VALUE_COLUMNS)})
SELECT ep.entity_type, ep.entity_id, ep.grain, ep.label, k.kpi_id,
       CAST(CASE WHEN ex.value IS NOT NULL THEN ex.value ELSE inn.total / inn.n END AS DOUBLE PRECISION),
       CAST(CASE WHEN ex.value IS NOT NULL THEN ex.value ELSE inn.total END AS DOUBLE PRECISION),
       CAST(CASE WHEN ex.value IS NOT NULL THEN 1 ELSE inn.n END AS DOUBLE PRECISION),
       CASE WHEN ex.value IS NOT NULL THEN 1 ELSE coalesce(inn.n, 0) END,
       ep.open_period, NULL
FROM {entity_periods} AS ep
CROSS JOIN {kpis} AS k
LEFT JOIN measurements AS ex
  ON ex.rm_id = ep.entity_id AND ex.kpi_id = k.kpi_id AND ex.period = ep.label
LEFT JOIN (
  SELECT m.rm_id, m.kpi_id, p.label, sum(m.value) AS total, count(*) AS n
  FROM measurements AS m
  JOIN {labels} AS g ON g.label = m.period
  JOIN {periods} AS p
    ON g.start_date >= p.start_date AND g.end_date <= p.end_date AND g.months < p.months
  GROUP BY m.rm_id, m.kpi_id, p.label
) AS inn ON inn.rm_id = ep.entity_id AND inn.kpi_id = k.kpi_id AND inn.label = ep.label
WHERE ep.entity_type = 'rm'
"""


MANUAL_SQL = manual_sql(
    VALUES_TABLE, "kraft_entity_periods", "kraft_manual_kpis", "kraft_labels", "kraft_periods"
)

# The refresh's relations: temporary tables of the change's transaction.
REFRESH = {
    "values": "kraft_refresh_values",
    "entity_periods": "kraft_refresh_entity_periods",
    "kpis": "kraft_refresh_kpis",
    "labels": "kraft_refresh_labels",
    "periods": "kraft_refresh_periods",
}
KPI_VALUES = sa.table(
    "kpi_values",
    *(sa.column(c) for c in ("entity_type", "entity_id", "kpi_id", "period", "provisional")),
)


def _parsed(calendar: Calendar, label: str) -> Period | None:
    try:
        return calendar.parse(label)
    except ValueError:
        return None


def _feeds(measured: Period, stored: Period) -> bool:
    """Whether a measurement of `measured` can change the value stored for `stored`."""
    return measured == stored or (measured.within(stored) and measured.months < stored.months)


def refresh_manual_values(
    conn: Connection, calendar: Calendar, rm_id: str, kpi_id: str, period: Period
) -> int:
    """Store again, by the rule above, the RM's values of the manual KPI that a measurement of
    `period` feeds (that period's and every longer stored period holding it); periods `kraft
    compute` has not stored are left to it. The number of values written."""
    k = KPI_VALUES.c
    mine = (k.entity_type == "rm", k.entity_id == rm_id, k.kpi_id == kpi_id)
    stored = {
        label: provisional
        for label, provisional in conn.execute(sa.select(k.period, k.provisional).where(*mine))
        if (p := _parsed(calendar, label)) is not None and _feeds(period, p)
    }
    if not stored:
        return 0
    measured = conn.execute(
        sa.text("SELECT DISTINCT period FROM measurements WHERE rm_id = :r AND kpi_id = :k"),
        {"r": rm_id, "k": kpi_id},
    ).scalars()
    labels = {p.label: p for label in {*stored, *measured} if (p := _parsed(calendar, label))}
    _fill(conn, rm_id, kpi_id, stored, labels)
    conn.execute(sa.text(manual_sql(**REFRESH)))
    written = conn.execute(
        sa.text(
            "UPDATE kpi_values SET value = n.value, numerator = n.numerator, "
            "denominator = n.denominator, row_count = n.row_count, computed_at = :now "
            f"FROM {REFRESH['values']} AS n WHERE kpi_values.entity_type = 'rm' "
            "AND kpi_values.entity_id = n.entity_id AND kpi_values.kpi_id = n.kpi_id "
            "AND kpi_values.period = n.period"
        ),
        {"now": datetime.now(UTC).replace(tzinfo=None)},
    ).rowcount
    for table in REFRESH.values():
        conn.execute(sa.text(f"DROP TABLE {table}"))
    return int(written)


def _fill(
    conn: Connection,
    rm_id: str,
    kpi_id: str,
    stored: dict[str, bool],
    labels: dict[str, Period],
) -> None:
    """The refresh's temporary tables: the RM's stored periods, the one KPI, the labels."""
    period_columns = "label VARCHAR, start_date DATE, end_date DATE, months INTEGER"
    create = [
        f"{REFRESH['values']} (entity_type VARCHAR, entity_id VARCHAR, grain VARCHAR, "
        "period VARCHAR, kpi_id VARCHAR, value DOUBLE PRECISION, numerator DOUBLE PRECISION, "
        "denominator DOUBLE PRECISION, row_count BIGINT, provisional BOOLEAN, extra VARCHAR)",
        f"{REFRESH['entity_periods']} (entity_type VARCHAR, entity_id VARCHAR, grain VARCHAR, "
        "label VARCHAR, open_period BOOLEAN)",
        f"{REFRESH['kpis']} (kpi_id VARCHAR)",
        f"{REFRESH['labels']} ({period_columns})",
        f"{REFRESH['periods']} ({period_columns})",
    ]
    for table in create:
        conn.execute(sa.text(f"CREATE TEMPORARY TABLE {table}"))

    def insert(table: str, rows: list[dict[str, object]]) -> None:
        if rows:
            names = list(rows[0])
            conn.execute(
                sa.text(
                    f"INSERT INTO {table} ({', '.join(names)}) "
                    f"VALUES ({', '.join(':' + n for n in names)})"
                ),
                rows,
            )

    def shape(p: Period) -> dict[str, object]:
        return {"label": p.label, "start_date": p.start, "end_date": p.end, "months": p.months}

    insert(
        REFRESH["entity_periods"],
        [
            {"entity_type": "rm", "entity_id": rm_id, "grain": labels[label].grain.value,
             "label": label, "open_period": bool(provisional)}
            for label, provisional in stored.items()
        ],
    )  # fmt: skip
    insert(REFRESH["kpis"], [{"kpi_id": kpi_id}])
    insert(REFRESH["labels"], [shape(p) for p in labels.values()])
    insert(REFRESH["periods"], [shape(labels[label]) for label in stored])
