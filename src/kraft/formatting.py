"""How numbers read to people: Indian digit grouping for INR, units spelled the way users say them."""

from __future__ import annotations

from decimal import Decimal

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
    symbol = CURRENCY_SYMBOLS.get(currency)
    grouped = group_digits(value, currency)
    return f"{symbol}{grouped}" if symbol else f"{grouped} {currency}"


def plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 1500000, 33.3, -5."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str | None) -> str:
    """A cell for CSV or Excel that a spreadsheet will not run as a formula."""
    if cell is None:
        return ""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell
