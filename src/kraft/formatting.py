"""How numbers read to people: rounded half-up for display (scores to 2 decimals, coverage to
1), Indian digit grouping for INR, units spelled the way users say them. Every page, report and
command shows numbers through these, so that a score reads the same wherever it appears."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import overload

CENT = Decimal("0.01")  # stored overall scores, derived targets and shown values round to it
DASH = "—"  # what is shown for no number
CURRENCY_SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
# Currencies whose users group digits 12,34,567 (lakh, crore) rather than 1,234,567.
INDIAN_GROUPING = frozenset({"INR"})


def group_digits(value: Decimal, currency: str | None = None) -> str:
    """Digits grouped by the currency's convention; decimals kept as given."""
    sign = "-" if value < 0 else ""
    text = format(abs(value), "f")
    whole, _, fraction = text.partition(".")
    if currency in INDIAN_GROUPING and len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        pairs = [head[max(i - 2, 0) : i] for i in range(len(head), 0, -2)][::-1]
        whole = ",".join([*pairs, tail])
    else:
        whole = f"{int(whole):,}"
    return sign + whole + (f".{fraction}" if fraction else "")


def money(value: Decimal, currency: str) -> str:
    """An amount with its symbol (the sign before it: -₹1,50,000), decimals kept as given."""
    symbol = CURRENCY_SYMBOLS.get(currency)
    grouped = group_digits(value, currency)
    if not symbol:
        return f"{grouped} {currency}"
    return f"-{symbol}{grouped[1:]}" if grouped.startswith("-") else f"{symbol}{grouped}"


def plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 1500000, 33.3, -5."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def to_decimal(number: float | Decimal | None) -> Decimal | None:
    """A stored double as the decimal it prints as (66.66666666666667, not its binary expansion)."""
    if number is None:
        return None
    if isinstance(number, Decimal):
        return number
    return Decimal(repr(float(number)))


@overload
def rounded(number: None, places: int = 2) -> None: ...
@overload
def rounded(number: float | Decimal, places: int = 2) -> Decimal: ...
def rounded(number: float | Decimal | None, places: int = 2) -> Decimal | None:
    """Half-up to `places` decimals, once, as every table and report shows numbers."""
    value = to_decimal(number)
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@overload
def short(number: None, places: int = 2) -> None: ...
@overload
def short(number: float | Decimal, places: int = 2) -> Decimal: ...
def short(number: float | Decimal | None, places: int = 2) -> Decimal | None:
    """Rounded, and a whole number without decimals: 20, 66.67, 15.50 (so ₹12,00,000, not
    ₹12,00,000.00)."""
    value = rounded(number, places)
    if value is None:
        return None
    return value.to_integral_value() if value == value.to_integral_value() else value


def fixed(number: float | Decimal | None, places: int = 2) -> str:
    """A score as shown: 107.20; a dash when there is none."""
    value = rounded(number, places)
    return DASH if value is None else f"{value:.{places}f}"


def fixed_percent(number: float | Decimal | None, places: int = 1) -> str:
    """A share as shown, coverage for one: 87.5 %; a dash when there is none."""
    value = rounded(number, places)
    return DASH if value is None else f"{value:.{places}f} %"


def percent_range(low: float | Decimal | None, high: float | Decimal | None) -> str:
    """A 95 % interval of a rate as shown: 94.3–98.9 % (1 decimal: an estimate's spread)."""
    if low is None or high is None:
        return DASH
    return f"{fixed(low, 1)}–{fixed(high, 1)} %"


def signed(number: float | Decimal | None, places: int = 2) -> str:
    """A change of score with its sign: +1.20, -3.40; no sign for none at all (0.00)."""
    value = rounded(number, places)
    if value is None:
        return DASH
    return f"{abs(value):.{places}f}" if value == 0 else f"{value:+.{places}f}"


def signed_short(number: float | Decimal | None) -> str:
    """A change of value with its sign, trailing zeros dropped: +15.2, -3, 0."""
    value = rounded(number)
    if value is None:
        return DASH
    return ("+" if value > 0 else "") + plain(value)


# From this size an amount is shown in whole units: ₹1,30,88,578, not ₹1,30,88,578.44.
WHOLE_AMOUNT_FROM = Decimal(100_000)
# What follows a number in each KPI unit (kraft.framework.model.Unit's values); a unit not
# listed (count, score_0_100) is a bare number.
UNIT_SUFFIXES = {"percent": " %", "days": " days", "points": " pp", "count_per_month": " a month"}


