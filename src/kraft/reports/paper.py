"""A report's HTML made ready for paper: what a PDF needs that a screen does not.

A printed line may break at any space and after any hyphen, so "52.6–63.6 %" could end a line
at "63.6" with "%" on the next, and "2026-Q2" at "2026-". Each value with its unit, and each
date or period label, is wrapped in a span that does not wrap (the text itself is unchanged,
so the PDF's text reads as the HTML's). A small table is wrapped in a block kept on one page,
so that no page carries one or two of its rows alone. Only text between tags is touched, and
never inside a <style>, <script>, <title> or an inline <svg> (a chart's own text).
"""

from __future__ import annotations

import re

KEPT_CLASS = "kept"  # PRINT_CSS: white-space: nowrap
KEPT_TABLE_CLASS = "kept-table"  # PRINT_CSS: break-inside: avoid
KEPT_TABLE_ROWS = 14  # a table of at most this many rows (header included) stays on one page

_NUMBER = r"[-+−]?[₹$€£¥]?\d[\d,]*(?:\.\d+)?"
_UNIT = r"(?:%|pp|days?|a month|per month|crore|lakh|[MBT]|points?|[A-Z]{3})"
VALUE_WITH_UNIT = re.compile(rf"(?<![\w.,]){_NUMBER}(?:\s?[–-]\s?{_NUMBER})?\s(?:{_UNIT})(?![\w])")
DATE_OR_PERIOD = re.compile(r"(?<![\w-])\d{4}-(?:\d{2}-\d{2}|\d{2}|Q[1-4]|H[12])(?![\w-])")
KEPT_TOGETHER = re.compile(f"{VALUE_WITH_UNIT.pattern}|{DATE_OR_PERIOD.pattern}")

_TAG = re.compile(r"(<[^>]*>)")
_SKIPPED = ("style", "script", "title", "svg")
_TABLE = re.compile(r"<table\b.*?</table>", re.DOTALL)


def for_paper(html: str) -> str:
    """The page with its values kept whole on a line and its small tables kept on a page."""
    return _small_tables_kept(_values_kept(html))


def _values_kept(html: str) -> str:
    """Every value with its unit, date and period label in text wrapped in a no-wrap span."""
    pieces = _TAG.split(html)
    skipping: str | None = None
    for index, piece in enumerate(pieces):
        if index % 2:  # a tag
            name = _tag_name(piece)
            if skipping is None and name in _SKIPPED and not piece.endswith("/>"):
                skipping = name
            elif skipping is not None and name == f"/{skipping}":
                skipping = None
        elif skipping is None and piece:
            pieces[index] = KEPT_TOGETHER.sub(_kept, piece)
    return "".join(pieces)


def _tag_name(tag: str) -> str:
    match = re.match(r"<\s*(/?[A-Za-z0-9]+)", tag)
    return match.group(1).lower() if match else ""


def _kept(match: re.Match[str]) -> str:
    return f'<span class="{KEPT_CLASS}">{match.group(0)}</span>'


def _small_tables_kept(html: str) -> str:
    """Each table of few rows inside a block that does not break across pages."""

    def kept(match: re.Match[str]) -> str:
        table = match.group(0)
        if len(re.findall(r"<tr\b", table)) > KEPT_TABLE_ROWS:
            return table
        return f'<div class="{KEPT_TABLE_CLASS}">{table}</div>'

    return _TABLE.sub(kept, html)
