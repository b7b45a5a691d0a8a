"""Help pages for any signed-in user: the import contract (kraft.schema.contract_doc, the text
docs/data-contract.md is generated from) as a page, so that a problem found in an upload points
to something the person who made the file can open."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt
from markupsafe import Markup

from kraft.schema import contract_doc
from kraft.web.deps import PageScope
from kraft.web.render import render_page

router = APIRouter(include_in_schema=False)


@cache
def contract_html() -> Markup:
    """The contract's Markdown as HTML (raw HTML in it is escaped, never passed through), its
    headings one level down under the page's own h1."""
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(contract_doc.render())
    for level in (3, 2, 1):
        html = html.replace(f"<h{level}>", f"<h{level + 1}>").replace(
            f"</h{level}>", f"</h{level + 1}>"
        )
    return Markup(html)  # markdown-it escapes the text; html=False drops raw HTML


@router.get("/help/data-contract", response_class=HTMLResponse)
def data_contract(request: Request, scope: PageScope) -> HTMLResponse:
    """The tables kraft imports: each file's name, columns, types, rules and checks."""
    return render_page(request, "data_contract.html.j2", {"contract": contract_html()})
