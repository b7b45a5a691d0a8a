"""The initiative report: KPIS.md's worked example as a document, from
kraft.analysis.initiative.initiative_impact (the numbers `kraft initiative impact` prints).

The example's four KPIs before and after the start, participants against non-participants, the
difference in differences of the retention rate with its bootstrap interval, and the conclusion
paragraph the analysis writes from the numbers. Rates are shown with one decimal (the analysis's
own `points`), as `kraft initiative impact` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from kraft.analysis.initiative import GroupImpact, InitiativeImpact, kpi_value, points
from kraft.reports.team_report import ReportFormat

PACKAGES = "personalised_packages_sold"


@dataclass(frozen=True)
class KpiRow:
    """One example KPI for one group: before, after and the change, as shown."""

    kpi_id: str
    name: str
    unit: str  # "%" or "" (a count)
    group: str
    before: str
    after: str
    change: str


def kpi_rows(impact: InitiativeImpact) -> list[KpiRow]:
    groups = ((impact.participants, "Participants"), (impact.non_participants, "Non-participants"))
    rows = []
    for kpi_id, name in impact.kpi_names.items():
        for group, title in groups:
            rows.append(_row(kpi_id, name, group, title))
    return rows


def _row(kpi_id: str, name: str, group: GroupImpact, title: str) -> KpiRow:
    if kpi_id == PACKAGES:
        sold = group.before.personalised_packages, group.after.personalised_packages
        return KpiRow(
            kpi_id, name, "", title, str(sold[0]), str(sold[1]), f"{sold[1] - sold[0]:+d}"
        )
    before, after = kpi_value(kpi_id, group.before), kpi_value(kpi_id, group.after)
    change = None if before is None or after is None else after - before
    label = "Client retention rate" if kpi_id == "retention_uplift" else name
    return KpiRow(
        kpi_id, label, "%", title, f"{points(before)} %", f"{points(after)} %",
        f"{points(change, True)} pp",
    )  # fmt: skip


def before_after_chart(impact: InitiativeImpact) -> str:
    """The percent KPIs of the example, before and after, participants against the others, as
    inline SVG (kraft.reports.charts.before_after)."""
    from kraft.reports import charts

    return charts.to_svg(before_after_spec(impact))


def before_after_spec(impact: InitiativeImpact) -> dict[str, Any]:
    """The before/after chart's Vega-Lite spec (the web page draws it in the browser)."""
    from kraft.reports import charts

    groups = ((impact.participants, "Participants"), (impact.non_participants, "Non-participants"))
    lines = [
        charts.BeforeAfter(
            "Client retention rate" if kpi_id == "retention_uplift" else name,
            title,
            _decimal(kpi_value(kpi_id, group.before)),
            _decimal(kpi_value(kpi_id, group.after)),
        )
        for kpi_id, name in impact.kpi_names.items()
        if kpi_id != PACKAGES
        for group, title in groups
    ]
    return charts.before_after(
        lines,
        title="Before and after the start",
        subtitle=f"before {impact.before.first} to {impact.before.last}; "
        f"after {impact.after.first} to {impact.after.last}",
    )


def _decimal(value: Fraction | int | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(value.numerator) / Decimal(value.denominator)


def render_initiative_report(
    impact: InitiativeImpact, fmt: ReportFormat, *, title: str | None = None
) -> str:
    from kraft.reports.team_report import report_environment

    env = report_environment(autoescape=fmt is ReportFormat.html)
    template = env.get_template(f"initiative.{fmt.value}.j2")
    context: dict[str, Any] = {
        "impact": impact,
        "rows": kpi_rows(impact),
        "title": title or f"{impact.name} ({impact.initiative_id}): impact report",
        "chart": before_after_chart(impact) if fmt is ReportFormat.html else None,
    }
    return str(template.render(**context))
