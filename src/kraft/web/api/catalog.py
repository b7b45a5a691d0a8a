"""API: what there is to ask about: the framework, its KPIs (with the formula and the SQL that
computes each), the RMs and teams in the user's scope, and the periods that have values.

An RM's list of RMs holds only themselves and their list of teams is empty (a team's page names
its RMs); anything out of scope answers 404 as a missing one does.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from kraft.analysis.pacing import is_open
from kraft.core.access import Scope, no_such
from kraft.core.tracking import first_scored
from kraft.framework.model import KPI, KRA, Framework, KpiKind
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar, Grain
from kraft.scoring.stored import as_of_date
from kraft.scoring.tracking import scored_from
from kraft.store.metadata import kpi_values, operational, scores
from kraft.store.roster import members, team_tree
from kraft.web.deps import ApiScope, SiteDep
from kraft.web.kpi_sql import kpi_sql

router = APIRouter(tags=["catalog"])

RMS = operational["relationship_managers"]
TEAMS = operational["teams"]
GRAIN_ORDER = {Grain.month: 0, Grain.quarter: 1, Grain.year: 2}


def number(value: Decimal | float | None) -> float | None:
    """A Decimal or double as a JSON number."""
    return None if value is None else float(value)


class KpiSummary(BaseModel):
    id: str
    name: str
    kra_id: str
    kind: str
    unit: str | None
    direction: str | None
    grain: str | None
    target: float | None = Field(description="the framework's default target per grain period")
    threshold: float | None
    weight: float | None = Field(description="weight inside the KRA (percent)")


class Measure(BaseModel):
    fact: str
    agg: str
    expr: str | None
    filter: str | None


class Fact(BaseModel):
    table: str
    rm: str = Field(description="the column naming the RM credited with a row")
    when: dict[str, Any] = Field(description="how the fact's rows meet periods")
    where: str | None
    joins: list[dict[str, str]]
    columns: dict[str, str]


class Formula(BaseModel):
    """The metric catalogue's definition: numerator ÷ denominator × scale over the measures."""

    metric: str
    numerator: str | None
    denominator: str | None
    scale: float
    per_month: bool
    derived: str | None
    measures: dict[str, Measure]
    facts: dict[str, Fact]
    provisional_when: Measure | None


class KpiDetail(KpiSummary):
    definition: str | None
    metric: str | None
    cap: float
    scoring: str
    min_volume: int
    gate: dict[str, Any] | None
    entered_by: list[str]
    formula: Formula | None = Field(description="computed KPIs: the catalogue's metric")
    sql: str | None = Field(
        description="the SQL `kraft compute` runs for it on this database (manual KPIs: the "
        "query that turns measurements into values)"
    )


class Kra(BaseModel):
    id: str
    number: int
    title: str
    statement: str | None
    weight: float = Field(description="percent of the overall score")
    applies_to: str
    kpis: list[KpiSummary]


class RatingBand(BaseModel):
    rating: int
    label: str
    min_score: float


class FrameworkOut(BaseModel):
    id: str
    role: str
    title: str
    version: str
    currency: str
    description: str | None
    kras: list[Kra]
    rating_bands: list[RatingBand]


class Rm(BaseModel):
    rm_id: str
    name: str
    team_id: str | None
    role: str
    region: str | None
    active: bool
    hire_date: date | None
    exit_date: date | None


class Team(BaseModel):
    team_id: str
    name: str
    leader_rm_id: str | None
    parent_team_id: str | None


class TeamDetail(Team):
    child_team_ids: list[str]
    rm_ids: list[str] = Field(description="the team's own members (not of the teams below)")


class PeriodOut(BaseModel):
    label: str
    grain: str
    start: date
    end: date
    has_values: bool
    has_scores: bool
    open: bool = Field(description="holds the data's as-of date and has not ended")


def _summary(kra: KRA, kpi: KPI) -> KpiSummary:
    return KpiSummary(
        id=kpi.id,
        name=kpi.name,
        kra_id=kra.id,
        kind=kpi.kind.value,
        unit=kpi.unit.value if kpi.unit else None,
        direction=kpi.direction.value if kpi.direction else None,
        grain=kpi.grain.value if kpi.grain else None,
        target=number(kpi.target),
        threshold=number(kpi.threshold),
        weight=number(kpi.weight),
    )


