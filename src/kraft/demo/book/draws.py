"""Vectorised draws and day arithmetic: dates are int64 day numbers (days since 1970-01-01)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

Arr = npt.NDArray[Any]
Rng = np.random.Generator


_EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def add_year(days: Arr) -> Arr:
    """The same calendar day one year later (29 February → 1 March)."""
    d64 = days.astype("datetime64[D]")
    month = d64.astype("datetime64[M]")
    dom = d64 - month.astype("datetime64[D]")
    later: Arr = (month + 12).astype("datetime64[D]") + dom
    return later.astype(np.int64)


def sigmoid(x: Arr) -> Arr:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: float | Arr) -> Any:
    return np.log(p) - np.log1p(-np.asarray(p))


def phi(x: Arr) -> Arr:
    return np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.tolist()])


def between(rng: Rng, lo: Arr | int, hi: Arr | int, size: int | None = None) -> Arr:
    """A uniform integer in [lo, hi] (inclusive), element-wise."""
    lo_a = np.asarray(lo, dtype=np.int64)
    hi_a = np.asarray(hi, dtype=np.int64)
    shape = np.broadcast_shapes(lo_a.shape, hi_a.shape, () if size is None else (size,))
    return lo_a + (rng.random(shape) * (hi_a - lo_a + 1)).astype(np.int64)


def choice(rng: Rng, p: Arr, size: int) -> Arr:
    """Category codes drawn with probabilities p (normalised)."""
    cdf = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(p) - 1)


def choice_rows(rng: Rng, weights: Arr) -> Arr:
    """One category per row of a weight matrix (rows need not sum to 1)."""
    cdf = np.cumsum(weights, axis=1)
    u = rng.random(weights.shape[0]) * cdf[:, -1]
    below: Arr = (cdf < u[:, None]).sum(axis=1)
    return np.asarray(np.minimum(below, weights.shape[1] - 1))


def lognormal_mean(rng: Rng, mean: Arr, sigma: float) -> Arr:
    return np.asarray(rng.lognormal(np.log(mean) - sigma * sigma / 2.0, sigma))


def likert(rng: Rng, mean: Arr, sd: float, low: int = 1, high: int = 5) -> Arr:
    return np.clip(np.rint(rng.normal(mean, sd)), low, high)


def stack(pieces: list[dict[str, Arr]], order_by: tuple[str, ...]) -> dict[str, Arr]:
    """Concatenate row pieces column by column, then sort by the keys (last key first)."""
    cols: dict[str, Arr] = {}
    for k in list(pieces[0]):
        cols[k] = np.concatenate([p.pop(k) for p in pieces])
    order = np.lexsort(tuple(cols[k] for k in order_by))
    for k in cols:
        cols[k] = cols[k][order]
    return cols
