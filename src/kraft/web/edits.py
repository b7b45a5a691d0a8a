"""Changing targets and manual measurements from the web: the one place both the API and the
pages call, so that a form and a PUT check, write, audit and re-score alike.

Each function takes the Site (or a Connection), the user's Scope and plain values, and refuses in
one sentence with an HTTPException: 404 for what does not exist or is out of the user's scope
(the same answer, so that another RM's measurement looks like a missing one), 403 for what the
user may see but not change, 409 for a conflict with what is stored, 412 for a stale If-Match,
428 for a missing one, 422 for a bad value (the sentence starts with the field's name).

Optimistic concurrency: the caller's ETag is compared inside the one writer's transaction, so a
stale edit changes nothing. A target version is never changed (the table is its own history), so
its ETag is a hash of what the version is now: its numbers and whether it is still the current
one. A measurement has no version column, so its ETag is a hash of the row's content.

Targets are deleted the way the table keeps history: a deletion record
(kraft.scoring.target_table.withdraw_target), after which the scope falls back to the team's,
the company's or the framework's target.

Scores follow every change: a measurement's manual values (the RM's, for the period and the
longer periods holding it) are refreshed in the change's transaction exactly as `kraft compute`
stores them (kraft.metrics.runner.MANUAL_SQL); then the scores are rebuilt from the stored values
with the scoring `kraft targets set` runs (score_database), right after the change commits. A
full re-score takes seconds on a book of thousands of RMs, too long for a request that holds the
one writer, so only the team trees the change reaches are re-scored (the RM's for a measurement
or an RM's target, the team's RMs' for a team's target, everyone for the company's): scores never
cross from one top-level team tree to another, so the result is the full re-score's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import HTTPException, Path
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from kraft.errors import KraftError
from kraft.framework.model import KPI, Framework, KpiKind, Role
from kraft.framework.smart import unit_bounds
from kraft.periods import Calendar, Period
from kraft.reports.values import format_value, unit_label
from kraft.scoring import target_table
from kraft.scoring.target_table import StoredTarget, TargetInput
from kraft.scoring.targets import DELETED, SCOPES
from kraft.store import audit
from kraft.store.metadata import DECIMAL_PLACES, operational, targets
from kraft.store.teams import teams_below
from kraft.store.users import User
from kraft.web.scope import Scope
from kraft.web.site import Site

RMS = operational["relationship_managers"]
TEAMS = operational["teams"]
MEASUREMENTS = operational["measurements"]
NOTE_LIMIT = 2000  # characters a measurement's note may have
ROW_ID_MAX = 2**31 - 1  # the largest id an INTEGER column holds: more is refused before a query
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]  # a target_id or user_id in a URL
INTEGER_DIGITS = 18  # the contract's decimals: up to 18 digits before the point, 6 after it
ROLE_WORDS = {Role.admin: "an admin", Role.manager: "a manager", Role.rm: "an RM"}
ROLE_PLURALS = {Role.admin: "admins", Role.manager: "managers", Role.rm: "the RM rated"}


def actor_of(user: User) -> str:
    """Who the audit log names for a change made through the server."""
    return f"web:{user.email}"


def etag_of(content: Mapping[str, Any]) -> str:
    """A strong ETag: the hash of the content as canonical JSON."""
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32] + '"'


def check_if_match(if_match: str | None, current: str, what: str, url: str) -> None:
    """428 without If-Match (`url` gives the ETag), 412 when none of its tags is the
    resource's ETag now."""
    if if_match is None or not if_match.strip():
        raise HTTPException(
            428, f"Changing {what} needs an If-Match header with its ETag; GET {url} first."
        )
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" not in tags and current not in tags:
        raise HTTPException(
            412,
            f"{what[0].upper()}{what[1:]} has changed since it was read, so nothing was "
            "changed; read it again and redo the change.",
        )


def _lock(conn: Connection, table: str) -> None:
    """On PostgreSQL, writers of the table wait for each other (DuckDB has the one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))


def no_such(kind: str, key: str) -> HTTPException:
    """404, the same sentence for a missing resource and one out of scope."""
    return HTTPException(404, f"There is no {kind} {key}, or it is not in your scope.")


def _rm_exists(conn: Connection, rm_id: str) -> bool:
    return conn.execute(sa.select(RMS.c.rm_id).where(RMS.c.rm_id == rm_id)).first() is not None


def _team_exists(conn: Connection, team_id: str) -> bool:
    found = conn.execute(sa.select(TEAMS.c.team_id).where(TEAMS.c.team_id == team_id)).first()
    return found is not None


def visible_rm(conn: Connection, scope: Scope, rm_id: str) -> None:
    """404 for an RM that does not exist or is out of the user's scope."""
    if not scope.can_see_rm(rm_id) or not _rm_exists(conn, rm_id):
        raise no_such("RM", rm_id)


