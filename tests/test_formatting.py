"""Numbers as people read them: Indian grouping for INR, western for others."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraft.formatting import group_digits, money, plain
from kraft.framework.model import Unit
from kraft.reports.values import format_value


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("0", "INR", "0"),
        ("999", "INR", "999"),
        ("1000", "INR", "1,000"),
        ("100000", "INR", "1,00,000"),
        ("1234567", "INR", "12,34,567"),
        ("123456789.50", "INR", "12,34,56,789.50"),
        ("-1500000", "INR", "-15,00,000"),
        ("1234567", "USD", "1,234,567"),
        ("1234567.25", None, "1,234,567.25"),
    ],
)
def test_group_digits(value: str, currency: str | None, expected: str) -> None:
    assert group_digits(Decimal(value), currency) == expected


def test_money_symbols() -> None:
    assert money(Decimal(1500000), "INR") == "₹15,00,000"
    assert money(Decimal(1500000), "EUR") == "€1,500,000"
    assert money(Decimal(10), "CHF") == "10 CHF"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.5E+6", "1500000"), ("33.30", "33.3"), ("-5", "-5"), ("0.00", "0"), ("-0", "0")],
)
def test_plain(value: str, expected: str) -> None:
    assert plain(Decimal(value)) == expected


def test_format_value_by_unit() -> None:
    assert format_value(Decimal(85), Unit.percent, "INR") == "85 %"
    assert format_value(Decimal(15), Unit.days, "INR") == "15 days"
    assert format_value(Decimal(-5), Unit.points, "INR") == "-5 pp"
    assert format_value(Decimal(20), Unit.count_per_month, "INR") == "20 a month"
    assert format_value(Decimal(3), Unit.count, "INR") == "3"
    assert format_value(None, Unit.count, "INR") == "—"
