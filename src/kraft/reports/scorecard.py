"""The RM scorecard report: one RM and one period, read from what is stored, for people to act on.

`build_scorecards` assembles everything once into `ScorecardReport`s (their lines:
kraft.reports.scorecard_lines; a batch of RMs shares the
database reads); `render_scorecard` writes one as self-contained HTML (inline CSS, charts as
inline SVG, printable; the pdf is made from it) or Markdown.

Nothing is recomputed: the header, KRA and KPI rows are the `scores` table's; the KPI values and
their numerators and denominators the `kpi_values` table's; the comparisons are
kraft.analysis.variance's (against target and the previous period), the drivers its `drivers`
of the two stored scorecards, the at-risk KPIs kraft.analysis.pacing's forecasts (open period
only), the intervals kraft.scoring.credibility's Wilson interval for the proportion KPIs. Numbers
are rounded for display the way the CLI shows them: scores to 2 decimals, coverage to 1, KPI
values to at most 2 in the KPI's unit (kraft.reports.values.format_value).
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from jinja2 import Environment
from sqlalchemy.engine import Connection

from kraft.analysis.open_variance import variances_as_of
from kraft.analysis.pacing import Forecast, Pace, forecasts, is_open
from kraft.analysis.variance import (
    Driver,
    Flag,
    Variance,
    drivers,
    stored_scorecard,
)
from kraft.cache import keeping, read_once
from kraft.errors import KraftError
from kraft.formatting import fixed, number, plain, signed_short, to_decimal
from kraft.framework.model import KPI, KRA, Framework
from kraft.metrics.spec import Catalogue, load_catalogue
from kraft.periods import Calendar, Grain, Period
from kraft.reports.charts import TrendPoint
from kraft.reports.framework_document import template_environment
from kraft.reports.scorecard_lines import (
    AtRiskLine,
    DriverLine,
    KpiLine,
    KraLine,
    ScorecardReport,
    comparison_text,
    interval_text,
    kra_status,
    trend_text,
)
from kraft.reports.values import shown_value, unit_label
from kraft.scoring.credibility import credibility_kpis, wilson
from kraft.scoring.stored import (
    RmValues,
    as_of_date,
    load_rm_values,
    numeric,
    stored_score_rows,
)
from kraft.store.metadata import scores
from kraft.store.roster import role_sql

TOP_DRIVERS = 5
PNG_SCALE = 1.5  # the trends' pixels per CSS pixel on paper: about 220 dpi across A4
# Periods a KPI's trend chart shows, the scorecard's own included (the issue: the last 6–12).
TREND_PERIODS = {Grain.month: 12, Grain.quarter: 8, Grain.year: 6}


class ReportFormat(StrEnum):
    html = "html"
    md = "md"


# -- assembling -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Who:
    rm_id: str
    name: str | None
    role: str
    team_id: str | None
    team_name: str | None


FEW_RMS = 100  # up to this many RMs are looked up by id; more, and every RM is read


def _people(conn: Connection, rm_ids: Collection[str] | None) -> dict[str, _Who]:
    if keeping():  # a server: the roster once per data version
        roster = read_once(("roster",), lambda: _read_people(conn, None))
        return roster if rm_ids is None else {rm: roster[rm] for rm in rm_ids if rm in roster}
    return _read_people(conn, rm_ids)


def _read_people(conn: Connection, rm_ids: Collection[str] | None) -> dict[str, _Who]:
    sql = (
        f"SELECT r.rm_id, r.name, {role_sql('r')} AS role, r.team_id, t.name AS team_name "
        "FROM relationship_managers AS r LEFT JOIN teams AS t ON t.team_id = r.team_id"
    )
    query = sa.text(sql)
    params: dict[str, Any] = {}
    if rm_ids is not None and len(rm_ids) <= FEW_RMS:  # one scorecard: not the whole roster
        query = sa.text(f"{sql} WHERE r.rm_id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True)
        )
        params["ids"] = sorted(rm_ids)
    found = {
        r.rm_id: _Who(r.rm_id, r.name, r.role, r.team_id, r.team_name)
        for r in conn.execute(query, params)
    }
    if rm_ids is None:
        return found
    return {rm: found[rm] for rm in rm_ids if rm in found}


def scored_rms(conn: Connection, period: Period) -> list[str]:
    """The RMs (role rm) with an overall score row for the period, in rm_id order."""
    c = scores.c
    rows = conn.execute(
        sa.select(c.rm_id).where(c.period == period.label, c.level == "overall").order_by(c.rm_id)
    )
    return [r[0] for r in rows]


def check_rm(conn: Connection, rm_id: str, period: Period) -> None:
    """Refuse, in one sentence, an RM the scorecard cannot be written for."""
    who = _people(conn, [rm_id]).get(rm_id)
    if who is None:
        raise KraftError(
            f"--rm {rm_id!r} is not an RM of this workspace; give an rm_id of the "
            "relationship_managers table."
        )
    if who.role != "rm":
        raise KraftError(
            f"--rm {rm_id} is a {who.role}, and only RMs of role rm are scored; give an RM's id."
        )
    rows = stored_score_rows(conn, period.label, [rm_id]).get(rm_id, [])
    if not any(r.level == "overall" for r in rows):
        raise KraftError(
            f"--rm {rm_id} has no scores for {period.label}; run `kraft compute` or choose a "
            "scored --period."
        )


def trend_labels(calendar: Calendar, period: Period) -> list[str]:
    """The scorecard's period and the ones before it of its grain, oldest first."""
    labels = [period]
    for _ in range(TREND_PERIODS[period.grain] - 1):
        labels.append(calendar.previous(labels[-1]))
    return [p.label for p in reversed(labels)]


