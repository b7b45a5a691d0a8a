"""Credibility for small books: how sure a ratio is, and what it says once chance is allowed for.

A 2-of-3 retention rate and a 200-of-300 one are both 66.7 %, and only the second says much about
the RM. For the KPIs whose value is successes ÷ trials over counted rows (`credibility_kpis`),
this module gives

* the Wilson 95 % score interval of the rate (in percent), and
* an empirical-Bayes estimate: a beta prior is fitted by the method of moments to the rates of
  the RM's team (or of the company, when the team has fewer than `MIN_TEAM_BOOKS` RMs with volume)
  and the RM's rate is shrunk toward it, (x + α) ÷ (n + α + β). Small books move a lot, large
  books hardly at all.

Scores use the raw values; these numbers are for ranking and for reading a result with care.
Plain floats: nothing here is a score or money that gets summed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kraft.framework.model import Framework, KpiKind, Unit
from kraft.metrics.spec import Catalogue

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile
MIN_TEAM_BOOKS = 5  # fewer RMs with volume in the team: the prior is fitted to the company's RMs
COUNTED = frozenset({"count", "count_distinct"})


def credibility_kpis(framework: Framework, catalogue: Catalogue) -> dict[str, bool]:
    """The framework's proportion KPIs: kpi_id → whether the numerator can exceed the denominator.

    A KPI qualifies when it is computed, in percent, and its catalogue metric is one counted
    measure ÷ another counted measure × 100. A numerator counted over the same fact as the
    denominator is a subset of it (≤ 100 %); one from another fact is not (referral_rate counts
    referring clients against the active clients at the start), so it is clamped to the
    denominator here. Differences of counts (market_penetration_growth_rate), sums (loss ratio),
    means and the score-derived and manual KPIs are not proportions and are left out.
    """
    found: dict[str, bool] = {}
    for _, kpi in framework.kpis():
        if kpi.kind is not KpiKind.computed or kpi.unit is not Unit.percent or not kpi.metric:
            continue
        metric = catalogue.metrics.get(kpi.metric)
        if metric is None or metric.derived is not None or metric.scale != 100:
            continue
        top = metric.measures.get(metric.numerator or "")
        bottom = metric.measures.get(metric.denominator or "")
        if top is None or bottom is None or top.agg not in COUNTED or bottom.agg not in COUNTED:
            continue
        found[kpi.id] = top.fact != bottom.fact
    return found


@dataclass(frozen=True)
class Interval:
    """A 95 % interval of a rate, in percent."""

    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


def clamp_successes(successes: float, trials: float) -> float:
    """Successes within [0, trials]: a rate above 100 % counts as 100 % for credibility."""
    return min(max(successes, 0.0), trials)


def wilson(successes: float, trials: float, z: float = Z95) -> Interval | None:
    """The Wilson score interval of successes ÷ trials, in percent; None without trials."""
    if trials <= 0:
        return None
    x = clamp_successes(successes, trials)
    p = x / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    low = 0.0 if x == 0 else max(0.0, centre - half)
    high = 1.0 if x == trials else min(1.0, centre + half)
    return Interval(low * 100, high * 100)


@dataclass(frozen=True)
class Prior:
    """A beta prior: its mean (a rate, 0–1) and strength α + β (in pseudo-trials)."""

    mean: float
    strength: float
    fitted: bool  # False: the fallback (too few books, or no spread beyond chance)

    @property
    def alpha(self) -> float:
        return self.mean * self.strength

    @property
    def beta(self) -> float:
        return (1 - self.mean) * self.strength

    def shrink(self, successes: float, trials: float) -> float | None:
        """The posterior mean (x + α) ÷ (n + α + β), in percent; None without trials."""
        if trials <= 0:
            return None
        x = clamp_successes(successes, trials)
        return (x + self.alpha) / (trials + self.strength) * 100


def fit_prior(books: Iterable[tuple[float, float]]) -> Prior | None:
    """Method of moments for a beta-binomial, from each RM's (successes, trials).

    Prior mean μ = Σx ÷ Σn (the group's rate, a ratio of sums as KPIS.md's team values). With the
    RMs' rates pᵢ = xᵢ ÷ nᵢ, their sample variance about μ is v = Σ(pᵢ − μ)² ÷ (k − 1); a rate
    from nᵢ trials varies by τ² + (μ(1 − μ) − τ²) ÷ nᵢ, so the spread of the true rates is
    τ² = (v − μ(1 − μ)·h) ÷ (1 − h) with h the mean of 1 ÷ nᵢ, and α + β = μ(1 − μ) ÷ τ² − 1.

    Degenerate moments (fewer than two books, every book of one trial, μ of 0 or 1, or no spread
    beyond chance: τ² ≤ 0) fall back to the prior mean μ with the strength of the group's mean
    volume Σn ÷ k: a book of average size keeps half its own rate. A spread so wide that
    α + β ≤ 0 means no shrinkage (strength 0). Books without trials are ignored; None when none
    has any.
    """
    kept = [(clamp_successes(x, n), n) for x, n in books if n > 0]
    if not kept:
        return None
    k = len(kept)
    total = sum(n for _, n in kept)
    mean = sum(x for x, _ in kept) / total
    fallback = Prior(mean, total / k, fitted=False)
    spread = mean * (1 - mean)
    if k < 2 or spread <= 0:
        return fallback
    h = sum(1 / n for _, n in kept) / k
    if h >= 1:
        return fallback
    v = sum((x / n - mean) ** 2 for x, n in kept) / (k - 1)
    tau2 = (v - spread * h) / (1 - h)
    if tau2 <= 0:
        return fallback
    return Prior(mean, max(spread / tau2 - 1, 0.0), fitted=True)


@dataclass(frozen=True)
class Book:
    """One RM's successes and trials for one proportion KPI and period."""

    rm_id: str
    team_id: str | None
    successes: float
    trials: float


@dataclass(frozen=True)
class Estimate:
    """A proportion KPI's credibility for one RM: the interval and the shrunk rate (percent)."""

    rm_id: str
    successes: float
    trials: float
    interval: Interval | None
    shrunk: float | None
    prior_source: str | None  # team:<id> or company; None without trials


def estimates(books: Sequence[Book], min_team_books: int = MIN_TEAM_BOOKS) -> dict[str, Estimate]:
    """Every RM's interval and shrunk rate, each toward its team's prior or the company's.

    A team's prior is fitted to its RMs' books (team_id equal) with trials; a team with fewer
    than `min_team_books` such RMs, and an RM without a team, use the prior fitted to every book.
    """
    company = fit_prior((b.successes, b.trials) for b in books)
    by_team: dict[str, list[Book]] = {}
    for book in books:
        if book.team_id is not None and book.trials > 0:
            by_team.setdefault(book.team_id, []).append(book)
    priors: dict[str, Prior | None] = {
        team: fit_prior((b.successes, b.trials) for b in members)
        for team, members in by_team.items()
        if len(members) >= min_team_books
    }
    result: dict[str, Estimate] = {}
    for book in books:
        prior, source = company, "company"
        team_prior = priors.get(book.team_id) if book.team_id is not None else None
        if team_prior is not None:
            prior, source = team_prior, f"team:{book.team_id}"
        shrunk = prior.shrink(book.successes, book.trials) if prior is not None else None
        result[book.rm_id] = Estimate(
            book.rm_id,
            book.successes,
            book.trials,
            wilson(book.successes, book.trials),
            shrunk,
            source if shrunk is not None else None,
        )
    return result
