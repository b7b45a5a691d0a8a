"""Clients: the book before the window, every client in acquisition order, the table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kraft.demo.book.arrow import (
    build_table,
    company_names,
    date_column,
    enum_column,
    id_column,
    person_names,
    take_or_null,
)
from kraft.demo.book.constants import CITIES, CLIENT_SOURCE_P, LINE_WEIGHTS, SEGMENT_P, ZONES
from kraft.demo.book.draws import Arr, Rng, between, choice
from kraft.demo.book.organisation import Org, Window
from kraft.schema.tables import PRODUCT_LINES


class Picker:
    """A random client of an RM acquired before a day, for many (rm, day) pairs at once."""

    _K = 1 << 22

    def __init__(self, owner: Arr, acquired: Arr) -> None:
        self.base = int(acquired.min()) - 1 if acquired.size else 0
        key = owner.astype(np.int64) * self._K + (acquired - self.base)
        self.order = np.argsort(key, kind="stable")
        self.key = key[self.order]

    def pick(self, rng: Rng, rm: Arr, day: Arr, strict: bool) -> Arr:
        if self.key.size == 0:
            return np.full(rm.size, -1, dtype=np.int64)
        rm = rm.astype(np.int64)
        first = np.searchsorted(self.key, rm * self._K)
        offset = np.clip(day - self.base, 0, self._K - 1)
        last = np.searchsorted(self.key, rm * self._K + offset, side="left" if strict else "right")
        count = last - first
        j = np.minimum(first + (rng.random(rm.size) * count).astype(np.int64), self.key.size - 1)
        return np.where(count > 0, self.order[j], -1)


@dataclass
class Clients:
    owner: Arr
    segment: Arr
    acquired: Arr
    source: Arr
    referred_by: Arr
    picker: Picker


def pre_window_book(rng: Rng, org: Org, w: Window) -> tuple[dict[str, Arr], dict[str, Arr]]:
    """Clients acquired before the window and their chains' terms in force at its start."""
    n_pre = np.where(org.manager | org.joiner, 0, org.size).astype(np.int64)
    owner = np.repeat(np.arange(org.n), n_pre)
    n = owner.size
    segment = choice(rng, SEGMENT_P, n)
    lines_held = 1 + np.minimum(rng.poisson(0.12 + 0.5 * (segment >= 2)), 3)
    # distinct lines by segment weights (Gumbel top-k)
    keys = np.log(LINE_WEIGHTS[segment]) - np.log(-np.log(rng.random((n, len(PRODUCT_LINES)))))
    ranked = np.argsort(-keys, axis=1)
    take = np.arange(len(PRODUCT_LINES))[None, :] < lines_held[:, None]
    client = np.nonzero(take)[0]
    line = ranked[take]
    start = w.first - between(rng, 0, 364, client.size)
    issue = start - between(rng, 0, 14, client.size)
    first_issue = np.minimum.reduceat(issue, np.flatnonzero(np.r_[True, np.diff(client) != 0]))
    back = np.where(rng.random(n) < 0.2, 0, between(rng, 1, 3650, n))
    clients = {
        "owner": owner,
        "segment": segment,
        "acquired": first_issue - back,
        "source": choice(rng, CLIENT_SOURCE_P, n),
    }
    chains = {"client": client, "line": line, "issue": issue, "start": start}
    return clients, chains


def clients_table(rng: Rng, org: Org, c: Clients) -> tuple[Any, Any]:
    n = c.owner.size
    client_ids = id_column("C", n, 7)
    company = c.segment >= 2
    names = pc.if_else(pa.array(company), company_names(rng, n), person_names(rng, n))
    territories = pa.array([f"{city} {zone}" for city, _ in CITIES for zone in ZONES])
    territory = org.team_city[org.team[c.owner]] * len(ZONES) + rng.integers(0, len(ZONES), n)
    tab = build_table(
        "clients",
        {
            "client_id": client_ids,
            "name": names,
            "segment": enum_column("clients", "segment", c.segment),
            "territory": territories.take(pa.array(territory)),
            "acquired_date": date_column(c.acquired),
            "source": enum_column("clients", "source", c.source),
            "referred_by_client_id": take_or_null(client_ids, c.referred_by),
        },
    )
    return tab, client_ids
