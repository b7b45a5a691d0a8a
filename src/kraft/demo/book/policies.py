"""Policies: chains of terms (new business, then renewals), the table, document checks."""

from __future__ import annotations

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
from kraft.demo.book.clients import Clients
from kraft.demo.book.constants import (
    ADEQUATE_P,
    CANCEL_P,
    COVER_RATIO,
    DEATH_P,
    FREE_LOOK_DAYS,
    FREE_LOOK_P,
    GRACE_DAYS,
    HANDOVER_DAYS,
    LAPSE_P,
    LATE_RENEWAL_DAYS,
    LATE_SHARE,
    MATURE_P,
    OTHER_RM_RENEWAL,
    PERSONALISED_P,
    PREMIUM_SIGMA,
    RENEWAL_UPLIFT,
    RETAIL_PREMIUM,
    SEGMENT_PREMIUM,
)
from kraft.demo.book.draws import Arr, Rng, add_year, between
from kraft.demo.book.leads import Leads
from kraft.demo.book.organisation import Org, Window
from kraft.schema.tables import table


@dataclass
class Terms:
    """Policy terms in output order (sorted by issue_date)."""

    chain: Arr
    client: Arr
    rm: Arr
    line: Arr
    business: Arr  # 0 new, 1 renewal
    prev: Arr  # index of the renewed term, -1
    issue: Arr
    start: Arr
    end: Arr
    status: Arr  # code into the status enum
    cancel: Arr  # -1 when none
    death: Arr  # -1 when none
    premium: Arr


STATUS = table("policies").column("status").enum
IN_FORCE, EXPIRED, LAPSED, CANCELLED, MATURED, DEATH = (
    STATUS.index(s)
    for s in ("in_force", "expired", "lapsed", "cancelled", "matured", "terminated_death")
)


def policy_chains(
    rng: Rng, w: Window, clients: Clients, leads: Leads, pre: dict[str, Arr]
) -> dict[str, Arr]:
    """Pre-window chains, then one per won lead (a new client's first policy, or a cross-sell)."""
    won = np.flatnonzero(leads.status == 1)
    client = np.concatenate([pre["client"], leads.client[won]])
    line = np.concatenate([pre["line"], leads.line[won]])
    issue = np.concatenate([pre["issue"], leads.closed[won]])
    start_new = np.minimum(leads.closed[won] + between(rng, 0, 7, won.size), w.asof)
    start = np.concatenate([pre["start"], start_new])
    segment = clients.segment[client]
    median = RETAIL_PREMIUM[pre["line"]] * SEGMENT_PREMIUM[segment[: pre["line"].size]]
    premium = np.concatenate(
        [
            rng.lognormal(np.log(median), PREMIUM_SIGMA),
            leads.expected[won] * rng.uniform(0.85, 1.15, won.size),
        ]
    )
    return {
        "client": client.astype(np.int32),
        "owner": clients.owner[client],
        "line": line.astype(np.int8),
        "issue": issue,
        "start": start,
        "premium": np.round(premium, 0),
    }


def policy_terms(
    rng: Rng,
    org: Org,
    w: Window,
    chains: dict[str, Arr],
    init_start: int,
    uplift: float = RENEWAL_UPLIFT,
) -> Terms:
    """Every term of every chain: new business, then renewals generation by generation."""
    owner = chains["owner"]
    line_of = chains["line"]
    cur = np.arange(owner.size)
    start, issue, premium = chains["start"], chains["issue"], chains["premium"]
    prev = np.full(cur.size, -1, dtype=np.int64)
    generation = 0
    pieces: list[dict[str, Arr]] = []
    offset = 0
    while cur.size:
        n = cur.size
        own = owner[cur]
        line = line_of[cur]
        end = add_year(start) - 1
        rm = _writers(rng, org, own, end, generation)
        status, cancel, death, due = _early_ends(rng, w.asof, line, issue, start, end, generation)
        p = org.p_renew[rm] + uplift * (org.participant[rm] & (end >= init_start))
        renew, next_start, next_issue = _renewals(rng, w.asof, end, due, p)
        pieces.append(
            {
                "chain": cur.astype(np.int32),
                "rm": rm.astype(np.int32),
                "business": np.full(n, min(generation, 1), dtype=np.int8),
                "prev": prev.astype(np.int32),
                "issue": issue.astype(np.int32),
                "start": start.astype(np.int32),
                "end": end.astype(np.int32),
                "status": status.astype(np.int8),
                "cancel": cancel.astype(np.int32),
                "death": death.astype(np.int32),
                "premium": premium,
            }
        )
        index = offset + np.arange(n)
        offset += n
        cur, start, issue = cur[renew], next_start[renew], next_issue[renew]
        premium = premium[renew] * np.clip(
            1.0 + rng.normal(0.05, 0.03, int(renew.sum())), 0.9, None
        )
        prev = index[renew]
        generation += 1
    return _in_issue_order(pieces, chains)