def build_scorecard(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    rm_id: str,
    period: Period,
    *,
    catalogue: Catalogue | None = None,
    charts: bool = True,
) -> ScorecardReport:
    """One RM's scorecard report; refuses (KraftError) an unknown RM, a manager or no scores."""
    check_rm(conn, rm_id, period)
    return build_scorecards(
        conn, framework, calendar, [rm_id], period, catalogue=catalogue, charts=charts
    )[0]


def build_scorecards(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    rm_ids: Sequence[str],
    period: Period,
    *,
    catalogue: Catalogue | None = None,
    charts: bool = True,
) -> list[ScorecardReport]:
    """The scorecard reports of the RMs named that have scores for the period, in their order;
    the database is read once for all of them."""
    catalogue = catalogue or load_catalogue()
    who = _people(conn, rm_ids)
    wanted = [rm for rm in rm_ids if rm in who]
    labels = trend_labels(calendar, period)
    previous = calendar.previous(period)
    history = load_rm_values(conn, labels, rm_ids=wanted)
    proportions = credibility_kpis(framework, catalogue)
    found_variances = {
        (v.rm_id, v.kpi_id): v
        for v in variances_as_of(
            conn, framework, calendar, period, as_of_date(conn), catalogue, rm_ids=wanted
        )
    }
    as_of = as_of_date(conn)
    open_now = as_of is not None and is_open(period, as_of)
    at_risk: dict[str, list[Forecast]] = {}
    if open_now:
        assert as_of is not None
        for f in forecasts(conn, framework, calendar, period, as_of, wanted, catalogue):
            if f.status is Pace.at_risk:
                at_risk.setdefault(f.rm_id, []).append(f)
    rows = _score_rows(conn, period, wanted)
    batch = _Batch(
        framework,
        period,
        previous,
        history,
        labels,
        proportions,
        found_variances,
        as_of,
        open_now,
        charts,
    )
    reports = []
    for rm_id in wanted:
        mine = rows.get(rm_id)
        if mine is None or "overall" not in mine:
            continue
        after = stored_scorecard(conn, rm_id, period)
        before = stored_scorecard(conn, rm_id, previous)
        assert after is not None
        reads = _RmReads(
            who[rm_id],
            mine,
            at_risk.get(rm_id, []),
            drivers(before, after),
            before.overall if before is not None else None,
        )
        reports.append(_report(batch, reads))
    return reports


def _score_rows(conn: Connection, period: Period, rm_ids: Sequence[str]) -> dict[str, Any]:
    """rm_id → {"overall": row, "kra": {kra_id: row}, "kpi": {kpi_id: row}} from `scores`."""
    found: dict[str, Any] = {}
    for rm_id, rows in stored_score_rows(conn, period.label, rm_ids).items():
        mine = found.setdefault(rm_id, {"kra": {}, "kpi": {}})
        for r in rows:
            if r.level == "overall":
                mine["overall"] = r
            else:
                mine[r.level][r.item_id] = r
    return found


@dataclass(frozen=True)
class _Batch:
    """What every scorecard of a batch shares: the framework, the periods and the stored reads."""

    framework: Framework
    period: Period
    previous: Period
    history: RmValues
    labels: list[str]
    proportions: dict[str, bool]
    variances: dict[tuple[str, str], Variance]
    as_of: date | None
    open_now: bool
    charts: bool


