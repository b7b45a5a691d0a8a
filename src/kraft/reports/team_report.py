"""The monthly or quarterly management report of a team (and the teams below it) or the company.

Everything is read from what `kraft compute` stored and from the analyses built on it, never
computed a second way: the leaderboard is kraft.scoring.leaderboard.overall_leaderboard (stored
overall, credibility-adjusted overall, rating, coverage, flags); the heatmap and the movers are the
stored KRA and overall scores (kraft.reports.scores.overall_rows, the rows `kraft export scores`
writes); KPIs below threshold are the stored KPI scores (kraft.analysis.alerts.below_threshold);
the variance table sums kraft.analysis.open_variance.variances_as_of per KPI beside the team's (or the
company's) own stored KPI value; the at-risk list is kraft.analysis.alerts.alerts; the initiative
summary is kraft.analysis.initiative.initiative_impact for every initiative running in the period.

`build_team_report` assembles it once into a TeamReport; `render_team_report` writes it as html
(one self-contained page) or md; pdf is the html through kraft.reports.pdf; xlsx is
kraft.reports.workbook.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.analysis.alerts import Alert, AlertKind, alerts, below_threshold
from kraft.analysis.movers import Mover, biggest_movers
from kraft.analysis.open_variance import variances_as_of
from kraft.analysis.pacing import is_open
from kraft.analysis.variance import Flag, median
from kraft.errors import KraftError
from kraft.formatting import fixed, signed, to_decimal
from kraft.framework.model import KPI, Framework
from kraft.metrics.spec import Catalogue, load_catalogue
from kraft.periods import Calendar, Period
from kraft.reports import legends
from kraft.reports.scores import OverallRow, overall_rows
from kraft.reports.values import shown_value
from kraft.scoring.leaderboard import OverallStanding, Roster, load_roster, overall_leaderboard
from kraft.scoring.methods import better_or_equal
from kraft.scoring.stored import as_of_date, numeric
from kraft.store.database import Database
from kraft.store.roster import team_name

MOVERS = 10  # the biggest movers shown, each way
LIST_LIMIT = 100  # rows the long lists (below threshold, at risk) show; the rest are counted
BOARD_LIMIT = 50  # RMs the leaderboard and heatmap show: beyond it the top and bottom 25


class ReportFormat(StrEnum):
    html = "html"
    md = "md"


# -- the report's parts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingCount:
    rating: int | None  # None: not rated (no overall score)
    label: str
    rms: int
    share: Decimal  # percent of the RMs in the report


@dataclass(frozen=True)
class HeatRow:
    rm_id: str
    name: str | None
    overall: Decimal | None
    kras: Mapping[str, Decimal | None]  # kra_id → stored KRA score


@dataclass(frozen=True)
class BelowThreshold:
    rm_id: str
    name: str | None
    kra_id: str
    kpi_id: str
    actual: Decimal | None
    target: Decimal | None
    threshold: Decimal | None
    score: Decimal | None
    status: str
    forecast: Decimal | None = None  # in the open period: the forecast held against the threshold


@dataclass(frozen=True)
class VarianceRow:
    """One KPI over the report's RMs: the scope's own stored value, and how many RMs are beyond
    the tolerance against their target and against the previous period."""

    kra_id: str
    kpi_id: str
    value: Decimal | None  # the team's (or company's) stored value this period
    previous_value: Decimal | None  # ... the period before
    rms: int  # RMs with a value
    median_actual: Decimal | None
    target_favourable: int
    target_unfavourable: int
    previous_favourable: int
    previous_unfavourable: int


@dataclass(frozen=True)
class InitiativeSummary:
    initiative_id: str
    name: str
    start_date: date
    end_date: date | None
    participants: int
    non_participants: int
    before_rate: Any  # Fraction | None: the participants' retention rate, percent
    after_rate: Any
    control_before_rate: Any
    control_after_rate: Any
    did: Any  # Fraction | None, points
    interval: tuple[float, float] | None
    conclusion: str
    provisional: bool
    problem: str | None = None  # why the impact could not be measured


@dataclass
class TeamReport:
    framework: Framework
    period: Period
    previous: Period
    as_of: date | None
    team_id: str | None  # None: the company
    team_name: str | None
    leaderboard: list[OverallStanding]
    distribution: list[RatingCount]
    heatmap: list[HeatRow]
    movers_up: list[Mover]
    movers_down: list[Mover]
    below: list[BelowThreshold]
    below_total: int
    variance: list[VarianceRow]
    at_risk: list[Alert]
    at_risk_total: int
    initiatives: list[InitiativeSummary]
    names: Mapping[str, str | None]
    charts: dict[str, str] = field(default_factory=dict)  # chart kind → inline SVG
    kpi_index: dict[str, KPI] = field(default_factory=dict, repr=False)

    @property
    def scope(self) -> str:
        if self.team_id is None:
            return "Company"
        return (
            f"Team {self.team_name} ({self.team_id})" if self.team_name else f"Team {self.team_id}"
        )

    @property
    def title(self) -> str:
        return f"{self.scope} report, {self.period.label}"

    @property
    def leaderboard_shown(self) -> list[OverallStanding]:
        """All RMs up to BOARD_LIMIT; beyond it the first and the last BOARD_LIMIT ÷ 2 ranked
        (the workbook has every RM)."""
        if len(self.leaderboard) <= BOARD_LIMIT:
            return self.leaderboard
        half = BOARD_LIMIT // 2
        ranked = [s for s in self.leaderboard if s.rank is not None]  # unranked: counted only
        return [*ranked[:half], *ranked[half:][-half:]]

    @property
    def leaderboard_gap(self) -> int:
        """How many RMs the shown leaderboard leaves out (between its top and its bottom)."""
        return len(self.leaderboard) - len(self.leaderboard_shown)

    @property
    def heatmap_shown(self) -> list[HeatRow]:
        shown = {s.rm_id for s in self.leaderboard_shown}
        return [row for row in self.heatmap if row.rm_id in shown]

    @property
    def open_period(self) -> bool:
        """Whether the period was still running on the data's as-of date."""
        return self.as_of is not None and is_open(self.period, self.as_of)

    @property
    def below_forecast(self) -> bool:
        """Whether the below-threshold list holds forecasts (the period is open)."""
        return any(b.forecast is not None for b in self.below)

    @property
    def rated(self) -> int:
        return sum(1 for s in self.leaderboard if s.rating is not None)

    @property
    def mean_overall(self) -> Decimal | None:
        scored = [s.overall for s in self.leaderboard if s.overall is not None]
        return sum(scored, Decimal(0)) / len(scored) if scored else None

    @property
    def provisional(self) -> bool:
        return any("provisional" in s.flags for s in self.leaderboard)

    def kpi_name(self, kpi_id: str) -> str:
        kpi = self._kpis.get(kpi_id)
        return kpi.name if kpi is not None else kpi_id

    @property
    def _kpis(self) -> dict[str, KPI]:
        if not self.kpi_index:
            self.kpi_index.update({kpi.id: kpi for _, kpi in self.framework.kpis()})
        return self.kpi_index

    def kra_title(self, kra_id: str) -> str:
        return next((k.title for k in self.framework.kras if k.id == kra_id), kra_id)

    def value(self, kpi_id: str, number: float | Decimal | None) -> str:
        kpi = self._kpis.get(kpi_id)
        unit = kpi.unit if kpi is not None else None
        return shown_value(number, unit, self.framework.currency)


