"""The measured impact of an initiative: KPIS.md's worked example, with a control group.

For an initiative starting on S, the participants' book in a window after S is compared with an
equal window before it, and with the same change among the RMs who did not take part: the
difference in differences (DiD) of the client retention rate, in percentage points, with a
bootstrap 95 % percentile interval that resamples RMs within each group.

The retention and CSAT figures reuse the metric catalogue: the rows are staged by the compiler
exactly as `kraft compute` stages them (the fact's filter, its derived columns such as `renewed`,
the RM credited) and counted with the catalogue's own measures, over the initiative's windows
instead of calendar periods (kraft.analysis.initiative_rows). The catalogue has no fact for
personalised packages sold to existing clients or for referrals by retained clients, so those two
are plain SQL over the contract's columns (policies.personalised, leads.referred_by_client_id).

Group rates are ratios of sums over the group's RMs (each RM's distinct-client counts, as each
RM's own KPI counts them), never means of RM rates, so the point estimate is the bootstrap's
statistic on the sample itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.analysis.initiative_rows import (
    AFTER,
    BEFORE,
    NON_PARTICIPANTS,
    PARTICIPANTS,
    Window,
    WindowCounts,
    group_members,
)
from kraft.errors import KraftError
from kraft.formatting import DASH, number, signed_short, to_decimal
from kraft.framework.model import Example
from kraft.ingest.status import last_import
from kraft.metrics.compile.plans import PROVISIONAL
from kraft.metrics.spec import Catalogue
from kraft.periods import add_months
from kraft.store.database import Database

DIALECTS = {"duckdb": "duckdb", "postgresql": "postgres"}
DEFAULT_WINDOW_MONTHS = 6
MAX_WINDOW_MONTHS = 60
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
LEVEL = 95  # percent: the interval's coverage

# The example's KPI ids and their seed wording, when the framework has no example section.
KPI_NAMES: dict[str, str] = {
    "retention_uplift": "Percentage increase in client retention rate after strategy implementation",
    "personalised_packages_sold": "Number of personalised insurance packages sold to existing "
    "clients",
    "post_strategy_csat": "Client satisfaction survey score post-strategy execution",
    "retained_client_referral_rate": "Referral rate from retained clients to new prospects",
}


# --- Windows ----------------------------------------------------------------------------------


def parse_window(text: str) -> int:
    """`6m` → 6: the window in whole months."""
    match = re.fullmatch(r"\s*(\d+)\s*[mM]\s*", text)
    months = int(match[1]) if match else 0
    if not 1 <= months <= MAX_WINDOW_MONTHS:
        raise KraftError(
            f"--window {text!r} is not a number of months; write it as e.g. 3m, 6m or 12m "
            f"(1m to {MAX_WINDOW_MONTHS}m)."
        )
    return months


def windows(start: date, months: int, as_of: date) -> tuple[Window, Window, bool]:
    """(before, after, truncated): the `months` months ending the day before the start and the
    `months` months from it. When the after window would reach past the as-of date, both are cut
    to the days observed after the start, so that they stay equally long."""
    if start > as_of:
        raise KraftError(
            f"The initiative starts on {start}, after the data's as-of date {as_of}: there is "
            "no window after the start to measure yet; import newer data first."
        )
    after = Window(start, add_months(start, months) - timedelta(days=1))
    before = Window(add_months(start, -months), start - timedelta(days=1))
    if after.last <= as_of:
        return before, after, False
    days = (as_of - start).days + 1
    return (
        Window(start - timedelta(days=days), start - timedelta(days=1)),
        Window(start, as_of),
        True,
    )


# --- Results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowFigures:
    """One group's example KPIs in one window, with the counts behind each."""

    retained_clients: int
    due_clients: int
    pending_policies: int  # due, not renewed, still inside their grace on the as-of date
    personalised_packages: int
    satisfied_responses: int
    csat_responses: int
    referring_clients: int  # retained clients who referred a lead created in the window

    @property
    def retention_rate(self) -> Fraction | None:
        return _percent(self.retained_clients, self.due_clients)

    @property
    def csat(self) -> Fraction | None:
        return _percent(self.satisfied_responses, self.csat_responses)

    @property
    def referral_rate(self) -> Fraction | None:
        return _percent(self.referring_clients, self.retained_clients)