def framework_out(framework: Framework) -> FrameworkOut:
    return FrameworkOut(
        id=framework.id,
        role=framework.role,
        title=framework.title,
        version=framework.version,
        currency=framework.currency,
        description=framework.description,
        kras=[
            Kra(
                id=kra.id,
                number=kra.number,
                title=kra.title,
                statement=kra.statement,
                weight=float(kra.weight),
                applies_to=kra.applies_to.value,
                kpis=[_summary(kra, kpi) for kpi in kra.kpis],
            )
            for kra in framework.kras
        ],
        rating_bands=[
            RatingBand(rating=b.rating, label=b.label, min_score=float(b.min_score))
            for b in framework.rating_bands
        ],
    )


@router.get("/frameworks", response_model=list[FrameworkOut])
def frameworks(site: SiteDep, scope: ApiScope) -> list[FrameworkOut]:
    """The workspace's framework: KRAs with their weights, each with its KPIs."""
    return [framework_out(site.framework)]


@router.get("/frameworks/{framework_id}", response_model=FrameworkOut)
def framework(framework_id: str, site: SiteDep, scope: ApiScope) -> FrameworkOut:
    """The workspace's framework by its id."""
    found = site.framework
    if found.id != framework_id:
        raise no_such("framework", framework_id)
    return framework_out(found)


@router.get("/kpis", response_model=list[KpiSummary])
def kpis(site: SiteDep, scope: ApiScope) -> list[KpiSummary]:
    """Every KPI of the framework, in document order."""
    return [_summary(kra, kpi) for kra, kpi in site.framework.kpis()]


def _formula(metric_name: str) -> Formula:
    catalogue = load_catalogue()
    metric = catalogue.metrics[metric_name]
    measures = {
        name: Measure(fact=m.fact, agg=m.agg, expr=m.expr, filter=m.filter)
        for name, m in metric.measures.items()
    }
    facts = {
        name: Fact(
            table=f.table,
            rm=f.rm,
            when=f.when.model_dump(exclude_none=True),
            where=f.where,
            joins=[j.model_dump() for j in f.joins],
            columns=dict(f.columns),
        )
        for name in dict.fromkeys(m.fact for m in metric.measures.values())
        for f in [catalogue.facts[name]]
    }
    provisional = metric.provisional_when
    return Formula(
        metric=metric_name,
        numerator=metric.numerator,
        denominator=metric.denominator,
        scale=metric.scale,
        per_month=metric.per_month,
        derived=metric.derived,
        measures=measures,
        facts=facts,
        provisional_when=Measure(
            fact=provisional.fact,
            agg=provisional.agg,
            expr=provisional.expr,
            filter=provisional.filter,
        )
        if provisional
        else None,
    )


@router.get("/kpis/{kpi_id}", response_model=KpiDetail)
def kpi(kpi_id: str, site: SiteDep, scope: ApiScope) -> KpiDetail:
    """A KPI's definition, unit, direction, grain, default target and threshold, how it is
    scored, and for a computed KPI the catalogue's formula and the SQL that computes it."""
    found = [(kra, k) for kra, k in site.framework.kpis() if k.id == kpi_id]
    if not found:
        raise no_such("KPI", kpi_id)
    kra, definition = found[0]
    formula = sql = None
    if definition.kind is KpiKind.computed and definition.metric:
        formula = _formula(definition.metric)
    sql = kpi_sql(site, definition)
    return KpiDetail(
        **_summary(kra, definition).model_dump(),
        definition=definition.definition,
        metric=definition.metric,
        cap=float(definition.cap),
        scoring=definition.scoring.value,
        min_volume=definition.min_volume,
        gate=definition.gate.model_dump(mode="json") if definition.gate else None,
        entered_by=[str(role) for role in definition.entered_by],
        formula=formula,
        sql=sql,
    )


def _rm(row: Any) -> Rm:
    return Rm(
        rm_id=row.rm_id,
        name=row.name,
        team_id=row.team_id,
        role=row.role or "rm",
        region=row.region,
        active=True if row.active is None else bool(row.active),
        hire_date=row.hire_date,
        exit_date=row.exit_date,
    )


