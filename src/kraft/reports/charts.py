"""One Vega-Lite spec per chart kind (built with Altair), rendered to SVG or PNG by vl-convert.

The specs are plain dicts, so the web pages reuse them as they are (with vl-convert's offline
Vega-Lite bundle). Every chart has a title, labelled axes and units: percent KPIs read as
percent, currency in the framework's currency, large amounts in lakh/crore (INR) or M/B.
Rendering fetches nothing: the data is inline and vl-convert is given no allowed base URL.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from kraft.formatting import CURRENCY_SYMBOLS, fixed, in_unit, money_scale, signed
from kraft.framework.model import KPI, KRA, RatingBand, ScoringMethod, Unit
from kraft.reports.values import shown_value

Spec = dict[str, Any]

WIDTH = 360
HEIGHT = 160
FONT = "sans-serif"  # a named font makes vl-convert measure text 4× slower
ACTUAL, TARGET, THRESHOLD = "Actual", "Target", "Threshold"
SERIES_COLOURS = ("#1f5f99", "#2e7d32", "#c62828")
RISE, FALL = "Rise", "Fall"
OUTLIER_COLOUR = "#6a1b9a"
OFF_SCALE = "Off the scale (drawn at its edge)"  # an outlier marker's tooltip
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


@dataclass(frozen=True)
class Trend:
    """One KPI's panel of a trends chart: its values oldest first, and the target and threshold
    drawn as rules (the KPI's own unless given, e.g. the RM's stored target)."""

    kpi: KPI
    points: Sequence[TrendPoint]
    target: Decimal | None = None
    threshold: Decimal | None = None


def scored_range(
    kpi: KPI, target: Decimal | None, threshold: Decimal | None
) -> tuple[Decimal, Decimal] | None:
    """The actuals over which the KPI's score moves (0 to its cap): a trend's y axis keeps to
    it, so that one wild value (a loss ratio swinging ±20,000 pp on a tiny book) cannot flatten
    the rest. None where the method has no finite range (inverse, bands, binary)."""
    if target is None:
        return None
    if kpi.scoring is ScoringMethod.linear and threshold is not None and threshold != target:
        step = target - threshold  # 20 score points
        at_zero = threshold - 4 * step
        at_cap = threshold + (kpi.cap - 80) / 20 * step
        return min(at_zero, at_cap), max(at_zero, at_cap)
    if kpi.scoring is ScoringMethod.ratio and target > 0:
        return Decimal(0), target * kpi.cap / 100
    if kpi.scoring is ScoringMethod.zero_target:
        return Decimal(0), Decimal(2)
    return None


def _kept_in(
    value: Decimal | None, bounds: tuple[Decimal, Decimal] | None
) -> tuple[Decimal | None, bool]:
    """The value drawn and whether it is an outlier: beyond the scored range by more than the
    range's own width (so ordinary values over target stay as they are), drawn at that edge."""
    if value is None or bounds is None:
        return value, False
    width = bounds[1] - bounds[0]
    low, high = bounds[0] - width, bounds[1] + width
    if value < low:
        return low, True
    if value > high:
        return high, True
    return value, False


TRENDS_ROWS = "trends"
TREND_WIDTH, TREND_HEIGHT, TREND_COLUMNS = 170, 70, 4
TREND_LABELS = 3  # period labels a panel's x axis shows at most (flat, never overlapping)
HEADER_CHARACTERS = 28  # a panel's title wraps onto another line beyond this


