"""One Vega-Lite spec per chart kind (built with Altair), rendered to SVG or PNG by vl-convert.

The specs are plain dicts, so the web pages reuse them as they are (with vl-convert's offline
Vega-Lite bundle). Every chart has a title, labelled axes and units: percent KPIs read as
percent, currency in the framework's currency, large amounts in lakh/crore (INR) or M/B.
Rendering fetches nothing: the data is inline and vl-convert is given no allowed base URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from kraft.formatting import CURRENCY_SYMBOLS, money_scale, plain
from kraft.framework.model import KPI, KRA, RatingBand, Unit
from kraft.reports.values import format_value

Spec = dict[str, Any]

WIDTH = 360
HEIGHT = 160
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
ACTUAL, TARGET, THRESHOLD = "Actual", "Target", "Threshold"
SERIES_COLOURS = ("#1f5f99", "#2e7d32", "#c62828")
RISE, FALL = "Rise", "Fall"
SCORE_DOMAIN = (0, 120)  # KPI and KRA scores run 0 to the cap, 120 by default

UNIT_AXIS = {
    Unit.percent: "%",
    Unit.days: "days",
    Unit.points: "percentage points",
    Unit.count: "count",
    Unit.count_per_month: "count a month",
    Unit.score_0_100: "score 0–100",
}


@dataclass(frozen=True)
class TrendPoint:
    """A KPI's value in one period; a trend lists them oldest first."""

    period: str
    value: Decimal | None


@dataclass(frozen=True)
class HeatCell:
    """One RM's score on one KRA (kra: the KRA's id; score None where the KRA is not scored)."""

    rm: str
    kra: str
    score: Decimal | None


@dataclass(frozen=True)
class Mover:
    """One RM's change in overall score (delta = current - previous, in points)."""

    rm: str
    delta: Decimal
    previous: Decimal | None = None
    current: Decimal | None = None


def _number(value: Decimal | None, divisor: Decimal = Decimal(1)) -> float | None:
    return None if value is None else float(value / divisor)


def _config(chart: Any) -> Spec:
    """The spec as a dict, with the house style; not validated against the schema (slow, and
    the builders here only make valid specs, which the tests render)."""
    styled = chart.configure(font=FONT).configure_title(anchor="start", fontSize=13)
    spec: Spec = styled.to_dict(validate=False)
    return spec


def axis_unit(kpi: KPI, currency: str, largest: Decimal) -> tuple[Decimal, str]:
    """The divisor of the values and the unit written in the axis title: (1, '%'),
    (10**5, '₹ lakh'), (1, '$'), (10**6, 'CHF M')."""
    if kpi.unit is Unit.currency:
        divisor, word = money_scale(largest, currency)
        symbol = CURRENCY_SYMBOLS.get(currency, currency)
        return divisor, f"{symbol} {word}".strip()
    return Decimal(1), UNIT_AXIS.get(kpi.unit, "value") if kpi.unit else "value"


def kpi_trend(
    points: Sequence[TrendPoint],
    kpi: KPI,
    currency: str,
    *,
    target: Decimal | None = None,
    threshold: Decimal | None = None,
) -> Spec:
    """A KPI's value over the last periods (6 to 12), with rules at the target and threshold
    (the KPI's own unless given, e.g. the RM's stored target).

    The chart without its rows is built once per KPI, unit and run of periods (every RM's
    scorecard for a period shares it); each call adds its own rows as the named datasets."""
    target = kpi.target if target is None else target
    threshold = kpi.threshold if threshold is None else threshold
    known = [p.value for p in points if p.value is not None]
    references = [v for v in (target, threshold) if v is not None]
    largest = max((abs(v) for v in [*known, *references]), default=Decimal(0))
    divisor, unit = axis_unit(kpi, currency, largest)
    actual = [
        {
            "period": p.period,
            "value": _number(p.value, divisor),
            "shown": format_value(p.value, kpi.unit, currency),
            "series": ACTUAL,
        }
        for p in points
    ]
    rules = [
        {"value": _number(v, divisor), "shown": format_value(v, kpi.unit, currency), "series": s}
        for s, v in ((TARGET, target), (THRESHOLD, threshold))
        if v is not None
    ]
    layout = _trend_layout(
        kpi.name, unit, kpi.unit is Unit.percent, tuple(p.period for p in points), bool(rules)
    )
    spec: Spec = json.loads(layout)
    spec["datasets"] = {TREND_ROWS: actual, **({REFERENCE_ROWS: rules} if rules else {})}
    return spec


TREND_ROWS, REFERENCE_ROWS = "actual", "reference"


@lru_cache(maxsize=4096)
def _trend_layout(
    name: str, unit: str, percent: bool, periods: tuple[str, ...], with_rules: bool
) -> str:
    """The trend chart's spec without rows (as JSON: each caller gets its own copy)."""
    import altair as alt

    y_axis: dict[str, Any] = {"title": f"{name} ({unit})"}
    if percent:
        y_axis["labelExpr"] = "datum.label + ' %'"
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=[ACTUAL, TARGET, THRESHOLD], range=list(SERIES_COLOURS)),
        legend=alt.Legend(orient="bottom"),
    )
    tooltip = [alt.Tooltip("series:N", title=" "), alt.Tooltip("shown:N", title=name)]
    line = (
        alt.Chart(alt.NamedData(name=TREND_ROWS))
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "period:O",
                title="Period",
                sort=list(periods),
                axis=alt.Axis(labelAngle=0 if len(periods) <= 6 else -45),
            ),
            y=alt.Y("value:Q", title=y_axis["title"], axis=alt.Axis(**y_axis)),
            color=colour,
            tooltip=[alt.Tooltip("period:O", title="Period"), *tooltip],
        )
    )
    layers = [line]
    if with_rules:
        layers.append(
            alt.Chart(alt.NamedData(name=REFERENCE_ROWS))
            .mark_rule(strokeDash=[4, 3])
            .encode(y="value:Q", color=colour, tooltip=tooltip)
        )
    count = len(periods)
    chart = alt.layer(*layers).properties(
        title=alt.Title(
            name, subtitle=f"last {count} period{'s' if count != 1 else ''}, in {unit}"
        ),
        width=WIDTH,
        height=HEIGHT,
    )
    return json.dumps(_config(chart))