@router.get("/rms", response_model=list[Rm])
def rms(site: SiteDep, scope: ApiScope) -> list[Rm]:
    """The RMs in the user's scope (an RM: only themselves), by rm_id."""
    query = sa.select(RMS).where(scope.rm_filter(RMS.c.rm_id)).order_by(RMS.c.rm_id)
    with site.read() as conn:
        return [_rm(r) for r in conn.execute(query)]


@router.get("/rms/{rm_id}", response_model=Rm)
def rm(rm_id: str, site: SiteDep, scope: ApiScope) -> Rm:
    """One RM of the user's scope."""
    with site.read() as conn:
        row = (
            conn.execute(sa.select(RMS).where(RMS.c.rm_id == rm_id)).first()
            if scope.can_see_rm(rm_id)
            else None
        )
    if row is None:
        raise no_such("RM", rm_id)
    return _rm(row)


def team_filter(scope: Scope) -> sa.ColumnElement[bool]:
    if scope.team_ids is None:
        return sa.true()
    return TEAMS.c.team_id.in_(sorted(scope.team_ids)) if scope.team_ids else sa.false()


@router.get("/teams", response_model=list[Team])
def teams(site: SiteDep, scope: ApiScope) -> list[Team]:
    """The teams in the user's scope (a manager: the teams they lead and every team below)."""
    query = sa.select(TEAMS).where(team_filter(scope)).order_by(TEAMS.c.team_id)
    with site.read() as conn:
        return [Team(**r._mapping) for r in conn.execute(query)]


@router.get("/teams/{team_id}", response_model=TeamDetail)
def team(team_id: str, site: SiteDep, scope: ApiScope) -> TeamDetail:
    """One team of the user's scope, with the teams right below it and its members."""
    if not scope.can_see_team(team_id):
        raise no_such("team", team_id)
    with site.read() as conn:
        row = conn.execute(sa.select(TEAMS).where(TEAMS.c.team_id == team_id)).first()
        if row is None:
            raise no_such("team", team_id)
        child_team_ids = team_tree(conn).children().get(team_id, [])
        rm_ids = sorted(members(conn, [team_id]))
        return TeamDetail(**row._mapping, child_team_ids=child_team_ids, rm_ids=rm_ids)


def sort_periods(calendar: Calendar, labels: set[str]) -> list[str]:
    """Months, then quarters, then years, each oldest first."""
    parsed = []
    for label in labels:
        try:
            parsed.append(calendar.parse(label))
        except ValueError:
            continue
    parsed.sort(key=lambda p: (GRAIN_ORDER[p.grain], p.start))
    return [p.label for p in parsed]


@router.get("/periods", response_model=list[PeriodOut])
def periods(site: SiteDep, scope: ApiScope) -> list[PeriodOut]:
    """The periods that have KPI values or scores, months first, each grain oldest first;
    not those before the first scored period (computed only, never offered)."""
    calendar = site.calendar
    first = first_scored(site)
    with site.read() as conn:
        valued = {
            r[0]
            for r in conn.execute(
                sa.select(kpi_values.c.period).where(kpi_values.c.entity_type == "org").distinct()
            )
        }
        scored = {
            r[0]
            for r in conn.execute(
                sa.select(scores.c.period).where(scores.c.level == "overall").distinct()
            )
        }
        as_of = as_of_date(conn)
    found = []
    offered = {label for label in valued | scored if scored_from(first, label, calendar)}
    for label in sort_periods(calendar, offered):
        p = calendar.parse(label)
        found.append(
            PeriodOut(
                label=label,
                grain=p.grain.value,
                start=p.start,
                end=p.end,
                has_values=label in valued,
                has_scores=label in scored,
                open=as_of is not None and is_open(p, as_of),
            )
        )
    return found


def check_grain(grain: str | None) -> Grain | None:
    """A grain filter; 422 for anything but month, quarter or year."""
    if grain is None:
        return None
    try:
        return Grain(grain)
    except ValueError:
        raise HTTPException(422, f"grain: {grain!r} is not month, quarter or year.") from None
