"""API: KPI values with the export's columns and filters, and the explain view of one value.

`GET /kpi-values` answers what `kraft export kpi-values` writes (entity_type, entity_id, period,
kpi_id, value, numerator, denominator, provisional; the same order), narrowed to the user's
scope: an admin sees every row, a manager the rows of their RMs and teams (not the company's),
an RM only their own rm rows. `GET /explain` is kraft.metrics.runner.explain: the stored value
and the rows behind it; for an RM, clients and RMs that are not their own are masked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from kraft.core.access import Scope, no_such, visible_rm
from kraft.core.inputs import parse_period
from kraft.core.tracking import first_scored
from kraft.metrics.runner import Explanation, RowSet
from kraft.metrics.runner import explain as explain_value
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar, Grain
from kraft.reports.exports import KPI_VALUE_COLUMNS
from kraft.scoring.tracking import scored_from
from kraft.store.metadata import kpi_values
from kraft.web.api.catalog import check_grain
from kraft.web.deps import ROW_ID_MAX, ApiScope, SiteDep
from kraft.web.site import Site

router = APIRouter(tags=["values"])

ENTITY_TYPES = ("rm", "team", "org")
PAGE_LIMIT = 10_000
MASKED_CLIENT = "(another RM's client)"
MASKED_RM = "(another RM)"


class KpiValue(BaseModel):
    entity_type: str
    entity_id: str
    period: str
    kpi_id: str
    value: float | None = Field(description="null when undefined, e.g. a zero denominator")
    numerator: float | None
    denominator: float | None
    provisional: bool


class KpiValuePage(BaseModel):
    total: int = Field(description="rows matching the filters, over every page")
    limit: int
    offset: int
    items: list[KpiValue]


def _scope_clause(scope: Scope) -> sa.ColumnElement[bool]:
    """The rows the user may read: the RMs' and teams' of their scope (everything: admin)."""
    c = kpi_values.c
    if scope.is_admin:
        return sa.true()
    teams = (
        c.entity_id.in_(sorted(scope.team_ids)) if scope.team_ids else sa.false()
    )  # scope.team_ids is never None below an admin
    return sa.or_(
        sa.and_(c.entity_type == "rm", scope.rm_filter(c.entity_id)),
        sa.and_(c.entity_type == "team", teams),
    )


def labels_between(calendar: Calendar, first: str | None, last: str | None) -> list[str] | None:
    """The labels of every period lying within [first's start, last's end] (None: no bound),
    as `kraft export kpi-values --from --to` chooses them."""
    if first is None and last is None:
        return None
    start = parse_period(calendar, first, "from").start if first else date(1900, 1, 1)
    end = parse_period(calendar, last, "to").end if last else date(2999, 12, 31)
    if start > end:
        raise HTTPException(422, f"from: {first} starts after {last} ends.")
    return [
        p.label
        for grain in Grain
        for p in calendar.periods(grain, start, end)
        if p.start >= start and p.end <= end
    ]


@router.get("/kpi-values", response_model=KpiValuePage)
def values(
    site: SiteDep,
    scope: ApiScope,
    entity_type: str | None = None,
    entity_id: str | None = None,
    period: str | None = None,
    kpi_id: str | None = None,
    grain: str | None = None,
    first: Annotated[str | None, Query(alias="from", description="first period label")] = None,
    last: Annotated[str | None, Query(alias="to", description="last period label")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 1000,
    offset: Annotated[int, Query(ge=0, le=ROW_ID_MAX)] = 0,
    all_periods: Annotated[
        bool, Query(description="also the periods before the first scored period")
    ] = False,
) -> KpiValuePage:
    """KPI values in the export's columns and order (entity_type, entity_id, grain, period,
    kpi_id), of the user's scope, filtered and paged; as `kraft export kpi-values`, not those
    of periods before the first scored period unless `all_periods`."""
    c = kpi_values.c
    clauses: list[sa.ColumnElement[bool]] = [_scope_clause(scope)]
    if entity_type is not None:
        if entity_type not in ENTITY_TYPES:
            raise HTTPException(422, f"entity_type: {entity_type!r} is not rm, team or org.")
        clauses.append(c.entity_type == entity_type)
    if entity_id is not None:
        clauses.append(c.entity_id == entity_id)
    if period is not None:
        clauses.append(c.period == parse_period(site.calendar, period, "period").label)
    if kpi_id is not None:
        try:
            site.framework.kpi(kpi_id)
        except KeyError:
            raise HTTPException(
                422, f"kpi_id: {kpi_id!r} is not a KPI of framework {site.framework.id}."
            ) from None
        clauses.append(c.kpi_id == kpi_id)
    chosen = check_grain(grain)
    if chosen is not None:
        clauses.append(c.grain == chosen.value)
    within = labels_between(site.calendar, first, last)
    if within is not None:
        clauses.append(c.period.in_(within) if within else sa.false())
    early = [] if all_periods else _before_scoring(site)
    if early:
        clauses.append(c.period.notin_(early))
    columns = [getattr(c, name) for name in KPI_VALUE_COLUMNS]
    query = (
        sa.select(*columns)
        .where(*clauses)
        .order_by(c.entity_type, c.entity_id, c.grain, c.period, c.kpi_id)
        .limit(limit)
        .offset(offset)
    )
    with site.read() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(kpi_values).where(*clauses))
        count = int(total.scalar() or 0)
        items = [KpiValue(**r._mapping) for r in conn.execute(query)]
    return KpiValuePage(total=count, limit=limit, offset=offset, items=items)


def _before_scoring(site: Site) -> list[str]:
    """The labels of the stored periods that start before the first scored period."""
    first = first_scored(site)
    with site.read() as conn:
        labels = [r[0] for r in conn.execute(sa.select(kpi_values.c.period).distinct())]
    return [label for label in labels if not scored_from(first, label, site.calendar)]


# -- explain ----------------------------------------------------------------------------------


class StoredValue(BaseModel):
    value: float | None
    numerator: float | None
    denominator: float | None
    row_count: int
    provisional: bool
    extra: str | None
    definition_hash: str
    run_id: int
    computed_at: datetime


class RowSetOut(BaseModel):
    title: str
    sql: str = Field(description="the query that selects the rows")
    columns: list[str]
    rows: list[list[Any]]
    total: int = Field(description="rows in the set; `rows` holds the first `limit` of them")


class ExplainOut(BaseModel):
    rm_id: str
    kpi_id: str
    kpi_name: str
    definition: str | None
    unit: str | None
    period: str
    metric: str | None
    stored: StoredValue | None = Field(description="the kpi_values row; null: not computed")
    row_sets: list[RowSetOut]
    masked: bool = Field(description="clients and RMs not the RM's own are masked")


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _own_clients(conn: Connection, rm_id: str, candidates: Iterable[Any]) -> set[str]:
    """Of the candidates, the clients the RM has a policy, a lead or an interaction of."""
    wanted = sorted({str(c) for c in candidates if c is not None})
    if not wanted:
        return set()
    query = sa.text(
        "SELECT client_id FROM policies WHERE rm_id = :r AND client_id IN :ids "
        "UNION SELECT client_id FROM leads WHERE rm_id = :r AND client_id IN :ids "
        "UNION SELECT client_id FROM interactions WHERE rm_id = :r AND client_id IN :ids"
    ).bindparams(sa.bindparam("ids", expanding=True))
    return {r[0] for r in conn.execute(query, {"r": rm_id, "ids": wanted})}


def _client_columns(row_set: RowSet) -> set[str]:
    """The columns of a row set that hold client ids: the contract's (…client_id) and each
    measure's value column (<measure>_value) where the measure counts a client id."""
    found = {name for name in row_set.columns if name.endswith("client_id")}
    metric = load_catalogue().metrics.get(row_set.title.split(" · ")[0])
    if metric is not None:
        for name, measure in metric.measures.items():
            if measure.expr is not None and measure.expr.strip().endswith("client_id"):
                found.add(f"{name}_value")
    return found