@dataclass(frozen=True)
class _RmReads:
    """One RM's own reads: who, the stored score rows, the at-risk forecasts and the drivers."""

    who: _Who
    rows: dict[str, Any]
    at_risk: list[Forecast]
    moved: Sequence[Driver]
    previous_overall: Decimal | None


def _report(batch: _Batch, rm: _RmReads) -> ScorecardReport:
    framework, period = batch.framework, batch.period
    currency = framework.currency
    kras = [_kra_line(batch, rm, kra) for kra in framework.kras]
    overall = rm.rows["overall"]
    return ScorecardReport(
        framework_title=framework.title,
        currency=currency,
        rm_id=rm.who.rm_id,
        name=rm.who.name,
        team_id=rm.who.team_id,
        team_name=rm.who.team_name,
        period=period.label,
        grain=str(period.grain),
        previous_period=batch.previous.label,
        overall=numeric(overall.score),
        previous_overall=rm.previous_overall,
        rating=overall.rating,
        rating_label=overall.rating_label,
        rating_capped_at=numeric(overall.capped_at),
        coverage=numeric(overall.coverage),
        provisional=bool(overall.provisional),
        as_of=batch.as_of,
        open=batch.open_now,
        kras=tuple(kras),
        drivers=_driver_lines(framework, rm.moved),
        at_risk=_risk_lines(framework, rm.at_risk),
        trends=_trends(kras, currency, batch.labels) if batch.charts else None,
    )


def _kra_line(batch: _Batch, rm: _RmReads, kra: KRA) -> KraLine:
    kra_row = rm.rows["kra"].get(kra.id)
    lines = [
        _kpi_line(batch, rm.who.rm_id, kpi, r)
        for kpi in kra.kpis
        if (r := rm.rows["kpi"].get(kpi.id)) is not None
    ]
    return KraLine(
        kra.id,
        kra.number,
        kra.title,
        kra.weight,
        numeric(kra_row.score) if kra_row is not None else None,
        kra_status(
            numeric(kra_row.score) if kra_row is not None else None,
            numeric(kra_row.capped_at) if kra_row is not None else None,
            kra_row is not None,
        ),
        tuple(lines),
    )


def _kpi_line(batch: _Batch, rm_id: str, kpi: KPI, r: Any) -> KpiLine:
    """A KPI's line from its stored score row, its stored value's interval, variance and trend."""
    history = batch.history
    stored = history.get(batch.period.label, {}).get(rm_id, {}).get(kpi.id)
    interval = None
    if kpi.id in batch.proportions and stored is not None and stored.denominator:
        found = wilson(stored.numerator or 0.0, stored.denominator)
        interval = (found.low, found.high) if found is not None else None
    trend = tuple(
        TrendPoint(
            label,
            to_decimal(v.value)
            if (v := history.get(label, {}).get(rm_id, {}).get(kpi.id)) is not None
            else None,
        )
        for label in batch.labels
    )
    variance = batch.variances.get((rm_id, kpi.id))
    actual = to_decimal(r.actual)
    target, threshold = numeric(r.target), numeric(r.threshold)
    return KpiLine(
        kpi_id=kpi.id,
        name=kpi.name,
        kpi=kpi,
        actual=actual,
        volume=to_decimal(r.volume),
        target=target,
        threshold=threshold,
        target_source=r.target_source,
        score=numeric(r.score),
        status=r.status or "—",
        provisional=bool(r.provisional),
        interval=interval,
        variance=variance,
        trend=trend,
        shown=_kpi_shown(kpi, r, variance, interval, trend, batch.framework.currency),
    )


def _kpi_shown(
    kpi: KPI,
    r: Any,
    variance: Variance | None,
    interval: tuple[float, float] | None,
    trend: tuple[TrendPoint, ...],
    currency: str,
) -> dict[str, str]:
    """A KPI line's cells as the report shows them."""
    actual = to_decimal(r.actual)
    target, threshold = numeric(r.target), numeric(r.threshold)
    return {
        "actual": shown_value(actual, kpi.unit, currency),
        # a KPI not scored (e.g. too few cases) stores no target; vs target still
        # compares with the one that applies, so that one is shown
        "target": shown_value(
            target if target is not None or variance is None else variance.target.reference,
            kpi.unit,
            currency,
        ),
        "threshold": shown_value(threshold, kpi.unit, currency),
        "score": fixed(numeric(r.score)),
        "interval": interval_text(interval),
        "vs_previous": comparison_text(kpi, variance.previous if variance else None, currency),
        "vs_target": comparison_text(kpi, variance.target if variance else None, currency),
        "previous": shown_value(
            variance.previous.reference if variance else None, kpi.unit, currency
        ),
        "trend": trend_text(kpi, trend, currency),
        "volume": number(r.volume, currency),
    }


