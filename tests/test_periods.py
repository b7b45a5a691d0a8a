"""Period ranges and labels, calendar and fiscal (DATA.md, Periods)."""

from __future__ import annotations

from datetime import date

import pytest

from kraft.periods import (
    Calendar,
    Grain,
    add_months,
    month_end,
    month_from_index,
    month_index,
    month_start,
    months_between,
)

JAN = Calendar(1)
APR = Calendar(4)


@pytest.mark.parametrize(
    ("calendar", "day", "grain", "label", "start", "end"),
    [
        (JAN, date(2026, 3, 15), Grain.month, "2026-03", date(2026, 3, 1), date(2026, 3, 31)),
        (JAN, date(2024, 2, 29), Grain.month, "2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        (JAN, date(2026, 3, 31), Grain.quarter, "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        (JAN, date(2026, 10, 1), Grain.quarter, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        (JAN, date(2026, 12, 31), Grain.year, "2026", date(2026, 1, 1), date(2026, 12, 31)),
        # April start: FY2026 = April 2025 to March 2026, FY2026-Q1 = April to June 2025.
        (APR, date(2025, 4, 1), Grain.quarter, "FY2026-Q1", date(2025, 4, 1), date(2025, 6, 30)),
        (APR, date(2025, 6, 30), Grain.quarter, "FY2026-Q1", date(2025, 4, 1), date(2025, 6, 30)),
        (APR, date(2026, 1, 5), Grain.quarter, "FY2026-Q4", date(2026, 1, 1), date(2026, 3, 31)),
        (APR, date(2026, 3, 31), Grain.year, "FY2026", date(2025, 4, 1), date(2026, 3, 31)),
        (APR, date(2026, 4, 1), Grain.year, "FY2027", date(2026, 4, 1), date(2027, 3, 31)),
        (APR, date(2026, 4, 1), Grain.month, "2026-04", date(2026, 4, 1), date(2026, 4, 30)),
        (
            Calendar(7),
            date(2026, 6, 30),
            Grain.quarter,
            "FY2026-Q4",
            date(2026, 4, 1),
            date(2026, 6, 30),
        ),
    ],
)
def test_period_of_a_day(
    calendar: Calendar, day: date, grain: Grain, label: str, start: date, end: date
) -> None:
    period = calendar.period(grain, day)
    assert (period.label, period.start, period.end) == (label, start, end)
    assert calendar.parse(label) == period


def test_periods_between_and_previous() -> None:
    labels = [p.label for p in APR.periods(Grain.quarter, date(2025, 3, 31), date(2025, 10, 1))]
    assert labels == ["FY2025-Q4", "FY2026-Q1", "FY2026-Q2", "FY2026-Q3"]
    assert JAN.previous(JAN.parse("2026-Q1")).label == "2025-Q4"
    assert APR.previous(APR.parse("FY2026-Q1")).label == "FY2025-Q4"
    assert JAN.previous(JAN.parse("2026-01")).label == "2025-12"


@pytest.mark.parametrize(
    ("calendar", "label"),
    [
        (JAN, "2026-13"),
        (JAN, "FY2026"),
        (JAN, "2026-Q5"),
        (APR, "2026-Q1"),
        (APR, "2026"),
        (JAN, "26"),
    ],
)
def test_bad_labels_name_the_expected_forms(calendar: Calendar, label: str) -> None:
    with pytest.raises(ValueError, match="expected YYYY-MM"):
        calendar.parse(label)


def test_within() -> None:
    assert JAN.parse("2026-02").within(JAN.parse("2026-Q1"))
    assert not JAN.parse("2026-04").within(JAN.parse("2026-Q1"))
    assert APR.parse("FY2026-Q4").within(APR.parse("FY2026"))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # clipped to February's end
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # a leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 5, 31), -1, date(2026, 4, 30)),  # negative, clipped
        (date(2026, 11, 15), 2, date(2027, 1, 15)),  # the year wraps forward
        (date(2026, 1, 15), -1, date(2025, 12, 15)),  # and back
        (date(2026, 1, 1), -13, date(2024, 12, 1)),
        (date(2026, 7, 10), 0, date(2026, 7, 10)),
        (date(2025, 3, 1), 24, date(2027, 3, 1)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_month_start_end_index_and_between() -> None:
    assert month_start(date(2026, 2, 17)) == date(2026, 2, 1)
    assert month_end(date(2026, 2, 17)) == date(2026, 2, 28)
    assert month_end(date(2024, 2, 1)) == date(2024, 2, 29)
    assert month_end(date(2026, 12, 5)) == date(2026, 12, 31)  # across the year's end
    assert month_index(date(2026, 1, 20)) == 2026 * 12
    assert month_index(date(2025, 12, 1)) == 2026 * 12 - 1
    assert month_from_index(2026 * 12 - 1) == date(2025, 12, 1)
    assert month_from_index(month_index(date(2026, 8, 31))) == date(2026, 8, 1)
    assert months_between(date(2026, 1, 31), date(2026, 1, 1)) == 0
    assert months_between(date(2025, 11, 30), date(2026, 2, 1)) == 3
    assert months_between(date(2026, 2, 1), date(2025, 11, 30)) == -3