def rating_distribution(counts: Mapping[int, int], bands: Sequence[RatingBand]) -> Spec:
    """RMs per rating: one bar per band, highest rating first, bands with no RM included."""
    import altair as alt

    rows = [
        {"rating": f"{b.rating} {b.label}", "rms": counts.get(b.rating, 0)}
        for b in sorted(bands, key=lambda band: -band.rating)
    ]
    order = [str(row["rating"]) for row in rows]
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        x=alt.X("rating:N", title="Rating", sort=order, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("rms:Q", title="RMs (count)", axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("rating:N", title="Rating"), alt.Tooltip("rms:Q", title="RMs")],
    )
    bars = base.mark_bar(color=SERIES_COLOURS[0])
    labels = base.mark_text(dy=-6).encode(text="rms:Q")
    total = sum(counts.get(b.rating, 0) for b in bands)
    chart = alt.layer(bars, labels).properties(
        title=alt.Title("Rating distribution", subtitle=f"{total} RMs"), width=WIDTH, height=HEIGHT
    )
    return _config(chart)


def kra_heatmap(cells: Sequence[HeatCell], kras: Sequence[KRA]) -> Spec:
    """RM × KRA scores (0–120): one row per RM in the order given, one column per KRA."""
    import altair as alt

    titles = {kra.id: f"{kra.number}. {kra.title}" for kra in kras}
    rms = list(dict.fromkeys(cell.rm for cell in cells))
    rows = [
        {
            "rm": cell.rm,
            "kra": titles.get(cell.kra, cell.kra),
            "score": _number(cell.score),
            "shown": "—" if cell.score is None else plain(round(cell.score, 1)),
        }
        for cell in cells
    ]
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        x=alt.X(
            "kra:N",
            title="KRA",
            sort=[titles[k.id] for k in kras],
            axis=alt.Axis(orient="top", labelAngle=-30, labelLimit=220),
        ),
        y=alt.Y("rm:N", title="RM", sort=rms),
    )
    tiles = base.mark_rect().encode(
        color=alt.Color(
            "score:Q",
            title="KRA score (0–120)",
            scale=alt.Scale(domain=list(SCORE_DOMAIN), scheme="redyellowgreen"),
        ),
        tooltip=[
            alt.Tooltip("rm:N", title="RM"),
            alt.Tooltip("kra:N", title="KRA"),
            alt.Tooltip("shown:N", title="Score"),
        ],
    )
    text = base.mark_text(fontSize=9).encode(text="shown:N")
    chart = alt.layer(tiles, text).properties(
        title=alt.Title("KRA scores by RM", subtitle="score 0–120; 100 = on target"),
        width=max(60 * len(kras), 120),
        height=alt.Step(16),
    )
    return _config(chart)


def movers(deltas: Sequence[Mover]) -> Spec:
    """Bars of the change in overall score, biggest rise first, falls in red."""
    import altair as alt

    ranked = sorted(deltas, key=lambda m: (-m.delta, m.rm))
    rows = [
        {
            "rm": m.rm,
            "delta": _number(m.delta),
            "direction": RISE if m.delta >= 0 else FALL,
            "shown": f"{'+' if m.delta > 0 else ''}{plain(round(m.delta, 1))}",
            "previous": "—" if m.previous is None else plain(round(m.previous, 1)),
            "current": "—" if m.current is None else plain(round(m.current, 1)),
        }
        for m in ranked
    ]
    chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("delta:Q", title="Change in overall score (points)"),
            y=alt.Y("rm:N", title="RM", sort=[m.rm for m in ranked]),
            color=alt.Color(
                "direction:N",
                title=None,
                scale=alt.Scale(domain=[RISE, FALL], range=[SERIES_COLOURS[1], SERIES_COLOURS[2]]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("rm:N", title="RM"),
                alt.Tooltip("shown:N", title="Change (points)"),
                alt.Tooltip("previous:N", title="Previous"),
                alt.Tooltip("current:N", title="Current"),
            ],
        )
        .properties(
            title=alt.Title("Biggest movers", subtitle="change in overall score, in points"),
            width=WIDTH,
            height=alt.Step(16),
        )
    )
    return _config(chart)


def to_svg(spec: Spec) -> str:
    """The chart as SVG text, ready to inline in HTML (offline: no URL may be fetched)."""
    import vl_convert

    svg: str = vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    return svg


def to_png(spec: Spec, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes, e.g. for Excel (offline: no URL may be fetched)."""
    import vl_convert

    png: bytes = vl_convert.vegalite_to_png(spec, scale=scale, allowed_base_urls=[])
    return png
