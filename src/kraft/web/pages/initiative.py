"""The initiatives and each one's impact (kraft.analysis.initiative, the numbers `kraft initiative
impact` prints and `kraft report initiative` writes): the worked example's four KPIs before and
after the start, participants against the others, the difference in differences with its
bootstrap interval, the conclusion, and the before/after chart. For the admin and managers: the
page shows groups, never an RM.

The bootstrap takes a while on a large book: an impact is kept per initiative, window and data
version.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from kraft.analysis.initiative import (
    ImpactOptions,
    InitiativeImpact,
    initiative_impact,
    parse_window,
    points,
)
from kraft.core.access import Scope
from kraft.core.context import data_version
from kraft.errors import KraftError
from kraft.metrics.spec import load_catalogue
from kraft.reports.initiative_report import before_after_spec, kpi_rows, render_initiative_report
from kraft.reports.team_report import ReportFormat
from kraft.web.deps import PageScope, SiteDep
from kraft.web.downloads import download, safe_name
from kraft.web.render import chart, render_page
from kraft.web.site import Site

router = APIRouter(include_in_schema=False)

NOT_YOURS = "There is no such page, or it is not yours to see."
NO_INITIATIVE = "There is no such initiative."
WINDOWS = ("3m", "6m", "12m")


def _allowed(scope: Scope) -> None:
    """The admin and managers; an RM's scope has no initiative page."""
    if not scope.sees_others:
        raise HTTPException(404, NOT_YOURS)


@router.get("/initiatives", response_class=HTMLResponse)
def initiatives(request: Request, site: SiteDep, scope: PageScope) -> Response:
    _allowed(scope)
    with site.read() as conn:
        found = conn.execute(
            sa.text(
                "SELECT i.initiative_id, i.name, i.start_date, i.end_date, i.description, "
                "(SELECT count(*) FROM initiative_participants AS p "
                "WHERE p.initiative_id = i.initiative_id) AS participants "
                "FROM initiatives AS i ORDER BY i.start_date DESC, i.initiative_id"
            )
        ).all()
    return render_page(request, "initiatives.html.j2", {"initiatives": found})


def impact_of(site: Site, initiative_id: str, window: str) -> InitiativeImpact:
    """The impact, kept per initiative, window and data version; 404 for an unknown one."""
    try:
        months = parse_window(window)
    except KraftError:
        raise KraftError(
            f"The window {window!r} is not a number of months; choose {', '.join(WINDOWS)}."
        ) from None
    framework = site.framework
    with site.read() as conn:
        known = conn.execute(
            sa.text("SELECT count(*) FROM initiatives WHERE initiative_id = :i"),
            {"i": initiative_id},
        ).scalar()
        if not known:
            raise HTTPException(404, NO_INITIATIVE)
        version = data_version(conn, framework)
    return site.kept.get(
        ("initiative", initiative_id, months, version),
        lambda: initiative_impact(
            site.db,
            load_catalogue(),
            site.compute_parameters,
            initiative_id,
            ImpactOptions(window_months=months),
            example=framework.example,
        ),
    )


@router.get("/initiatives/{initiative_id}", response_class=HTMLResponse)
def initiative_page(
    request: Request, site: SiteDep, scope: PageScope, initiative_id: str, window: str = "6m"
) -> Response:
    _allowed(scope)
    impact = impact_of(site, initiative_id, window)
    context: dict[str, Any] = {
        "impact": impact,
        "rows": kpi_rows(impact),
        "points": points,
        "window": window,
        "windows": WINDOWS,
        "chart": chart(
            before_after_spec(impact),
            f"The example's percent KPIs before and after the start of {impact.name}, "
            "participants against non-participants",
        ),
    }
    return render_page(request, "initiative.html.j2", context)


@router.get("/initiatives/{initiative_id}/report.{fmt}")
def initiative_download(
    site: SiteDep, scope: PageScope, initiative_id: str, fmt: str, window: str = "6m"
) -> Response:
    """The impact report of what is on screen (the same window), as PDF or Markdown."""
    _allowed(scope)
    if fmt not in ("pdf", "md"):
        raise HTTPException(404, "An impact report downloads as pdf or md.")
    impact = impact_of(site, initiative_id, window)
    name = f"{safe_name(initiative_id)}-{window}.{fmt}"
    if fmt == "md":
        content: bytes | str = render_initiative_report(impact, ReportFormat.md)
        media = "text/markdown; charset=utf-8"
    else:
        from kraft.reports.pdf import html_to_pdf

        content = html_to_pdf(render_initiative_report(impact, ReportFormat.html))
        media = "application/pdf"
    return download(content, media, name)
