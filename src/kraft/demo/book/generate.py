"""The whole book, drawn table by table from independent streams of one seed."""

from __future__ import annotations

import contextlib
import ctypes
import gc
from datetime import date
from typing import Any

import numpy as np

from kraft.demo.book.activities import (
    activities_table,
    compliance_tables,
    measurements_table,
    team_goals_table,
    tool_usage_table,
)
from kraft.demo.book.arrow import id_column
from kraft.demo.book.claims import claims_table
from kraft.demo.book.clients import clients_table, pre_window_book
from kraft.demo.book.constants import RENEWAL_UPLIFT
from kraft.demo.book.interactions import ClientContact, interactions_table
from kraft.demo.book.leads import all_clients, finish_leads, lead_events, leads_table
from kraft.demo.book.organisation import (
    choose_participants,
    data_window,
    initiative_start,
    initiative_tables,
    org_tables,
    organisation,
)
from kraft.demo.book.policies import (
    document_checks_table,
    policies_table,
    policy_chains,
    policy_terms,
)
from kraft.demo.book.spans import employed_span
from kraft.demo.book.surveys import surveys_table
from kraft.periods import Calendar
from kraft.schema.tables import TABLES


def generate_book(
    rms: int = 50,
    months: int = 24,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    calendar: Calendar | None = None,
    retention_uplift: float = RENEWAL_UPLIFT,
) -> dict[str, Any]:
    """One pyarrow Table per contract table: `rms` RMs with a book (plus their managers), the
    `months` months from `start`'s month; the data as-of date is the last day of the last month.

    `retention_uplift` is the initiative's planted effect on participants' renewal probability
    (0: a book with no effect, to test that the impact analysis then finds none); the secondary
    effects (personalised policies, CSAT) scale with it."""
    if rms < 1 or months < 1:
        raise ValueError("rms and months must be at least 1")
    if not -1.0 <= retention_uplift <= 1.0:
        raise ValueError("retention_uplift must lie between -1 and 1")
    effect = retention_uplift / RENEWAL_UPLIFT
    w = data_window(start, months, calendar or Calendar(1))
    streams = np.random.default_rng(seed).spawn(12)
    org = organisation(streams[0], rms, w)
    init = initiative_start(w)
    choose_participants(streams[0], org, init)
    month_span = employed_span(org, w.month_start, w.month_end)
    quarter_span = employed_span(org, w.quarter_start, w.quarter_end)

    pre_clients, pre_chains = pre_window_book(streams[1], org, w)
    leads = lead_events(streams[2], org, w, month_span)
    clients = all_clients(streams[2], org, pre_clients, pre_chains, leads)
    new_client = np.flatnonzero(~leads.cross & (leads.status == 1))
    held_client = np.concatenate([pre_chains["client"], leads.client[new_client]])
    held_line = np.concatenate([pre_chains["line"], leads.line[new_client]])
    held = np.zeros(clients.owner.size, dtype=np.int64)
    np.bitwise_or.at(held, held_client, np.left_shift(1, held_line))
    leads = finish_leads(streams[3], leads, clients, held)
    chains = policy_chains(streams[4], w, clients, leads, pre_chains)
    del pre_chains, pre_clients, held, held_client, held_line
    terms = policy_terms(streams[5], org, w, chains, init, retention_uplift)
    del chains

    # Each table is built as soon as its inputs exist and the inputs dropped after their last use,
    # so that the large intermediate arrays never coexist (the peak-memory budget).
    book: dict[str, Any] = {}
    teams, rm_table, team_ids, rm_ids = org_tables(streams[6], org, w)
    book["teams"], book["relationship_managers"] = teams, rm_table
    book["clients"], client_ids = clients_table(streams[6], org, clients)
    book["leads"] = leads_table(leads, rm_ids, client_ids)
    del leads
    policy_ids = id_column("P", terms.rm.size, 8)
    book["claims"] = claims_table(streams[9], org, w, terms, policy_ids)
    book["document_checks"] = document_checks_table(streams[9], org, w, terms, policy_ids, rm_ids)
    book["policies"] = policies_table(
        streams[7], org, w, terms, (policy_ids, client_ids, rm_ids), init, effect
    )
    del terms, policy_ids
    contact = ClientContact(org, w, month_span, clients, rm_ids, client_ids, init, effect)
    book["interactions"], interactions = interactions_table(streams[8], contact)
    book["surveys"] = surveys_table(streams[8], contact, interactions)
    del contact, interactions, clients, client_ids
    book["activities"] = activities_table(streams[10], org, month_span, quarter_span, rm_ids)
    book["compliance_audits"], book["compliance_incidents"] = compliance_tables(
        streams[10], org, month_span, quarter_span, rm_ids
    )
    book["tool_usage"] = tool_usage_table(streams[11], org, w, month_span, rm_ids)
    book["team_goals"] = team_goals_table(streams[11], org, w, team_ids)
    book["measurements"] = measurements_table(streams[11], org, w, quarter_span, rm_ids)
    book["initiatives"], book["initiative_participants"] = initiative_tables(org, w, init, rm_ids)
    tables = {t.name: book[t.name] for t in TABLES}
    _return_scratch_memory()
    return tables


def _return_scratch_memory() -> None:
    """Hand the generator's freed scratch arrays back to the OS before the book is imported.

    glibc keeps freed blocks below its (growing) mmap threshold in the heap; at --rms 2000 that
    is several hundred MB that the import could otherwise not use.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)
