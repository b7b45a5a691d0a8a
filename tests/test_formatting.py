"""Numbers as people read them: Indian grouping for INR, western for others."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraft.formatting import (
    amount,
    compact_money,
    fixed,
    fixed_percent,
    group_digits,
    in_unit,
    money,
    money_scale,
    number,
    percent_range,
    plain,
    signed,
)
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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "₹0"),
        ("99999.99", "₹99,999.99"),  # below 1 lakh: in full, Indian grouping
        ("100000", "₹1.00 lakh"),
        ("1234567", "₹12.35 lakh"),  # 12.34567 lakh, half up
        ("9999999", "₹1.00 crore"),  # 99.99999 lakh rounds to 100.00 lakh = 1 crore
        ("9999499", "₹99.99 lakh"),  # 99.99499 lakh stays in lakh
        ("10000000", "₹1.00 crore"),
        ("12345678", "₹1.23 crore"),
        ("123456789012", "₹12,345.68 crore"),  # crore counts grouped the Indian way too
        ("1234567890123", "₹1,23,456.79 crore"),
        ("-1234567", "-₹12.35 lakh"),
        ("-99999.99", "-₹99,999.99"),  # in full: as `money` writes it, the sign first
    ],
)
def test_compact_money_inr_lakh_and_crore(value: str, expected: str) -> None:
    assert compact_money(Decimal(value), "INR") == expected


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("999999", "USD", "$999,999"),
        ("1000000", "USD", "$1.00 M"),
        ("1234567", "USD", "$1.23 M"),
        ("999999999", "USD", "$1.00 B"),  # 1,000.00 M is written 1.00 B
        ("1234567890", "EUR", "€1.23 B"),
        ("2500000000000", "GBP", "£2.50 T"),
        ("4500000", "CHF", "4.50 M CHF"),  # no symbol: the code after, as `money` does
        ("150000", "USD", "$150,000"),  # lakh is an Indian scale only
    ],
)
def test_compact_money_other_currencies(value: str, currency: str, expected: str) -> None:
    assert compact_money(Decimal(value), currency) == expected


@pytest.mark.parametrize(
    ("largest", "currency", "expected"),
    [
        ("99999.99", "INR", (Decimal(1), "")),
        ("100000", "INR", (Decimal(10) ** 5, "lakh")),
        ("9999999", "INR", (Decimal(10) ** 5, "lakh")),
        ("10000000", "INR", (Decimal(10) ** 7, "crore")),
        ("1500000", "USD", (Decimal(10) ** 6, "M")),
        ("150000", "USD", (Decimal(1), "")),
    ],
)
def test_money_scale_for_axes(largest: str, currency: str, expected: tuple[Decimal, str]) -> None:
    assert money_scale(Decimal(largest), currency) == expected


# One number display everywhere: unit × value → the text a person reads (pages, tooltips, PDFs,
# workbooks, the CLI). At most 2 decimals, half up; amounts whole from 1 lakh; never "None".
@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [
        ("percent", 22.80701754385965, "22.81 %"),
        ("percent", 11.11111111111111, "11.11 %"),
        ("percent", 85.5, "85.5 %"),
        ("percent", 100, "100 %"),
        ("percent", 0, "0 %"),
        ("percent", -0.004, "0 %"),  # rounds to zero: no "-0"
        ("percent", -12.345, "-12.35 %"),  # half up, away from zero
        ("percent", None, "—"),
        ("points", -767.8419528561933, "-767.84 pp"),
        ("points", 3.5, "3.5 pp"),
        ("days", 14.666666666666666, "14.67 days"),
        ("days", 1, "1 day"),
        ("count", 1234567, "12,34,567"),  # grouped as the currency's users do
        ("count", 7.0, "7"),
        ("count_per_month", 2.3333333333333335, "2.33 a month"),
        ("score_0_100", 80.63, "80.63"),
        ("score_0_100", 66.66666666666667, "66.67"),
        (None, 12.3456, "12.35"),
        ("currency", 0, "₹0"),
        ("currency", 999.5, "₹999.50"),  # paise as two digits
        ("currency", 99999.994, "₹99,999.99"),  # below 1 lakh: to the paisa
        ("currency", 99999.996, "₹1,00,000"),  # rounds to 1 lakh: whole
        ("currency", 100000.49, "₹1,00,000"),  # 1 lakh and up: no paise
        ("currency", 13088578.44, "₹1,30,88,578"),  # crore scale, Indian grouping
        ("currency", 1e7, "₹1,00,00,000"),
        ("currency", Decimal("12345678901.5"), "₹12,34,56,78,902"),
        ("currency", -1500000.75, "-₹15,00,001"),
        ("currency", -250.256, "-₹250.26"),
        ("currency", None, "—"),
    ],
)
def test_in_unit(unit: str | None, value: float | Decimal | None, expected: str) -> None:
    assert in_unit(value, unit, "INR") == expected


@pytest.mark.parametrize(
    ("currency", "value", "expected"),
    [
        ("USD", 1234567.891, "$1,234,568"),
        ("USD", 1234.567, "$1,234.57"),
        ("EUR", -99.999, "-€100"),
        ("CHF", 150000.5, "150,001 CHF"),
    ],
)
def test_amount_in_other_currencies(currency: str, value: float, expected: str) -> None:
    assert amount(value, currency) == expected


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        (fixed(80.63), "80.63"),  # scores: always 2 decimals (80.6300 is never shown)
        (fixed(80.625), "80.63"),
        (fixed(None), "—"),
        (fixed_percent(83.33333333333333), "83.3 %"),  # coverage
        (signed(-0.001), "0.00"),
        (signed(1.2), "+1.20"),
        (number(104.0), "104"),
        (number(8949546.180986302, "INR"), "89,49,546"),  # from 1 lakh: whole
        (number(99999.125), "99,999.13"),
        (number(None), "—"),
        (percent_range(90.05, 98.94999), "90.1–98.9 %"),  # an interval: its spread, 1 decimal
        (percent_range(None, 5), "—"),
    ],
)
def test_scores_coverage_and_bare_numbers(shown: str, expected: str) -> None:
    assert shown == expected
