"""A report on paper (kraft.reports.paper and the PDF's print CSS): a value never leaves its unit
on the next line, a small table is never split across pages, and a long table never leaves a
row alone on a page. Checked on small pages of our own, where each would happen without them.
"""

from __future__ import annotations

import re

from kraft.reports.paper import KEPT_TABLE_ROWS, for_paper
from kraft.reports.pdf import html_to_pdf
from pdf_checks import page_texts, units_first

KEPT = '<span class="kept">{}</span>'


def test_values_keep_their_units_and_labels_their_hyphens() -> None:
    html = (
        "<p>from 52.6–63.6 % to +29.32 % fav; ₹4.50 lakh, 12 days, 24 a month, -0.7 pp unfav; "
        "2026-Q2 and 2025-12-01; 17 participants</p>"
    )
    kept = re.findall(r'<span class="kept">(.*?)</span>', for_paper(html))
    assert kept == [
        "52.6–63.6 %",
        "+29.32 %",
        "₹4.50 lakh",
        "12 days",
        "24 a month",
        "-0.7 pp",
        "2026-Q2",
        "2025-12-01",
    ]


def test_tags_styles_and_charts_are_left_as_they_are() -> None:
    html = (
        "<html><head><title>2026-Q2</title><style>td { width: 10 %; }</style></head><body>"
        '<td title="85 %">85 %</td><svg><text>85 %</text><text>2026-Q2</text></svg>'
        "<p>90 %</p></body></html>"
    )
    assert for_paper(html) == html.replace(">85 %</td>", f">{KEPT.format('85 %')}</td>").replace(
        "<p>90 %</p>", f"<p>{KEPT.format('90 %')}</p>"
    )


def test_only_small_tables_are_kept_on_one_page() -> None:
    def table(rows: int) -> str:
        return "<table>" + "<tr><td>x</td></tr>" * rows + "</table>"

    html = for_paper(table(KEPT_TABLE_ROWS) + table(KEPT_TABLE_ROWS + 1))
    assert html == f'<div class="kept-table">{table(KEPT_TABLE_ROWS)}</div>' + table(
        KEPT_TABLE_ROWS + 1
    )


def page(body: str) -> str:
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'


def test_a_narrow_cell_wraps_between_values_never_inside_one() -> None:
    cells = "".join(
        f"<td>{text}</td>" for text in ("52.6–63.6 %", "+29.32 % fav", "-11.04 pp unfav")
    )
    pdf = html_to_pdf(page(f'<table style="width: 20mm"><tr>{cells}</tr></table>'))
    lines = [line.strip() for line in "".join(page_texts(pdf)).splitlines() if line.strip()]
    for value in ("52.6–63.6 %", "+29.32 %", "-11.04 pp"):
        assert any(value in line for line in lines), lines
    assert units_first("\n".join(lines)) == [], lines


def rows_per_page(pdf: bytes) -> list[int]:
    return [len(re.findall(r"\brow \d+\b", text)) for text in page_texts(pdf)]


def long_table(rows: int) -> str:
    body = "".join(f"<tr><td>row {n}</td></tr>" for n in range(1, rows + 1))
    return page(f"<table><thead><tr><th>Row</th></tr></thead><tbody>{body}</tbody></table>")


def test_a_long_table_leaves_no_row_alone_on_a_page() -> None:
    first_page = rows_per_page(html_to_pdf(long_table(KEPT_TABLE_ROWS * 10)))[0]
    counts = rows_per_page(html_to_pdf(long_table(first_page + 1)))  # one row over a page
    assert len(counts) == 2 and min(counts) >= 2, counts


def test_a_small_table_moves_to_the_next_page_whole() -> None:
    rows = "".join(f"<tr><td>row {n}</td></tr>" for n in range(1, 6))
    spacer = '<div style="height: 255mm"></div>'  # the page holds ~267 mm: two rows still fit
    counts = rows_per_page(html_to_pdf(page(f"{spacer}<table>{rows}</table>")))
    assert counts == [0, 5], counts
