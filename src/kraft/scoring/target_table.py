"""The `targets` table: adding target versions (one by one or from a CSV), listing them, deriving
proposals from each RM's own history, and the data-driven "achievable" check.

Rows are only ever added: a new version of a target is a new row, so the table is its own history
and a score can name the version it used. Deleting a version adds a deletion record (source
DELETED, see kraft.scoring.targets) rather than removing a row. Every added row is written to the
audit log in the same transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.errors import KraftError
from kraft.formatting import rounded
from kraft.framework.model import KPI, Direction, Framework, KpiKind, Unit
from kraft.periods import Calendar, Grain, Period
from kraft.scoring.targets import DELETED, SCOPES
from kraft.store import audit
from kraft.store.metadata import TARGET, targets
from kraft.store.roster import is_scored_sql, scored_rms, team_names

CSV_COLUMNS = ("scope_type", "scope_id", "kpi_id", "period", "from", "to", "target", "threshold")
REQUIRED_COLUMNS = ("scope_type", "scope_id", "kpi_id", "target")
MAX_PROBLEMS = 20
ALWAYS_COUNTED = {Unit.count, Unit.currency, Unit.count_per_month}


@dataclass(frozen=True)
class TargetInput:
    """A target version as a person gives it: a scope, a KPI, a period range, the numbers."""

    scope_type: str
    scope_id: str
    kpi_id: str
    from_period: str | None
    to_period: str | None
    target: Decimal
    threshold: Decimal | None


@dataclass(frozen=True)
class StoredTarget:
    target_id: int
    scope_type: str
    scope_id: str
    kpi_id: str
    from_period: str | None
    to_period: str | None
    target: Decimal
    threshold: Decimal | None
    recorded_at: datetime
    recorded_by: str
    source: str
    current: bool  # no later version (nor deletion record) of the same scope, KPI and range


def _number(text: str, what: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ValueError(f'{what}: "{text}" is not a number (write a plain number such as 85)')
    return number


def parse_number(text: str, option: str) -> Decimal:
    """A decimal from the command line or a file; a percent sign is allowed and dropped."""
    try:
        return _number(text.removesuffix("%"), option)
    except ValueError as exc:
        raise KraftError(f"{exc}.") from None


# Digits a target may have before the point: what its column (NUMERIC(24, 6)) holds.
TARGET_DIGITS = (TARGET.precision or 0) - (TARGET.scale or 0)


def _beyond_range(name: str, value: Decimal | None) -> str | None:
    """A target or threshold its column cannot hold, in a sentence (else the database refuses
    the insert and the request fails without one)."""
    if value is None:
        return None
    if not value.is_finite():
        return f"{name} must be a number"
    if abs(value) >= Decimal(10) ** TARGET_DIGITS:
        return f"{name} has more than {TARGET_DIGITS} digits before the point"
    return None


def check(
    item: TargetInput, framework: Framework, calendar: Calendar
) -> tuple[list[str], date | None, date | None]:
    """Problems with one target version (empty when fine), and its date range."""
    problems: list[str] = []
    for name, value in (("target", item.target), ("threshold", item.threshold)):
        beyond = _beyond_range(name, value)
        if beyond:
            problems.append(beyond)
    if item.scope_type not in SCOPES:
        problems.append(f'scope_type "{item.scope_type}" is not org, team or rm')
    elif item.scope_type == "org" and item.scope_id != "org":
        problems.append(f'scope_id "{item.scope_id}" must be org when scope_type is org')
    kpi: KPI | None = None
    try:
        kpi = framework.kpi(item.kpi_id)
    except KeyError:
        problems.append(f'kpi_id "{item.kpi_id}" is not a KPI of framework {framework.id}')
    bounds = (
        [(item.from_period, "period")]
        if item.from_period == item.to_period
        else [(item.from_period, "from"), (item.to_period, "to")]
    )
    parsed: dict[str, Period] = {}
    for label, column in bounds:
        if label is None:
            continue
        try:
            parsed[column] = calendar.parse(label)
        except ValueError:
            problems.append(
                f'{column} "{label}" is not a period (expected {calendar.label_forms()})'
            )
    first, last = (
        parsed.get("period") or parsed.get("from"),
        parsed.get("period") or parsed.get("to"),
    )
    start = first.start if first else None
    end = last.end if last else None
    if start and end and start > end:
        problems.append(f"from {item.from_period} is after to {item.to_period}")
    if kpi is not None and item.threshold is not None and kpi.direction is not None:
        worse_side = (
            item.threshold <= item.target
            if kpi.direction is Direction.higher_is_better
            else item.threshold >= item.target
        )
        if not worse_side:
            word = "above" if kpi.direction is Direction.higher_is_better else "below"
            problems.append(
                f"threshold {item.threshold} is {word} target {item.target}; the threshold is the "
                "least acceptable value, on the worse side of the target"
            )
    return problems, start, end


def _known_scopes(conn: Connection) -> dict[str, set[str]]:
    return {
        "team": set(team_names(conn)),
        "rm": set(scored_rms(conn)),
        "org": {"org"},
    }


def add_targets(
    conn: Connection,
    items: Sequence[tuple[str, TargetInput]],
    framework: Framework,
    calendar: Calendar,
    *,
    actor: str,
    source: str,
) -> list[int]:
    """Validate every version (each named by where it came from, e.g. 'targets.csv row 2'), then
    add them all with their audit entries; any problem adds nothing."""
    known = _known_scopes(conn)
    problems: list[str] = []
    ranges: list[tuple[date | None, date | None]] = []
    for where, item in items:
        found, start, end = check(item, framework, calendar)
        if not found and item.scope_type in known and item.scope_id not in known[item.scope_type]:
            kind = "a team" if item.scope_type == "team" else "an RM (of role rm)"
            found.append(f'scope_id "{item.scope_id}" is not {kind} in the database')
        problems += [f"{where}: {p}" for p in found]
        ranges.append((start, end))
    if problems:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        raise KraftError(
            f"No target was saved: {len(problems)} problem(s)"
            + (f" (the first {len(shown)} shown)" if more else "")
            + ".",
            details=shown,
        )
    next_id = int(
        conn.execute(sa.text("SELECT coalesce(max(target_id), 0) FROM targets")).scalar() or 0
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    ids: list[int] = []
    for (_, item), (start, end) in zip(items, ranges, strict=True):
        next_id += 1
        row = {
            "target_id": next_id,
            "scope_type": item.scope_type,
            "scope_id": item.scope_id,
            "kpi_id": item.kpi_id,
            "from_period": item.from_period,
            "to_period": item.to_period,
            "from_date": start,
            "to_date": end,
            "target": item.target,
            "threshold": item.threshold,
            "recorded_at": now,
            "recorded_by": actor,
            "source": source,
        }
        conn.execute(targets.insert().values(**row))
        audit.append(
            conn,
            actor=actor,
            action="target.set",
            object_type="target",
            object_id=f"{item.scope_type}:{item.scope_id}:{item.kpi_id}",
            new={k: v for k, v in row.items() if k != "recorded_at"},
        )
        ids.append(next_id)
    return ids


def read_csv(path: Path, framework: Framework, calendar: Calendar) -> list[tuple[str, TargetInput]]:
    """The versions of a targets CSV, each with its 'file row N'; every unreadable cell refused."""
    name = path.name
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise KraftError(f"Cannot read {path}: {exc.strerror}.") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise KraftError(
                f"{name} has no column {', '.join(missing)}; its header must name "
                f"{', '.join(CSV_COLUMNS)} (period, or from and to, and threshold may be empty)."
            )
        items: list[tuple[str, TargetInput]] = []
        problems: list[str] = []
        for record in reader:
            where = f"{name} row {reader.line_num}"
            cells = {
                (k or "").strip(): (v or "").strip() or None
                for k, v in record.items()
                if not isinstance(v, list)
            }
            if not any(cells.values()):
                continue
            try:
                items.append((where, _from_cells(cells)))
            except ValueError as exc:
                problems.append(f"{where}, column {exc}")
    if problems:
        raise KraftError(
            f"No target was saved: {len(problems)} problem(s) in {name}.",
            details=problems[:MAX_PROBLEMS],
        )
    if not items:
        raise KraftError(f"{name} holds no targets; add a row under its header.")
    return items


def _from_cells(cells: Mapping[str, str | None]) -> TargetInput:
    for column in REQUIRED_COLUMNS:
        if not cells.get(column):
            raise ValueError(f"{column}: is empty (it is required)")
    period = cells.get("period")
    first, last = cells.get("from"), cells.get("to")
    if period and (first or last):
        raise ValueError("period: give period or from/to, not both")
    threshold = cells.get("threshold")
    return TargetInput(
        scope_type=str(cells["scope_type"]),
        scope_id=str(cells["scope_id"]),
        kpi_id=str(cells["kpi_id"]),
        from_period=period or first,
        to_period=period or last,
        target=_number(str(cells["target"]), "target"),
        threshold=_number(threshold, "threshold") if threshold else None,
    )


def stored_targets(
    conn: Connection,
    *,
    kpi_id: str | None = None,
    scope_type: str | None = None,
    scope_id: str | None = None,
) -> list[StoredTarget]:
    """Every version, newest first, each marked current unless a later one replaces it or a
    deletion record (never current itself) withdraws it."""
    query = sa.select(targets).order_by(targets.c.recorded_at.desc(), targets.c.target_id.desc())
    if kpi_id:
        query = query.where(targets.c.kpi_id == kpi_id)
    if scope_type:
        query = query.where(targets.c.scope_type == scope_type)
    if scope_id:
        query = query.where(targets.c.scope_id == scope_id)
    seen: set[tuple[object, ...]] = set()
    rows: list[StoredTarget] = []
    for r in conn.execute(query):
        key = (r.scope_type, r.scope_id, r.kpi_id, r.from_date, r.to_date)
        rows.append(
            StoredTarget(
                r.target_id, r.scope_type, r.scope_id, r.kpi_id, r.from_period, r.to_period,
                Decimal(r.target).normalize(),
                Decimal(r.threshold).normalize() if r.threshold is not None else None,
                r.recorded_at, r.recorded_by, r.source, key not in seen and r.source != DELETED,
            )
        )  # fmt: skip
        seen.add(key)
    return rows


def withdraw_target(conn: Connection, target_id: int, *, actor: str) -> int:
    """Delete a target version the way the table keeps history: add a deletion record of its
    scope, KPI and range (with its numbers, for the record) and its audit entry; the scope then
    falls back to the team's, the company's or the framework's target. The record's id."""
    row = conn.execute(sa.select(targets).where(targets.c.target_id == target_id)).first()
    if row is None or row.source == DELETED:
        raise KraftError(f"There is no target {target_id}; `kraft targets list` shows them.")
    next_id = int(
        conn.execute(sa.text("SELECT coalesce(max(target_id), 0) FROM targets")).scalar() or 0
    )
    record = {
        **row._mapping,
        "target_id": next_id + 1,
        "recorded_at": datetime.now(UTC).replace(tzinfo=None),
        "recorded_by": actor,
        "source": DELETED,
    }
    conn.execute(targets.insert().values(**record))
    audit.append(
        conn,
        actor=actor,
        action="target.delete",
        object_type="target",
        object_id=f"{row.scope_type}:{row.scope_id}:{row.kpi_id}",
        old={k: v for k, v in row._mapping.items() if k != "recorded_at"},
        new={"target_id": next_id + 1, "withdraws": target_id, "source": DELETED},
    )
    return next_id + 1


# -- history: last year's actuals -----------------------------------------------------------------


def last_full_year(calendar: Calendar, as_of: date) -> Period:
    """The latest (fiscal) year that has ended by the as-of date."""
    return calendar.last_closed(Grain.year, as_of)


def _credible(kpi: KPI, denominator: float | None) -> bool:
    """Enough volume to count as an actual (counts and sums always do)."""
    if kpi.unit in ALWAYS_COUNTED or kpi.min_volume <= 1:
        return True
    return denominator is not None and denominator >= kpi.min_volume


def actuals_by_rm(
    conn: Connection, kpi: KPI, grain: Grain, periods: Iterable[str]
) -> dict[str, list[Decimal]]:
    """Each RM's (role rm) credible values of the KPI at one grain, for the given periods."""
    labels = sorted(set(periods))
    if not labels:
        return {}
    query = sa.text(
        "SELECT v.entity_id, v.value, v.denominator FROM kpi_values AS v "
        "JOIN relationship_managers AS r ON r.rm_id = v.entity_id "
        f"WHERE v.entity_type = 'rm' AND {is_scored_sql('r')} AND v.kpi_id = :k "
        "AND v.grain = :g AND v.period IN :p AND v.value IS NOT NULL ORDER BY v.entity_id, v.period"
    ).bindparams(sa.bindparam("p", expanding=True))
    found: dict[str, list[Decimal]] = {}
    for rm_id, value, denominator in conn.execute(
        query, {"k": kpi.id, "g": grain.value, "p": labels}
    ):
        if _credible(kpi, denominator):
            found.setdefault(rm_id, []).append(Decimal(repr(float(value))))
    return found


