"""Which strptime patterns read every sampled value of a date column, for `kraft mapping suggest`.

A pattern is proposed only when it reads every value; when a day-first and a month-first pattern
both do (05/03/2024), the suggestion says so and leaves the choice to a person.
"""

from __future__ import annotations

import re
from datetime import datetime

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}( 00:00(:00)?)?")
ISO_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
FOUR_DIGITS = re.compile(r"\d{4}")


def _date_patterns() -> tuple[str, ...]:
    days = []
    for sep in ("/", "-", "."):
        days += [
            f"%d{sep}%m{sep}%Y",
            f"%m{sep}%d{sep}%Y",
            f"%d{sep}%m{sep}%y",
            f"%m{sep}%d{sep}%y",
            f"%d{sep}%b{sep}%Y",
            f"%d{sep}%b{sep}%y",
        ]
    days += ["%Y/%m/%d", "%Y.%m.%d", "%d %b %Y", "%d %B %Y", "%b %d %Y", "%Y%m%d", "%Y-%m-%d"]
    timed = [f"{d} {t}" for d in days for t in ("%H:%M:%S", "%H:%M")]
    return (*days, *timed)


DATE_PATTERNS = _date_patterns()
MONTH_PATTERNS = ("%m/%Y", "%m-%Y", "%m.%Y", "%b-%Y", "%b %Y", "%B %Y", "%b-%y", "%Y%m", "%Y/%m")


def _reads(pattern: str, value: str) -> bool:
    try:
        parsed = datetime.strptime(value, pattern)
    except ValueError:
        return False
    if "%Y" in pattern:
        return parsed.year >= 1900 and FOUR_DIGITS.search(value) is not None
    return FOUR_DIGITS.search(value) is None  # %y: a two-digit year only


def patterns_reading(values: list[str], month: bool = False) -> list[str]:
    """The patterns that read every value not already in the contract's form (none: [])."""
    iso = ISO_MONTH if month else ISO_DATE
    foreign = sorted({v for v in values if not iso.fullmatch(v)})[:500]
    if not foreign:
        return []
    candidates = MONTH_PATTERNS if month else DATE_PATTERNS
    return [p for p in candidates if all(_reads(p, v) for v in foreign)]


def needs_pattern(values: list[str], month: bool = False) -> bool:
    iso = ISO_MONTH if month else ISO_DATE
    return any(not iso.fullmatch(v) for v in values)
