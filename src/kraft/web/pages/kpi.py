"""The KPIs: each one's definition, formula, unit, direction, target and threshold, the SQL the
metric compiler writes for it, and its distribution across the RMs in scope for a period.

An RM sees the distribution of their own team with their own value marked, never another RM's
name or value; a manager and the admin also see the lowest and highest values, by RM.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection

from kraft.analysis.variance import quartiles
from kraft.core.access import Scope
from kraft.errors import KraftError
from kraft.formatting import to_decimal
from kraft.framework.model import KPI, KRA, KpiKind
from kraft.metrics.spec import Metric, load_catalogue
from kraft.periods import Period
from kraft.reports.values import direction_label, grain_label, unit_label
from kraft.store.roster import is_scored_sql
from kraft.web.deps import PageScope, SiteDep
from kraft.web.kpi_sql import kpi_sql
from kraft.web.period_choice import PeriodChoice, choose_period
from kraft.web.render import render_page
from kraft.web.shown import Shown
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)

BINS = 10  # bars of the distribution
EXTREMES = 10  # RMs listed at each end (not for an RM)


@dataclass(frozen=True)
class Bin:
    low: Decimal
    high: Decimal
    rms: int
    mine: bool  # the viewing RM's value falls in it


@dataclass(frozen=True)
class Distribution:
    """A KPI's values across RMs in one period: count, quartiles, bins, the extremes by RM."""

    whose: str  # "your team", "your teams", "the company"
    count: int
    quartiles: tuple[Decimal, Decimal, Decimal] | None
    bins: list[Bin]
    own: Decimal | None  # the viewing RM's value, if they have one
    lowest: list[tuple[str, str | None, Decimal]]  # (rm_id, name, value): not for an RM
    highest: list[tuple[str, str | None, Decimal]]


def kpi_values(
    conn: Connection, kpi: KPI, label: str
) -> list[tuple[str, str | None, str | None, Decimal]]:
    """Every scored RM's value of the KPI in the period: (rm_id, name, team_id, value); a
    score-derived KPI's values are the actuals its scores used."""
    if kpi.kind is KpiKind.score:
        query = (
            "SELECT s.rm_id, r.name, r.team_id, s.actual AS value FROM scores AS s "
            "JOIN relationship_managers AS r ON r.rm_id = s.rm_id WHERE s.period = :p "
            "AND s.level = 'kpi' AND s.item_id = :k AND s.actual IS NOT NULL"
        )
    else:
        query = (
            "SELECT v.entity_id AS rm_id, r.name, r.team_id, v.value FROM kpi_values AS v "
            "JOIN relationship_managers AS r ON r.rm_id = v.entity_id WHERE v.entity_type = 'rm' "
            "AND v.period = :p AND v.kpi_id = :k AND v.value IS NOT NULL "
            f"AND {is_scored_sql('r')}"
        )
    found = []
    for r in conn.execute(sa.text(query), {"p": label, "k": kpi.id}):
        value = to_decimal(r.value)
        if value is not None:
            found.append((str(r.rm_id), r.name, r.team_id, value))
    return found


def nice_step(span: Decimal) -> Decimal:
    """A round bin width (1, 2 or 5 times a power of ten) giving about BINS bins over the span:
    round edges also keep the bins from giving away the lowest and highest value exactly."""
    if span <= 0:
        return Decimal(1)
    rough = span / BINS
    power = Decimal(10) ** (rough.adjusted())
    for factor in (1, 2, 5, 10):
        if power * factor >= rough:
            return power * factor
    return power * 10


def bins_of(numbers: list[Decimal], own: Decimal | None) -> list[Bin]:
    """Equal round bins from below the lowest value to above the highest."""
    if not numbers:
        return []
    step = nice_step(numbers[-1] - numbers[0])
    start = (numbers[0] / step).to_integral_value(rounding=ROUND_FLOOR) * step
    count = int(((numbers[-1] - start) / step).to_integral_value(rounding=ROUND_FLOOR)) + 1
    counts = [0] * count
    for n in numbers:
        counts[min(int((n - start) / step), count - 1)] += 1
    own_bin = min(int((own - start) / step), count - 1) if own is not None else None
    return [
        Bin(start + step * i, start + step * (i + 1), n, i == own_bin) for i, n in enumerate(counts)
    ]