# -- assembling -----------------------------------------------------------------------------------


def build_team_report(
    db: Database,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    team_id: str | None,
    parameters: Mapping[str, int],
    *,
    charts: bool = True,
) -> TeamReport:
    """The report of a team and the teams below it (team_id None: the company) for a period."""
    previous = calendar.previous(period)
    with db.connect() as conn:
        roster = load_roster(conn)
        if team_id is not None and team_id not in roster.teams:
            raise KraftError(
                f"--team {team_id!r} is not a team of this workspace; give a team_id of the "
                "teams table, or --org for the company."
            )
        as_of = as_of_date(conn)
        running = _running_initiatives(conn, period, as_of)
    # The initiatives' impact is mostly SQL and numpy, which leave the interpreter free: it is
    # measured on its own connection while the rest of the report is read.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = [
            pool.submit(_initiative, db, framework, parameters, initiative_id)
            for initiative_id in running
        ]
        report = _assemble(db, framework, calendar, period, previous, team_id, roster, as_of)
        report.initiatives = [future.result() for future in pending]
    if charts:
        report.charts = team_charts(report)
    return report


def _assemble(
    db: Database,
    framework: Framework,
    calendar: Calendar,
    period: Period,
    previous: Period,
    team_id: str | None,
    roster: Roster,
    as_of: date | None,
) -> TeamReport:
    catalogue = load_catalogue()
    with db.connect() as conn:
        members = roster.members(team_id)
        board = overall_leaderboard(conn, framework, calendar, period, team_id, roster)
        shown = {s.rm_id for s in board}
        rows = overall_rows(conn, [previous.label, period.label])
        now = {r.rm_id: r for r in rows if r.period == period.label and r.rm_id in shown}
        before = [r for r in rows if r.period == previous.label]
        found = (
            alerts(conn, framework, calendar, period, as_of, catalogue) if as_of is not None else []
        )
        at_risk = [a for a in found if a.rm_id in shown]
        below, below_total = _below_threshold(
            conn, framework, period, as_of, shown, roster.names, at_risk
        )
        variance = _variance(
            conn, framework, calendar, (period, previous), as_of, catalogue, team_id, members
        )
        name = team_name(conn, team_id) if team_id is not None else None
    movers = biggest_movers(before, now.values(), MOVERS)
    return TeamReport(
        framework=framework,
        period=period,
        previous=previous,
        as_of=as_of,
        team_id=team_id,
        team_name=name,
        leaderboard=board,
        distribution=_distribution(framework, board),
        heatmap=_heatmap(framework, board, now),
        movers_up=movers.up,
        movers_down=movers.down,
        below=below,
        below_total=below_total,
        variance=variance,
        at_risk=at_risk[:LIST_LIMIT],
        at_risk_total=len(at_risk),
        initiatives=[],
        names=roster.names,
    )


