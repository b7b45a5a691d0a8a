"""API: stored scores: the export's rows, an RM's scorecard, and a team's leaderboards.

`GET /scores` answers what `kraft export scores` writes (rm_id, period, overall_score, rating,
rating_label, coverage and kra:<id> per KRA), narrowed to the user's RMs. The scorecard is
kraft.reports.scorecard.build_scorecard's, so that its numbers are the report's; the leaderboards
are kraft.scoring.leaderboard's (the overall one ranked by the credibility-adjusted overall, a
KPI's by the shrunk rate with its 95 % interval). A team's leaderboard names RMs, so an RM gets
404 for every team.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from kraft.analysis.variance import Comparison
from kraft.core.access import Scope, no_such, visible_rm
from kraft.core.inputs import parse_period
from kraft.periods import Calendar, Grain, Period
from kraft.reports.scorecard import build_scorecard
from kraft.reports.scorecard_lines import KpiLine, ScorecardReport
from kraft.reports.scores import export_records, latest_period, overall_rows
from kraft.scoring.leaderboard import (
    kpi_leaderboard,
    load_roster,
    overall_leaderboard,
)
from kraft.store.metadata import scores as score_table
from kraft.web.api.catalog import check_grain, number
from kraft.web.deps import ROW_ID_MAX, ApiScope, SiteDep
from kraft.web.site import Site

router = APIRouter(tags=["scores"])

PAGE_LIMIT = 10_000


class ScoreRow(BaseModel):
    """One scorecard as the export writes it; plus a `kra:<kra_id>` score per KRA."""

    model_config = ConfigDict(extra="allow")

    rm_id: str
    period: str
    overall_score: float | None
    rating: int | None
    rating_label: str | None
    coverage: float | None = Field(description="percent of the weight that was scored")


class ScorePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ScoreRow]


def default_period(conn: Connection, calendar: Calendar, label: str | None) -> Period:
    """The period asked for, or the latest scored quarter (then month, then year), as
    `kraft scores` chooses; 404 when nothing is scored."""
    if label is not None:
        return parse_period(calendar, label, "period")
    for grain in (Grain.quarter, Grain.month, Grain.year):
        latest = latest_period(conn, grain.value)
        if latest is not None:
            return calendar.parse(latest)
    raise HTTPException(404, "There are no scores yet; run `kraft compute` first.")


@router.get("/scores", response_model=ScorePage)
def scores(
    site: SiteDep,
    scope: ApiScope,
    period: str | None = None,
    grain: str | None = None,
    team_id: str | None = None,
    rm_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 1000,
    offset: Annotated[int, Query(ge=0, le=ROW_ID_MAX)] = 0,
) -> ScorePage:
    """Stored scorecards in the export's columns and order (months, quarters, years, each
    oldest first, then by rm_id), of the user's RMs; `team_id`: that team and the teams below."""
    calendar, framework = site.calendar, site.framework
    chosen = parse_period(calendar, period, "period") if period is not None else None
    chosen_grain = check_grain(grain)
    if chosen is not None and chosen_grain not in (None, chosen.grain):
        raise HTTPException(
            422, f"grain: {chosen.label} is a {chosen.grain.value}, not a {chosen_grain.value}."
        )
    with site.read() as conn:
        members = None
        if team_id is not None:
            roster = load_roster(conn)
            if not scope.can_see_team(team_id) or team_id not in roster.teams:
                raise no_such("team", team_id)
            members = roster.members(team_id)
        if rm_id is not None:
            visible_rm(conn, scope, rm_id)
        rows = overall_rows(conn, [chosen.label] if chosen else None, chosen_grain)
    rows = [
        r
        for r in rows
        if scope.can_see_rm(r.rm_id)
        and (members is None or r.rm_id in members)
        and (rm_id is None or r.rm_id == rm_id)
    ]
    records = export_records(rows[offset : offset + limit], framework)
    return ScorePage(
        total=len(rows), limit=limit, offset=offset, items=[ScoreRow(**r) for r in records]
    )


# -- the scorecard ----------------------------------------------------------------------------


class ComparisonOut(BaseModel):
    reference: float | None
    difference: float | None = Field(description="actual − reference, in the KPI's unit")
    percent: float | None = Field(
        description="the difference in percent of |reference|; none for a % KPI (its difference "
        "is in percentage points) or where a value is 0 or below"
    )
    flag: str | None = Field(description="favourable or unfavourable beyond ±10 %")
    change: str = Field(description="relative, points (percentage points) or absolute")
    at_cap: float | None = Field(description="against the target: the score's cap, when at it")
    basis: str = Field(description="actual; in an open period, to date or forecast")


class VarianceOut(BaseModel):
    target: ComparisonOut
    previous: ComparisonOut
    last_year: ComparisonOut
    team_median: ComparisonOut
    previous_period: str
    last_year_period: str


class Interval(BaseModel):
    low: float
    high: float


class TrendPoint(BaseModel):
    period: str
    value: float | None