def _kpi(framework: Framework, kpi_id: str) -> KPI:
    try:
        return framework.kpi(kpi_id)
    except KeyError:
        raise HTTPException(
            422, f"kpi_id: {kpi_id!r} is not a KPI of framework {framework.id}."
        ) from None


def parse_period(calendar: Calendar, label: str, field: str) -> Period:
    """The period a label names; 422 naming the field otherwise."""
    try:
        return calendar.parse(label)
    except ValueError as exc:
        raise HTTPException(422, f"{field}: {exc}.") from None


def rescore(site: Site, rm_ids: Collection[str] | None = None) -> bool:
    """Re-score from the stored values, as `kraft targets set` does: every RM, or (`rm_ids`)
    only the team trees holding those RMs, which is all an edit for them can change; False
    when nothing is computed yet (then `kraft compute` scores with the change)."""
    from kraft.scoring.runner import score_database

    with site.writer():
        with site.db.connect() as conn:
            run_id = conn.execute(sa.text("SELECT max(run_id) FROM compute_runs")).scalar()
        if run_id is None:
            return False
        score_database(  # in this process: a threaded server must not fork
            site.db, site.framework, site.calendar, int(run_id), workers=1, rm_ids=rm_ids
        )
    return True


def _reached(conn: Connection, scope_type: str, scope_id: str) -> frozenset[str] | None:
    """The RMs a target of the scope reaches (None: everyone, for the company's)."""
    if scope_type == "rm":
        return frozenset([scope_id])
    if scope_type != "team":
        return None
    below = teams_below(conn, [scope_id])
    return frozenset(
        conn.execute(sa.select(RMS.c.rm_id).where(RMS.c.team_id.in_(sorted(below)))).scalars()
    )


# -- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetVersion:
    """A version of a target as the API shows it: the stored row and where it stands now."""

    stored: StoredTarget
    status: str  # current, replaced (by replaced_by) or deleted
    replaced_by: int | None
    grain: str | None

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
    parents = dict(conn.execute(sa.select(TEAMS.c.team_id, TEAMS.c.parent_team_id)).all())
    found: set[str] = set()
    todo: list[str | None] = [*scope.team_ids, scope.own_team_id]
    while todo:
        team = todo.pop()
        if team is not None and team not in found:
            found.add(team)
            todo.append(parents.get(team))
    return frozenset(found)


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
    """One version (replaced and deleted ones too); 404 when missing or out of scope."""
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
    """Refuse a user who may not set targets for the scope: 403 for an RM, for the company's
    targets unless admin, and for one's own; 404 for a team or RM out of scope or missing."""
    if scope.role is Role.rm:
        raise HTTPException(
            403, "Targets are set by managers and admins; an RM cannot change them."
        )
    if scope_type not in SCOPES:
        raise HTTPException(422, f"scope_type: {scope_type!r} is not org, team or rm.")
    if scope_type == "org":
        if scope_id != "org":
            raise HTTPException(422, f"scope_id: {scope_id!r} must be org for the company.")
        if not scope.is_admin:
            raise HTTPException(403, "Only an admin sets the company's targets.")
        return
    if scope_type == "team":
        if not scope.can_see_team(scope_id) or not _team_exists(conn, scope_id):
            raise no_such("team", scope_id)
    else:
        visible_rm(conn, scope, scope_id)
    if not scope.can_edit_targets(scope_type, scope_id):
        raise HTTPException(403, "Nobody sets their own targets; another manager or an admin must.")


def _checked(item: TargetInput, framework: Framework, calendar: Calendar) -> TargetInput:
    """422 for the first problem kraft.scoring.target_table.check finds (each starts with the
    field it is about)."""
    problems, _, _ = target_table.check(item, framework, calendar)
    if problems:
        raise HTTPException(422, f"{problems[0]}.")
    one = item.from_period == item.to_period
    for label, field in ((item.from_period, "from"), (item.to_period, "to")):
        if label is not None and calendar.parse(label).label != label:
            named = "period" if one else field
            raise HTTPException(
                422, f"{named}: write {label!r} as {calendar.parse(label).label!r}."
            )
    return item