def _distribution(framework: Framework, board: Sequence[OverallStanding]) -> list[RatingCount]:
    counts = Counter(s.rating for s in board)
    total = len(board) or 1
    result = [
        RatingCount(
            band.rating,
            band.label,
            counts.get(band.rating, 0),
            Decimal(counts.get(band.rating, 0)) * 100 / total,
        )
        for band in framework.rating_bands
    ]
    if counts.get(None):
        result.append(
            RatingCount(None, "Not rated", counts[None], Decimal(counts[None]) * 100 / total)
        )
    return result


def _heatmap(
    framework: Framework, board: Sequence[OverallStanding], now: Mapping[str, OverallRow]
) -> list[HeatRow]:
    """Every RM of the leaderboard, in its order, with the stored KRA scores."""
    result = []
    for s in board:
        row = now.get(s.rm_id)
        kras = row.kras if row is not None else {}
        result.append(
            HeatRow(
                s.rm_id,
                s.name,
                s.overall,
                {kra.id: numeric(kras.get(kra.id)) for kra in framework.kras},
            )
        )
    return result


def _below_threshold(
    conn: Connection,
    framework: Framework,
    period: Period,
    as_of: date | None,
    shown: set[str],
    names: Mapping[str, str | None],
    at_risk: Sequence[Alert],
) -> tuple[list[BelowThreshold], int]:
    """The KPIs worse than their threshold, by KPI then worst score first. A closed period is
    read from the stored KPI scores (kraft.analysis.alerts.below_threshold); in the open period,
    where a count to date falls short of any whole-period threshold, the pacing forecast is held
    against the threshold instead (as `kraft alerts` does): those are the at-risk alerts whose
    forecast is worse than the threshold (a threshold is never better than its target, so every
    such forecast is at risk)."""
    order = {kpi.id: i for i, (_, kpi) in enumerate(framework.kpis())}
    kpis = {kpi.id: kpi for _, kpi in framework.kpis()}
    rows = conn.execute(
        sa.text(
            "SELECT rm_id, kra_id, item_id, actual, target, threshold, score, status FROM scores "
            "WHERE period = :p AND level = 'kpi'"
        ),
        {"p": period.label},
    )
    stored = {(r.rm_id, r.item_id): r for r in rows if r.rm_id in shown and r.item_id in order}
    found = []
    if as_of is not None and is_open(period, as_of):
        for a in at_risk:
            if (
                a.kind is not AlertKind.at_risk
                or a.forecast is None
                or a.threshold is None
                or a.kpi_id not in kpis
                or better_or_equal(kpis[a.kpi_id], a.forecast, a.threshold)
            ):
                continue
            r = stored.get((a.rm_id, a.kpi_id))
            found.append(
                BelowThreshold(
                    a.rm_id,
                    names.get(a.rm_id),
                    a.kra_id,
                    a.kpi_id,
                    a.actual,
                    a.target,
                    a.threshold,
                    numeric(r.score) if r is not None else None,
                    "forecast below threshold",
                    a.forecast,
                )
            )
    else:
        for (rm_id, kpi_id), r in stored.items():
            actual = to_decimal(r.actual)
            if below_threshold(kpis[kpi_id], r.status, actual, r.threshold):
                found.append(
                    BelowThreshold(
                        rm_id,
                        names.get(rm_id),
                        r.kra_id,
                        kpi_id,
                        actual,
                        numeric(r.target),
                        numeric(r.threshold),
                        numeric(r.score),
                        r.status,
                    )
                )
    found.sort(key=lambda b: (order[b.kpi_id], b.score or Decimal(0), b.rm_id))
    return found[:LIST_LIMIT], len(found)