@dataclass(frozen=True)
class GroupImpact:
    name: str  # participants | non_participants
    rm_ids: tuple[str, ...]
    before: WindowFigures
    after: WindowFigures

    @property
    def retention_change(self) -> Fraction | None:
        """After − before, in percentage points."""
        return _difference(self.after.retention_rate, self.before.retention_rate)

    @property
    def retention_uplift(self) -> Fraction | None:
        """(after − before) ÷ before × 100: the relative change, in percent."""
        before, after = self.before.retention_rate, self.after.retention_rate
        if before is None or after is None or before == 0:
            return None
        return (after - before) / before * 100


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    resamples: int
    valid: int  # resamples in which every group rate was defined
    seed: int
    level: int = LEVEL

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class InitiativeImpact:
    initiative_id: str
    name: str
    start_date: date
    end_date: date | None
    as_of: date
    window_months: int
    before: Window
    after: Window
    truncated: bool
    participants: GroupImpact
    non_participants: GroupImpact
    difference_in_differences: Fraction | None  # percentage points
    interval: Interval | None
    kpi_names: Mapping[str, str] = field(default_factory=lambda: dict(KPI_NAMES))
    conclusion: str = ""

    @property
    def provisional(self) -> bool:
        return any(
            g.before.pending_policies or g.after.pending_policies
            for g in (self.participants, self.non_participants)
        )

    def to_json(self) -> dict[str, Any]:
        """Every number, the interval and the conclusion (rates in percent, rounded once)."""
        groups = (self.participants, self.non_participants)
        did = self.difference_in_differences
        return {
            "initiative": {
                "initiative_id": self.initiative_id,
                "name": self.name,
                "start_date": self.start_date.isoformat(),
                "end_date": self.end_date.isoformat() if self.end_date else None,
            },
            "as_of": self.as_of.isoformat(),
            "window": {
                "months": self.window_months,
                "days": self.after.days,
                "truncated": self.truncated,
                BEFORE: _window_json(self.before),
                AFTER: _window_json(self.after),
            },
            "groups": {
                g.name: {
                    "rms": len(g.rm_ids),
                    "rm_ids": list(g.rm_ids),
                    BEFORE: _figures_json(g.before),
                    AFTER: _figures_json(g.after),
                    "retention_change_points": _round(g.retention_change),
                    "retention_uplift": _round(g.retention_uplift),
                }
                for g in groups
            },
            "kpis": [
                {
                    "id": kpi_id,
                    "name": self.kpi_names.get(kpi_id, KPI_NAMES[kpi_id]),
                    **{
                        g.name: {
                            BEFORE: _round(kpi_value(kpi_id, g.before)),
                            AFTER: _round(kpi_value(kpi_id, g.after)),
                            **(
                                {"value": _round(g.retention_uplift)}
                                if kpi_id == "retention_uplift"
                                else {}
                            ),
                        }
                        for g in groups
                    },
                }
                for kpi_id in KPI_NAMES
            ],
            "difference_in_differences": {
                "points": _round(did),
                "interval": None
                if self.interval is None
                else {
                    "level": self.interval.level,
                    "low": round(self.interval.low, 4),
                    "high": round(self.interval.high, 4),
                    "resamples": self.interval.resamples,
                    "valid_resamples": self.interval.valid,
                    "seed": self.interval.seed,
                    "method": "percentile bootstrap, resampling RMs within each group",
                },
            },
            "provisional": self.provisional,
            "conclusion": self.conclusion,
        }


