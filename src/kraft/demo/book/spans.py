"""Each RM's employed days inside periods, and events drawn on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kraft.demo.book.draws import Arr, Rng, between
from kraft.demo.book.organisation import Org


@dataclass(frozen=True)
class Span:
    """Each RM's employed days inside each of some periods (n × periods)."""

    lo: Arr
    hi: Arr
    frac: Arr  # employed share of the period

    @property
    def employed(self) -> Arr:
        return self.hi >= self.lo


def employed_span(org: Org, starts: Arr, ends: Arr) -> Span:
    lo = np.maximum(org.lo[:, None], starts[None, :])
    hi = np.minimum(org.hi[:, None], ends[None, :])
    days = np.clip(hi - lo + 1, 0, None)
    frac = days / (ends - starts + 1)[None, :]
    frac[org.manager] = 0.0  # managers have no book and no activity rows
    return Span(lo, hi, frac)


def events(rng: Rng, span: Span, rate: Arr) -> tuple[Arr, Arr, Arr]:
    """Poisson(rate × employed share) events per RM and period, on uniform employed days."""
    lam = np.where(span.employed, rate * span.frac, 0.0)
    counts = rng.poisson(lam).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    rm, period = np.divmod(cell, lam.shape[1])
    day = between(rng, span.lo.ravel()[cell], span.hi.ravel()[cell])
    return rm, period, day


def once(rng: Rng, span: Span, p: float | Arr) -> tuple[Arr, Arr, Arr]:
    """At most one event per RM and period (probability p, less for a short employment)."""
    hit = span.employed & (rng.random(span.lo.shape) < p * np.minimum(1.0, 2.0 * span.frac))
    rm, period = np.nonzero(hit)
    return rm, period, between(rng, span.lo[rm, period], span.hi[rm, period])
