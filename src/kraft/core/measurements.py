"""Manual measurements: entered, changed and deleted by the roles the framework names, each
audited, the manual KPI values they feed refreshed in the same transaction exactly as
`kraft compute` stores them, then the RM re-scored. The one path for the pages and the API.

A measurement has no version column, so its ETag is a hash of the row's content.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from kraft.core.access import Scope, no_such, visible_rm
from kraft.core.compute import rescore
from kraft.core.context import Kraft
from kraft.core.inputs import parse_period
from kraft.core.versions import check_if_match, etag_of
from kraft.errors import ConflictError, ForbiddenError, InvalidInputError
from kraft.formatting import plain
from kraft.framework.model import KPI, Framework, KpiKind, Role
from kraft.framework.smart import unit_bounds
from kraft.metrics.manual import refresh_manual_values
from kraft.periods import Calendar, Period
from kraft.reports.values import format_value, unit_label
from kraft.store import audit
from kraft.store.metadata import DECIMAL_PLACES, operational

MEASUREMENTS = operational["measurements"]
NOTE_LIMIT = 2000  # characters a measurement's note may have
INTEGER_DIGITS = 18  # the contract's decimals: up to 18 digits before the point, 6 after it
ROLE_WORDS = {Role.admin: "an admin", Role.manager: "a manager", Role.rm: "an RM"}
ROLE_PLURALS = {Role.admin: "admins", Role.manager: "managers", Role.rm: "the RM rated"}


def _kpi(framework: Framework, kpi_id: str) -> KPI:
    try:
        return framework.kpi(kpi_id)
    except KeyError:
        raise InvalidInputError(
            f"kpi_id: {kpi_id!r} is not a KPI of framework {framework.id}."
        ) from None


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
            "value": plain(self.value),
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
        raise InvalidInputError(
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
        raise ForbiddenError(f"Nobody enters {kpi.id} about themselves; it is entered by {roles}.")
    raise ForbiddenError(f"{kpi.id} is entered by {roles}, not by {ROLE_WORDS[scope.role]}.")


def check_measurement(
    kpi: KPI, calendar: Calendar, label: str, value: Decimal, note: str | None, currency: str
) -> tuple[Period, Decimal, str | None]:
    """The import's rules for a measurement (a contract decimal, a period label), and the
    KPI's: its grain, and the range its unit allows. 422 naming the field otherwise."""
    period = parse_period(calendar, label, "period")
    if kpi.grain is not None and period.grain is not kpi.grain:
        example = calendar.period(kpi.grain, period.end).label
        raise InvalidInputError(
            f"period: {period.label} is a {period.grain.value}, and {kpi.id} is entered per "
            f"{kpi.grain.value} (e.g. {example}).",
        )
    if not value.is_finite():
        raise InvalidInputError("value: must be a number.")
    digits = plain(value).lstrip("-").split(".")
    if len(digits[0]) > INTEGER_DIGITS or (len(digits) > 1 and len(digits[1]) > DECIMAL_PLACES):
        raise InvalidInputError(
            f"value: {plain(value)} has more than {INTEGER_DIGITS} digits before the "
            f"point or {DECIMAL_PLACES} after it.",
        )
    low, high = unit_bounds(kpi.unit)
    unit = unit_label(kpi.unit)
    if low is not None and value < low:
        shown = format_value(low, kpi.unit, currency)
        raise InvalidInputError(
            f"value: {plain(value)} is below {shown}, the least a {unit} can be."
        )
    if high is not None and value > high:
        shown = format_value(high, kpi.unit, currency)
        raise InvalidInputError(
            f"value: {plain(value)} is above {shown}, the most a {unit} can be."
        )
    text = (note or "").strip() or None
    if text is not None and len(text) > NOTE_LIMIT:
        raise InvalidInputError(f"note: is longer than {NOTE_LIMIT} characters.")
    return period, value, text


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
        actor=scope.actor,
        action=f"measurement.{action}",
        object_type="measurement",
        object_id=f"{shown.rm_id}:{shown.kpi_id}:{shown.period}",
        old=old.content() if old else None,
        new=new.content() if new else None,
    )


def add_measurement(
    kraft: Kraft,
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
    framework, calendar = kraft.framework, kraft.calendar
    kpi = manual_kpi(framework, kpi_id)
    with kraft.write() as conn:
        may_enter(conn, scope, kpi, rm_id)
        chosen, number, text = check_measurement(
            kpi, calendar, period, value, note, framework.currency
        )
        new = Measurement(rm_id, kpi_id, chosen.label, number.normalize(), text)
        if _read_measurement(conn, rm_id, kpi_id, chosen.label, for_update=True) is not None:
            raise ConflictError(
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
            raise ConflictError(
                f"{rm_id} has a measurement of {kpi_id} for {chosen.label} already."
            ) from None
        _audit_measurement(conn, scope, "add", None, new)
        refresh_manual_values(conn, calendar, rm_id, kpi_id, chosen)
    rescore(kraft, [rm_id])
    return new


def _changeable(
    conn: Connection,
    kraft: Kraft,
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
    kpi = manual_kpi(kraft.framework, kpi_id)
    may_enter(conn, scope, kpi, rm_id)
    check_if_match(if_match, found.etag, found.what, found.url)
    return kpi, found


def change_measurement(
    kraft: Kraft, scope: Scope, changed: Measurement, if_match: str | None
) -> Measurement:
    """Change a measurement's value and note to `changed`'s (If-Match: its ETag), audited, its
    values refreshed; then re-score."""
    rm_id, kpi_id, period = changed.rm_id, changed.kpi_id, changed.period
    calendar = kraft.calendar
    with kraft.write() as conn:
        kpi, old = _changeable(conn, kraft, scope, rm_id, kpi_id, period, if_match)
        chosen, number, text = check_measurement(
            kpi, calendar, period, changed.value, changed.note, kraft.framework.currency
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
    rescore(kraft, [rm_id])
    return new


def delete_measurement(
    kraft: Kraft, scope: Scope, rm_id: str, kpi_id: str, period: str, if_match: str | None
) -> Measurement:
    """Delete a measurement (If-Match: its ETag), audited with its content, its values
    refreshed; then re-score. The deleted measurement is returned."""
    calendar = kraft.calendar
    with kraft.write() as conn:
        _, old = _changeable(conn, kraft, scope, rm_id, kpi_id, period, if_match)
        m = MEASUREMENTS.c
        conn.execute(
            MEASUREMENTS.delete().where(
                m.rm_id == rm_id, m.kpi_id == kpi_id, m.period == old.period
            )
        )
        _audit_measurement(conn, scope, "delete", old, None)
        refresh_manual_values(conn, calendar, rm_id, kpi_id, calendar.parse(old.period))
    rescore(kraft, [rm_id])
    return old