def kpi_value(kpi_id: str, figures: WindowFigures) -> Fraction | int | None:
    """The value of an example KPI in one window (retention_uplift: the retention rate itself,
    the uplift being the change between two windows)."""
    if kpi_id == "retention_uplift":
        return figures.retention_rate
    if kpi_id == "personalised_packages_sold":
        return figures.personalised_packages
    if kpi_id == "post_strategy_csat":
        return figures.csat
    return figures.referral_rate


def _percent(part: int, whole: int) -> Fraction | None:
    return Fraction(part * 100, whole) if whole else None


def _difference(a: Fraction | None, b: Fraction | None) -> Fraction | None:
    return None if a is None or b is None else a - b


def _round(value: Fraction | int | None) -> float | int | None:
    if value is None or isinstance(value, int):
        return value
    return round(float(value), 4) + 0.0  # + 0.0: never -0.0


def _window_json(window: Window) -> dict[str, str]:
    return {"first": window.first.isoformat(), "last": window.last.isoformat()}


def _figures_json(f: WindowFigures) -> dict[str, float | int | None]:
    return {
        "client_retention_rate": _round(f.retention_rate),
        "retained_clients": f.retained_clients,
        "due_clients": f.due_clients,
        "pending_policies": f.pending_policies,
        "personalised_packages_sold": f.personalised_packages,
        "post_strategy_csat": _round(f.csat),
        "satisfied_responses": f.satisfied_responses,
        "csat_responses": f.csat_responses,
        "retained_client_referral_rate": _round(f.referral_rate),
        "referring_clients": f.referring_clients,
    }


# --- The bootstrap ----------------------------------------------------------------------------


def bootstrap_did(
    participants: np.ndarray[Any, Any],
    non_participants: np.ndarray[Any, Any],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    chunk: int = 250,
) -> Interval | None:
    """The percentile interval of the DiD of retention (points) over `resamples` draws.

    Each group is an array of RMs × (retained before, due before, retained after, due after);
    every draw resamples each group's RMs with replacement and takes ratios of the sums. Draws in
    which a group rate is undefined (no due client) are left out; None when none is left.
    """
    if len(participants) == 0 or len(non_participants) == 0:
        return None
    rng = np.random.default_rng(seed)
    draws: list[np.ndarray[Any, Any]] = []
    for done in range(0, resamples, chunk):
        size = min(chunk, resamples - done)
        change = []
        for group in (participants, non_participants):
            pick = rng.integers(0, len(group), size=(size, len(group)))
            sums = group[pick].sum(axis=1).astype(float)  # size × 4
            with np.errstate(divide="ignore", invalid="ignore"):
                change.append(100 * (sums[:, 2] / sums[:, 3] - sums[:, 0] / sums[:, 1]))
        draws.append(change[0] - change[1])
    did = np.concatenate(draws)
    valid = did[np.isfinite(did)]
    if valid.size == 0:
        return None
    low, high = np.percentile(valid, [(100 - LEVEL) / 2, 100 - (100 - LEVEL) / 2])
    return Interval(float(low), float(high), resamples, int(valid.size), seed)


# --- The analysis -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImpactOptions:
    """How the impact is measured: the windows' length, and the bootstrap's resamples and seed."""

    window_months: int = DEFAULT_WINDOW_MONTHS
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED


