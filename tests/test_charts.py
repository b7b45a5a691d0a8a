"""Chart specs read the way a person reads a chart: a title, labelled axes with units, percent as
percent, money in the framework's currency (lakh/crore for large INR), and SVG that renders."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from kraft.framework.loader import load_builtin
from kraft.framework.model import DEFAULT_RATING_BANDS, Framework
from kraft.reports import charts
from kraft.reports.charts import HeatCell, Mover, TrendPoint


@pytest.fixture(scope="module")
def framework() -> Framework:
    return load_builtin("insurance_rm")


def layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec, its layers and (for small multiples) its panel's layers."""
    inner = spec.get("spec", {})
    return [spec, *spec.get("layer", []), inner, *inner.get("layer", [])]


def encodings(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (channel, encoding) of the spec and its layers."""
    for layer in layers(spec):
        for channel, encoding in layer.get("encoding", {}).items():
            if isinstance(encoding, dict):
                yield channel, encoding


def axis_titles(spec: dict[str, Any]) -> dict[str, str]:
    titles: dict[str, str] = {}
    for channel, encoding in encodings(spec):
        if channel in ("x", "y") and encoding.get("title"):
            titles.setdefault(channel, encoding["title"])
    return titles


def data_values(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows each layer draws (Altair keeps inline rows in the top-level `datasets`)."""
    rows: list[dict[str, Any]] = []
    for layer in layers(spec):
        data = layer.get("data", {})
        rows.extend(data.get("values") or spec.get("datasets", {}).get(data.get("name"), []))
    return rows


def panel_titles(spec: dict[str, Any]) -> list[str]:
    """A trends chart's panel titles in order, on one line each."""
    found = {row["order"]: row["panel"] for row in data_values(spec)}
    return [found[order].replace("\n", " ") for order in sorted(found)]


def months(values: list[str]) -> list[TrendPoint]:
    return [
        TrendPoint(f"2025-{i:02d}", None if v is None else Decimal(v))
        for i, v in enumerate(values, 1)
    ]


@pytest.fixture(scope="module")
def every_kind(framework: Framework) -> dict[str, dict[str, Any]]:
    kras = framework.kras
    return {
        "trend": charts.kpi_trend(
            months(["80", "82.5", "84", "86", "79", "88"]),
            framework.kpi("client_retention_rate"),
            "INR",
        ),
        "ratings": charts.rating_distribution({5: 2, 4: 7, 3: 10, 1: 1}, framework.rating_bands),
        "heatmap": charts.kra_heatmap(
            [HeatCell(f"RM{i:04d}", kra.id, Decimal(60 + 5 * i)) for i in range(4) for kra in kras],
            kras,
        ),
        "movers": charts.movers(
            [
                Mover("RM0001", Decimal("12.5"), Decimal(80), Decimal("92.5")),
                Mover("RM0002", Decimal(-8)),
            ]
        ),
    }


@pytest.mark.parametrize("kind", ["ratings", "heatmap", "movers"])
def test_every_chart_has_a_title_and_labelled_axes(
    every_kind: dict[str, dict[str, Any]], kind: str
) -> None:
    spec = every_kind[kind]
    assert spec["title"]["text"]
    titles = axis_titles(spec)
    assert set(titles) == {"x", "y"}
    assert all(title.strip() for title in titles.values())
    json.dumps(spec)  # plain JSON: the web pages embed the same spec


def test_trend_panels_name_their_kpi_and_unit(every_kind: dict[str, dict[str, Any]]) -> None:
    """Small multiples: the x axis is Period; each panel's y axis is labelled by its title."""
    spec = every_kind["trend"]
    assert spec["title"]["text"] == "Client retention rate"
    assert axis_titles(spec) == {"x": "Period"}
    assert panel_titles(spec) == ["Client retention rate (%)"]
    assert "each panel in the unit its title gives" in spec["title"]["subtitle"]
    json.dumps(spec)


def test_axis_titles_name_their_units(every_kind: dict[str, dict[str, Any]]) -> None:
    assert axis_titles(every_kind["ratings"]) == {"x": "Rating", "y": "RMs (count)"}
    assert axis_titles(every_kind["heatmap"]) == {"x": "KRA", "y": "RM"}
    assert axis_titles(every_kind["movers"])["x"] == "Change in overall score (points)"
    colour = dict(encodings(every_kind["heatmap"]))["color"]
    assert colour["title"] == "KRA score (0–120)"


def test_percent_kpi_reads_as_percent(every_kind: dict[str, dict[str, Any]]) -> None:
    spec = every_kind["trend"]
    assert panel_titles(spec) == ["Client retention rate (%)"]
    actual = [row for row in data_values(spec) if row["series"] == "Actual"]
    assert [row["value"] for row in actual] == [80.0, 82.5, 84.0, 86.0, 79.0, 88.0]
    assert actual[1]["shown"] == "82.5 %"
    rules = {row["series"]: row["value"] for row in data_values(spec) if row["series"] != "Actual"}
    assert rules == {"Target": 85.0, "Threshold": 75.0}  # the KPI's own target and threshold


def test_tooltips_show_values_rounded_in_their_unit(framework: Framework) -> None:
    kpi = framework.kpi("client_retention_rate")
    points = [TrendPoint("2025-Q1", Decimal("22.80701754385965"))]
    spec = charts.kpi_trend(points, kpi, "INR", target=Decimal("85.125"))
    shown = {row["series"]: row["shown"] for row in data_values(spec)}
    assert shown["Actual"] == "22.81 %" and shown["Target"] == "85.13 %"
    cells = [HeatCell("RM0001", framework.kras[0].id, Decimal("80.6300"))]
    assert data_values(charts.kra_heatmap(cells, framework.kras))[0]["shown"] == "80.63"


def test_large_inr_amounts_are_drawn_in_lakh(framework: Framework) -> None:
    kpi = framework.kpi("revenue_per_quarter")  # target ₹15,00,000, threshold ₹12,00,000
    points = [TrendPoint("2025-Q1", Decimal(1250000)), TrendPoint("2025-Q2", Decimal(1734000))]
    spec = charts.kpi_trend(points, kpi, "INR")
    assert panel_titles(spec) == ["Revenue generated per quarter (₹ lakh)"]
    values = data_values(spec)
    assert [row["value"] for row in values if row["series"] == "Actual"] == [12.5, 17.34]
    assert [row["shown"] for row in values if row["series"] == "Actual"] == [
        "₹12,50,000",
        "₹17,34,000",
    ]
    assert {row["series"]: row["value"] for row in values if row["series"] != "Actual"} == {
        "Target": 15.0,
        "Threshold": 12.0,
    }


def test_other_currencies_use_their_own_scale(framework: Framework) -> None:
    kpi = framework.kpi("revenue_per_quarter")
    points = [TrendPoint("2025-Q1", Decimal(2500000))]
    usd = charts.kpi_trend(points, kpi, "USD", target=Decimal(3000000), threshold=Decimal(2000000))
    assert panel_titles(usd) == ["Revenue generated per quarter ($ M)"]
    assert [row["value"] for row in data_values(usd)] == [2.5, 3.0, 2.0]
    small = charts.kpi_trend(
        [TrendPoint("2025-Q1", Decimal(42000))],
        kpi,
        "INR",
        target=Decimal(50000),
        threshold=Decimal(0),
    )
    assert panel_titles(small) == ["Revenue generated per quarter (₹)"]


def test_trend_with_gaps_and_no_values(framework: Framework) -> None:
    kpi = framework.kpi("client_retention_rate")
    spec = charts.kpi_trend(months(["80", None, "84"]), kpi, "INR")
    actual = [row for row in data_values(spec) if row["series"] == "Actual"]
    assert [row["value"] for row in actual] == [80.0, None, 84.0]
    assert actual[1]["shown"] == "—"
    assert "<svg" in charts.to_svg(charts.kpi_trend(months([None, None]), kpi, "INR"))


def test_rating_distribution_has_every_band_highest_first(
    every_kind: dict[str, dict[str, Any]],
) -> None:
    rows = data_values(every_kind["ratings"])
    bars = [(row["rating"], row["rms"]) for row in rows][:5]
    assert bars == [
        ("5 Outstanding", 2),
        ("4 Exceeds", 7),
        ("3 Meets", 10),
        ("2 Needs improvement", 0),
        ("1 Unsatisfactory", 1),
    ]


def test_movers_rank_biggest_rise_first() -> None:
    spec = charts.movers(
        [
            Mover("RM0003", Decimal(3)),
            Mover("RM0002", Decimal(-8)),
            Mover("RM0001", Decimal("12.5")),
        ]
    )
    rows = data_values(spec)
    assert [(r["rm"], r["shown"], r["direction"]) for r in rows] == [
        ("RM0001", "+12.50", "Rise"),  # a change of score: 2 decimals, as scores are shown
        ("RM0003", "+3.00", "Rise"),
        ("RM0002", "-8.00", "Fall"),
    ]


def test_heatmap_marks_unscored_cells(framework: Framework) -> None:
    kra = framework.kras[0]
    spec = charts.kra_heatmap([HeatCell("RM0001", kra.id, None)], framework.kras)
    assert data_values(spec) == [
        {"rm": "RM0001", "kra": f"1. {kra.title}", "score": None, "shown": "—"}
    ]


@pytest.mark.parametrize("kind", ["trend", "ratings", "heatmap", "movers"])
def test_svg_renders_with_its_title_and_axis_titles(
    every_kind: dict[str, dict[str, Any]], kind: str
) -> None:
    spec = every_kind[kind]
    svg = charts.to_svg(spec)
    assert svg.lstrip().startswith("<svg")
    assert f">{spec['title']['text']}</text>" in svg
    for title in axis_titles(spec).values():
        assert title in svg
    for title in panel_titles(spec) if kind == "trend" else []:
        assert all(f">{line}<" in svg for line in title_lines(title))


def test_png_renders(every_kind: dict[str, dict[str, Any]]) -> None:
    assert charts.to_png(every_kind["ratings"]).startswith(b"\x89PNG")


def test_rendering_fetches_nothing() -> None:
    remote = {
        "data": {"url": "https://example.com/rows.csv"},
        "mark": "bar",
        "encoding": {"x": {"field": "a", "type": "nominal"}},
    }
    with pytest.raises(ValueError, match="not allowed"):
        charts.to_svg(remote)


def test_trends_share_a_layout_but_never_rows(framework: Framework) -> None:
    kpi = framework.kpi("client_retention_rate")
    first = charts.kpi_trend(months(["80", "81"]), kpi, "INR")
    first["title"]["text"] = "changed by a caller"
    first["datasets"]["trends"][0]["value"] = -1
    second = charts.kpi_trend(months(["90", "91"]), kpi, "INR")
    assert second["title"]["text"] == "Client retention rate"
    assert [row["value"] for row in data_values(second) if row["series"] == "Actual"] == [
        90.0,
        91.0,
    ]
    third = charts.kpi_trend(months(["90", "91"]), kpi, "INR", target=Decimal(95))
    assert {r["series"]: r["value"] for r in data_values(third)}["Target"] == 95.0


def test_a_chart_inlined_in_a_pdf_reads_as_text(framework: Framework) -> None:
    from kraft.reports.pdf import html_to_pdf
    from pdf_checks import not_blank, pages_as_png, pdf_text

    kpi = framework.kpi("revenue_per_quarter")
    points = [TrendPoint(f"2025-Q{q}", Decimal(1000000 + 200000 * q)) for q in range(1, 5)]
    svg = charts.to_svg(charts.kpi_trend(points, kpi, "INR"))
    pdf = html_to_pdf(f"<html><body>{svg}</body></html>")
    text = " ".join(pdf_text(pdf).split())
    assert "Revenue generated per quarter (₹" in text and "lakh)" in text
    assert "2025-Q4" in text and "Period" in text
    assert all(not_blank(page) for page in pages_as_png(pdf))


def title_lines(title: str) -> list[str]:
    import textwrap

    return textwrap.wrap(title, charts.HEADER_CHARACTERS)


def test_each_panel_draws_its_own_kpi(framework: Framework) -> None:
    """A scorecard's trends: one panel per KPI, in the order given, each with its own values,
    target and threshold and its own y scale; the panel titles carry the prefixes."""
    retention = framework.kpi("client_retention_rate")
    revenue = framework.kpi("revenue_per_quarter")
    quarters = ["2025-Q1", "2025-Q2"]
    spec = charts.kpi_trends(
        [
            charts.Trend(
                retention, [TrendPoint(q, Decimal(v)) for q, v in zip(quarters, "89", strict=True)]
            ),
            charts.Trend(
                revenue,
                [
                    TrendPoint(q, Decimal(v))
                    for q, v in zip(quarters, (1250000, 1734000), strict=True)
                ],
                target=Decimal(1600000),
            ),
        ],
        "INR",
        periods=quarters,
        prefixes=["1.", "2."],
    )
    assert panel_titles(spec) == [
        "1. Client retention rate (%)",
        "2. Revenue generated per quarter (₹ lakh)",
    ]
    by_panel: dict[int, list[tuple[str, float]]] = {}
    for row in data_values(spec):
        by_panel.setdefault(row["order"], []).append((row["series"], row["value"]))
    assert by_panel == {
        0: [("Actual", 8.0), ("Actual", 9.0), ("Target", 85.0), ("Threshold", 75.0)],
        1: [("Actual", 12.5), ("Actual", 17.34), ("Target", 16.0), ("Threshold", 12.0)],
    }
    assert spec["resolve"]["scale"]["y"] == "independent"
    svg = charts.to_svg(spec)
    assert ">1. Client retention rate (%)<" in svg and ">2025-Q2<" in svg


def test_a_long_panel_title_wraps_and_few_periods_are_labelled(framework: Framework) -> None:
    kpi = framework.kpi("adequate_coverage_rate")
    months_shown = [f"2025-{m:02d}" for m in range(1, 13)]
    spec = charts.kpi_trends(
        [charts.Trend(kpi, [TrendPoint(m, Decimal(70)) for m in months_shown])],
        "INR",
        periods=months_shown,
    )
    (panel,) = {row["panel"] for row in data_values(spec)}
    assert all(len(line) <= charts.HEADER_CHARACTERS for line in panel.split("\n"))
    assert panel.count("\n") >= 1
    x = dict(encodings(spec))["x"]
    assert x["sort"] == months_shown
    assert x["axis"]["values"] == ["2025-04", "2025-08", "2025-12"]  # the latest always shown


def test_before_after_draws_each_group_in_each_window() -> None:
    spec = charts.before_after(
        [
            charts.BeforeAfter("Client retention rate", "Participants", Decimal(50), Decimal(80)),
            charts.BeforeAfter("Client retention rate", "Non-participants", Decimal(60), None),
        ],
        title="Before and after the start",
        subtitle="before 2025-01-01 to 2025-03-31; after 2025-04-01 to 2025-06-30",
    )
    assert spec["title"]["text"] == "Before and after the start"
    assert axis_titles(spec) == {"x": "Window", "y": "Percent"}
    assert [(r["group"], r["window"], r["value"], r["shown"]) for r in data_values(spec)] == [
        ("Participants", "Before", 50.0, "50 %"),
        ("Participants", "After", 80.0, "80 %"),
        ("Non-participants", "Before", 60.0, "60 %"),
        ("Non-participants", "After", None, "—"),
    ]
    svg = charts.to_svg(spec)
    assert ">Client retention rate (%)<" in svg and ">Window<" in svg


def test_before_after_rates_are_drawn_from_0() -> None:
    """A rise from 85.6 % to 90.7 % on an axis from 86 looks like a leap: the axis runs from 0."""
    spec = charts.before_after(
        [
            charts.BeforeAfter(
                "Client retention rate", "Participants", Decimal("85.6"), Decimal("90.7")
            ),
            charts.BeforeAfter(
                "Client retention rate", "Non-participants", Decimal("86.3"), Decimal("86.8")
            ),
        ],
        title="Before and after the start",
        subtitle="",
    )
    assert dict(encodings(spec))["y"]["scale"]["zero"] is True
    ticks = re.findall(r'<text[^>]*text-anchor="end"[^>]*>([0-9.]+)</text>', charts.to_svg(spec))
    assert ticks and min(float(t) for t in ticks) == 0, ticks


def test_a_wild_value_is_marked_at_the_edge_of_the_scored_range(framework: Framework) -> None:
    # loss_ratio_improvement: linear, target 0, threshold -5: score 0 at -5 − 4 × 5 = -25 and
    # the cap 120 at -5 + (120 − 80) ÷ 20 × 5 = 5; an outlier is beyond it by more than its
    # width (30): a +20,000 pp swing is drawn at 5 + 30 = 35, marked; -40 is drawn as it is
    kpi = framework.kpi("loss_ratio_improvement")
    assert charts.scored_range(kpi, kpi.target, kpi.threshold) == (Decimal(-25), Decimal(5))
    quarters = ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    values = [Decimal("1.5"), Decimal(20000), Decimal(-20000), Decimal(-40)]
    spec = charts.kpi_trends(
        [charts.Trend(kpi, [TrendPoint(q, v) for q, v in zip(quarters, values, strict=True)])],
        "INR",
        periods=quarters,
    )
    actual = [r for r in data_values(spec) if r["series"] == charts.ACTUAL]
    assert [r["value"] for r in actual] == [1.5, 35.0, -55.0, -40.0]
    assert [r["beyond"] for r in actual] == [False, True, True, False]
    assert actual[1]["shown"].startswith("20,000") or "20000" in actual[1]["shown"].replace(",", "")
    assert charts.OFF_SCALE in json.dumps(spec)  # the marker's tooltip says so
    assert "<svg" in charts.to_svg(spec)
    # a ratio KPI: 0 to target × 120 %; an inverse one is left as it is
    coverage = framework.kpi("adequate_coverage_rate")
    assert charts.scored_range(coverage, Decimal(70), Decimal(60)) == (Decimal(0), Decimal(84))
    settle = framework.kpi("claims_settlement_time")
    assert charts.scored_range(settle, settle.target, settle.threshold) is None


@pytest.mark.parametrize(
    ("largest", "ticks"),
    [(0, [0, 1]), (2, [0, 1, 2]), (7, [0, 2, 4, 6, 8]), (31, [0, 10, 20, 30, 40])],
)
def test_a_count_axis_has_whole_ticks(largest: int, ticks: list[int]) -> None:
    assert charts.whole_ticks(largest) == ticks


def test_the_rating_distribution_axis_never_repeats_a_label() -> None:
    """1 Outstanding and 2 Exceeds: the axis reads 0, 1, 2 (it read 0, 1, 1, 2, 2)."""
    svg = charts.to_svg(charts.rating_distribution({5: 1, 4: 2}, DEFAULT_RATING_BANDS))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert texts[texts.index("Rating") + 1 : texts.index("RMs (count)")] == ["0", "1", "2"]
