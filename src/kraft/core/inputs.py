"""Reading the values a person types (a period label, a date), each refused in one sentence
that names the field or option it came from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from kraft.errors import InvalidInputError
from kraft.periods import Calendar, Period


def parse_period(calendar: Calendar, label: str, field: str) -> Period:
    """The period a label names."""
    try:
        return calendar.parse(label)
    except ValueError as exc:
        raise InvalidInputError(f"{field}: {exc}.") from None


def parse_date(value: str | None, field: str) -> date | None:
    """The date written YYYY-MM-DD, or None for nothing written."""
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(
            f"{field} {value!r} is not a date; write it as YYYY-MM-DD."
        ) from None


def parse_decimal(text: str, field: str, *, required: bool) -> Decimal | None:
    """A typed decimal (thousands commas allowed), or None for nothing written when not
    required."""
    cleaned = text.strip().replace(",", "")
    if not cleaned:
        if required:
            raise InvalidInputError(f"{field}: give a number.")
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInputError(f"{field}: {text.strip()!r} is not a number.") from None
    if not value.is_finite():
        raise InvalidInputError(f"{field}: {text.strip()!r} is not a number.")
    return value
