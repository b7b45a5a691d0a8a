"""Credibility for small books (kraft.scoring.credibility): which KPIs, Wilson intervals, the
beta-binomial method-of-moments fit, its degenerate cases, and shrinkage toward team or company.

Every expected number is worked out by hand in the comments (z = 1.959963984540054, z² =
3.841458820694124).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.framework.loader import load_builtin
from kraft.metrics.spec import load_catalogue
from kraft.scoring.credibility import (
    Book,
    Prior,
    credibility_kpis,
    estimates,
    fit_prior,
    wilson,
)

approx = pytest.approx


def test_the_built_in_proportion_kpis() -> None:
    """Counted ÷ counted × 100: 17 KPIs. Two can pass 100 % (numerator from another fact)."""
    found = credibility_kpis(load_builtin("insurance_rm"), load_catalogue())
    assert found == {
        "client_retention_rate": False,
        "customer_satisfaction_score": False,
        "referral_rate": True,  # referring clients ÷ active clients at the start
        "sales_conversion_rate": False,
        "new_business_acquisition_rate": True,  # new clients ÷ active clients at the start
        "cross_sell_success_rate": False,
        "adequate_coverage_rate": False,
        "risk_assessment_completion_rate": False,
        "renewal_rate_after_education": False,
        "team_training_completion_rate": False,
        "team_goal_achievement_rate": False,
        "documentation_accuracy_rate": False,
        "tech_adoption_rate": False,
        "innovation_success_rate": False,
        "report_accuracy_rate": False,
        "action_plan_success_rate": False,
        "skills_training_completion_rate": False,
    }
    # Not proportions: a growth rate (difference of counts), means, counts, score-derived, manual.
    for kpi in (
        "market_penetration_growth_rate",
        "loss_ratio_improvement",
        "claims_settlement_time",
        "policy_understanding_score",
        "client_meetings_per_month",
        "key_metric_variance",
        "automation_time_savings",
    ):
        assert kpi not in found


# -- Wilson ----------------------------------------------------------------------------------


def test_wilson_without_trials_has_no_interval() -> None:
    assert wilson(0, 0) is None


def test_wilson_none_of_five() -> None:
    # p = 0; d = 1 + z²/5 = 1.768291764; centre = (z²/10) / d = 0.384145882 / 1.768291764
    # = 0.217241; half = z/d × √(z²/100) = 1.108393 × 0.195996 = 0.217241 → [0, 0.434482]
    interval = wilson(0, 5)
    assert interval is not None
    assert interval.low == 0.0
    assert interval.high == approx(43.4482464783, abs=1e-8)


def test_wilson_five_of_five() -> None:
    # the mirror image of 0/5: [1 − 0.434482, 1]
    interval = wilson(5, 5)
    assert interval is not None
    assert interval.low == approx(56.5517535217, abs=1e-8)
    assert interval.high == 100.0


def test_wilson_three_of_ten() -> None:
    # p = 0.3; d = 1.384145882; centre = (0.3 + 0.192072941) / d = 0.355506260;
    # half = z/d × √(0.021 + 0.009603647) = 1.416008 × 0.174939 = 0.247715
    # → [0.107791, 0.603222]
    interval = wilson(3, 10)
    assert interval is not None
    assert interval.low == approx(10.7791267406, abs=1e-8)
    assert interval.high == approx(60.3221852539, abs=1e-8)
    assert interval.width == approx(49.5430585133, abs=1e-8)


def test_wilson_clamps_a_numerator_above_the_denominator() -> None:
    """referral_rate can pass 100 %: 7 referrers for 5 clients reads as 5 of 5."""
    assert wilson(7, 5) == wilson(5, 5)
    assert wilson(-1, 5) == wilson(0, 5)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_holds_the_rate_inside_0_to_100(successes: int, trials: int) -> None:
    successes = min(successes, trials)
    interval = wilson(successes, trials)
    assert interval is not None
    rate = successes / trials * 100
    assert 0.0 <= interval.low <= rate + 1e-9
    assert rate - 1e-9 <= interval.high <= 100.0


# -- the method-of-moments fit ---------------------------------------------------------------

FIVE_BOOKS = [(2, 10), (5, 10), (8, 10), (4, 10), (6, 10)]


def test_fit_with_equal_books() -> None:
    # μ = 25 / 50 = 0.5; rates 0.2 0.5 0.8 0.4 0.6: Σ(p − μ)² = 0.09 + 0 + 0.09 + 0.01 + 0.01
    # = 0.2, v = 0.2 / 4 = 0.05; h = 1/10; τ² = (0.05 − 0.25 × 0.1) / 0.9 = 1/36;
    # α + β = 0.25 × 36 − 1 = 8: α = β = 4
    prior = fit_prior(FIVE_BOOKS)
    assert prior is not None
    assert prior.fitted
    assert prior.mean == approx(0.5)
    assert prior.strength == approx(8.0)
    assert (prior.alpha, prior.beta) == (approx(4.0), approx(4.0))
    assert prior.shrink(2, 10) == approx(6 / 18 * 100)  # (2 + 4) / (10 + 8) = 33.33 %
    assert prior.shrink(8, 10) == approx(12 / 18 * 100)  # 66.67 %
    assert prior.shrink(0, 0) is None


def test_fit_with_unequal_books() -> None:
    # μ = 20 / 40 = 0.5; rates 0 1 0.5 0.5: v = (0.25 + 0.25) / 3 = 1/6;
    # h = (1/5 + 1/5 + 1/10 + 1/20) / 4 = 11/80; τ² = (1/6 − 0.25 × 11/80) / (69/80) = 127/828;
    # α + β = 0.25 × 828/127 − 1 = 80/127
    prior = fit_prior([(0, 5), (5, 5), (5, 10), (10, 20)])
    assert prior is not None
    assert prior.fitted
    assert prior.mean == approx(0.5)
    assert prior.strength == approx(80 / 127)
    # (0 + 40/127) / (5 + 80/127) = 40 / 715
    assert prior.shrink(0, 5) == approx(40 / 715 * 100)


def test_fit_without_spread_beyond_chance_falls_back_to_the_mean_volume() -> None:
    # three books of 5/10: v = 0 < μ(1 − μ)h → prior mean 0.5, strength Σn / k = 10
    prior = fit_prior([(5, 10), (5, 10), (5, 10)])
    assert prior == Prior(0.5, 10.0, fitted=False)
    assert prior.shrink(1, 2) == approx((1 + 5) / (2 + 10) * 100)  # 50 %


def test_fit_of_one_book_keeps_its_rate() -> None:
    prior = fit_prior([(3, 10)])
    assert prior == Prior(approx(0.3), 10.0, fitted=False)
    assert prior is not None
    assert prior.shrink(3, 10) == approx(30.0)


def test_fit_when_every_rate_is_zero() -> None:
    # μ = 0: α = 0, and every shrunk rate stays 0; strength (5 + 8) / 2 = 6.5
    prior = fit_prior([(0, 5), (0, 8)])
    assert prior == Prior(0.0, 6.5, fitted=False)
    assert prior is not None
    assert prior.shrink(0, 5) == 0.0


def test_fit_when_every_book_has_one_trial() -> None:
    # h = 1: a single trial says nothing about the spread → fallback, μ = 2/3, strength 1
    prior = fit_prior([(1, 1), (0, 1), (1, 1)])
    assert prior == Prior(approx(2 / 3), 1.0, fitted=False)


def test_fit_of_a_spread_wider_than_a_beta_allows_does_not_shrink() -> None:
    # rates 0 and 1 of 10: v = 0.5, h = 0.1, τ² = (0.5 − 0.025) / 0.9 = 0.528 > μ(1 − μ) = 0.25
    # → α + β = 0.25 / 0.528 − 1 < 0 → 0: raw rates
    prior = fit_prior([(0, 10), (10, 10)])
    assert prior == Prior(0.5, 0.0, fitted=True)
    assert prior is not None
    assert prior.shrink(0, 10) == 0.0
    assert prior.shrink(10, 10) == 100.0


def test_fit_ignores_books_without_trials() -> None:
    assert fit_prior([(0, 0)]) is None
    assert fit_prior([(0, 0), *FIVE_BOOKS]) == fit_prior(FIVE_BOOKS)


# -- shrinkage toward the team or the company ------------------------------------------------


def _team(team: str, books: list[tuple[int, int]], prefix: str) -> list[Book]:
    return [Book(f"{prefix}{i}", team, x, n) for i, (x, n) in enumerate(books, start=1)]


def test_a_large_team_shrinks_toward_its_own_rate_a_small_one_toward_the_company() -> None:
    books = _team("A", FIVE_BOOKS, "a") + _team("B", [(3, 10), (7, 10)], "b")
    found = estimates(books)
    # team A (5 RMs with volume): its own prior, α = β = 4 (test_fit_with_equal_books)
    assert found["a1"].prior_source == "team:A"
    assert found["a1"].shrunk == approx(6 / 18 * 100)
    # team B (2 RMs): the company's prior over all 7 books: μ = 35/70 = 0.5;
    # Σ(p − μ)² = 0.2 + 0.04 + 0.04 = 0.28, v = 0.28 / 6 = 7/150; h = 0.1;
    # τ² = (7/150 − 1/40) / 0.9 = 13/540; α + β = 0.25 × 540/13 − 1 = 122/13, α = β = 61/13
    # b1: (3 + 61/13) / (10 + 122/13) = 100/252
    assert found["b1"].prior_source == "company"
    assert found["b1"].shrunk == approx(100 / 252 * 100)
    assert found["b1"].interval == wilson(3, 10)
    assert (found["b1"].successes, found["b1"].trials) == (3, 10)


def test_the_small_team_rule_can_be_changed() -> None:
    # with 2 books enough, team B fits its own: v = (0.04 + 0.04) / 1 = 0.08,
    # τ² = (0.08 − 0.025) / 0.9 = 11/180, α + β = 0.25 × 180/11 − 1 = 34/11, α = β = 17/11
    # b1: (3 + 17/11) / (10 + 34/11) = 50/144
    books = _team("A", FIVE_BOOKS, "a") + _team("B", [(3, 10), (7, 10)], "b")
    found = estimates(books, min_team_books=2)
    assert found["b1"].prior_source == "team:B"
    assert found["b1"].shrunk == approx(50 / 144 * 100)


def test_an_rm_without_a_team_uses_the_company() -> None:
    # company: μ = 30/60 = 0.5, v = 0.2 / 5 = 0.04, τ² = (0.04 − 0.025) / 0.9 = 1/60,
    # α + β = 0.25 × 60 − 1 = 14; x: (5 + 7) / (10 + 14) = 50 %
    books = [*_team("A", FIVE_BOOKS, "a"), Book("x", None, 5, 10)]
    found = estimates(books)
    assert found["x"].prior_source == "company"
    assert found["x"].shrunk == approx(50.0)


def test_an_rm_without_trials_has_no_estimate() -> None:
    found = estimates([*_team("A", FIVE_BOOKS, "a"), Book("z", "A", 0, 0)])
    assert found["z"].interval is None
    assert found["z"].shrunk is None
    assert found["z"].prior_source is None
    assert found["a1"].shrunk == approx(6 / 18 * 100)  # the empty book changes nothing


def test_shrinkage_moves_a_3_client_book_more_than_a_300_client_book() -> None:
    """The issue's test: the same raw rate (1 in 3), very different credibility."""
    team = _team("A", FIVE_BOOKS, "a")
    books = [*team, Book("small", "A", 1, 3), Book("large", "A", 100, 300)]
    found = estimates(books)
    small, large = found["small"], found["large"]
    assert small.shrunk is not None and large.shrunk is not None
    raw = 100 / 3
    team_rate = sum(b.successes for b in books) / sum(b.trials for b in books) * 100
    assert raw < large.shrunk < small.shrunk < team_rate  # both toward the team's 36.7 %
    assert small.shrunk - raw > 10 * (large.shrunk - raw)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.01, 0.99),
    st.floats(0.5, 500),
    st.integers(1, 50),
    st.integers(2, 20),
    st.integers(0, 100),
)
def test_a_smaller_book_always_moves_further(
    mean: float, strength: float, trials: int, factor: int, percent: int
) -> None:
    """(x + α)/(n + α + β) − x/n = s(μ − x/n)/(n + s): smaller n, bigger move."""
    prior = Prior(mean, strength, fitted=True)
    rate = percent / 100
    small = prior.shrink(rate * trials, trials)
    large = prior.shrink(rate * trials * factor, trials * factor)
    assert small is not None and large is not None
    assert abs(small - rate * 100) >= abs(large - rate * 100) - 1e-9