def mask(conn: Connection, result: Explanation) -> Explanation:
    """The explanation with every client that is not the RM's own, and every other RM, masked
    (what an RM may see of the rows behind their own value)."""
    client_columns = {
        id(rs): [i for i, name in enumerate(rs.columns) if name in _client_columns(rs)]
        for rs in result.row_sets
    }
    candidates = [
        row[i] for rs in result.row_sets for row in rs.rows for i in client_columns[id(rs)]
    ]
    own = _own_clients(conn, result.rm_id, candidates)
    masked = []
    for rs in result.row_sets:
        clients = set(client_columns[id(rs)])
        rms = {i for i, name in enumerate(rs.columns) if name.endswith("rm_id")}
        rows = [
            tuple(
                MASKED_CLIENT
                if i in clients and v is not None and str(v) not in own
                else MASKED_RM
                if i in rms and v is not None and v != result.rm_id
                else v
                for i, v in enumerate(row)
            )
            for row in rs.rows
        ]
        masked.append(RowSet(rs.title, rs.sql, rs.columns, rows))
    return Explanation(
        result.kpi_id,
        result.metric,
        result.period,
        result.rm_id,
        result.stored,
        masked,
        result.compared_with,
    )


def explain_for(site: Site, scope: Scope, rm_id: str, kpi_id: str, period: str) -> Explanation:
    """The explain view as the user may see it: 404 for an RM or KPI they cannot see, 422 for
    a bad period; masked for an RM."""
    calendar = site.calendar
    chosen = parse_period(calendar, period, "period")
    framework = site.framework
    try:
        framework.kpi(kpi_id)
    except KeyError:
        raise no_such("KPI", kpi_id) from None
    with site.read() as conn:
        visible_rm(conn, scope, rm_id)
    result = explain_value(
        site.db,
        framework,
        load_catalogue(),
        calendar,
        site.compute_parameters,
        rm_id=rm_id,
        kpi_id=kpi_id,
        label=chosen.label,
    )
    if scope.sees_others:
        return result
    with site.read() as conn:
        return mask(conn, result)


@router.get("/explain", response_model=ExplainOut)
def explain(
    site: SiteDep,
    scope: ApiScope,
    rm_id: str,
    kpi_id: str,
    period: str,
    limit: Annotated[int, Query(ge=0, le=PAGE_LIMIT, description="rows per set; 0: all")] = 100,
) -> ExplainOut:
    """One RM's KPI value for a period: its numerator and denominator, and the rows behind it
    with the SQL that selects them (an RM: other RMs' clients masked)."""
    result = explain_for(site, scope, rm_id, kpi_id, period)
    kpi = site.framework.kpi(kpi_id)
    return ExplainOut(
        rm_id=rm_id,
        kpi_id=kpi_id,
        kpi_name=kpi.name,
        definition=kpi.definition,
        unit=kpi.unit.value if kpi.unit else None,
        period=result.period,
        metric=result.metric,
        stored=StoredValue(**result.stored) if result.stored is not None else None,
        row_sets=[
            RowSetOut(
                title=rs.title,
                sql=rs.sql,
                columns=rs.columns,
                rows=[[_cell(v) for v in row] for row in (rs.rows[:limit] if limit else rs.rows)],
                total=len(rs.rows),
            )
            for rs in result.row_sets
        ],
        masked=not scope.sees_others,
    )
