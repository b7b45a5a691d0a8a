"""Claims on the policies' terms (life: deaths), inside the window and the RM's employment."""

from __future__ import annotations

import math
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
from kraft.demo.book.constants import (
    CLAIM_FREQ,
    CLAIM_REJECT,
    CLAIM_SIGMA,
    CLAIM_WITHDRAW,
    COVER_RATIO,
    LIFE,
    LOSS_RATIO,
    PAID_SHARE,
    SETTLE_MEDIAN,
    SETTLE_SIGMA,
)
from kraft.demo.book.draws import Rng, choice, lognormal_mean
from kraft.demo.book.organisation import Org, Window
from kraft.demo.book.policies import Terms


def claims_table(rng: Rng, org: Org, w: Window, t: Terms, policy_ids: Any) -> Any:
    stop = np.minimum(t.end, w.asof)
    stop = np.where(t.cancel >= 0, np.minimum(stop, t.cancel), stop)
    exposure = np.clip(stop - t.start + 1, 0, None)
    counts = rng.poisson(CLAIM_FREQ[t.line] * exposure / 365.0)
    term = np.repeat(np.arange(t.rm.size), counts)
    loss = t.start[term] + (rng.random(term.size) * exposure[term]).astype(np.int64)
    paid_mean = (PAID_SHARE[0] + PAID_SHARE[1]) / 2.0
    settled_p = 1.0 - CLAIM_REJECT - CLAIM_WITHDRAW
    mean = LOSS_RATIO[t.line[term]] * t.premium[term] / (CLAIM_FREQ[t.line[term]] * settled_p)
    claimed = lognormal_mean(rng, mean / paid_mean, CLAIM_SIGMA)
    # life: one death claim per terminated_death term, for the sum at risk
    dead = np.flatnonzero(t.death >= 0)
    life_need = t.premium[dead] * COVER_RATIO[LIFE] * rng.lognormal(0.0, 0.25, dead.size)
    term = np.concatenate([term, dead])
    loss = np.concatenate([loss, t.death[dead]])
    claimed = np.concatenate([claimed, life_need / paid_mean])
    n = term.size
    intimation = loss + np.rint(rng.lognormal(math.log(2.0), 0.9, n)).astype(np.int64)
    days = np.maximum(
        1, np.rint(rng.lognormal(np.log(SETTLE_MEDIAN[t.line[term]]), SETTLE_SIGMA))
    ).astype(np.int64)
    outcome = choice(rng, np.array([settled_p, CLAIM_REJECT, CLAIM_WITHDRAW]), n)
    settled = intimation + days
    status = np.select([outcome == 2, settled > w.asof, outcome == 1], [3, 0, 2], 1)
    last_doc = intimation + np.rint(days * rng.uniform(0.3, 0.9, n)).astype(np.int64)
    # a claim's rows stay inside the data window and the policy RM's employment
    bound = np.minimum(w.asof, org.exit[t.rm[term]])
    last_event = np.where((status == 1) | (status == 2), settled, intimation)
    keep = last_event <= bound
    term, loss, intimation, settled = term[keep], loss[keep], intimation[keep], settled[keep]
    status, last_doc, claimed = status[keep], last_doc[keep], claimed[keep]
    order = np.lexsort((term, intimation))
    term, loss, intimation, settled = term[order], loss[order], intimation[order], settled[order]
    status, last_doc, claimed = status[order], last_doc[order], claimed[order]
    n = term.size
    paid = claimed * rng.uniform(PAID_SHARE[0], PAID_SHARE[1], n)
    is_open, is_settled = status == 0, status == 1
    claimed = np.rint(claimed)
    return build_table(
        "claims",
        {
            "claim_id": id_column("CL", n, 7),
            "policy_id": take_or_null(policy_ids, term),
            "loss_date": date_column(loss),
            "intimation_date": date_column(intimation),
            "last_document_date": date_column(last_doc, (last_doc > w.asof) | (status == 3)),
            "settled_date": date_column(settled, ~((status == 1) | (status == 2))),
            "status": enum_column("claims", "status", status),
            "amount_claimed": money_column(claimed),
            "amount_paid": money_column(np.minimum(paid, claimed), ~is_settled),
            "outstanding_reserve": money_column(claimed * 0.9, ~is_open),
        },
    )