class ScorecardKpi(BaseModel):
    kpi_id: str
    name: str
    unit: str | None
    direction: str | None
    actual: float | None
    volume: float | None
    target: float | None
    threshold: float | None
    target_source: str | None = Field(description="rm, team:<id>, org or framework")
    score: float | None
    status: str
    provisional: bool
    interval: Interval | None = Field(description="Wilson 95 % interval, percent")
    variance: VarianceOut | None
    trend: list[TrendPoint]
    shown: dict[str, str] = Field(description="the cells as the report shows them")


class ScorecardKra(BaseModel):
    kra_id: str
    number: int
    title: str
    weight: float
    score: float | None
    status: str
    kpis: list[ScorecardKpi]


class ScorecardDriver(BaseModel):
    kpi_id: str
    name: str
    kra_title: str
    score_before: float | None
    score_after: float | None
    contribution_before: float
    contribution_after: float
    delta: float = Field(description="points of the overall score this KPI moved")


class AtRisk(BaseModel):
    kpi_id: str
    name: str
    to_date: float | None
    forecast: float | None
    method: str | None
    target: float | None
    threshold: float | None
    shown: dict[str, str]


class Scorecard(BaseModel):
    rm_id: str
    name: str | None
    team_id: str | None
    team_name: str | None
    framework_title: str
    currency: str
    period: str
    grain: str
    previous_period: str
    overall: float | None
    previous_overall: float | None
    rating: int | None
    rating_label: str | None
    rating_capped_at: float | None
    coverage: float | None
    provisional: bool
    as_of: str | None
    open: bool
    shown: dict[str, str] = Field(description="overall, coverage and rating as the report shows")
    kras: list[ScorecardKra]
    drivers: list[ScorecardDriver]
    at_risk: list[AtRisk]
    trends: dict[str, Any] | None = Field(description="every KPI's trend: a Vega-Lite spec")


def _comparison(c: Comparison) -> ComparisonOut:
    return ComparisonOut(
        reference=number(c.reference),
        difference=number(c.difference),
        percent=number(c.percent),
        flag=c.flag.value if c.flag else None,
        change=c.change.value,
        at_cap=number(c.cap),
        basis=c.basis.value,
    )


def _kpi_line(line: KpiLine) -> ScorecardKpi:
    v = line.variance
    return ScorecardKpi(
        kpi_id=line.kpi_id,
        name=line.name,
        unit=line.kpi.unit.value if line.kpi.unit else None,
        direction=line.kpi.direction.value if line.kpi.direction else None,
        actual=number(line.actual),
        volume=number(line.volume),
        target=number(line.target),
        threshold=number(line.threshold),
        target_source=line.target_source,
        score=number(line.score),
        status=line.status,
        provisional=line.provisional,
        interval=Interval(low=line.interval[0], high=line.interval[1]) if line.interval else None,
        variance=VarianceOut(
            target=_comparison(v.target),
            previous=_comparison(v.previous),
            last_year=_comparison(v.last_year),
            team_median=_comparison(v.team_median),
            previous_period=v.previous_period,
            last_year_period=v.last_year_period,
        )
        if v is not None
        else None,
        trend=[TrendPoint(period=p.period, value=number(p.value)) for p in line.trend],
        shown=line.shown,
    )


def scorecard_out(report: ScorecardReport) -> Scorecard:
    """The report's data as JSON numbers, with the report's own text beside them."""
    return Scorecard(
        rm_id=report.rm_id,
        name=report.name,
        team_id=report.team_id,
        team_name=report.team_name,
        framework_title=report.framework_title,
        currency=report.currency,
        period=report.period,
        grain=report.grain,
        previous_period=report.previous_period,
        overall=number(report.overall),
        previous_overall=number(report.previous_overall),
        rating=report.rating,
        rating_label=report.rating_label,
        rating_capped_at=number(report.rating_capped_at),
        coverage=number(report.coverage),
        provisional=report.provisional,
        as_of=report.as_of.isoformat() if report.as_of else None,
        open=report.open,
        shown={
            "overall": report.overall_shown,
            "coverage": report.coverage_shown,
            "rating": report.rating_shown,
        },
        kras=[
            ScorecardKra(
                kra_id=k.kra_id,
                number=k.number,
                title=k.title,
                weight=float(k.weight),
                score=number(k.score),
                status=k.status,
                kpis=[_kpi_line(line) for line in k.kpis],
            )
            for k in report.kras
        ],
        drivers=[
            ScorecardDriver(
                kpi_id=d.kpi_id,
                name=d.name,
                kra_title=d.kra_title,
                score_before=number(d.score_before),
                score_after=number(d.score_after),
                contribution_before=float(d.contribution_before),
                contribution_after=float(d.contribution_after),
                delta=float(d.delta),
            )
            for d in report.drivers
        ],
        at_risk=[
            AtRisk(
                kpi_id=a.kpi_id,
                name=a.name,
                to_date=number(a.forecast.to_date),
                forecast=number(a.forecast.forecast),
                method=a.forecast.method.value if a.forecast.method else None,
                target=number(a.forecast.target),
                threshold=number(a.forecast.threshold),
                shown=a.shown,
            )
            for a in report.at_risk
        ],
        trends=report.trends,
    )


