"""Interactions: meetings, calls, service visits and education sessions (some for groups)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from kraft.demo.book.arrow import build_table, date_column, enum_column, id_column, take_or_null
from kraft.demo.book.clients import Clients
from kraft.demo.book.draws import Arr, Rng, between, choice, stack
from kraft.demo.book.organisation import Org, Window
from kraft.demo.book.spans import Span, events
from kraft.schema.tables import table

COMPLETED, NO_SHOW = 0, 2  # interactions.status codes


@dataclass(frozen=True)
class ClientContact:
    """What the interaction and survey draws share: the RMs, their clients and the initiative."""

    org: Org
    w: Window
    months: Span
    clients: Clients
    rm_ids: Any
    client_ids: Any
    init: int  # the initiative's start day
    effect: float = 1.0  # the planted effects' scale (1.0: exactly the constants)


@dataclass(frozen=True)
class Interactions:
    """The drawn interactions in the table's order, for the surveys that follow them."""

    rm: Arr
    day: Arr
    kind: Arr
    status: Arr
    client: Arr


def interactions_table(rng: Rng, contact: ClientContact) -> tuple[Any, Interactions]:
    """The interactions table, and its rows for the surveys drawn after it."""
    skill = contact.org.skill[:, None]
    tiny = contact.org.tiny[:, None]
    kinds = table("interactions").column("type").enum
    meeting, call, visit = (kinds.index(k) for k in ("meeting", "call", "service_visit"))
    meetings = np.where(tiny, 2.0, np.clip(20.0 + 3.0 * skill, 12.0, 28.0))
    pieces = [
        _plain(rng, contact, meetings, meeting, np.array([1.0, 0.0, 0.0]), (30, 90)),
        _plain(
            rng, contact, np.where(tiny, 0.3, 1.5), meeting, np.array([0.0, 0.6, 0.4]), (30, 90)
        ),
        _plain(rng, contact, np.where(tiny, 3.0, 12.0), call, np.array([0.88, 0.12, 0.0]), (3, 25)),
        _plain(
            rng, contact, np.where(tiny, 0.5, 3.0), visit, np.array([0.93, 0.04, 0.03]), (20, 60)
        ),
    ]
    education, sessions = _education(rng, contact, kinds.index("education_session"))
    pieces.append(education)
    cols = stack(pieces, ("rm", "day"))
    minutes = cols["minutes"]
    interactions = build_table(
        "interactions",
        {
            "interaction_id": id_column("I", cols["rm"].size, 8),
            "rm_id": take_or_null(contact.rm_ids, cols["rm"]),
            "client_id": take_or_null(contact.client_ids, cols["client"]),
            "type": enum_column("interactions", "type", cols["kind"]),
            "date": date_column(cols["day"]),
            "status": enum_column("interactions", "status", cols["status"]),
            "duration_minutes": pa.array(minutes, type=pa.int64(), mask=minutes < 0),
            "session_id": take_or_null(id_column("S", sessions, 6), cols["session"]),
        },
    )
    rows = Interactions(cols["rm"], cols["day"], cols["kind"], cols["status"], cols["client"])
    return interactions, rows


def _piece(
    rm: Arr, day: Arr, kind: int, status: Arr, minutes: Arr, client: Arr, session: Arr
) -> dict[str, Arr]:
    return {
        "rm": rm.astype(np.int32),
        "day": day.astype(np.int32),
        "kind": np.full(rm.size, kind, dtype=np.int8),
        "status": status.astype(np.int8),
        "minutes": np.where(status == COMPLETED, minutes, -1).astype(np.int16),
        "client": client.astype(np.int32),
        "session": session.astype(np.int32),
    }


def _plain(
    rng: Rng,
    contact: ClientContact,
    rate: Arr,
    kind: int,
    status_p: Arr,
    minutes: tuple[int, int],
) -> dict[str, Arr]:
    """One-to-one interactions of a kind: a monthly rate per RM, a status mix, a duration range."""
    months = contact.months
    rm, _, day = events(rng, months, np.broadcast_to(rate, months.lo.shape))
    n = rm.size
    client = contact.clients.picker.pick(rng, rm, day, strict=False)
    status = choice(rng, status_p, n)
    return _piece(rm, day, kind, status, between(rng, *minutes, size=n), client, np.full(n, -1))


def _education(rng: Rng, contact: ClientContact, kind: int) -> tuple[dict[str, Arr], int]:
    """Education sessions: 2-5 a month, about a third of them for a group of clients; the rows
    and the number of group sessions that kept a row."""
    org, months, clients = contact.org, contact.months, contact.clients
    edu_rate = np.where(org.tiny[:, None], 0.5, np.clip(3.5 + 0.8 * org.skill[:, None], 1.5, 5.5))
    s_rm, _, s_day = events(rng, months, np.broadcast_to(edu_rate, months.lo.shape))
    group = rng.random(s_rm.size) < 0.33
    s_status = choice(rng, np.array([0.93, 0.04, 0.03]), s_rm.size)
    s_status = np.where(group & (s_status == NO_SHOW), COMPLETED, s_status)
    size = np.where(group, between(rng, 3, 8, s_rm.size), 1)
    sess = np.repeat(np.arange(s_rm.size), size)
    e_client = clients.picker.pick(rng, s_rm[sess], s_day[sess], strict=False)
    e_status = s_status[sess]
    absent = group[sess] & (e_status == COMPLETED) & (rng.random(sess.size) < 0.08)
    e_status = np.where(absent, NO_SHOW, e_status)
    # a client once per group session; a group row always names its client
    _, first = np.unique(sess * (clients.owner.size + 1) + (e_client + 1), return_index=True)
    keep = np.zeros(sess.size, dtype=bool)
    keep[first] = True
    keep &= ~group[sess] | (e_client >= 0)
    # number the group sessions that kept a row
    used = np.unique(sess[group[sess] & keep])
    g_number = np.full(s_rm.size, -1, dtype=np.int64)
    g_number[used] = np.arange(used.size)
    e_minutes = between(rng, 45, 120, s_rm.size)
    sel = np.flatnonzero(keep)
    es = sess[sel]
    piece = _piece(
        s_rm[es], s_day[es], kind, e_status[sel], e_minutes[es], e_client[sel], g_number[es]
    )
    return piece, int(used.size)