def _add(
    conn: Connection, item: TargetInput, site: Site, scope: Scope, source: str
) -> TargetVersion:
    try:
        ids = target_table.add_targets(
            conn,
            [("The target", item)],
            site.framework,
            site.calendar,
            actor=actor_of(scope.user),
            source=source,
        )
    except KraftError as exc:
        raise HTTPException(422, exc.details[0] + "." if exc.details else exc.message) from None
    return get_target(conn, site.framework, scope, ids[0])


def create_target(
    site: Site,
    scope: Scope,
    *,
    scope_type: str,
    scope_id: str | None,
    kpi_id: str,
    from_period: str | None,
    to_period: str | None,
    target: Decimal,
    threshold: Decimal | None,
    origin: str = "web",
) -> TargetVersion:
    """Add a target version for the company, a team or an RM, audited; then re-score."""
    framework, calendar = site.framework, site.calendar
    chosen_id = scope_id or ("org" if scope_type == "org" else "")
    if not chosen_id:
        raise HTTPException(422, f"scope_id: a {scope_type} target needs the {scope_type}'s id.")
    item = TargetInput(scope_type, chosen_id, kpi_id, from_period, to_period, target, threshold)
    with site.write() as conn:
        may_set_target(conn, scope, scope_type, chosen_id)
        _checked(item, framework, calendar)
        _lock(conn, "targets")
        version = _add(conn, item, site, scope, origin)
        reached = _reached(conn, scope_type, chosen_id)
    rescore(site, reached)
    return version


def _current(conn: Connection, site: Site, scope: Scope, target_id: int) -> TargetVersion:
    """The version, if the user may change it (404, 403)."""
    version = get_target(conn, site.framework, scope, target_id)
    may_set_target(conn, scope, version.stored.scope_type, version.stored.scope_id)
    return version


def _still_current(version: TargetVersion) -> None:
    if version.status == "replaced":
        raise HTTPException(
            409,
            f"Target {version.stored.target_id} was replaced by target {version.replaced_by}; "
            "change the current version.",
        )
    if version.status == "deleted":
        raise HTTPException(409, f"Target {version.stored.target_id} was deleted already.")


