"""Which goal a scorecard uses (KPIS.md, "Scoring defaults", Targets).

RM over team (nearest team above the RM) over company over the framework's default; the latest
recorded row of a scope wins; count and currency targets and thresholds scale with the number of
grain periods in the scorecard's period.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from kraft.framework.loader import load_builtin
from kraft.periods import Calendar, Grain, Period
from kraft.scoring.methods import Goal
from kraft.scoring.scorecard import Person
from kraft.scoring.targets import TargetBook, TargetRow, scale

D = Decimal
BUILTIN = load_builtin("insurance_rm")
CAL = Calendar(1)
MONTH = CAL.parse("2026-04")
QUARTER = CAL.parse("2026-Q2")
YEAR = CAL.parse("2026")

# north ⊃ north_city ⊃ north_city_a; south is a separate top team.
TEAMS: dict[str, str | None] = {
    "north": None,
    "north_city": "north",
    "north_city_a": "north_city",
    "south": None,
}
RM = Person("rm1", "north_city_a")


def row(
    target_id: int,
    scope_type: str,
    scope_id: str,
    target: str,
    threshold: str | None = None,
    *,
    kpi_id: str = "client_retention_rate",
    recorded: datetime = datetime(2026, 1, 1, 9, 0),
    from_date: date | None = None,
    to_date: date | None = None,
) -> TargetRow:
    return TargetRow(
        target_id=target_id,
        scope_type=scope_type,
        scope_id=scope_id,
        kpi_id=kpi_id,
        from_date=from_date,
        to_date=to_date,
        target=D(target),
        threshold=None if threshold is None else D(threshold),
        recorded_at=recorded,
    )


def goal_of(rows: list[TargetRow], kpi_id: str, period: Period, person: Person = RM) -> Goal:
    choice = TargetBook(BUILTIN, rows, TEAMS)(person, BUILTIN.kpi(kpi_id), period)
    assert choice is not None
    return choice.goal


def source_of(rows: list[TargetRow], kpi_id: str = "client_retention_rate") -> str:
    choice = TargetBook(BUILTIN, rows, TEAMS)(RM, BUILTIN.kpi(kpi_id), QUARTER)
    assert choice is not None
    return choice.source


# -- precedence ----------------------------------------------------------------------------------


def test_framework_default() -> None:
    assert goal_of([], "client_retention_rate", QUARTER) == Goal(D(85), D(75))
    assert source_of([]) == "framework"


def test_framework_default_when_rows_are_for_other_kpis_or_scopes() -> None:
    rows = [
        row(1, "org", "org", "90", "80", kpi_id="referral_rate"),
        row(2, "team", "south", "70", "60"),
        row(3, "rm", "rm2", "60", "50"),
    ]
    assert goal_of(rows, "client_retention_rate", QUARTER) == Goal(D(85), D(75))


def test_org_row_over_framework() -> None:
    rows = [row(1, "org", "org", "88", "78")]
    assert goal_of(rows, "client_retention_rate", QUARTER) == Goal(D(88), D(78))
    assert source_of(rows) == "org"


def test_team_row_applies_to_a_descendant_teams_rm() -> None:
    rows = [row(1, "org", "org", "88", "78"), row(2, "team", "north", "90", "80")]
    assert goal_of(rows, "client_retention_rate", QUARTER) == Goal(D(90), D(80))
    assert source_of(rows) == "team:north"
    # An RM of another branch of the tree keeps the company's row.
    south = Person("rm9", "south")
    assert goal_of(rows, "client_retention_rate", QUARTER, south) == Goal(D(88), D(78))


def test_nearest_team_wins_over_a_higher_team() -> None:
    rows = [
        row(1, "team", "north", "90", "80", recorded=datetime(2026, 3, 1)),
        row(2, "team", "north_city", "92", "82", recorded=datetime(2026, 1, 1)),
    ]
    assert goal_of(rows, "client_retention_rate", QUARTER) == Goal(D(92), D(82))
    assert source_of(rows) == "team:north_city"
    rows.append(row(3, "team", "north_city_a", "94", "84", recorded=datetime(2025, 1, 1)))
    assert goal_of(rows, "client_retention_rate", QUARTER) == Goal(D(94), D(84))


def test_rm_row_wins_over_all() -> None:
    rows = [
        row(1, "org", "org", "88", "78", recorded=datetime(2026, 5, 1)),
        row(2, "team", "north_city_a", "94", "84", recorded=datetime(2026, 5, 1)),
        row(3, "rm", "rm1", "70", "60", recorded=datetime(2025, 5, 1)),
    ]
    assert goal_of(rows, "client_retention_rate", QUARTER) == Goal(D(70), D(60))
    assert source_of(rows) == "rm"
    other = Person("rm2", "north_city_a")
    assert goal_of(rows, "client_retention_rate", QUARTER, other) == Goal(D(94), D(84))


def test_latest_recorded_wins_within_a_scope() -> None:
    rows = [
        row(1, "rm", "rm1", "70", "60", recorded=datetime(2026, 2, 1, 10, 0)),
        row(2, "rm", "rm1", "75", "65", recorded=datetime(2026, 2, 1, 11, 0)),
        row(3, "rm", "rm1", "72", "62", recorded=datetime(2026, 1, 15)),
    ]
    assert goal_of(rows, "client_retention_rate", QUARTER) == Goal(D(75), D(65))
    team_rows = [
        row(4, "team", "north", "91", "81", recorded=datetime(2026, 3, 1)),
        row(5, "team", "north", "89", "79", recorded=datetime(2026, 2, 1)),
    ]
    assert goal_of(team_rows, "client_retention_rate", QUARTER) == Goal(D(91), D(81))


def test_row_applies_only_to_periods_inside_its_range() -> None:
    q2 = [row(1, "rm", "rm1", "70", "60", from_date=date(2026, 4, 1), to_date=date(2026, 6, 30))]
    assert goal_of(q2, "client_retention_rate", QUARTER) == Goal(D(70), D(60))
    assert goal_of(q2, "client_retention_rate", CAL.parse("2026-Q1")) == Goal(D(85), D(75))
    assert goal_of(q2, "client_retention_rate", CAL.parse("2026-Q3")) == Goal(D(85), D(75))
    # The year is not inside April–June.
    assert goal_of(q2, "client_retention_rate", YEAR) == Goal(D(85), D(75))
    # Open-ended ranges.
    since_may = [row(2, "rm", "rm1", "70", "60", from_date=date(2026, 5, 1))]
    assert goal_of(since_may, "client_retention_rate", QUARTER) == Goal(D(85), D(75))
    assert goal_of(since_may, "client_retention_rate", CAL.parse("2026-Q3")) == Goal(D(70), D(60))
    until_june = [row(3, "rm", "rm1", "70", "60", to_date=date(2026, 6, 30))]
    assert goal_of(until_june, "client_retention_rate", QUARTER) == Goal(D(70), D(60))
    assert goal_of(until_june, "client_retention_rate", CAL.parse("2026-Q3")) == Goal(D(85), D(75))


def test_a_newer_row_outside_the_period_does_not_hide_an_older_row_inside_it() -> None:
    rows = [
        row(1, "rm", "rm1", "70", "60", recorded=datetime(2026, 1, 1)),
        row(
            2,
            "rm",
            "rm1",
            "99",
            "90",
            recorded=datetime(2026, 6, 1),
            from_date=date(2026, 7, 1),
        ),
    ]
    assert goal_of(rows, "client_retention_rate", QUARTER) == Goal(D(70), D(60))
    assert goal_of(rows, "client_retention_rate", CAL.parse("2026-Q3")) == Goal(D(99), D(90))


# -- scaling -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (MONTH, Goal(D(3), D(2))),
        (QUARTER, Goal(D(3) * 3, D(2) * 3)),  # 9 (6)
        (YEAR, Goal(D(3) * 12, D(2) * 12)),  # 36 (24)
    ],
)
def test_count_target_and_threshold_scale(period: Period, expected: Goal) -> None:
    assert goal_of([], "education_sessions", period) == expected  # 3 (2) a month


def test_scaled_override() -> None:
    rows = [row(1, "team", "north", "4", "3", kpi_id="education_sessions")]
    assert goal_of(rows, "education_sessions", MONTH) == Goal(D(4), D(3))
    assert goal_of(rows, "education_sessions", QUARTER) == Goal(D(12), D(9))
    assert goal_of(rows, "education_sessions", YEAR) == Goal(D(48), D(36))


@pytest.mark.parametrize(
    ("kpi_id", "period", "expected"),
    [
        ("client_retention_rate", YEAR, Goal(D(85), D(75))),  # percent: a rate
        ("tech_adoption_rate", QUARTER, Goal(D(90), D(75))),  # monthly percent
        ("tech_adoption_rate", YEAR, Goal(D(90), D(75))),
        ("client_meetings_per_month", QUARTER, Goal(D(20), D(15))),  # "per month": no scaling
        ("client_meetings_per_month", YEAR, Goal(D(20), D(15))),
        ("claims_settlement_time", YEAR, Goal(D(15), D(21))),  # days: a mean
        ("policy_understanding_score", YEAR, Goal(D(80), D(70))),  # 0–100: a mean
        ("loss_ratio_improvement", YEAR, Goal(D(0), D(-5))),  # points
    ],
)
def test_rates_means_and_per_month_do_not_scale(
    kpi_id: str, period: Period, expected: Goal
) -> None:
    assert goal_of([], kpi_id, period) == expected


def test_percent_override_does_not_scale() -> None:
    rows = [row(1, "rm", "rm1", "80", "70", kpi_id="tech_adoption_rate")]
    assert goal_of(rows, "tech_adoption_rate", YEAR) == Goal(D(80), D(70))


def test_currency_scales() -> None:
    # revenue_per_quarter: 1 500 000 (1 200 000) a quarter; a year holds 4 quarters.
    assert goal_of([], "revenue_per_quarter", QUARTER) == Goal(D(1_500_000), D(1_200_000))
    assert goal_of([], "revenue_per_quarter", YEAR) == Goal(D(1_500_000) * 4, D(1_200_000) * 4)
    rows = [row(1, "org", "org", "2000000", "1600000", kpi_id="revenue_per_quarter")]
    assert goal_of(rows, "revenue_per_quarter", YEAR) == Goal(D(8_000_000), D(6_400_000))


def test_quarterly_count_scales_to_the_year() -> None:
    # competitor_analysis_reports: 1 (1) a quarter → 4 (4) a year.
    assert goal_of([], "competitor_analysis_reports", YEAR) == Goal(D(4), D(4))
    assert goal_of([], "competitor_analysis_reports", QUARTER) == Goal(D(1), D(1))


@pytest.mark.parametrize(
    ("kpi_id", "grain", "expected"),
    [
        ("education_sessions", Grain.month, D(1)),
        ("education_sessions", Grain.quarter, D(3)),
        ("education_sessions", Grain.year, D(12)),
        ("revenue_per_quarter", Grain.year, D(4)),
        ("new_market_segments", Grain.year, D(1)),
        ("client_retention_rate", Grain.year, D(1)),
        ("client_meetings_per_month", Grain.year, D(1)),
    ],
)
def test_scale_factor(kpi_id: str, grain: Grain, expected: Decimal) -> None:
    period = CAL.period(grain, date(2026, 4, 1))
    assert scale(BUILTIN.kpi(kpi_id), period) == expected