def comparable_actuals(
    conn: Connection, framework: Framework, calendar: Calendar, as_of: date
) -> dict[str, list[Decimal]]:
    """Per KPI, last full year's actuals of comparable RMs: every RM of role rm with a credible
    value (volume at least the KPI's minimum) for a period of the KPI's grain in that year."""
    year = last_full_year(calendar, as_of)
    found: dict[str, list[Decimal]] = {}
    for _, kpi in framework.kpis():
        if kpi.grain is None or kpi.kind is KpiKind.score:
            continue
        labels = [p.label for p in calendar.periods(kpi.grain, year.start, year.end)]
        values = [v for vs in actuals_by_rm(conn, kpi, kpi.grain, labels).values() for v in vs]
        if values:
            found[kpi.id] = values
    return found


# -- derive: proposals from each RM's own history -------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    rm_id: str
    baseline: Decimal  # the RM's own value last year, per grain period
    target: Decimal
    threshold: Decimal | None


def derive(
    conn: Connection,
    kpi: KPI,
    calendar: Calendar,
    baseline_year: Period,
    uplift: Decimal,
) -> list[Proposal]:
    """For each RM with a credible value last year: a target `uplift` better than it.

    The baseline is the RM's value for the whole year, per grain period (a count's year total
    divided by the grain periods in a year; a rate as it is). Better means higher for ↑ KPIs and
    lower for ↓, by `uplift` × |baseline| (so a negative baseline also moves the right way);
    percents stay within 0–100. The threshold keeps the framework's ratio to the target (or its
    distance, for a target of 0). Rounded to cents once, for people to read.
    """
    if kpi.grain is None or kpi.kind is KpiKind.score:
        raise KraftError(f"{kpi.id} has no history of its own to derive targets from.")
    per_year = Decimal(12 // kpi.grain.months) if kpi.unit in {Unit.count, Unit.currency} else 1
    values = actuals_by_rm(conn, kpi, Grain.year, [baseline_year.label])
    better = Decimal(1) if kpi.direction is not Direction.lower_is_better else Decimal(-1)
    proposals: list[Proposal] = []
    for rm_id, found in sorted(values.items()):
        baseline = found[0] / per_year
        target = baseline + better * uplift * abs(baseline)
        if kpi.unit is Unit.percent:
            target = min(max(target, Decimal(0)), Decimal(100))
        threshold = None
        if kpi.target is not None and kpi.threshold is not None:
            if kpi.target != 0:
                threshold = target * kpi.threshold / kpi.target
            else:
                threshold = target - (kpi.target - kpi.threshold)
        proposals.append(
            Proposal(
                rm_id,
                rounded(baseline),
                rounded(target),
                rounded(threshold),
            )
        )
    return proposals