def replace_target(
    site: Site,
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
    with site.write() as conn:
        _lock(conn, "targets")
        version = _current(conn, site, scope, target_id)
        check_if_match(if_match, version.etag, f"target {target_id}", version.url)
        _still_current(version)
        s = version.stored
        item = TargetInput(
            s.scope_type, s.scope_id, s.kpi_id, s.from_period, s.to_period, target, threshold
        )
        _checked(item, site.framework, site.calendar)
        new = _add(conn, item, site, scope, f"{origin}, replacing {target_id}")
        reached = _reached(conn, s.scope_type, s.scope_id)
    rescore(site, reached)
    return new


def delete_target(site: Site, scope: Scope, target_id: int, if_match: str | None) -> TargetVersion:
    """Withdraw the current version with a deletion record (If-Match: its ETag); then re-score.
    The version is returned as it stands now (deleted)."""
    with site.write() as conn:
        _lock(conn, "targets")
        version = _current(conn, site, scope, target_id)
        check_if_match(if_match, version.etag, f"target {target_id}", version.url)
        _still_current(version)
        target_table.withdraw_target(conn, target_id, actor=actor_of(scope.user))
        deleted = get_target(conn, site.framework, scope, target_id)
        reached = _reached(conn, version.stored.scope_type, version.stored.scope_id)
    rescore(site, reached)
    return deleted


# -- manual measurements ----------------------------------------------------------------------


def plain_decimal(number: Decimal) -> str:
    """A decimal as the contract writes it: no exponent, no trailing zeros (15.2, 100)."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Measurement:
    """One row of the measurements table (key: rm_id, kpi_id, period)."""

    rm_id: str
    kpi_id: str
    period: str
    value: Decimal
    note: str | None

    def content(self) -> dict[str, str | None]:
        return {
            "rm_id": self.rm_id,
            "kpi_id": self.kpi_id,
            "period": self.period,
            "value": plain_decimal(self.value),
            "note": self.note,
        }

    @property
    def etag(self) -> str:
        return etag_of(self.content())

    @property
    def url(self) -> str:
        return f"/api/v1/measurements/{self.rm_id}/{self.kpi_id}/{self.period}"

    @property
    def what(self) -> str:
        return f"the measurement of {self.kpi_id} for {self.rm_id} in {self.period}"


def _measurement(row: Any) -> Measurement:
    return Measurement(
        row.rm_id, row.kpi_id, row.period, Decimal(str(row.value)).normalize(), row.note
    )


def list_measurements(
    conn: Connection,
    scope: Scope,
    *,
    rm_id: str | None = None,
    kpi_id: str | None = None,
    period: str | None = None,
) -> list[Measurement]:
    """The measurements of the RMs in the user's scope, by RM, KPI and period."""
    m = MEASUREMENTS.c
    query = sa.select(MEASUREMENTS).where(scope.rm_filter(m.rm_id))
    for column, value in ((m.rm_id, rm_id), (m.kpi_id, kpi_id), (m.period, period)):
        if value is not None:
            query = query.where(column == value)
    return [_measurement(r) for r in conn.execute(query.order_by(m.rm_id, m.kpi_id, m.period))]


def _read_measurement(
    conn: Connection, rm_id: str, kpi_id: str, period: str, *, for_update: bool = False
) -> Measurement | None:
    m = MEASUREMENTS.c
    query = sa.select(MEASUREMENTS).where(m.rm_id == rm_id, m.kpi_id == kpi_id, m.period == period)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _measurement(row)


def get_measurement(
    conn: Connection, scope: Scope, rm_id: str, kpi_id: str, period: str
) -> Measurement:
    """One measurement; 404 when missing or of an RM out of the user's scope."""
    found = _read_measurement(conn, rm_id, kpi_id, period) if scope.can_see_rm(rm_id) else None
    if found is None:
        raise no_such("measurement", f"of {kpi_id} for {rm_id} in {period}")
    return found


def manual_kpi(framework: Framework, kpi_id: str) -> KPI:
    """The KPI, if measurements may be entered for it (422 otherwise)."""
    kpi = _kpi(framework, kpi_id)
    if kpi.kind is not KpiKind.manual:
        manual = ", ".join(k.id for _, k in framework.kpis() if k.kind is KpiKind.manual)
        raise HTTPException(
            422,
            f"kpi_id: {kpi_id} is {kpi.kind.value}, not entered by hand; measurements are for "
            f"the manual KPIs ({manual or 'none in this framework'}).",
        )
    return kpi


def may_enter(conn: Connection, scope: Scope, kpi: KPI, rm_id: str) -> None:
    """404 for an RM out of scope; 403 for a user the framework does not let enter the KPI
    (management_decision_impact: the manager, never the RM rated)."""
    visible_rm(conn, scope, rm_id)
    if scope.can_enter_measurement(kpi, rm_id):
        return
    roles = " or ".join(ROLE_PLURALS[role] for role in kpi.entered_by) or "nobody"
    if scope.role in kpi.entered_by:
        raise HTTPException(
            403, f"Nobody enters {kpi.id} about themselves; it is entered by {roles}."
        )
    raise HTTPException(403, f"{kpi.id} is entered by {roles}, not by {ROLE_WORDS[scope.role]}.")


def check_measurement(
    kpi: KPI, calendar: Calendar, label: str, value: Decimal, note: str | None, currency: str
) -> tuple[Period, Decimal, str | None]:
    """The import's rules for a measurement (a contract decimal, a period label), and the
    KPI's: its grain, and the range its unit allows. 422 naming the field otherwise."""
    period = parse_period(calendar, label, "period")
    if kpi.grain is not None and period.grain is not kpi.grain:
        example = calendar.period(kpi.grain, period.end).label
        raise HTTPException(
            422,
            f"period: {period.label} is a {period.grain.value}, and {kpi.id} is entered per "
            f"{kpi.grain.value} (e.g. {example}).",
        )
    if not value.is_finite():
        raise HTTPException(422, "value: must be a number.")
    digits = plain_decimal(value).lstrip("-").split(".")
    if len(digits[0]) > INTEGER_DIGITS or (len(digits) > 1 and len(digits[1]) > DECIMAL_PLACES):
        raise HTTPException(
            422,
            f"value: {plain_decimal(value)} has more than {INTEGER_DIGITS} digits before the "
            f"point or {DECIMAL_PLACES} after it.",
        )
    low, high = unit_bounds(kpi.unit)
    unit = unit_label(kpi.unit)
    if low is not None and value < low:
        shown = format_value(low, kpi.unit, currency)
        raise HTTPException(
            422, f"value: {plain_decimal(value)} is below {shown}, the least a {unit} can be."
        )
    if high is not None and value > high:
        shown = format_value(high, kpi.unit, currency)
        raise HTTPException(
            422, f"value: {plain_decimal(value)} is above {shown}, the most a {unit} can be."
        )
    text = (note or "").strip() or None
    if text is not None and len(text) > NOTE_LIMIT:
        raise HTTPException(422, f"note: is longer than {NOTE_LIMIT} characters.")
    return period, value, text


def refresh_manual_values(
    conn: Connection, calendar: Calendar, rm_id: str, kpi_id: str, period: Period
) -> int:
    """Store the RM's manual values that the measurement of `period` feeds (that period's and
    every longer stored period's holding it) as kraft.metrics.runner.MANUAL_SQL computes them:
    the period's own measurement, else the mean of the shorter periods' measurements inside it.
    Periods `kraft compute` has not stored are left to it. The number of values changed."""
    v = sa.table(
        "kpi_values",
        sa.column("entity_type"),
        sa.column("entity_id"),
        sa.column("kpi_id"),
        sa.column("period"),
        sa.column("value"),
        sa.column("numerator"),
        sa.column("denominator"),
        sa.column("row_count"),
        sa.column("computed_at"),
    )
    mine = (v.c.entity_type == "rm", v.c.entity_id == rm_id, v.c.kpi_id == kpi_id)
    stored = [r[0] for r in conn.execute(sa.select(v.c.period).where(*mine))]
    measured = [r[0] for r in conn.execute(sa.select(MEASUREMENTS.c.period).where(
        MEASUREMENTS.c.rm_id == rm_id, MEASUREMENTS.c.kpi_id == kpi_id
    ))]  # fmt: skip
    labels = {label: _parsed(calendar, label) for label in {*stored, *measured}}
    changed = 0
    now = datetime.now(UTC).replace(tzinfo=None)
    for label in stored:
        outer = labels[label]
        if outer is None or not (outer == period or _inside(period, outer)):
            continue
        inner = [m for m in measured if (p := labels[m]) is not None and _inside(p, outer)]
        numbers = _manual_value(conn, rm_id, kpi_id, label, inner)
        conn.execute(
            v.update()
            .where(*mine, v.c.period == label)
            .values(
                value=numbers[0],
                numerator=numbers[1],
                denominator=numbers[2],
                row_count=numbers[3],
                computed_at=now,
            )
        )
        changed += 1
    return changed


def _parsed(calendar: Calendar, label: str) -> Period | None:
    try:
        return calendar.parse(label)
    except ValueError:
        return None


def _inside(inner: Period, outer: Period) -> bool:
    return inner.within(outer) and inner.months < outer.months


def _manual_value(
    conn: Connection, rm_id: str, kpi_id: str, label: str, inner: list[str]
) -> tuple[float | None, float | None, float | None, int]:
    """(value, numerator, denominator, row_count) with MANUAL_SQL's expressions."""
    key = {"r": rm_id, "k": kpi_id}
    exact = conn.execute(
        sa.text(
            "SELECT CAST(value AS DOUBLE PRECISION) FROM measurements "
            "WHERE rm_id = :r AND kpi_id = :k AND period = :p"
        ),
        {**key, "p": label},
    ).first()
    if exact is not None:
        return exact[0], exact[0], 1.0, 1
    if not inner:
        return None, None, None, 0
    row = conn.execute(
        sa.text(
            "SELECT CAST(inn.total / inn.n AS DOUBLE PRECISION), "
            "CAST(inn.total AS DOUBLE PRECISION), CAST(inn.n AS DOUBLE PRECISION), inn.n "
            "FROM (SELECT sum(value) AS total, count(*) AS n FROM measurements "
            "WHERE rm_id = :r AND kpi_id = :k AND period IN :inner) AS inn"
        ).bindparams(sa.bindparam("inner", expanding=True)),
        {**key, "inner": inner},
    ).one()
    if not row[3]:
        return None, None, None, 0
    return row[0], row[1], row[2], int(row[3])


def _audit_measurement(
    conn: Connection,
    scope: Scope,
    action: str,
    old: Measurement | None,
    new: Measurement | None,
) -> None:
    shown = new or old
    assert shown is not None
    audit.append(
        conn,
        actor=actor_of(scope.user),
        action=f"measurement.{action}",
        object_type="measurement",
        object_id=f"{shown.rm_id}:{shown.kpi_id}:{shown.period}",
        old=old.content() if old else None,
        new=new.content() if new else None,
    )


def add_measurement(
    site: Site,
    scope: Scope,
    *,
    rm_id: str,
    kpi_id: str,
    period: str,
    value: Decimal,
    note: str | None,
) -> Measurement:
    """Enter a measurement that does not exist yet (409 if it does: change it with PUT),
    audited, its values refreshed; then re-score."""
    framework, calendar = site.framework, site.calendar
    kpi = manual_kpi(framework, kpi_id)
    with site.write() as conn:
        may_enter(conn, scope, kpi, rm_id)
        chosen, number, text = check_measurement(
            kpi, calendar, period, value, note, framework.currency
        )
        new = Measurement(rm_id, kpi_id, chosen.label, number.normalize(), text)
        if _read_measurement(conn, rm_id, kpi_id, chosen.label, for_update=True) is not None:
            raise HTTPException(
                409,
                f"{rm_id} has a measurement of {kpi_id} for {chosen.label} already; change it "
                f"with PUT {new.url} and its ETag.",
            )
        try:
            conn.execute(
                MEASUREMENTS.insert().values(
                    rm_id=rm_id, kpi_id=kpi_id, period=chosen.label, value=number, note=text
                )
            )
        except IntegrityError:  # PostgreSQL: another server process added it meanwhile
            raise HTTPException(
                409, f"{rm_id} has a measurement of {kpi_id} for {chosen.label} already."
            ) from None
        _audit_measurement(conn, scope, "add", None, new)
        refresh_manual_values(conn, calendar, rm_id, kpi_id, chosen)
    rescore(site, [rm_id])
    return new


def _changeable(
    conn: Connection,
    site: Site,
    scope: Scope,
    rm_id: str,
    kpi_id: str,
    period: str,
    if_match: str | None,
) -> tuple[KPI, Measurement]:
    """The stored measurement, if the user may change it and their ETag is current."""
    found = (
        _read_measurement(conn, rm_id, kpi_id, period, for_update=True)
        if scope.can_see_rm(rm_id)
        else None
    )
    if found is None:
        raise no_such("measurement", f"of {kpi_id} for {rm_id} in {period}")
    kpi = manual_kpi(site.framework, kpi_id)
    may_enter(conn, scope, kpi, rm_id)
    check_if_match(if_match, found.etag, found.what, found.url)
    return kpi, found


def change_measurement(
    site: Site,
    scope: Scope,
    rm_id: str,
    kpi_id: str,
    period: str,
    if_match: str | None,
    *,
    value: Decimal,
    note: str | None,
) -> Measurement:
    """Change a measurement's value and note (If-Match: its ETag), audited, its values
    refreshed; then re-score."""
    calendar = site.calendar
    with site.write() as conn:
        kpi, old = _changeable(conn, site, scope, rm_id, kpi_id, period, if_match)
        chosen, number, text = check_measurement(
            kpi, calendar, period, value, note, site.framework.currency
        )
        new = Measurement(rm_id, kpi_id, old.period, number.normalize(), text)
        m = MEASUREMENTS.c
        conn.execute(
            MEASUREMENTS.update()
            .where(m.rm_id == rm_id, m.kpi_id == kpi_id, m.period == old.period)
            .values(value=number, note=text)
        )
        _audit_measurement(conn, scope, "change", old, new)
        refresh_manual_values(conn, calendar, rm_id, kpi_id, chosen)
    rescore(site, [rm_id])
    return new


def delete_measurement(
    site: Site, scope: Scope, rm_id: str, kpi_id: str, period: str, if_match: str | None
) -> Measurement:
    """Delete a measurement (If-Match: its ETag), audited with its content, its values
    refreshed; then re-score. The deleted measurement is returned."""
    calendar = site.calendar
    with site.write() as conn:
        _, old = _changeable(conn, site, scope, rm_id, kpi_id, period, if_match)
        m = MEASUREMENTS.c
        conn.execute(
            MEASUREMENTS.delete().where(
                m.rm_id == rm_id, m.kpi_id == kpi_id, m.period == old.period
            )
        )
        _audit_measurement(conn, scope, "delete", old, None)
        chosen = _parsed(calendar, old.period)
        if chosen is not None:
            refresh_manual_values(conn, calendar, rm_id, kpi_id, chosen)
    rescore(site, [rm_id])
    return old
