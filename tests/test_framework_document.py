"""The framework document reproduces the seed's KRA, example and takeaway sections line by line."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from kraft.framework.loader import load_builtin
from kraft.framework.model import Framework
from kraft.reports.framework_document import DocumentFormat, render_framework_document

FIRST_LINE = "Relationship Manager In Insurance KRA/KPI"
LAST_LINE_PREFIX = "Regular tracking and adjustments"


def seed_lines(seed_text: str) -> list[str]:
    """The document part of the seed (title to the last takeaway), bullets and blanks removed."""
    lines = [line.strip().removeprefix("• ") for line in seed_text.splitlines()]
    start = lines.index(FIRST_LINE)
    end = next(i for i, line in enumerate(lines) if line.startswith(LAST_LINE_PREFIX))
    return [line for line in lines[start : end + 1] if line]


def markdown_lines(markdown: str) -> list[str]:
    out = []
    for raw in markdown.splitlines():
        line = raw.strip()
        if line == "## SMART definitions":
            break
        if not line:
            continue
        line = re.sub(r"^#+ ", "", line)
        line = line.removeprefix("- ").replace("**", "")
        out.append(line)
    return out


class _BlockText(HTMLParser):
    BLOCKS = frozenset({"h1", "h2", "h3", "p", "li", "th", "td", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[tuple[str, str]] = []
        self._stack: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self._stack.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS and self._stack:
            name, parts = self._stack.pop()
            self.blocks.append((name, " ".join("".join(parts).split())))

    def handle_data(self, data: str) -> None:
        if self._stack:
            self._stack[-1][1].append(data)


def html_blocks(html: str) -> list[tuple[str, str]]:
    parser = _BlockText()
    parser.feed(html)
    return parser.blocks


@pytest.fixture(scope="module")
def builtin() -> Framework:
    return load_builtin("insurance_rm")


def test_markdown_reproduces_the_seed_line_by_line(builtin: Framework, seed_text: str) -> None:
    expected = seed_lines(seed_text)
    assert len(expected) == 1 + 1 + 10 * 7 + 1 + 1 + 1 + 4 + 1 + 1 + 3
    assert markdown_lines(render_framework_document(builtin, DocumentFormat.md)) == expected


def test_html_reproduces_the_seed_line_by_line(builtin: Framework, seed_text: str) -> None:
    html = render_framework_document(builtin, DocumentFormat.html)
    body = [text for tag, text in html_blocks(html) if tag != "title"]
    assert body == seed_lines(seed_text)


def test_html_is_one_self_contained_printable_page(builtin: Framework) -> None:
    html = render_framework_document(builtin, DocumentFormat.html, detailed=True)
    assert html.startswith("<!DOCTYPE html>")
    assert "<style>" in html and "@media print" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html


def test_markdown_structure_uses_headings_and_bullets(builtin: Framework) -> None:
    md = render_framework_document(builtin, DocumentFormat.md)
    assert md.startswith("# Relationship Manager In Insurance KRA/KPI\n")
    assert "\n## Key Responsibility Areas (KRA) & Key Performance Indicators (KPI)\n" in md
    assert "\n### 6. Team Collaboration and Leadership\n" in md
    assert "\n- KPI 2: Number of personalized insurance packages sold to existing clients\n" in md
    assert "SMART definitions" not in md


def test_detailed_appends_a_smart_table_per_kra(builtin: Framework) -> None:
    md = render_framework_document(builtin, DocumentFormat.md, detailed=True)
    appendix = md.split("## SMART definitions", 1)[1]
    assert appendix.count("| KPI | Formula | Unit | Direction | Grain | Target | Threshold |") == 10
    assert "### 6. Team Collaboration and Leadership (weight 10, team leaders only)" in appendix
    row = next(line for line in appendix.splitlines() if line.startswith("| Revenue generated"))
    cells = [cell.strip() for cell in row.strip("|").split(" | ")]
    assert cells[2:] == [
        "currency",
        "higher is better",
        "quarterly",
        "₹15,00,000",
        "₹12,00,000",
    ]
    row = next(line for line in appendix.splitlines() if line.startswith("| Claims settlement"))
    assert row.rstrip().endswith("| lower is better | quarterly | 15 days | 21 days |")
    row = next(line for line in appendix.splitlines() if line.startswith("| Loss ratio"))
    assert row.rstrip().endswith("| 0 pp | -5 pp |")


def test_detailed_html_has_a_table_per_kra(builtin: Framework) -> None:
    html = render_framework_document(builtin, DocumentFormat.html, detailed=True)
    assert html.count("<table>") == 10
    cells = [text for tag, text in html_blocks(html) if tag in {"th", "td"}]
    index = cells.index("Client retention rate")
    assert cells[index + 2 : index + 7] == ["%", "higher is better", "quarterly", "85 %", "75 %"]


def test_any_framework_renders_in_the_seed_structure() -> None:
    fw = Framework.model_validate(
        {
            "id": "claims_manager",
            "role": "Claims Manager",
            "title": "Claims Manager",
            "currency": "USD",
            "kras": [
                {
                    "id": "speed",
                    "number": 1,
                    "title": "Fast Settlement",
                    "statement": "Settling valid claims quickly.",
                    "short_description": "Speed <and> care.",
                    "weight": 100,
                    "kpis": [
                        {
                            "id": "cycle_time",
                            "name": "Mean settlement days",
                            "kind": "computed",
                            "unit": "currency",
                            "target": Decimal(1234567),
                        }
                    ],
                }
            ],
        }
    )
    md = render_framework_document(fw, DocumentFormat.md, detailed=True)
    assert markdown_lines(md) == [
        "Claims Manager KRA/KPI",
        "Key Responsibility Areas (KRA) & Key Performance Indicators (KPI)",
        "1. Fast Settlement",
        "KRA: Settling valid claims quickly.",
        "Short Description: Speed <and> care.",
        "Mean settlement days",
    ]
    assert "$1,234,567" in md  # US grouping for USD
    html = render_framework_document(fw, DocumentFormat.html)
    assert "Speed &lt;and&gt; care." in html  # escaped
    assert "Real-Time Example" not in html and "Key Takeaways" not in html