def _driver_lines(framework: Framework, moved: Sequence[Driver]) -> tuple[DriverLine, ...]:
    """The KPIs that moved the overall score most since the previous period."""
    titles = {kra.id: kra.title for kra in framework.kras}
    return tuple(
        DriverLine(
            d.kpi_id,
            _name(framework, d.kpi_id),
            titles.get(d.kra_id, d.kra_id),
            d.score_before,
            d.score_after,
            d.contribution_before,
            d.contribution_after,
            d.delta,
        )
        for d in moved
        if d.delta != 0
    )[:TOP_DRIVERS]


def _risk_lines(framework: Framework, at_risk: Sequence[Forecast]) -> tuple[AtRiskLine, ...]:
    currency = framework.currency
    return tuple(
        AtRiskLine(
            f.kpi_id,
            _name(framework, f.kpi_id),
            f,
            {
                "to_date": shown_value(f.to_date, framework.kpi(f.kpi_id).unit, currency),
                "forecast": shown_value(f.forecast, framework.kpi(f.kpi_id).unit, currency),
                "target": shown_value(f.target, framework.kpi(f.kpi_id).unit, currency),
                "threshold": shown_value(f.threshold, framework.kpi(f.kpi_id).unit, currency),
                "method": str(f.method) if f.method else "—",
            },
        )
        for f in at_risk
    )


def _name(framework: Framework, kpi_id: str) -> str:
    try:
        return framework.kpi(kpi_id).name
    except KeyError:
        return kpi_id


def _trends(
    kras: Sequence[KraLine], currency: str, periods: Sequence[str]
) -> dict[str, Any] | None:
    """The trends of every KPI with a value in any of the periods: the kraft.reports.charts
    kpi_trends small multiples, each panel titled with its KRA's number, so that a scorecard's
    charts are drawn in one vl-convert call (the cost of a scorecard is mostly its charts)."""
    shown = [
        (kra.number, k)
        for kra in kras
        for k in kra.kpis
        if any(p.value is not None for p in k.trend)
    ]
    if not shown:
        return None
    from kraft.reports import charts

    return charts.kpi_trends(
        [charts.Trend(k.kpi, k.trend, k.target, k.threshold) for _, k in shown],
        currency,
        title="Trends",
        periods=periods,
        prefixes=[f"{number}." for number, _ in shown],
    )


# -- rendering ------------------------------------------------------------------------------------


_ENVIRONMENTS: dict[bool, Environment] = {}


def _environment(autoescape: bool) -> Environment:
    env = _ENVIRONMENTS.get(autoescape)
    if env is None:
        env = template_environment(autoescape)
        env.globals.update(
            score_text=fixed,
            signed=signed_short,
            unit_label=unit_label,
            plain=plain,
        )
        _ENVIRONMENTS[autoescape] = env
    return env


def render_scorecard(report: ScorecardReport, fmt: ReportFormat, *, paper: bool = False) -> str:
    """The scorecard as html (the trends as inline SVG; for paper as a PNG image, which
    WeasyPrint lays out in a fraction of the time an SVG's text takes) or Markdown."""
    env = _environment(autoescape=fmt is ReportFormat.html)
    template = env.get_template(f"scorecard.{fmt.value}.j2")
    trends = None
    if report.trends is not None and fmt is ReportFormat.html:
        from kraft.reports import charts

        if paper:
            png = base64.b64encode(charts.to_png(report.trends, scale=PNG_SCALE)).decode()
            trends = f'<img alt="Trends of every KPI" src="data:image/png;base64,{png}">'
        else:
            trends = charts.to_svg(report.trends)
    return template.render(report=report, trends=trends, Flag=Flag)


def scorecard_pdf(report: ScorecardReport) -> bytes:
    """The scorecard as PDF, from its html for paper."""
    from kraft.reports.pdf import html_to_pdf

    return html_to_pdf(render_scorecard(report, ReportFormat.html, paper=True))
