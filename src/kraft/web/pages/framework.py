"""The framework as it is in force (read-only; the editor is the admin's pages'): its version and
KRA weights, the seed's structured document (kraft.reports.framework_document, the same as
`kraft framework render`), and the SMART findings (kraft.framework.smart.validate, as
`kraft framework validate` checks them, targets against last full year's actuals included)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.engine import Connection

from kraft.core.context import data_version
from kraft.framework.model import Framework
from kraft.framework.smart import Finding, Severity, validate
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar
from kraft.reports.framework_document import DocumentFormat, render_framework_document
from kraft.scoring.stored import as_of_date
from kraft.scoring.target_table import comparable_actuals
from kraft.scoring.tracking import workspace_tracking
from kraft.web.deps import PageScope, SiteDep
from kraft.web.render import render_page
from kraft.web.shown import Shown

router = APIRouter(include_in_schema=False)

BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)
HEADING = re.compile(r"<(/?)h([1-5])\b", re.IGNORECASE)
MAIN = re.compile(r"<(/?)main\b", re.IGNORECASE)


@dataclass(frozen=True)
class Lint:
    findings: list[Finding]
    errors: int
    warnings: int
    with_data: bool  # targets were held against last year's actuals


def fingerprint(framework: Framework) -> str:
    return hashlib.sha256(framework.model_dump_json().encode()).hexdigest()[:16]


def document_body(framework: Framework) -> Markup:
    """The framework document's body, its headings one level down (the page has its own h1).
    Its text is escaped by the document's own (autoescaping) template."""
    html = render_framework_document(framework, DocumentFormat.html)
    found = BODY.search(html)
    body = found[1] if found else html
    body = HEADING.sub(lambda m: f"<{m[1]}h{int(m[2]) + 1}", body)
    body = MAIN.sub(lambda m: f"<{m[1]}div", body)  # the page has its own main
    return Markup(body)  # escaped by the report's own autoescaping template


def lint(conn: Connection, framework: Framework, calendar: Calendar) -> Lint:
    as_of = as_of_date(conn)
    actuals = comparable_actuals(conn, framework, calendar, as_of) if as_of is not None else None
    findings = validate(framework, known_metrics=load_catalogue().kpi_ids(), recent_actuals=actuals)
    errors = sum(1 for f in findings if f.severity is Severity.error)
    return Lint(findings, errors, len(findings) - errors, actuals is not None)


@router.get("/framework", response_class=HTMLResponse)
def framework_page(request: Request, site: SiteDep, scope: PageScope) -> Response:
    framework = site.framework
    key = fingerprint(framework)
    with site.read() as conn:
        version = data_version(conn, framework)
        found = site.kept.get(("lint", key, version), lambda: lint(conn, framework, site.calendar))
        state = site.kept.get(
            ("tracking", key, version),
            lambda: workspace_tracking(
                conn, framework, site.catalogue, site.settings.untracked_kpis
            ),
        )
    body = site.kept.get(("document", key), lambda: document_body(framework))
    return render_page(
        request,
        "framework.html.j2",
        {
            "framework": framework,
            "lint": found,
            "report": state.as_dict(),
            "document": body,
            "scope": scope,
            "shown": Shown(framework.currency),
        },
    )