def kpi_trends(
    trends: Sequence[Trend],
    currency: str,
    *,
    title: str = "Trends",
    periods: Sequence[str] = (),
    prefixes: Sequence[str] = (),
) -> Spec:
    """Small multiples: a panel per KPI of its value over the last periods (6 to 12), with
    dashed rules at the target and threshold. Each panel has its own y scale; its title names
    the KPI (after its prefix, e.g. the KRA's number) and the unit of its y axis (percent, days,
    the currency in lakh/crore or M/B), so that KPIs of different units sit side by side.

    One Vega-Lite facet, so that vl-convert draws a whole scorecard's trends in one call: its
    cost is text, so the panels share one legend and label a few periods each. The spec
    without its rows is built once per run of periods; each call adds its own rows."""
    labels = list(periods) or list(dict.fromkeys(p.period for t in trends for p in t.points))
    rows: list[dict[str, Any]] = []
    for order, trend in enumerate(trends):
        kpi = trend.kpi
        target = kpi.target if trend.target is None else trend.target
        threshold = kpi.threshold if trend.threshold is None else trend.threshold
        bounds = scored_range(kpi, target, threshold)
        drawn = [_kept_in(p.value, bounds) for p in trend.points]
        known = [v for v, _ in drawn if v is not None]
        references = [v for v in (target, threshold) if v is not None]
        largest = max((abs(v) for v in [*known, *references]), default=Decimal(0))
        divisor, unit = axis_unit(kpi, currency, largest)
        prefix = f"{prefixes[order]} " if order < len(prefixes) else ""
        panel = _wrapped(f"{prefix}{kpi.name} ({unit})")
        rows.extend(
            {
                "panel": panel,
                "order": order,
                "period": p.period,
                "value": _number(value, divisor),
                "shown": shown_value(p.value, kpi.unit, currency),
                "series": ACTUAL,
                "beyond": beyond,
            }
            for p, (value, beyond) in zip(trend.points, drawn, strict=True)
        )
        rows.extend(
            {
                "panel": panel,
                "order": order,
                "value": _number(v, divisor),
                "shown": shown_value(v, kpi.unit, currency),
                "series": s,
            }
            for s, v in ((TARGET, target), (THRESHOLD, threshold))
            if v is not None
        )
    spec: Spec = json.loads(_trends_layout(tuple(labels)))
    spec["title"]["text"] = title
    spec["datasets"] = {TRENDS_ROWS: rows}
    return spec


def kpi_trend(
    points: Sequence[TrendPoint],
    kpi: KPI,
    currency: str,
    *,
    target: Decimal | None = None,
    threshold: Decimal | None = None,
) -> Spec:
    """One KPI's trend: the trends chart with one panel, titled with the KPI's name."""
    return kpi_trends([Trend(kpi, points, target, threshold)], currency, title=kpi.name)


def _wrapped(text: str) -> str:
    """The text in lines (split at spaces) no longer than a panel title's line."""
    return "\n".join(textwrap.wrap(text, HEADER_CHARACTERS)) or text