def _writers(rng: Rng, org: Org, own: Arr, end: Arr, generation: int) -> Arr:
    """The RM writing each term: the owner, a leaver's successor, now and then a teammate."""
    rm = own.copy()
    handed = org.leaver[own] & (end > org.exit[own] - HANDOVER_DAYS)
    rm[handed] = org.successor[own[handed]]
    if generation:
        other = rng.random(own.size) < OTHER_RM_RENEWAL
        rm[other] = org.teammate(rng, own[other])
    return rm


def _early_ends(
    rng: Rng, asof: int, line: Arr, issue: Arr, start: Arr, end: Arr, generation: int
) -> tuple[Arr, Arr, Arr, Arr]:
    """Each term's status, cancel and death days, and whether it ran to its end (renewal due)."""
    n = line.size
    u = rng.random(n)
    p_free = FREE_LOOK_P if generation == 0 else 0.0
    cut = np.cumsum([np.full(n, p_free), np.full(n, CANCEL_P), LAPSE_P[line], DEATH_P[line]], 0)
    kind = (u[None, :] >= cut).sum(axis=0)  # 0 free-look, 1 cancel, 2 lapse, 3 death, 4 none
    when = np.select(
        [kind == 0, kind == 1, kind == 2],
        [
            issue + between(rng, 1, FREE_LOOK_DAYS, n),
            start + between(rng, 31, 364, n),
            start + between(rng, 60, 364, n),
        ],
        start + between(rng, 0, 364, n),
    )
    happened = (kind < 4) & (when <= asof)
    ran_out = ~happened & (end < asof)
    matured = ran_out & (rng.random(n) < MATURE_P[line])
    status = np.select(
        [happened & (kind <= 1), happened & (kind == 2), happened & (kind == 3), matured],
        [CANCELLED, LAPSED, DEATH, MATURED],
        np.where(ran_out, EXPIRED, IN_FORCE),
    )
    cancel = np.where(happened & (kind <= 2), when, -1)
    death = np.where(happened & (kind == 3), when, -1)
    return status, cancel, death, ran_out & ~matured


def _renewals(rng: Rng, asof: int, end: Arr, due: Arr, p: Arr) -> tuple[Arr, Arr, Arr]:
    """Which due terms renew (on time with probability p, some late) and the next term's days."""
    n = end.size
    v = rng.random(n)
    on_time = due & (v < np.minimum(p, 1.0))
    late = due & ~on_time & (v < p + (1.0 - p) * LATE_SHARE)
    gap = np.where(rng.random(n) < 0.85, 1, between(rng, 2, GRACE_DAYS, n))
    gap = np.where(late, between(rng, *LATE_RENEWAL_DAYS, size=n), gap)
    next_start = end + gap
    next_issue = next_start - np.where(gap == 1, between(rng, 0, 21, n), between(rng, 0, 3, n))
    renew = (on_time | late) & (next_start <= asof)
    return renew, next_start, next_issue


def _in_issue_order(pieces: list[dict[str, Arr]], chains: dict[str, Arr]) -> Terms:
    """The generations' terms as one set sorted by issue day, `prev` pointed at the new order."""
    cols: dict[str, Arr] = {}
    for k in list(pieces[0]):  # one column at a time: the peak stays near one copy
        cols[k] = np.concatenate([p.pop(k) for p in pieces])
    order = np.lexsort((cols["chain"], cols["issue"]))
    for k in cols:
        cols[k] = cols[k][order]
    inverse = np.empty(order.size, dtype=np.int32)
    inverse[order] = np.arange(order.size, dtype=np.int32)
    del order
    cols["prev"] = np.where(cols["prev"] >= 0, inverse[np.maximum(cols["prev"], 0)], -1)
    return Terms(client=chains["client"][cols["chain"]], line=chains["line"][cols["chain"]], **cols)