def _variance(
    conn: Connection,
    framework: Framework,
    calendar: Calendar,
    periods: tuple[Period, Period],
    as_of: date | None,
    catalogue: Catalogue,
    team_id: str | None,
    members: set[str] | None,
) -> list[VarianceRow]:
    """Per KPI: the scope's stored value now and before, and the RMs' variances summed up (an
    open period's counts and sums by their forecast, not their part-period value)."""
    period, previous = periods
    found = variances_as_of(conn, framework, calendar, period, as_of, catalogue, rm_ids=members)
    entity = ("org", "org") if team_id is None else ("team", team_id)
    own: dict[tuple[str, str], Decimal | None] = {}
    for r in conn.execute(
        sa.text(
            "SELECT period, kpi_id, value FROM kpi_values WHERE entity_type = :t "
            "AND entity_id = :e AND period IN (:now, :before)"
        ),
        {"t": entity[0], "e": entity[1], "now": period.label, "before": previous.label},
    ):
        own[(r.period, r.kpi_id)] = to_decimal(r.value)
    by_kpi: dict[str, list[Any]] = {}
    for v in found:
        by_kpi.setdefault(v.kpi_id, []).append(v)
    result = []
    for kra, kpi in framework.kpis():
        items = by_kpi.get(kpi.id, [])
        value = own.get((period.label, kpi.id))
        if not items and value is None:
            continue
        result.append(
            VarianceRow(
                kra.id,
                kpi.id,
                value,
                own.get((previous.label, kpi.id)),
                len(items),
                median(v.actual for v in items),
                sum(1 for v in items if v.target.flag is Flag.favourable),
                sum(1 for v in items if v.target.flag is Flag.unfavourable),
                sum(1 for v in items if v.previous.flag is Flag.favourable),
                sum(1 for v in items if v.previous.flag is Flag.unfavourable),
            )
        )
    return result


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _running_initiatives(conn: Connection, period: Period, as_of: date | None) -> list[str]:
    """Initiatives started by the as-of date that had not ended before the period began."""
    if as_of is None:
        return []
    found = []
    for r in conn.execute(
        sa.text(
            "SELECT initiative_id, start_date, end_date FROM initiatives ORDER BY initiative_id"
        )
    ):
        if r.start_date is None or _as_date(r.start_date) > as_of:
            continue
        if r.end_date is not None and _as_date(r.end_date) < period.start:
            continue
        found.append(str(r.initiative_id))
    return found


