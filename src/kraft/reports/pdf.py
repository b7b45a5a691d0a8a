"""PDF from a report's self-contained HTML, with WeasyPrint; nothing is fetched from a network.

The HTML is the same page the html format writes (inline CSS, charts as inline SVG): only
data: URLs are served; any other URL (http, https, ftp, file) is refused and left out.
"""

from __future__ import annotations

from typing import Any

from kraft.errors import KraftError
from kraft.reports.paper import for_paper

ALLOWED_PROTOCOLS = ("data",)

# Added to every report's own CSS for paper. A4 with page numbers; tables in 9 pt with tight
# padding, so that a table of long ids (assessed_need, performance_report) fits the page: at the
# screen's size its narrowest layout is wider than A4. WeasyPrint gives these rules less weight
# than the page's own, hence !important; a table of many columns (class dense) in 7.5 pt. Charts shrink to the page, in width and in height (a
# chart is one picture: taller than a page it would be cut off); table headers repeat on each
# page; rows are not split across pages, nor is a small table (kraft.reports.paper), and a long
# table's first and last two rows stay with their neighbours, so no page holds one row alone; a
# value stays on one line with its unit; a paragraph leaves at least 3 lines on either page.
PRINT_CSS = """
@page { size: A4; margin: 14mm 12mm 16mm;
        @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; color: #777; } }
table { font-size: 9pt !important; }
th, td { padding: 3pt 4pt !important; }
table.dense { font-size: 7.5pt !important; }
table.dense th, table.dense td { padding: 2pt 3pt !important; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
tbody tr:nth-child(2), tbody tr:nth-last-child(-n+2) { break-before: avoid; }
.kept-table { break-inside: avoid; }
.kept { white-space: nowrap; }
p { orphans: 3; widows: 3; }
h2, h3 { break-after: avoid; }
svg, img { max-width: 100%; height: auto; }
svg { overflow: visible; }
.chart svg, .chart img { max-height: 170mm; width: auto; }
"""


def url_fetcher() -> Any:
    """A WeasyPrint URL fetcher that serves data: URLs only and refuses everything else."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=ALLOWED_PROTOCOLS, allow_redirects=False, timeout=1)


def html_to_pdf(html: str) -> bytes:
    """The PDF of one self-contained HTML page."""
    import logging

    try:
        from weasyprint import CSS, HTML
    except ImportError as exc:  # pragma: no cover - weasyprint is a dependency
        raise KraftError(
            f"PDF output needs WeasyPrint ({exc}); install kraft with its dependencies."
        ) from None
    # WeasyPrint logs each refused fetch and each CSS property it ignores; the report is
    # complete without them, so they stay out of the user's terminal.
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    fetcher = url_fetcher()
    paper = CSS(string=PRINT_CSS, url_fetcher=fetcher)
    pdf = HTML(string=for_paper(html), url_fetcher=fetcher).write_pdf(stylesheets=[paper])
    if not pdf:  # pragma: no cover - write_pdf without a target returns the bytes
        raise KraftError("WeasyPrint produced no PDF; re-run with KRAFT_DEBUG=1 and report it.")
    return bytes(pdf)
