"""Targets: add, replace and withdraw target versions, each audited, then re-score the RMs the
change reaches. The one path for `kraft targets set|import`, the target pages and the API.

A target version is never changed (the table is its own history), so its ETag is a hash of what
the version is now: its numbers and whether it is still the current one. A deletion is a
deletion record (kraft.scoring.target_table.withdraw_target), after which the scope falls back to
the team's, the company's or the framework's target.

A change re-rates the periods it covers; a review signed off on one of them keeps its snapshot as
signed. The change is saved all the same, with a warning naming those reviews
(`signed_off_warning`), which the CLI prints, the target page shows and the API returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.core.access import Scope, no_such, visible_rm
from kraft.core.compute import rescore
from kraft.core.context import Kraft
from kraft.core.versions import check_if_match, etag_of
from kraft.errors import ConflictError, ForbiddenError, InvalidInputError, KraftError
from kraft.framework.model import Framework, Role
from kraft.framework.smart import outside_spread
from kraft.periods import Calendar, Period
from kraft.scoring import target_table
from kraft.scoring.review import State, list_reviews
from kraft.scoring.runner import ScoreResult
from kraft.scoring.stored import as_of_date
from kraft.scoring.target_table import StoredTarget, TargetInput
from kraft.scoring.targets import DELETED, SCOPES
from kraft.store.metadata import targets
from kraft.store.roster import members, team_exists, team_tree, teams_below


@dataclass(frozen=True)
class TargetVersion:
    """A version of a target as the API shows it: the stored row and where it stands now."""

    stored: StoredTarget
    status: str  # current, replaced (by replaced_by) or deleted
    replaced_by: int | None
    grain: str | None
    # What saving it warned of (signed-off reviews it re-rates); not part of the version.
    warnings: tuple[str, ...] = dataclasses.field(default=(), compare=False)

    def content(self) -> dict[str, Any]:
        s = self.stored
        return {
            "target_id": s.target_id,
            "scope_type": s.scope_type,
            "scope_id": s.scope_id,
            "kpi_id": s.kpi_id,
            "from_period": s.from_period,
            "to_period": s.to_period,
            "grain": self.grain,
            "target": s.target,
            "threshold": s.threshold,
            "recorded_at": s.recorded_at,
            "recorded_by": s.recorded_by,
            "source": s.source,
            "status": self.status,
            "replaced_by": self.replaced_by,
        }

    @property
    def etag(self) -> str:
        return etag_of(self.content())

    @property
    def url(self) -> str:
        return f"/api/v1/targets/{self.stored.target_id}"


@dataclass(frozen=True)
class TargetsSaved:
    """What `save_targets` did: the new versions' ids, the SMART "achievable" warnings, and the
    re-score (None when it was not asked for or nothing is computed yet)."""

    ids: list[int]
    warnings: list[str]
    scored: ScoreResult | None


def _versions(rows: list[StoredTarget], framework: Framework) -> list[TargetVersion]:
    """The versions (newest first, as stored_targets gives them) with their status: a version is
    replaced by the next one of its scope, KPI and range, or deleted by a deletion record."""
    grains = {kpi.id: kpi.grain.value if kpi.grain else None for _, kpi in framework.kpis()}
    after: dict[tuple[str, str, str, str | None, str | None], int | None] = {}
    found = []
    for row in rows:
        key = (row.scope_type, row.scope_id, row.kpi_id, row.from_period, row.to_period)
        if row.source == DELETED:
            after[key] = None
            continue
        if key not in after:
            status, replaced_by = "current", None
        elif after[key] is None:
            status, replaced_by = "deleted", None
        else:
            status, replaced_by = "replaced", after[key]
        found.append(TargetVersion(row, status, replaced_by, grains.get(row.kpi_id)))
        after[key] = row.target_id
    return found


def _applying_teams(conn: Connection, scope: Scope) -> frozenset[str] | None:
    """The teams whose targets reach the user's RMs: the teams in scope, the user's own team,
    and every team above them (None: all, for an admin)."""
    if scope.team_ids is None:
        return None
    tree = team_tree(conn)
    return frozenset(
        t for team in [*scope.team_ids, scope.own_team_id] for t in tree.ancestors(team)
    )


def _sees_target(scope: Scope, teams: frozenset[str] | None, row: StoredTarget) -> bool:
    """The company's targets, the targets of the teams that reach the user's RMs, and the
    targets of the RMs in scope."""
    if row.scope_type == "org":
        return True
    if row.scope_type == "team":
        return teams is None or row.scope_id in teams
    return scope.can_see_rm(row.scope_id)


def target_versions(
    conn: Connection,
    framework: Framework,
    scope: Scope,
    *,
    kpi_id: str | None = None,
    scope_type: str | None = None,
    scope_id: str | None = None,
    history: bool = False,
) -> list[TargetVersion]:
    """The versions the user may see, newest first: the current ones, or every one."""
    rows = target_table.stored_targets(
        conn, kpi_id=kpi_id, scope_type=scope_type, scope_id=scope_id
    )
    teams = _applying_teams(conn, scope)
    return [
        v
        for v in _versions(rows, framework)
        if (history or v.status == "current") and _sees_target(scope, teams, v.stored)
    ]


def get_target(
    conn: Connection, framework: Framework, scope: Scope, target_id: int
) -> TargetVersion:
    """One version (replaced and deleted ones too); not found when missing or out of scope."""
    t = targets.c
    row = conn.execute(
        sa.select(t.scope_type, t.scope_id, t.kpi_id, t.source).where(t.target_id == target_id)
    ).first()
    if row is not None and row.source != DELETED:
        for version in target_versions(
            conn,
            framework,
            scope,
            kpi_id=row.kpi_id,
            scope_type=row.scope_type,
            scope_id=row.scope_id,
            history=True,
        ):
            if version.stored.target_id == target_id:
                return version
    raise no_such("target", str(target_id))


def may_set_target(conn: Connection, scope: Scope, scope_type: str, scope_id: str) -> None:
    """Refuse a user who may not set targets for the scope: forbidden for an RM, for the
    company's targets unless admin, and for one's own; not found for a team or RM out of scope
    or missing."""
    if scope.role is Role.rm:
        raise ForbiddenError("Targets are set by managers and admins; an RM cannot change them.")
    if scope_type not in SCOPES:
        raise InvalidInputError(f"scope_type: {scope_type!r} is not org, team or rm.")
    if scope_type == "org":
        if scope_id != "org":
            raise InvalidInputError(f"scope_id: {scope_id!r} must be org for the company.")
        if not scope.is_admin:
            raise ForbiddenError("Only an admin sets the company's targets.")
        return
    if scope_type == "team":
        if not scope.can_see_team(scope_id) or not team_exists(conn, scope_id):
            raise no_such("team", scope_id)
    else:
        visible_rm(conn, scope, scope_id)
    if not scope.can_edit_targets(scope_type, scope_id):
        raise ForbiddenError("Nobody sets their own targets; another manager or an admin must.")


def _checked(item: TargetInput, framework: Framework, calendar: Calendar) -> TargetInput:
    """The first problem kraft.scoring.target_table.check finds (each starts with the field it
    is about), and a period label not written as the calendar writes it."""
    problems, _, _ = target_table.check(item, framework, calendar)
    if problems:
        raise InvalidInputError(f"{problems[0]}.")
    one = item.from_period == item.to_period
    for label, field in ((item.from_period, "from"), (item.to_period, "to")):
        if label is not None and calendar.parse(label).label != label:
            named = "period" if one else field
            raise InvalidInputError(f"{named}: write {label!r} as {calendar.parse(label).label!r}.")
    return item


def _lock(conn: Connection) -> None:
    """On PostgreSQL, writers of targets wait for each other (DuckDB has the one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE targets IN SHARE ROW EXCLUSIVE MODE"))


def _add(
    conn: Connection, kraft: Kraft, scope: Scope, item: TargetInput, source: str
) -> TargetVersion:
    try:
        ids = target_table.add_targets(
            conn,
            [("The target", item)],
            kraft.framework,
            kraft.calendar,
            actor=scope.actor,
            source=source,
        )
    except KraftError as exc:
        raise InvalidInputError(exc.details[0] + "." if exc.details else exc.message) from None
    return get_target(conn, kraft.framework, scope, ids[0])


def reached_rms(conn: Connection, changed: Iterable[tuple[str, str]]) -> frozenset[str] | None:
    """The RMs that targets of these (scope_type, scope_id) reach: an RM's own, a team's RMs
    and those of the teams below it; None (everyone) when the company's is among them."""
    rms: set[str] = set()
    teams: set[str] = set()
    for scope_type, scope_id in changed:
        if scope_type == "rm":
            rms.add(scope_id)
        elif scope_type == "team":
            teams.add(scope_id)
        else:
            return None
    if teams:
        rms.update(members(conn, teams_below(conn, teams)))
    return frozenset(rms)


class Ranged(Protocol):
    """A target's scope and the periods it covers (an input or a stored version)."""

    @property
    def scope_type(self) -> str: ...
    @property
    def scope_id(self) -> str: ...
    @property
    def from_period(self) -> str | None: ...
    @property
    def to_period(self) -> str | None: ...


SIGNED_NAMED = 10  # signed-off reviews a warning names; more are counted


def _overlaps(period: Period, first: date | None, last: date | None) -> bool:
    return (first is None or period.end >= first) and (last is None or period.start <= last)


def signed_off_warning(conn: Connection, calendar: Calendar, changes: list[Ranged]) -> list[str]:
    """A warning when the targets cover periods of RMs they reach whose reviews are signed off:
    the change re-rates those periods, and the reviews' snapshots stay as signed."""
    reviews = list_reviews(conn, state=State.signed_off)
    signed: dict[tuple[str, str], None] = {}
    for item in changes if reviews else []:
        rms = reached_rms(conn, [(item.scope_type, item.scope_id)])
        first = calendar.parse(item.from_period).start if item.from_period else None
        last = calendar.parse(item.to_period).end if item.to_period else None
        for review in reviews:
            reached = rms is None or review.rm_id in rms
            if reached and _overlaps(calendar.parse(review.period), first, last):
                signed[(review.rm_id, review.period)] = None
    if not signed:
        return []
    named = [f"{rm_id} {period}" for rm_id, period in sorted(signed)]
    more = len(named) - SIGNED_NAMED
    listed = ", ".join(named[:SIGNED_NAMED]) + (f" and {more} more" if more > 0 else "")
    return [
        f"Signed off: this change re-rates {len(named)} period(s) with a signed-off review "
        f"({listed}); those reviews' snapshots stay as signed, and `kraft review diff` shows "
        "what now differs"
    ]


def create_target(
    kraft: Kraft, scope: Scope, item: TargetInput, *, origin: str = "web"
) -> TargetVersion:
    """Add a target version for the company, a team or an RM, audited; then re-score. An empty
    scope_id is the company's for an org target."""
    scope_type = item.scope_type
    chosen_id = item.scope_id or ("org" if scope_type == "org" else "")
    if not chosen_id:
        raise InvalidInputError(f"scope_id: a {scope_type} target needs the {scope_type}'s id.")
    item = replace(item, scope_id=chosen_id)
    with kraft.write() as conn:
        may_set_target(conn, scope, scope_type, chosen_id)
        _checked(item, kraft.framework, kraft.calendar)
        _lock(conn)
        version = _add(conn, kraft, scope, item, origin)
        reached = reached_rms(conn, [(scope_type, chosen_id)])
        warned = signed_off_warning(conn, kraft.calendar, [item])
    rescore(kraft, reached)
    return replace(version, warnings=tuple(warned))


def _current(conn: Connection, kraft: Kraft, scope: Scope, target_id: int) -> TargetVersion:
    """The version, if the user may change it."""
    version = get_target(conn, kraft.framework, scope, target_id)
    may_set_target(conn, scope, version.stored.scope_type, version.stored.scope_id)
    return version


def _still_current(version: TargetVersion) -> None:
    if version.status == "replaced":
        raise ConflictError(
            f"Target {version.stored.target_id} was replaced by target {version.replaced_by}; "
            "change the current version."
        )
    if version.status == "deleted":
        raise ConflictError(f"Target {version.stored.target_id} was deleted already.")


def replace_target(
    kraft: Kraft,
    scope: Scope,
    target_id: int,
    if_match: str | None,
    *,
    target: Decimal,
    threshold: Decimal | None,
    origin: str = "web",
) -> TargetVersion:
    """A new version of the same scope, KPI and range replacing the current one (If-Match:
    its ETag); then re-score. The new version is returned."""
    with kraft.write() as conn:
        _lock(conn)
        version = _current(conn, kraft, scope, target_id)
        check_if_match(if_match, version.etag, f"target {target_id}", version.url)
        _still_current(version)
        s = version.stored
        item = TargetInput(
            s.scope_type, s.scope_id, s.kpi_id, s.from_period, s.to_period, target, threshold
        )
        _checked(item, kraft.framework, kraft.calendar)
        new = _add(conn, kraft, scope, item, f"{origin}, replacing {target_id}")
        reached = reached_rms(conn, [(s.scope_type, s.scope_id)])
        warned = signed_off_warning(conn, kraft.calendar, [item])
    rescore(kraft, reached)
    return replace(new, warnings=tuple(warned))


def delete_target(
    kraft: Kraft, scope: Scope, target_id: int, if_match: str | None
) -> TargetVersion:
    """Withdraw the current version with a deletion record (If-Match: its ETag); then re-score.
    The version is returned as it stands now (deleted)."""
    with kraft.write() as conn:
        _lock(conn)
        version = _current(conn, kraft, scope, target_id)
        check_if_match(if_match, version.etag, f"target {target_id}", version.url)
        _still_current(version)
        target_table.withdraw_target(conn, target_id, actor=scope.actor)
        deleted = get_target(conn, kraft.framework, scope, target_id)
        reached = reached_rms(conn, [(version.stored.scope_type, version.stored.scope_id)])
        warned = signed_off_warning(conn, kraft.calendar, [version.stored])
    rescore(kraft, reached)
    return replace(deleted, warnings=tuple(warned))


def save_targets(
    kraft: Kraft,
    items: Sequence[tuple[str, TargetInput]],
    *,
    actor: str,
    source: str,
    score: bool = True,
) -> TargetsSaved:
    """Add target versions (each named by where it came from, e.g. 'targets.csv row 2') all or
    none, audited; warn of those outside last year's spread (SMART "achievable"); then re-score
    the RMs they reach, as a target changed in the web does."""
    with kraft.write() as conn:
        _lock(conn)
        ids = target_table.add_targets(
            conn, items, kraft.framework, kraft.calendar, actor=actor, source=source
        )
        reached = reached_rms(conn, [(item.scope_type, item.scope_id) for _, item in items])
        signed = signed_off_warning(conn, kraft.calendar, [item for _, item in items])
    warnings = unachievable(kraft, [item for _, item in items]) + signed
    scored = rescore(kraft, reached) if score else None
    return TargetsSaved(ids, warnings, scored)


def unachievable(kraft: Kraft, items: list[TargetInput]) -> list[str]:
    """SMART "achievable" against the data: the targets outside last year's spread."""
    framework, calendar = kraft.framework, kraft.calendar
    with kraft.db.connect() as conn:
        as_of = as_of_date(conn)
        if as_of is None:
            return []
        year = target_table.last_full_year(calendar, as_of)
        spreads: dict[str, list[Decimal]] = {}
        for item in items:
            kpi = framework.kpi(item.kpi_id)
            if item.kpi_id in spreads or kpi.grain is None:
                continue
            labels = [p.label for p in calendar.periods(kpi.grain, year.start, year.end)]
            found = target_table.actuals_by_rm(conn, kpi, kpi.grain, labels)
            spreads[item.kpi_id] = [v for values in found.values() for v in values]
    warnings = []
    for item in items:
        why = outside_spread(item.target, spreads.get(item.kpi_id, []))
        if why:
            warnings.append(
                f"Achievable: the {item.kpi_id} target {item.target} for {item.scope_type} "
                f"{item.scope_id} is {why} ({year.label}); check that it can be reached"
            )
    return warnings