def _initiative(
    db: Database, framework: Framework, parameters: Mapping[str, int], initiative_id: str
) -> InitiativeSummary:
    from kraft.analysis.initiative import initiative_impact

    try:
        impact = initiative_impact(
            db, load_catalogue(), parameters, initiative_id, example=framework.example
        )
    except KraftError as exc:
        with db.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT name, start_date, end_date FROM initiatives WHERE initiative_id = :i"
                ),
                {"i": initiative_id},
            ).one()
        return InitiativeSummary(
            initiative_id, str(row.name), _as_date(row.start_date),
            _as_date(row.end_date) if row.end_date is not None else None,
            0, 0, None, None, None, None, None, None, "", False, problem=str(exc),
        )  # fmt: skip
    part, non = impact.participants, impact.non_participants
    interval = impact.interval
    return InitiativeSummary(
        impact.initiative_id,
        impact.name,
        impact.start_date,
        impact.end_date,
        len(part.rm_ids),
        len(non.rm_ids),
        part.before.retention_rate,
        part.after.retention_rate,
        non.before.retention_rate,
        non.after.retention_rate,
        impact.difference_in_differences,
        (interval.low, interval.high) if interval is not None else None,
        impact.conclusion,
        impact.provisional,
    )


# -- charts ---------------------------------------------------------------------------------------


def team_charts(report: TeamReport) -> dict[str, str]:
    """The report's charts as inline SVG (kraft.reports.charts specs rendered by vl-convert)."""
    from kraft.reports import charts

    counts = {c.rating: c.rms for c in report.distribution if c.rating is not None}
    result = {
        "rating_distribution": charts.to_svg(
            charts.rating_distribution(counts, report.framework.rating_bands)
        )
    }
    cells = [
        charts.HeatCell(row.rm_id, kra_id, score)
        for row in report.heatmap_shown
        for kra_id, score in row.kras.items()
    ]
    if cells:
        result["kra_heatmap"] = charts.to_svg(charts.kra_heatmap(cells, report.framework.kras))
    moved = [
        charts.Mover(m.rm_id, m.change, m.before, m.after)
        for m in [*report.movers_up, *reversed(report.movers_down)]
    ]
    if moved:
        result["movers"] = charts.to_svg(charts.movers(moved))
    return result


# -- rendering ------------------------------------------------------------------------------------


def report_environment(autoescape: bool) -> Any:
    """The templates' environment with the team and initiative reports' helpers."""
    from kraft.analysis.initiative import points
    from kraft.reports.framework_document import template_environment

    env = template_environment(autoescape)
    env.globals.update(fixed=fixed, signed=signed, shown_value=shown_value, points=points)
    env.globals.update(
        kra_score_class=legends.kra_score_class,
        kra_score_legend=legends.kra_score_legend,
        rating_legend=legends.rating_legend,
        alert_class=legends.alert_class,
        alert_legend=legends.alert_legend,
        BELOW_SWATCHES=legends.BELOW_SWATCHES,
        MOVER_SWATCHES=legends.MOVER_SWATCHES,
        VARIANCE_SWATCHES=legends.VARIANCE_SWATCHES,
    )
    return env


def render_team_report(report: TeamReport, fmt: ReportFormat) -> str:
    env = report_environment(autoescape=fmt is ReportFormat.html)
    template = env.get_template(f"team.{fmt.value}.j2")
    return str(template.render(report=report))