def amount(number: float | Decimal | None, currency: str) -> str:
    """An amount as shown: to the paisa below 1 lakh (₹999.50, ₹500), whole from it (₹1,30,88,578)."""
    value = short(number)
    if value is None:
        return DASH
    if abs(value) >= WHOLE_AMOUNT_FROM:
        value = short(value, 0)
    return money(value, currency)


def in_unit(number: float | Decimal | None, unit: str | None, currency: str) -> str:
    """A value as every page, report, workbook and command shows it, by its unit and size:
    at most 2 decimals, half up (22.81 %, 4.5 days, -767.84 pp), amounts by `amount`, digits
    grouped by the currency's convention, a dash for no value."""
    if unit == "currency":
        return amount(number, currency)
    value = short(number)
    if value is None:
        return DASH
    return _with_suffix(value, unit, currency)


def _with_suffix(value: Decimal, unit: str | None, currency: str) -> str:
    suffix = " day" if unit == "days" and abs(value) == 1 else UNIT_SUFFIXES.get(unit or "", "")
    return group_digits(Decimal(plain(value)), currency) + suffix


def exact_in_unit(value: Decimal | None, unit: str | None, currency: str) -> str:
    """A value as given, unrounded, in its unit: a target as it was set (85.5 %, ₹12,34,567.50)."""
    if value is None:
        return DASH
    if unit == "currency":
        return money(value, currency)
    return _with_suffix(value, unit, currency)


def number(value: float | Decimal | None, currency: str | None = None) -> str:
    """A number without a unit (a numerator, a volume): at most 2 decimals, none from 1 lakh
    (earned premium 89,49,546), digits grouped by the currency's convention."""
    shown = short(value)
    if shown is not None and abs(shown) >= WHOLE_AMOUNT_FROM:
        shown = short(shown, 0)
    return in_unit(shown, None, currency or "")


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str | None) -> str:
    """A cell for CSV or Excel that a spreadsheet will not run as a formula."""
    if cell is None:
        return ""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


# Large amounts in words people use: lakh (1,00,000) and crore (1,00,00,000) for INR; million,
# billion and trillion elsewhere. Largest first; an amount below the smallest is written in full.
INDIAN_SCALES: tuple[tuple[Decimal, str], ...] = (
    (Decimal(10) ** 7, "crore"),
    (Decimal(10) ** 5, "lakh"),
)
WESTERN_SCALES: tuple[tuple[Decimal, str], ...] = (
    (Decimal(10) ** 12, "T"),
    (Decimal(10) ** 9, "B"),
    (Decimal(10) ** 6, "M"),
)


def money_scales(currency: str | None) -> tuple[tuple[Decimal, str], ...]:
    return INDIAN_SCALES if currency in INDIAN_GROUPING else WESTERN_SCALES


def money_scale(largest: Decimal, currency: str | None) -> tuple[Decimal, str]:
    """The divisor and its word for amounts up to `largest`: (10**5, 'lakh'); (1, '') if small.

    Used by chart axes, which show every tick in one scale ("Premium (₹ lakh)")."""
    for divisor, word in money_scales(currency):
        if abs(largest) >= divisor:
            return divisor, word
    return Decimal(1), ""


def compact_money(value: Decimal, currency: str) -> str:
    """A large amount in lakh/crore (INR) or M/B/T (others), to 2 decimals rounded half up:
    ₹12.35 lakh, ₹1.23 crore, $1.23 M, 4.50 M CHF. Smaller amounts are written in full, as
    `money` writes them (₹99,999.99). An amount that rounds up to the next scale is written in
    it: ₹99,99,999 is ₹1.00 crore, not ₹100.00 lakh."""
    size = abs(value)
    ascending = sorted(money_scales(currency))
    fitting = [i for i, (divisor, _) in enumerate(ascending) if size >= divisor]
    if not fitting:
        return money(value, currency)
    index = fitting[-1]
    scaled = rounded(size / ascending[index][0])
    if index + 1 < len(ascending) and scaled * ascending[index][0] >= ascending[index + 1][0]:
        index += 1
        scaled = rounded(size / ascending[index][0])
    word = ascending[index][1]
    number = group_digits(scaled, currency)
    symbol = CURRENCY_SYMBOLS.get(currency)
    amount = f"{symbol}{number} {word}" if symbol else f"{number} {word} {currency}"
    return ("-" if value < 0 else "") + amount
