"""Surveys: CSAT, education feedback, digital service and employee satisfaction."""

from __future__ import annotations

from typing import Any

import numpy as np

from kraft.demo.book.arrow import build_table, date_column, enum_column, id_column, take_or_null
from kraft.demo.book.constants import CSAT_UPLIFT
from kraft.demo.book.draws import Arr, Rng, between, choice, likert, logit, sigmoid
from kraft.demo.book.interactions import COMPLETED, ClientContact, Interactions
from kraft.demo.book.spans import events
from kraft.schema.tables import table

SURVEY_TYPES = table("surveys").column("survey_type").enum
Responses = tuple[Arr, Arr, Arr, Arr, Arr, Arr]  # survey type, rm, client, day, score, scale max


def surveys_table(rng: Rng, contact: ClientContact, rows: Interactions) -> Any:
    """Every survey response; CSAT and education feedback follow completed interactions."""
    kinds = table("interactions").column("type").enum
    done = (rows.status == COMPLETED) & (rows.client >= 0)
    service = np.isin(rows.kind, [kinds.index("meeting"), kinds.index("service_visit")])
    parts = [_csat(rng, contact, rows, done & service)]
    edu = done & (rows.kind == kinds.index("education_session"))
    parts += _education_feedback(rng, contact, rows, edu)
    parts.append(_digital_service(rng, contact))
    parts.append(_employee_satisfaction(rng, contact))
    kind, rm, client, day, score, high = (np.concatenate([p[i] for p in parts]) for i in range(6))
    order = np.lexsort((rm, day))
    kind, rm, client, day, score, high = (a[order] for a in (kind, rm, client, day, score, high))
    return build_table(
        "surveys",
        {
            "response_id": id_column("R", rm.size, 7),
            "survey_type": enum_column("surveys", "survey_type", kind),
            "rm_id": take_or_null(contact.rm_ids, rm),
            "client_id": take_or_null(contact.client_ids, client),
            "date": date_column(day),
            "score": score,
            "scale_min": np.ones(rm.size),
            "scale_max": high,
        },
    )


def _after(rng: Rng, contact: ClientContact, rows: Interactions, idx: Arr) -> tuple[Arr, Arr, Arr]:
    """The RM, client and day of a response to interactions idx: within 5 days, while employed."""
    rm = rows.rm[idx]
    day = np.minimum(rows.day[idx] + between(rng, 0, 5, idx.size), contact.org.hi[rm])
    return rm, rows.client[idx], day


def _csat(rng: Rng, contact: ClientContact, rows: Interactions, eligible: Arr) -> Responses:
    """CSAT after meetings and service visits; 1-5, one in ten on 1-10."""
    org = contact.org
    idx = np.flatnonzero(eligible & (rng.random(rows.rm.size) < 0.15))
    rm, client, day = _after(rng, contact, rows, idx)
    uplift = CSAT_UPLIFT * contact.effect * (org.participant[rm] & (day >= contact.init))
    sat = rng.random(idx.size) < sigmoid(logit(0.83) + 0.5 * org.skill[rm] + uplift)
    ten = rng.random(idx.size) < 0.1
    score5 = np.where(
        sat,
        4 + (rng.random(idx.size) < 0.55),
        choice(rng, np.array([0.1, 0.25, 0.65]), idx.size) + 1,
    )
    score10 = np.where(
        sat, 8 + choice(rng, np.array([0.4, 0.35, 0.25]), idx.size), between(rng, 3, 7, idx.size)
    )
    return (
        np.full(idx.size, SURVEY_TYPES.index("csat")),
        rm,
        client,
        day,
        np.where(ten, score10, score5).astype(float),
        np.where(ten, 10.0, 5.0),
    )


def _education_feedback(
    rng: Rng, contact: ClientContact, rows: Interactions, eligible: Arr
) -> list[Responses]:
    """After education sessions: understanding of the policy, and the material."""
    parts = []
    for name, share, mean in (
        ("policy_understanding", 0.4, 3.9),
        ("education_material", 0.25, 3.8),
    ):
        idx = np.flatnonzero(eligible & (rng.random(rows.rm.size) < share))
        rm, client, day = _after(rng, contact, rows, idx)
        score = likert(rng, mean + 0.3 * contact.org.skill[rm], 0.8)
        parts.append(
            (
                np.full(idx.size, SURVEY_TYPES.index(name)),
                rm,
                client,
                day,
                score,
                np.full(idx.size, 5.0),
            )
        )
    return parts


def _digital_service(rng: Rng, contact: ClientContact) -> Responses:
    months = contact.months
    rm, _, day = events(rng, months, np.full(months.lo.shape, 1.5))
    client = contact.clients.picker.pick(rng, rm, day, strict=False)
    score = likert(rng, 3.7 + 0.35 * contact.org.skill[rm], 0.9)
    return (
        np.full(rm.size, SURVEY_TYPES.index("digital_service")),
        rm,
        client,
        day,
        score,
        np.full(rm.size, 5.0),
    )


def _employee_satisfaction(rng: Rng, contact: ClientContact) -> Responses:
    """Members rate their team's leader (an RM) once a quarter."""
    org, months = contact.org, contact.months
    leader = org.team_leader[org.team]
    member = ~org.manager & (leader >= 0) & (leader != np.arange(org.n))
    member &= ~org.manager[np.maximum(leader, 0)]
    last_month = contact.w.quarter_last_month
    lo, hi = months.lo[:, last_month], months.hi[:, last_month]
    answer = member[:, None] & (hi >= lo) & (rng.random(lo.shape) < 0.7)
    who, q = np.nonzero(answer)
    day = between(rng, lo[who, q], hi[who, q])
    rm = leader[who]
    score = likert(rng, 3.7 + 0.5 * org.skill[rm], 0.8)
    return (
        np.full(rm.size, SURVEY_TYPES.index("employee_satisfaction")),
        rm,
        np.full(rm.size, -1),
        day,
        score,
        np.full(rm.size, 5.0),
    )