def _shown_periods(periods: tuple[str, ...]) -> list[str]:
    """At most TREND_LABELS of the periods, evenly spaced and ending with the latest."""
    step = max(1, -(-len(periods) // TREND_LABELS))
    return list(reversed(periods[::-1][::step]))


def _panels(field: str) -> Any:
    """Small multiples' panels: one per value of the field, in the rows' `order`, each titled
    by the value on as many lines as it holds ("\\n"), bold, from the left."""
    import altair as alt

    return alt.Facet(
        f"{field}:N",
        title=None,
        sort=alt.EncodingSortField("order", op="min"),
        header=alt.Header(
            labelExpr="split(datum.value, '\\n')",
            labelAnchor="start",
            labelFontWeight="bold",
            labelFontSize=11,
            labelLimit=0,
        ),
    )


@lru_cache(maxsize=64)
def _trends_layout(periods: tuple[str, ...]) -> str:
    """The trends chart's spec without rows (as JSON: each caller gets its own copy)."""
    import altair as alt

    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=[ACTUAL, TARGET, THRESHOLD], range=list(SERIES_COLOURS)),
        legend=alt.Legend(orient="top", labelLimit=0),
    )
    tooltip = [alt.Tooltip("series:N", title=" "), alt.Tooltip("shown:N", title="Value")]
    # No label limits, overlap or bound checks: each would measure every label again.
    quiet: dict[str, Any] = {
        "labelLimit": 0,
        "labelOverlap": False,
        "labelBound": False,
        "labelFlush": False,
    }
    x = alt.X(
        "period:O",
        title="Period",
        sort=list(periods),
        axis=alt.Axis(values=_shown_periods(periods), labelAngle=0, **quiet),
    )
    line = (
        alt.Chart()
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=None, axis=alt.Axis(grid=False, tickCount=4, **quiet)),
            color=colour,
            tooltip=[alt.Tooltip("period:O", title="Period"), *tooltip],
        )
        .transform_filter(f"datum.series === '{ACTUAL}'")
    )
    beyond = (  # values beyond the scored range, drawn at its edge: marked, true value shown
        alt.Chart()
        .mark_point(shape="diamond", size=60, filled=False, color=OUTLIER_COLOUR, strokeWidth=1.5)
        .encode(
            x=x,
            y="value:Q",
            tooltip=[
                alt.Tooltip("period:O", title="Period"),
                alt.Tooltip("shown:N", title=OFF_SCALE),
            ],
        )
        .transform_filter(f"datum.series === '{ACTUAL}' && datum.beyond")
    )
    rules = (
        alt.Chart()
        .mark_rule(strokeDash=[4, 3])
        .encode(y="value:Q", color=colour, tooltip=tooltip)
        .transform_filter(f"datum.series !== '{ACTUAL}'")
    )
    count = len(periods)
    chart = (
        alt.layer(line, beyond, rules, data=alt.NamedData(name=TRENDS_ROWS))
        .properties(width=TREND_WIDTH, height=TREND_HEIGHT)
        .facet(
            facet=_panels("panel"),
            columns=TREND_COLUMNS,
        )
        .resolve_scale(y="independent")
        .properties(
            title=alt.Title(
                "Trends",
                subtitle=f"last {count} period{'s' if count != 1 else ''}; each panel in the unit"
                " its title gives; dashed: target and threshold",
                limit=0,
            )
        )
    )
    return json.dumps(_config(chart))


def rating_distribution(counts: Mapping[int, int], bands: Sequence[RatingBand]) -> Spec:
    """RMs per rating: one bar per band, highest rating first, bands with no RM included."""
    ordered = sorted(bands, key=lambda band: -band.rating)
    rows = [{"rating": f"{b.rating} {b.label}", "rms": counts.get(b.rating, 0)} for b in ordered]
    spec = _filled(_rating_shape(tuple(str(row["rating"]) for row in rows)), rows)
    spec["title"]["subtitle"] = f"{sum(counts.get(b.rating, 0) for b in bands)} RMs"
    ticks = whole_ticks(max((counts.get(b.rating, 0) for b in bands), default=0))
    for layer in spec["layer"]:
        layer["encoding"]["y"]["axis"]["values"] = ticks
    return spec