def initiative_impact(
    db: Database,
    catalogue: Catalogue,
    parameters: Mapping[str, int],
    initiative_id: str,
    options: ImpactOptions = ImpactOptions(),
    *,
    example: Example | None = None,
) -> InitiativeImpact:
    """The example's four KPIs for participants and non-participants before and after the
    initiative's start, the DiD of retention with its bootstrap interval, and a conclusion."""
    window_months = options.window_months
    if options.resamples < 1:
        raise KraftError("--resamples must be at least 1; the default is 2000.")
    with db.connect() as conn:
        initiative = _initiative(conn, initiative_id)
        as_of = _as_of(conn)
        start, end = _as_date(initiative.start_date), initiative.end_date
        before, after, truncated = windows(start, window_months, as_of)
        members = group_members(conn, initiative_id, before, after)
        rows = WindowCounts(catalogue, parameters, as_of, DIALECTS[db.dialect], before, after)
        counts = _Counts(
            rows.per_rm(conn, "client_retention_rate", ["retained", "due", PROVISIONAL]),
            rows.per_rm(conn, "customer_satisfaction_score", ["satisfied", "responses"]),
            rows.referring(conn),
            rows.personalised(conn),
        )
        conn.rollback()

    groups = {
        name: GroupImpact(name, ids, counts.figures(ids, BEFORE), counts.figures(ids, AFTER))
        for name, ids in members.items()
    }
    part, non = groups[PARTICIPANTS], groups[NON_PARTICIPANTS]
    did = _difference(part.retention_change, non.retention_change)
    interval = (
        bootstrap_did(
            counts.retention_by_rm(part.rm_ids),
            counts.retention_by_rm(non.rm_ids),
            resamples=options.resamples,
            seed=options.seed,
        )
        if did is not None
        else None
    )
    names = dict(KPI_NAMES)
    if example is not None:
        names.update({k.id: k.name for k in example.kpis if k.id in names})
    impact = InitiativeImpact(
        initiative_id=str(initiative.initiative_id),
        name=str(initiative.name),
        start_date=start,
        end_date=_as_date(end) if end is not None else None,
        as_of=as_of,
        window_months=window_months,
        before=before,
        after=after,
        truncated=truncated,
        participants=part,
        non_participants=non,
        difference_in_differences=did,
        interval=interval,
        kpi_names=names,
    )
    return _with_conclusion(impact)


def _initiative(conn: Connection, initiative_id: str) -> Any:
    """The initiative's row; refused, naming the initiatives there are, when it is unknown."""
    initiative = conn.execute(
        sa.text(
            "SELECT initiative_id, name, start_date, end_date FROM initiatives "
            "WHERE initiative_id = :i"
        ),
        {"i": initiative_id},
    ).first()
    if initiative is None:
        known = [r[0] for r in conn.execute(sa.text("SELECT initiative_id FROM initiatives"))]
        listed = ", ".join(sorted(known)[:10]) if known else "none (import initiatives.csv)"
        raise KraftError(
            f"There is no initiative {initiative_id!r}; the initiatives are: {listed}."
        )
    return initiative


def _as_of(conn: Connection) -> date:
    latest = last_import(conn)
    if latest is None or not latest["as_of"]:
        raise KraftError("There is no data to analyse: run `kraft import` first.")
    return date.fromisoformat(latest["as_of"])


@dataclass(frozen=True)
class _Counts:
    """(RM, window) → the counts the example's KPIs are made of."""

    retention: dict[tuple[str, str], tuple[int, ...]]  # retained, due, provisional
    csat: dict[tuple[str, str], tuple[int, ...]]  # satisfied, responses
    referring: dict[tuple[str, str], int]
    personalised: dict[tuple[str, str], int]

    def figures(self, rm_ids: Sequence[str], win: str) -> WindowFigures:
        """A group's figures in a window: sums over its RMs."""
        sums = [0] * 7
        for rm in rm_ids:
            key = (rm, win)
            r = self.retention.get(key, (0, 0, 0))
            c = self.csat.get(key, (0, 0))
            values = (*r, self.personalised.get(key, 0), *c, self.referring.get(key, 0))
            sums = [a + b for a, b in zip(sums, values, strict=True)]
        return WindowFigures(*sums)

    def retention_by_rm(self, rm_ids: Sequence[str]) -> np.ndarray[Any, Any]:
        """RMs × (retained before, due before, retained after, due after): the bootstrap's."""
        data = [
            (
                *self.retention.get((rm, BEFORE), (0, 0))[:2],
                *self.retention.get((rm, AFTER), (0, 0))[:2],
            )
            for rm in rm_ids
        ]
        return np.array(data, dtype=np.int64).reshape(len(rm_ids), 4)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# --- The conclusion ---------------------------------------------------------------------------