def scorecard_report(site: Site, scope: Scope, rm_id: str, period: str | None) -> ScorecardReport:
    """The RM's scorecard report, if the user may see the RM: 404 for an RM out of scope or
    missing, for a manager (never scored) and for a period without their scores."""
    calendar = site.calendar
    with site.read() as conn:
        visible_rm(conn, scope, rm_id)
        chosen = default_period(conn, calendar, period)
        roster = load_roster(conn)
        if rm_id not in roster.team_of():
            raise HTTPException(
                404, f"{rm_id} is a manager, and only RMs of role rm have scorecards."
            )
        if not _scored(conn, rm_id, chosen):
            raise HTTPException(
                404,
                f"{rm_id} has no scores for {chosen.label}; GET /api/v1/periods lists the "
                "scored periods.",
            )
        return build_scorecard(conn, site.framework, calendar, rm_id, chosen)


def _scored(conn: Connection, rm_id: str, period: Period) -> bool:
    c = score_table.c
    query = sa.select(sa.func.count()).where(
        c.rm_id == rm_id, c.period == period.label, c.level == "overall"
    )
    return bool(conn.execute(query).scalar())


@router.get("/rms/{rm_id}/scorecard", response_model=Scorecard)
def scorecard(rm_id: str, site: SiteDep, scope: ApiScope, period: str | None = None) -> Scorecard:
    """An RM's scorecard for a period (default: the latest scored quarter): overall score,
    rating and coverage; KRAs; every KPI against its target with its interval, variance and
    trend; the drivers of the change; the KPIs at risk; the numbers of `kraft report
    scorecard`."""
    return scorecard_out(scorecard_report(site, scope, rm_id, period))


# -- leaderboards -----------------------------------------------------------------------------


class Standing(BaseModel):
    rank: int | None
    rm_id: str
    name: str | None
    team_id: str | None
    overall_score: float | None = Field(description="overall board: the stored overall")
    adjusted_overall: float | None = Field(description="the same scoring on shrunk rates")
    rating: int | None
    rating_label: str | None
    coverage: float | None
    flags: list[str]
    value: float | None = Field(description="KPI board: the raw value, as scored")
    numerator: float | None
    denominator: float | None
    interval: Interval | None = Field(description="KPI board: Wilson 95 %, percent")
    shrunk: float | None
    shrunk_toward: str | None
    status: str | None
    insufficient_volume: bool | None


class Leaderboard(BaseModel):
    team_id: str
    period: str
    kpi_id: str | None = Field(description="null: the overall leaderboard")
    standings: list[Standing]


def _standings_overall(board: list[Any]) -> list[Standing]:
    return [
        Standing(
            rank=s.rank, rm_id=s.rm_id, name=s.name, team_id=s.team_id,
            overall_score=number(s.overall), adjusted_overall=number(s.adjusted),
            rating=s.rating, rating_label=s.rating_label, coverage=number(s.coverage),
            flags=list(s.flags), value=None, numerator=None, denominator=None, interval=None,
            shrunk=None, shrunk_toward=None, status=None, insufficient_volume=None,
        )
        for s in board
    ]  # fmt: skip


def _standings_kpi(board: list[Any]) -> list[Standing]:
    return [
        Standing(
            rank=s.rank, rm_id=s.rm_id, name=s.name, team_id=s.team_id, overall_score=None,
            adjusted_overall=None, rating=None, rating_label=None, coverage=None, flags=[],
            value=s.value, numerator=s.numerator, denominator=s.denominator,
            interval=Interval(low=s.interval[0], high=s.interval[1]) if s.interval else None,
            shrunk=s.shrunk, shrunk_toward=s.prior, status=s.status,
            insufficient_volume=s.insufficient_volume,
        )
        for s in board
    ]  # fmt: skip


@router.get("/teams/{team_id}/leaderboard", response_model=Leaderboard)
def leaderboard(
    team_id: str,
    site: SiteDep,
    scope: ApiScope,
    period: str | None = None,
    kpi_id: str | None = None,
) -> Leaderboard:
    """The team's (and the teams below it) leaderboard for a period (default: the latest
    scored quarter): overall, ranked by the credibility-adjusted overall with flags; or, with
    `kpi_id`, a KPI's, ranked by the shrunk rate with the raw value and its 95 % interval."""
    framework, calendar = site.framework, site.calendar
    if not scope.can_see_team(team_id):
        raise no_such("team", team_id)
    kpi = None
    if kpi_id is not None:
        try:
            kpi = framework.kpi(kpi_id)
        except KeyError:
            raise no_such("KPI", kpi_id) from None
    with site.read() as conn:
        roster = load_roster(conn)
        if team_id not in roster.teams:
            raise no_such("team", team_id)
        chosen = default_period(conn, calendar, period)
        if kpi is None:
            board = overall_leaderboard(conn, framework, calendar, chosen, team_id, roster)
            standings = _standings_overall(board)
        else:
            standings = _standings_kpi(
                kpi_leaderboard(conn, framework, kpi, chosen, team_id, roster)
            )
    return Leaderboard(team_id=team_id, period=chosen.label, kpi_id=kpi_id, standings=standings)
