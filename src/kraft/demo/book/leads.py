"""Leads: new-client and cross-sell leads, the clients they win, their outcomes, the table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kraft.demo.book.arrow import (
    build_table,
    date_column,
    enum_column,
    id_column,
    money_column,
    take_or_null,
)
from kraft.demo.book.clients import Clients, Picker
from kraft.demo.book.constants import (
    CROSS_LEAD_SOURCE_P,
    CROSS_SELL_WIN,
    CROSS_SELLS_PER_MONTH,
    JOINER_CLIENTS_PER_MONTH,
    LEAD_DECISION_DAYS,
    LINE_WEIGHTS,
    NEW_CLIENTS_PER_MONTH,
    NEW_LEAD_SOURCE_P,
    PREMIUM_SIGMA,
    PROSPECTING_SKILL,
    RETAIL_PREMIUM,
    SEGMENT_P,
    SEGMENT_PREMIUM,
    SKILL_LOGIT,
    WIN_BY_SOURCE,
)
from kraft.demo.book.draws import Arr, Rng, choice, choice_rows, logit, sigmoid
from kraft.demo.book.organisation import Org, Window
from kraft.demo.book.spans import Span, events
from kraft.schema.tables import PRODUCT_LINES, SOURCES


@dataclass
class Leads:
    rm: Arr
    created: Arr
    closed: Arr
    status: Arr  # 0 open, 1 won, 2 lost
    source: Arr
    line: Arr
    segment: Arr
    cross: Arr  # a lead for an existing client
    cross_sell: Arr
    client: Arr
    referred_by: Arr
    expected: Arr

    def subset(self, index: Arr) -> None:
        """Keep (and order) the rows an index or mask selects, one column at a time."""
        for name, values in list(vars(self).items()):
            setattr(self, name, values[index])


def lead_events(rng: Rng, org: Org, w: Window, months: Span) -> Leads:
    rm_role = ~org.manager
    new_rate = (  # an engaged RM prospects more (and so is referred more)
        np.where(org.joiner, JOINER_CLIENTS_PER_MONTH, NEW_CLIENTS_PER_MONTH)
        * org.size
        * np.exp(PROSPECTING_SKILL * org.skill)
        / float(NEW_LEAD_SOURCE_P @ WIN_BY_SOURCE)
    )
    cross_rate = CROSS_SELLS_PER_MONTH * org.size / CROSS_SELL_WIN
    new_rate = np.where(rm_role & ~org.tiny, new_rate, 0.0)[:, None]  # a tiny book stays tiny
    cross_rate = np.where(rm_role & ~org.tiny, cross_rate, 0.0)[:, None]
    rm_n, _, day_n = events(rng, months, np.broadcast_to(new_rate, months.lo.shape))
    rm_x, _, day_x = events(rng, months, np.broadcast_to(cross_rate, months.lo.shape))
    rm = np.concatenate([rm_n, rm_x])
    created = np.concatenate([day_n, day_x])
    cross = np.r_[np.zeros(rm_n.size, dtype=bool), np.ones(rm_x.size, dtype=bool)]
    n = rm.size
    source = np.where(cross, choice(rng, CROSS_LEAD_SOURCE_P, n), choice(rng, NEW_LEAD_SOURCE_P, n))
    base = np.where(cross, CROSS_SELL_WIN, WIN_BY_SOURCE[source])
    won = rng.random(n) < sigmoid(logit(base) + SKILL_LOGIT * org.skill[rm])
    delay = 1 + np.rint(rng.lognormal(math.log(18.0), 0.7, n)).astype(np.int64)
    delay = np.minimum(delay, LEAD_DECISION_DAYS)
    closed = created + delay
    late = closed > org.exit[rm]  # a leaver's lead still undecided at exit: lost on exit
    closed = np.where(late, org.exit[rm], closed)
    won &= ~late
    status = np.where(closed > w.asof, 0, np.where(won, 1, 2))
    segment = choice(rng, SEGMENT_P, n)
    line = choice_rows(rng, LINE_WEIGHTS[segment])
    return Leads(
        rm=rm.astype(np.int32),
        created=created.astype(np.int32),
        closed=closed.astype(np.int32),
        status=status.astype(np.int8),
        source=source.astype(np.int8),
        line=line.astype(np.int8),
        segment=segment.astype(np.int8),
        cross=cross,
        cross_sell=cross.copy(),
        client=np.full(n, -1, dtype=np.int32),
        referred_by=np.full(n, -1, dtype=np.int32),
        expected=np.zeros(n),
    )


def all_clients(
    rng: Rng, org: Org, pre: dict[str, Arr], pre_chains: dict[str, Arr], leads: Leads
) -> Clients:
    """All clients ordered by acquired_date; the leads and chains pointed at the new indices."""
    new = np.flatnonzero(~leads.cross & (leads.status == 1))
    owner = np.concatenate([pre["owner"], leads.rm[new]])
    acquired = np.concatenate([pre["acquired"], leads.closed[new]])
    segment = np.concatenate([pre["segment"], leads.segment[new]])
    source = np.concatenate([pre["source"], leads.source[new]])
    order = np.lexsort((owner, acquired))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    n_pre = pre["owner"].size
    pre_chains["client"] = inverse[pre_chains["client"]]
    leads.client[new] = inverse[n_pre + np.arange(new.size)]
    owner, acquired, segment, source = owner[order], acquired[order], segment[order], source[order]
    picker = Picker(owner, acquired)
    referral = SOURCES.index("referral")
    referred_by = np.full(owner.size, -1, dtype=np.int64)
    # existing clients who refer: of the lead's RM, acquired before the lead was created
    ref = np.flatnonzero(leads.source == referral)
    leads.referred_by[ref] = picker.pick(rng, leads.rm[ref], leads.created[ref], strict=True)
    referred_by[leads.client[new]] = leads.referred_by[new]
    # pre-window clients from a referral: the referrer is on file for most
    old_ref = np.flatnonzero((source == referral) & (referred_by < 0))
    old_ref = old_ref[np.isin(old_ref, leads.client[new], invert=True)]
    old_ref = old_ref[rng.random(old_ref.size) < 0.7]
    referred_by[old_ref] = picker.pick(rng, owner[old_ref], acquired[old_ref], strict=True)
    # cross-sell leads: a client of the RM acquired before the lead
    x = np.flatnonzero(leads.cross)
    leads.client[x] = picker.pick(rng, leads.rm[x], leads.created[x], strict=True)
    return Clients(owner, segment, acquired, source, referred_by, picker)


def finish_leads(rng: Rng, leads: Leads, clients: Clients, held: Arr) -> Leads:
    """Drop cross-sell leads without a client; give them a line the client does not hold."""
    keep = ~leads.cross | (leads.client >= 0)
    leads.subset(keep)
    x = np.flatnonzero(leads.cross)
    seg = clients.segment[leads.client[x]]
    leads.segment[x] = seg
    mask = held[leads.client[x]]
    bits = (mask[:, None] >> np.arange(len(PRODUCT_LINES))[None, :]) & 1
    keys = np.log(LINE_WEIGHTS[seg]) - np.log(-np.log(rng.random(bits.shape)))
    full: Arr = np.all(bits == 1, axis=1)
    keys = np.where((bits == 1) & ~full[:, None], -np.inf, keys)
    leads.line[x] = np.argmax(keys, axis=1)
    leads.cross_sell[x] = ~full
    median = RETAIL_PREMIUM[leads.line] * SEGMENT_PREMIUM[leads.segment]
    leads.expected = np.asarray(rng.lognormal(np.log(median), PREMIUM_SIGMA))
    leads.subset(np.lexsort((leads.rm, leads.created)))
    return leads


def leads_table(leads: Leads, rm_ids: Any, client_ids: Any) -> Any:
    n = leads.rm.size
    return build_table(
        "leads",
        {
            "lead_id": id_column("L", n, 7),
            "rm_id": take_or_null(rm_ids, leads.rm),
            "client_id": take_or_null(client_ids, leads.client),
            "created_date": date_column(leads.created),
            "source": enum_column("leads", "source", leads.source),
            "referred_by_client_id": take_or_null(client_ids, leads.referred_by),
            "product_line": enum_column("leads", "product_line", leads.line),
            "cross_sell": leads.cross_sell,
            "status": enum_column("leads", "status", leads.status),
            "closed_date": date_column(leads.closed, leads.status == 0),
            "expected_premium": money_column(leads.expected),
        },
    )
