"""Whether a period's values can still change, as of the data's as-of date: the one rule behind
the confirmation a review of such a period asks for (kraft.core.reviews) and the note on values
kept provisional by open claims alone.

A period can still change while it is open (its last day is after the as-of date: its values
are to date) or while it ended less than the longest grace window before the as-of date: a
policy due on its last day may still be renewed within the renewal grace, one issued on its last
day may still be cancelled within the free-look days (kraft.toml: renewal_grace_days,
free_look_days; DATA.md "Observation window"). Past every window, what can still move a value is
a claim not yet settled (loss ratio): that keeps the value provisional, and is only noted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.framework.model import Framework
from kraft.periods import Calendar, Period
from kraft.scoring.stored import as_of_date
from kraft.store.metadata import scores
from kraft.workspace import Settings


@dataclass(frozen=True)
class GraceWindow:
    """A window after a period's end inside which something may still change its values."""

    name: str  # as a sentence says it, e.g. "the renewal grace"
    setting: str  # its kraft.toml key
    days: int


@dataclass(frozen=True)
class Settling:
    """What the rule needs: the calendar that reads period labels and the configured windows."""

    calendar: Calendar
    windows: tuple[GraceWindow, ...]

    @property
    def longest(self) -> GraceWindow:
        return max(self.windows, key=lambda w: w.days)


def settling_of(settings: Settings) -> Settling:
    """The workspace's calendar and grace windows (kraft.toml)."""
    windows = (
        GraceWindow("the renewal grace", "renewal_grace_days", settings.renewal_grace_days),
        GraceWindow("the free-look period", "free_look_days", settings.free_look_days),
    )
    return Settling(Calendar(settings.fiscal_year_start_month), windows)


def still_changing(period: Period, as_of: date, settling: Settling) -> str | None:
    """Why the period's values can still change as of `as_of` (a clause with the dates), or
    None when the period is settled."""
    if period.end > as_of:
        return (
            f"{period.label} is open on the data's as-of date {as_of} (it runs to {period.end}), "
            "so its values are to date and may still change"
        )
    window = settling.longest
    settled = period.end + timedelta(days=window.days)
    if as_of < settled:
        return (
            f"{period.label} ended on {period.end}, less than {window.days} days "
            f"({window.name}, {window.setting}, the longest grace window) before the data's "
            f"as-of date {as_of}, so its values may still change until the data is as of "
            f"{settled}"
        )
    return None


def unsettled_reason(conn: Connection, settling: Settling, label: str) -> str | None:
    """Why the stored values of the period can still change (None: settled, or nothing is
    computed yet, so there is no as-of date to judge by)."""
    as_of = as_of_date(conn)
    if as_of is None:
        return None
    return still_changing(settling.calendar.parse(label), as_of, settling)


def open_claims_note(
    conn: Connection, framework: Framework, settling: Settling, rm_id: str, label: str
) -> str | None:
    """A note when the period is past every grace window and yet some of the RM's scored KPI
    values are still provisional (claims not yet settled): no confirmation, only a word."""
    if unsettled_reason(conn, settling, label) is not None:
        return None
    found = conn.execute(
        sa.select(scores.c.item_id)
        .where(
            scores.c.rm_id == rm_id,
            scores.c.period == label,
            scores.c.level == "kpi",
            scores.c.provisional.is_(True),
        )
        .order_by(scores.c.item_id)
    ).scalars()
    names = [_kpi_name(framework, kpi_id) for kpi_id in found]
    if not names:
        return None
    return (
        f"{', '.join(names)} of {label} {'is' if len(names) == 1 else 'are'} still provisional "
        "though every grace window is over: claims not yet settled may change "
        f"{'it' if len(names) == 1 else 'them'}; a sign-off keeps the values as they stand, and a "
        "later change shows as a change since sign-off."
    )


def _kpi_name(framework: Framework, kpi_id: str) -> str:
    try:
        return framework.kpi(kpi_id).name
    except KeyError:
        return kpi_id
