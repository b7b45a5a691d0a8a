"""Pacing forecasts by hand: run rate, last year's seasonality, ratios to date, and the status.

Periods: 2025-Q2 is 1 April to 30 June, 91 days; on 31 May, 61 of them have passed (30 + 31).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kraft.analysis.alerts import below_threshold
from kraft.analysis.pacing import (
    Method,
    Pace,
    accumulating,
    forecast_value,
    is_open,
    month_position,
    pace,
    run_rate,
    seasonal,
)
from kraft.framework.loader import load_builtin
from kraft.metrics.spec import load_catalogue
from kraft.periods import Calendar
from kraft.scoring.methods import Goal

D = Decimal
CAL = Calendar(1)
Q2 = CAL.parse("2025-Q2")
MAY = CAL.parse("2025-05")
END_OF_MAY = date(2025, 5, 31)
FRAMEWORK = load_builtin("insurance_rm")
SESSIONS = FRAMEWORK.kpi("education_sessions")  # count ↑, min volume 1
MEETINGS = FRAMEWORK.kpi("client_meetings_per_month")  # count per month ↑
RETENTION = FRAMEWORK.kpi("client_retention_rate")  # % ↑, min volume 5
SETTLEMENT = FRAMEWORK.kpi("claims_settlement_time")  # days ↓, min volume 3
VIOLATIONS = FRAMEWORK.kpi("regulatory_violations")  # count ↓, target 0


def close(a: Decimal | None, b: Decimal) -> bool:
    assert a is not None
    return abs(a - b) < D("1e-20")


def test_run_rate_scales_to_date_by_days() -> None:
    assert run_rate(D(6), Q2, END_OF_MAY) == D(546) / D(61)  # 6 × 91 ÷ 61
    assert run_rate(D(2), Q2, date(2025, 4, 1)) == D(182)  # one day of 91 gone: × 91
    assert run_rate(D(2), Q2, date(2025, 6, 29)) == D(182) / D(90)
    assert run_rate(D(0), Q2, END_OF_MAY) == 0


def test_month_position() -> None:
    assert month_position(Q2, END_OF_MAY) == (1, D(1))  # April done; all of May
    assert month_position(Q2, date(2025, 5, 15)) == (1, D(15) / D(31))
    assert month_position(Q2, date(2025, 4, 10)) == (0, D(10) / D(30))
    assert month_position(CAL.parse("2024-Q1"), date(2024, 2, 29)) == (1, D(1))  # leap year


def test_seasonal_forecast_scales_by_last_year_shape() -> None:
    # Last year's April, May, June: 10, 20, 30 (total 60). At the end of May last year had 30:
    # 24 to date → 24 + 30 × (24 ÷ 30) = 24 × 60 ÷ 30 = 48.
    assert seasonal(D(24), [D(10), D(20), D(30)], 1, D(1)) == 48
    # On 15 May: last year to the same point = 10 + 20 × 15/31 = 610/31; 24 × 60 ÷ (610/31).
    assert close(seasonal(D(24), [D(10), D(20), D(30)], 1, D(15) / D(31)), D(24 * 60 * 31) / D(610))
    # A flat last year gives the run rate by months: 10 to date after 2 of 3 months → 15.
    assert seasonal(D(10), [D(5), D(5), D(5)], 1, D(1)) == 15
    # The first month of a quarter, all of it gone: × last year's total ÷ its first month.
    assert seasonal(D(4), [D(2), D(4), D(6)], 0, D(1)) == 24


def test_seasonal_falls_back_when_last_year_cannot_say() -> None:
    assert seasonal(D(24), [D(10), None, D(30)], 1, D(1)) is None  # a month missing
    assert seasonal(D(24), [], 0, D(1)) is None  # no year of history
    assert seasonal(D(24), [D(0), D(0), D(9)], 1, D(1)) is None  # nothing by then last year
    value, method = forecast_value(SESSIONS, D(2), Q2, END_OF_MAY, [D(0), D(0), D(0)])
    assert method is Method.run_rate and value == D(182) / D(61)
    value, method = forecast_value(SESSIONS, D(5), Q2, END_OF_MAY, [])
    assert method is Method.run_rate and value == D(455) / D(61)
    value, method = forecast_value(SESSIONS, D(3), Q2, END_OF_MAY, [D(1), D(1), D(2)])
    assert method is Method.seasonal and value == 6  # 3 × 4 ÷ 2


def test_forecast_by_unit() -> None:
    # A ratio stays at its value to date, whatever last year did.
    assert forecast_value(RETENTION, D(80), Q2, END_OF_MAY, [D(1)] * 3) == (D(80), Method.to_date)
    assert forecast_value(SETTLEMENT, D(12), Q2, END_OF_MAY) == (D(12), Method.to_date)
    # Meetings per month over an open quarter: count so far ÷ 3 grows like a count.
    assert forecast_value(MEETINGS, D(10), Q2, END_OF_MAY) == (D(910) / D(61), Method.run_rate)
    # A ratio whose successes accumulate over a fixed population is paced like a count.
    assert forecast_value(RETENTION, D(2), Q2, END_OF_MAY, grows=True) == (
        D(182) / D(61),
        Method.run_rate,
    )
    assert forecast_value(SESSIONS, None, Q2, END_OF_MAY) == (None, None)
    # A month paces by days: 10 on 15 May of 31 days → 10 × 31 ÷ 15 (seasonal or not).
    assert forecast_value(SESSIONS, D(10), MAY, date(2025, 5, 15)) == (
        D(310) / D(15),
        Method.run_rate,
    )
    value, method = forecast_value(SESSIONS, D(10), MAY, date(2025, 5, 15), [D(7)])
    assert method is Method.seasonal and close(value, D(310) / D(15))


def test_accumulating_kpis_from_the_catalogue() -> None:
    catalogue = load_catalogue()
    grows = {kpi.id for _, kpi in FRAMEWORK.kpis() if accumulating(kpi, catalogue)}
    assert {"referral_rate", "new_business_acquisition_rate"} <= grows
    assert {"education_sessions", "revenue_per_quarter", "client_meetings_per_month"} <= grows
    for ratio in (
        "client_retention_rate",  # due clients: a population fixed by end dates
        "sales_conversion_rate",  # won ÷ closed: both grow together, the rate does not
        "customer_satisfaction_score",
        "claims_settlement_time",
        "market_penetration_growth_rate",
        "adequate_coverage_rate",
    ):
        assert ratio not in grows
    assert not accumulating(FRAMEWORK.kpi("referral_rate"), None)  # no catalogue: to date


def test_pace_status() -> None:
    goal = Goal(D(6), D(3))
    assert pace(SESSIONS, D(6), None, goal) is Pace.on_track  # exactly at target
    assert pace(SESSIONS, D("5.99"), None, goal) is Pace.at_risk
    assert pace(SESSIONS, D(0), D(0), goal) is Pace.at_risk  # a count: never "insufficient"
    assert pace(SESSIONS, None, None, goal) is Pace.no_data
    assert pace(SESSIONS, D(6), None, None) is Pace.no_target
    # Ratios: volume to date under the minimum (5 due clients) is too little to call.
    assert pace(RETENTION, D(50), D(4), Goal(D(85), D(75))) is Pace.insufficient_volume
    assert pace(RETENTION, D(50), D(5), Goal(D(85), D(75))) is Pace.at_risk
    # Lower is better: 15 days target; 14 is on track, 16 at risk.
    assert pace(SETTLEMENT, D(14), D(3), Goal(D(15), D(21))) is Pace.on_track
    assert pace(SETTLEMENT, D(16), D(3), Goal(D(15), D(21))) is Pace.at_risk
    assert pace(VIOLATIONS, D(0), None, Goal(D(0), D(0))) is Pace.on_track
    assert pace(VIOLATIONS, D("1.5"), None, Goal(D(0), D(0))) is Pace.at_risk


def test_open_period() -> None:
    assert is_open(Q2, date(2025, 4, 1))
    assert is_open(Q2, date(2025, 6, 29))
    assert not is_open(Q2, date(2025, 6, 30))  # the last day: the period is over
    assert not is_open(Q2, date(2025, 3, 31))  # before it: nothing to pace


@pytest.mark.parametrize(
    ("kpi_id", "status", "actual", "threshold", "expected"),
    [
        ("client_retention_rate", "below threshold", D(50), D(75), True),
        ("client_retention_rate", "provisional", D(74), D(75), True),  # judged on its actual
        ("client_retention_rate", "provisional", D(75), D(75), False),  # at the threshold
        ("client_retention_rate", "on track", D(80), D(75), False),
        ("client_retention_rate", "insufficient volume", D(10), D(75), False),  # not scored
        ("client_retention_rate", "provisional", None, D(75), False),
        ("claims_settlement_time", "provisional", D(22), D(21), True),  # ↓: above is worse
        ("claims_settlement_time", "provisional", D(20), D(21), False),
    ],
)
def test_below_threshold(
    kpi_id: str, status: str, actual: Decimal | None, threshold: Decimal, expected: bool
) -> None:
    assert below_threshold(FRAMEWORK.kpi(kpi_id), status, actual, threshold) is expected