def points(value: Fraction | float | None, sign: bool = False) -> str:
    """A rate or a change of one as every number reads (kraft.formatting): at most 2 decimals,
    half up, never -0; with its sign when asked (+30, -2.5); a dash when undefined."""
    if value is None:
        return DASH
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else to_decimal(value)
    )
    return signed_short(exact) if sign else number(exact)


def _with_conclusion(impact: InitiativeImpact) -> InitiativeImpact:
    return replace(impact, conclusion=conclusion(impact))


def conclusion(impact: InitiativeImpact) -> str:
    """One plain-language paragraph whose wording follows the numbers."""
    part, non = impact.participants, impact.non_participants
    span = f"{impact.after.days} days" if impact.truncated else f"{impact.window_months} months"
    sentences = [
        f"In the {span} from the start of {impact.name} on {impact.start_date}, against the "
        f"{span} before it, the client retention rate of its {len(part.rm_ids)} participants "
        f"went from {points(part.before.retention_rate)} % to "
        f"{points(part.after.retention_rate)} % (a relative change of "
        f"{points(part.retention_uplift, True)} %)."
    ]
    did, interval = impact.difference_in_differences, impact.interval
    if not non.rm_ids:
        sentences.append(
            "No RM of role rm outside the initiative was employed over both windows, so there "
            "is no comparison group and no effect can be estimated."
        )
    elif did is None:
        sentences.append(
            f"Among the {len(non.rm_ids)} non-participants it went from "
            f"{points(non.before.retention_rate)} % to {points(non.after.retention_rate)} %; "
            "a group had no client due for renewal in a window, so the difference in "
            "differences cannot be computed."
        )
    else:
        sentences.append(
            f"Among the {len(non.rm_ids)} non-participants it went from "
            f"{points(non.before.retention_rate)} % to {points(non.after.retention_rate)} %."
        )
        if interval is None:
            sentences.append(
                f"The difference in differences is {points(did, True)} points, but no bootstrap "
                "interval could be drawn, so no effect can be claimed."
            )
        elif interval.low > 0 or interval.high < 0:
            way = "an increase" if interval.low > 0 else "a decrease"
            sentences.append(
                f"That is {way} of {points(abs(did))} points (95 % interval "
                f"{points(interval.low)} to {points(interval.high)}) beyond the change among "
                f"non-participants: the data show the initiative "
                f"{'raising' if interval.low > 0 else 'lowering'} retention, assuming both "
                "groups' retention would otherwise have moved alike."
            )
        else:
            sentences.append(
                f"The difference in differences is {points(did, True)} points, but its 95 % "
                f"interval ({points(interval.low)} to {points(interval.high)}) includes 0, so "
                "no effect of the initiative on retention can be claimed from these data."
            )
    sentences.append(
        f"Participants sold {part.after.personalised_packages} personalised packages to existing "
        f"clients after the start ({part.before.personalised_packages} in the window before); "
        f"their CSAT was {points(part.after.csat)} % against {points(part.before.csat)} % before, "
        f"and {points(part.after.referral_rate)} % of their retained clients referred a new "
        "prospect."
    )
    if impact.provisional:
        pending = part.after.pending_policies + non.after.pending_policies
        pending += part.before.pending_policies + non.before.pending_policies
        sentences.append(
            f"The figures are provisional: {pending} due policies not yet renewed are still "
            f"inside their grace period on the as-of date {impact.as_of}."
        )
    if impact.truncated:
        sentences.append(
            f"The data end on {impact.as_of}, so both windows were cut to the "
            f"{impact.after.days} days observed after the start instead of "
            f"{impact.window_months} months."
        )
    return " ".join(sentences)
