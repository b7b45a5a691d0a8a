"""Months, quarters and years as inclusive date ranges, with DATA.md's labels.

With a January fiscal start: `2026-03`, `2026-Q1`, `2026`. With any other start month, quarters
and years are fiscal and named by the calendar year in which the fiscal year ends: with April,
`FY2026` is April 2025 to March 2026 and `FY2026-Q1` is April to June 2025. Months are always
`YYYY-MM`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Grain(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"

    @property
    def months(self) -> int:
        return _MONTHS[self]  # a str key: no Enum.value lookup (hot in scoring)


_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date
    grain: Grain
    label: str

    @property
    def months(self) -> int:
        return self.grain.months

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def closed_by(self, as_of: date) -> bool:
        """Whether data as of `as_of` covers the whole period (its last day included): the
        period can no longer grow; before that it is open or still to come."""
        return as_of >= self.end

    def within(self, other: Period) -> bool:
        return other.start <= self.start and self.end <= other.end


def month_index(day: date) -> int:
    """The day's month counted from January of year 0: consecutive months, consecutive numbers
    (so month arithmetic is integer arithmetic)."""
    return day.year * 12 + day.month - 1


def month_from_index(index: int) -> date:
    """The first day of the month a `month_index` names."""
    year, month = divmod(index, 12)
    return date(year, month + 1, 1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    """The last day of the day's month."""
    return month_from_index(month_index(day) + 1) - timedelta(days=1)


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later (earlier, if negative), clipped to that month's
    last day: 31 January plus one month is 28 (or 29) February."""
    first = month_from_index(month_index(day) + months)
    return first if day.day == 1 else first.replace(day=min(day.day, month_end(first).day))


def months_between(first: date, last: date) -> int:
    """Whole months from the first's month to the last's (0 within one month; negative if the
    last is earlier)."""
    return month_index(last) - month_index(first)


def _span(first: date, months: int) -> tuple[date, date]:
    return first, month_end(add_months(first, months - 1))


class Calendar:
    """Periods for one fiscal_year_start_month (1–12)."""

    def __init__(self, fiscal_year_start_month: int = 1) -> None:
        if not 1 <= fiscal_year_start_month <= 12:
            raise ValueError("fiscal_year_start_month must be 1 to 12")
        self.start_month = fiscal_year_start_month

    @property
    def fiscal(self) -> bool:
        return self.start_month != 1

    def _fiscal_year_of(self, day: date) -> int:
        """The year that names the fiscal year holding `day` (the calendar year it ends in)."""
        if not self.fiscal:
            return day.year
        return day.year + 1 if day.month >= self.start_month else day.year

    def _fiscal_year_start(self, fiscal_year: int) -> tuple[int, int]:
        if not self.fiscal:
            return fiscal_year, 1
        return fiscal_year - 1, self.start_month

    def month(self, day: date) -> Period:
        start, end = _span(month_start(day), 1)
        return Period(start, end, Grain.month, f"{day.year:04d}-{day.month:02d}")

    def quarter(self, day: date) -> Period:
        fy = self._fiscal_year_of(day)
        year_start = date(*self._fiscal_year_start(fy), 1)
        q = months_between(year_start, day) // 3 + 1
        start, end = _span(add_months(year_start, (q - 1) * 3), 3)
        prefix = "FY" if self.fiscal else ""
        return Period(start, end, Grain.quarter, f"{prefix}{fy:04d}-Q{q}")

    def year(self, day: date) -> Period:
        fy = self._fiscal_year_of(day)
        start, end = _span(date(*self._fiscal_year_start(fy), 1), 12)
        return Period(start, end, Grain.year, f"FY{fy:04d}" if self.fiscal else f"{fy:04d}")

    def period(self, grain: Grain, day: date) -> Period:
        return {Grain.month: self.month, Grain.quarter: self.quarter, Grain.year: self.year}[grain](
            day
        )

    def periods(self, grain: Grain, first: date, last: date) -> Iterator[Period]:
        """Every period of the grain that overlaps [first, last], in order."""
        current = self.period(grain, first)
        while current.start <= last:
            yield current
            current = self.period(grain, current.end + timedelta(days=1))

    def previous(self, period: Period) -> Period:
        return self.period(period.grain, period.start - timedelta(days=1))

    def last_closed(self, grain: Grain, as_of: date) -> Period:
        """The latest period of the grain that data as of `as_of` covers whole: the one holding
        the as-of date when it is its last day, else the one before."""
        current = self.period(grain, as_of)
        return current if current.closed_by(as_of) else self.previous(current)

    def parse(self, label: str) -> Period:
        """The period a label names; ValueError naming the expected forms otherwise."""
        text = label.strip()
        if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
            year, month = int(m[1]), int(m[2])
            if 1 <= month <= 12:
                return self.month(date(year, month, 1))
        prefix = "FY" if self.fiscal else ""
        if m := re.fullmatch(rf"{prefix}(\d{{4}})-Q([1-4])", text):
            year_start = date(*self._fiscal_year_start(int(m[1])), 1)
            return self.quarter(add_months(year_start, (int(m[2]) - 1) * 3))
        if m := re.fullmatch(rf"{prefix}(\d{{4}})", text):
            y, mo = self._fiscal_year_start(int(m[1]))
            return self.year(date(y, mo, 1))
        raise ValueError(f"{label!r} is not a period label (expected {self.label_forms()})")

    def label_forms(self) -> str:
        if self.fiscal:
            return "YYYY-MM, FYYYYY-Qn or FYYYYY, e.g. 2026-03, FY2026-Q1, FY2026"
        return "YYYY-MM, YYYY-Qn or YYYY, e.g. 2026-03, 2026-Q1, 2026"