def policies_table(
    rng: Rng,
    org: Org,
    w: Window,
    t: Terms,
    ids: tuple[Any, Any, Any],  # policy, client and RM ids
    init: int,
    effect: float = 1.0,
) -> Any:
    policy_ids, client_ids, rm_ids = ids
    n = t.rm.size
    skill = org.skill[t.rm]
    new = t.business == 0
    # needs assessment: most new business assessed on or before issue, some late, some never
    ok = rng.random(n) < np.where(new, np.clip(0.9 + 0.06 * skill, 0.7, 0.995), 0.7)
    late = new & ~ok & (rng.random(n) < 0.5)
    ra = np.where(ok, t.issue - between(rng, 0, 30, n), -1)
    ra = np.where(late, t.issue + between(rng, 1, 45, n), ra)
    ra = np.where(ra > w.asof, -1, ra)
    ra = np.where(ra >= 0, np.maximum(ra, org.hire[t.rm]), -1)
    need = t.premium * COVER_RATIO[t.line] * rng.lognormal(0.0, 0.25, n)
    adequate = rng.random(n) < np.clip(ADEQUATE_P + 0.05 * skill, 0.5, 0.9)
    insured = need * np.where(adequate, rng.uniform(1.0, 1.6, n), rng.uniform(0.5, 0.98, n))
    insured = np.rint(insured / 1000.0) * 1000.0
    need = np.rint(need / 1000.0) * 1000.0
    insured = np.where(adequate, np.maximum(insured, need), np.minimum(insured, need - 1000.0))
    insured = np.maximum(insured, 0.0)
    general, planted = PERSONALISED_P
    if effect != 1.0:  # scaled with the planted renewal effect (1.0: exactly the constants)
        planted = general + (planted - general) * effect
    personal = rng.random(n) < np.where(org.participant[t.rm] & (t.issue >= init), planted, general)
    return build_table(
        "policies",
        {
            "policy_id": policy_ids,
            "client_id": take_or_null(client_ids, t.client),
            "rm_id": take_or_null(rm_ids, t.rm),
            "product_line": enum_column("policies", "product_line", t.line),
            "business_type": enum_column("policies", "business_type", t.business),
            "renewal_of_policy_id": take_or_null(policy_ids, t.prev),
            "issue_date": date_column(t.issue),
            "start_date": date_column(t.start),
            "end_date": date_column(t.end),
            "status": enum_column("policies", "status", t.status),
            "cancel_date": date_column(t.cancel, t.cancel < 0),
            "annual_premium": money_column(t.premium),
            "sum_insured": money_column(insured, rng.random(n) < 0.01),
            "assessed_need": money_column(need, ra < 0),
            "risk_assessment_date": date_column(ra, ra < 0),
            "personalised": personal,
        },
    )


def document_checks_table(
    rng: Rng, org: Org, w: Window, t: Terms, policy_ids: Any, rm_ids: Any
) -> Any:
    term = np.flatnonzero((t.issue >= w.first) & (rng.random(t.rm.size) < 0.35))
    rm = t.rm[term]
    day = np.minimum(t.issue[term] + between(rng, 0, 7, term.size), org.hi[rm])
    day = np.maximum(day, t.issue[term])
    good = rng.random(term.size) < np.clip(0.935 + 0.025 * org.skill[rm], 0.8, 0.995)
    defects = np.where(good, 0, 1 + rng.poisson(0.5, term.size))
    no_policy = rng.random(term.size) < 0.03  # e.g. a KYC check not tied to one policy
    order = np.lexsort((term, day))
    term, rm, day, good, defects, no_policy = (
        np.asarray(a)[order] for a in (term, rm, day, good, defects, no_policy)
    )
    return build_table(
        "document_checks",
        {
            "check_id": id_column("D", term.size, 7),
            "rm_id": take_or_null(rm_ids, rm),
            "policy_id": take_or_null(policy_ids, np.where(no_policy, -1, term)),
            "date": date_column(day),
            "in_good_order": good,
            "defects": defects.astype(np.int64),
        },
    )