def whole_ticks(largest: int, most: int = 6) -> list[int]:
    """Whole-number ticks from 0 to the largest count or just past it, at most `most` steps of
    1, 2 or 5 × 10^k: a count's axis never reads 0, 1, 1, 2, 2 (the SVG renderer ignores
    tickMinStep on a short axis)."""
    largest = max(largest, 1)
    scale = 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if largest <= most * step:
                return list(range(0, -(-largest // step) * step + 1, step))
        scale *= 10


def _filled(shape: str, rows: list[dict[str, Any]]) -> Spec:
    """A copy of a chart's spec (as JSON) with its one dataset's rows replaced: Altair takes
    ~30 ms to build a spec, too long for a page that draws one per team."""
    spec: Spec = json.loads(shape)
    (name,) = spec["datasets"]
    spec["datasets"][name] = rows
    return spec


@lru_cache(maxsize=16)
def _rating_shape(order: tuple[str, ...]) -> str:
    import altair as alt

    rows = [{"rating": label, "rms": 0} for label in order]
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        x=alt.X(
            "rating:N",
            title="Rating",
            sort=list(order),
            axis=alt.Axis(labelAngle=0, labelExpr="split(datum.label, ' ')"),
        ),
        y=alt.Y("rms:Q", title="RMs (count)", axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("rating:N", title="Rating"), alt.Tooltip("rms:Q", title="RMs")],
    )
    bars = base.mark_bar(color=SERIES_COLOURS[0])
    labels = base.mark_text(dy=-6).encode(text="rms:Q")
    chart = alt.layer(bars, labels).properties(
        title=alt.Title("Rating distribution", subtitle=""), width=WIDTH, height=HEIGHT
    )
    return json.dumps(_config(chart))


def kra_heatmap(cells: Sequence[HeatCell], kras: Sequence[KRA]) -> Spec:
    """RM × KRA scores (0–120): one row per RM in the order given, one column per KRA."""
    titles = {kra.id: f"{kra.number}. {kra.title}" for kra in kras}
    rms = list(dict.fromkeys(cell.rm for cell in cells))
    rows = [
        {
            "rm": cell.rm,
            "kra": titles.get(cell.kra, cell.kra),
            "score": _number(cell.score),
            "shown": fixed(cell.score),
        }
        for cell in cells
    ]
    spec = _filled(_heatmap_shape(tuple(titles[k.id] for k in kras)), rows)
    for layer in spec["layer"]:
        layer["encoding"]["y"]["sort"] = rms
    return spec


@lru_cache(maxsize=16)
def _heatmap_shape(columns: tuple[str, ...]) -> str:
    import altair as alt

    base = alt.Chart(alt.InlineData(values=[])).encode(
        x=alt.X(
            "kra:N",
            title="KRA",
            sort=list(columns),
            axis=alt.Axis(orient="top", labelAngle=-30, labelLimit=220),
        ),
        y=alt.Y("rm:N", title="RM", sort=[]),
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
        width=max(60 * len(columns), 120),
        height=alt.Step(16),
    )
    return json.dumps(_config(chart))


def movers(deltas: Sequence[Mover]) -> Spec:
    """Bars of the change in overall score, biggest rise first, falls in red."""
    import altair as alt

    ranked = sorted(deltas, key=lambda m: (-m.delta, m.rm))
    rows = [
        {
            "rm": m.rm,
            "delta": _number(m.delta),
            "direction": RISE if m.delta >= 0 else FALL,
            "shown": signed(m.delta),
            "previous": fixed(m.previous),
            "current": fixed(m.current),
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


@dataclass(frozen=True)
class BeforeAfter:
    """One group's value of a percent KPI in the windows before and after an initiative."""

    kpi: str
    group: str
    before: Decimal | None
    after: Decimal | None


BEFORE, AFTER = "Before", "After"


def before_after(lines: Sequence[BeforeAfter], *, title: str, subtitle: str) -> Spec:
    """The difference in differences as a picture: a panel per KPI (percent), a line per group
    from its value before the start to its value after; the steeper rise is the effect. The
    axis runs from 0, so that a change of 5 points looks like 5 points of a rate, not a leap."""
    import altair as alt

    rows = [
        {"kpi": _wrapped(f"{line.kpi} (%)"), "order": order, "group": line.group, "window": window,
         "value": _number(value), "shown": in_unit(value, "percent", "")}
        for order, line in enumerate(lines)
        for window, value in ((BEFORE, line.before), (AFTER, line.after))
    ]  # fmt: skip
    groups = list(dict.fromkeys(line.group for line in lines))
    chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_line(point=True)
        .encode(
            x=alt.X("window:O", title="Window", sort=[BEFORE, AFTER], axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title="Percent", scale=alt.Scale(zero=True)),
            color=alt.Color(
                "group:N",
                title=None,
                sort=groups,
                scale=alt.Scale(domain=groups, range=list(SERIES_COLOURS[: len(groups)])),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("group:N", title="Group"),
                alt.Tooltip("window:O", title="Window"),
                alt.Tooltip("shown:N", title="Value"),
            ],
        )
        .properties(width=TREND_WIDTH, height=TREND_HEIGHT * 2)
        .facet(
            facet=_panels("kpi"),
            columns=3,
        )
        .resolve_scale(y="independent")
        .properties(title=alt.Title(title, subtitle=subtitle))
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
