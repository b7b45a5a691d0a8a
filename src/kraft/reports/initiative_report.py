"""The initiative report: KPIS.md's worked example as a document, from
kraft.analysis.initiative.initiative_impact (the numbers `kraft initiative impact` prints).

The example's four KPIs before and after the start, participants against non-participants, the
difference in differences of the retention rate with its bootstrap interval, and the conclusion
paragraph the analysis writes from the numbers. Rates are shown with one decimal (the analysis's
own `points`), as `kraft initiative impact` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    }
    return str(template.render(**context))