def distribution(conn: Connection, scope: Scope, kpi: KPI, period: Period) -> Distribution:
    """The values of the RMs in scope (an RM: of their own team), in BINS equal bins."""
    values = kpi_values(conn, kpi, period.label)
    if scope.sees_others:
        mine = [v for v in values if scope.can_see_rm(v[0])]
        whose = "the company" if scope.is_admin else "your teams"
        own = None
    else:
        mine = [v for v in values if v[2] is not None and v[2] == scope.own_team_id]
        whose = "your team"
        own = next((v[3] for v in mine if v[0] == scope.user.rm_id), None)
    numbers = sorted(v[3] for v in mine)
    bins = bins_of(numbers, own)
    ranked = sorted(mine, key=lambda v: (v[3], v[0]))
    named = scope.sees_others
    return Distribution(
        whose=whose,
        count=len(numbers),
        quartiles=quartiles(numbers),
        bins=bins,
        own=own,
        lowest=[(v[0], v[1], v[3]) for v in ranked[:EXTREMES]] if named else [],
        highest=[(v[0], v[1], v[3]) for v in reversed(ranked[-EXTREMES:])] if named else [],
    )


def _kpi(site: Site, kpi_id: str) -> tuple[KRA, KPI]:
    for kra, kpi in site.framework.kpis():
        if kpi.id == kpi_id:
            return kra, kpi
    raise HTTPException(404, f"There is no KPI {kpi_id!r} in the framework.")


@router.get("/kpis", response_class=HTMLResponse)
def kpis(request: Request, site: SiteDep, scope: PageScope) -> Response:
    """Every KPI of the framework, by KRA."""
    framework = site.framework
    context = {
        "index": True,
        "framework": framework,
        "unit_label": unit_label,
        "grain_label": grain_label,
        "shown": Shown(framework.currency),
    }
    return render_page(request, "kpi.html.j2", context)


@router.get("/kpis/{kpi_id}", response_class=HTMLResponse)
def kpi_page(
    request: Request, site: SiteDep, scope: PageScope, kpi_id: str, period: str = ""
) -> Response:
    """The KPI's definition and SQL, and its distribution across the RMs in scope."""
    framework = site.framework
    kra, kpi = _kpi(site, kpi_id)
    catalogue = load_catalogue()
    metric: Metric | None = catalogue.metrics.get(kpi.metric) if kpi.metric else None
    sql = kpi_sql(site, kpi)
    choice: PeriodChoice | None = None
    spread: Distribution | None = None
    problem = None
    with site.read() as conn:
        try:
            choice = choose_period(conn, site.calendar, framework, period or None)
        except KraftError as exc:
            if period:
                raise
            problem = exc.message  # no scores yet: the definition is still worth reading
        if choice is not None:
            chosen = choice
            whose = (scope.user.role, scope.user.rm_id, scope.own_team_id, scope.team_ids)
            spread = site.kept.get(
                ("spread", kpi.id, whose, choice.version),
                lambda: distribution(conn, scope, kpi, chosen.period),
            )
    measures: list[tuple[str, Any]] = list(metric.measures.items()) if metric else []
    return render_page(
        request,
        "kpi.html.j2",
        {
            "index": False,
            "framework": framework,
            "kra": kra,
            "kpi": kpi,
            "metric": metric,
            "measures": measures,
            "sql": sql,
            "choice": choice,
            "spread": spread,
            "problem": problem,
            "scope": scope,
            "unit_label": unit_label,
            "direction_label": direction_label,
            "grain_label": grain_label,
            "shown": Shown(framework.currency),
            "keep": {},
        },
    )
