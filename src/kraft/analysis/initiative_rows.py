"""The rows an initiative's impact is counted from: its two windows, its groups of RMs, and
the catalogue's measures counted per RM over each window (kraft.analysis.initiative reads them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlglot import exp

from kraft.errors import KraftError
from kraft.metrics import snippets
from kraft.metrics.compiler import Compiler
from kraft.metrics.spec import Catalogue, Measure
from kraft.store.roster import is_scored_sql

BEFORE, AFTER = "before", "after"
PARTICIPANTS, NON_PARTICIPANTS = "participants", "non_participants"


@dataclass(frozen=True)
class Window:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last


def _date(day: date) -> str:
    return f"CAST('{day.isoformat()}' AS DATE)"


class WindowCounts:
    """Catalogue measures counted per RM over the two windows instead of calendar periods."""

    def __init__(
        self,
        catalogue: Catalogue,
        parameters: Mapping[str, int],
        as_of: date,
        dialect: str,
        before: Window,
        after: Window,
    ) -> None:
        self.catalogue = catalogue
        self.values: dict[str, int | date] = {**parameters, "as_of": as_of}
        self.compiler = Compiler(catalogue, self.values, dialect)
        self.dialect = dialect
        self.before, self.after = before, after

    def _snippet(self, text: str, where: str, base: str) -> str:
        """A measure's expr or filter as SQL over the staged rows (parameters filled in)."""
        params: dict[str, exp.Expr] = {
            name: exp.cast(exp.Literal.string(value.isoformat()), "DATE")
            if isinstance(value, date)
            else exp.Literal.number(value)
            for name, value in self.values.items()
        }
        tree = snippets.unqualify(snippets.substitute(snippets.parse(text, where), params), base)
        return tree.sql(dialect=self.dialect)

    def staged(self, metric: str) -> tuple[str, str, dict[str, Measure], str]:
        """(SQL of the staged rows, SQL of their date, the measures, the fact's table) of a
        metric whose measures (and provisional rows) share one date-based fact."""
        plans = self.compiler.fact_plans([metric])
        if len(plans) != 1:
            raise KraftError(f"Metric {metric} reads more than one fact; it cannot be windowed.")
        (plan,) = plans.values()
        when = plan.fact.when.date
        if when is None:
            raise KraftError(f"Metric {metric} is not dated by a column; it cannot be windowed.")
        base = plan.fact.table
        dated = snippets.column_names(snippets.parse(when, plan.name), base)
        sql = self.compiler.sql(self.compiler.stage_select(plan, extra_columns=sorted(dated)))
        measures = {name: m for (_, name), m in plan.measures.items()}
        return sql, self._snippet(when, plan.name, base), measures, base

    def window_case(self, day: str) -> str:
        return f"CASE WHEN {day} < {_date(self.after.first)} THEN '{BEFORE}' ELSE '{AFTER}' END"

    def in_windows(self, day: str) -> str:
        return f"{day} >= {_date(self.before.first)} AND {day} <= {_date(self.after.last)}"

    def aggregate(self, metric: str, measure: Measure, name: str, base: str) -> str:
        """count or count_distinct of one measure, as SQL."""
        where = f"{metric}.{name}"
        test = self._snippet(measure.filter, where, base) if measure.filter else "TRUE"
        if measure.agg == "count":
            return f"SUM(CASE WHEN {test} THEN 1 ELSE 0 END)"
        if measure.agg == "count_distinct" and measure.expr:
            value = self._snippet(measure.expr, where, base)
            return f"COUNT(DISTINCT CASE WHEN {test} THEN {value} END)"
        raise KraftError(f"Measure {where} is a {measure.agg}; the impact analysis counts rows.")

    def per_rm(
        self, conn: Connection, metric: str, names: Sequence[str]
    ) -> dict[tuple[str, str], tuple[int, ...]]:
        """(RM, window) → the counts of the metric's named measures."""
        sql, day, measures, base = self.staged(metric)
        columns = ", ".join(
            f"{self.aggregate(metric, measures[n], n, base)} AS m{i}" for i, n in enumerate(names)
        )
        query = (
            f"SELECT f.__rm AS rm_id, {self.window_case(day)} AS win, {columns} "
            f"FROM ({sql}) AS f WHERE {self.in_windows(day)} "
            f"GROUP BY f.__rm, {self.window_case(day)}"
        )
        return {
            (str(r[0]), str(r[1])): tuple(int(v or 0) for v in r[2:])
            for r in conn.exec_driver_sql(query)
        }

    def referring(self, conn: Connection) -> dict[tuple[str, str], int]:
        """(RM, window) → the RM's retained clients who referred a lead created in the same
        window (any RM's lead): the retention's own retained measure, joined to the leads."""
        sql, day, measures, base = self.staged("client_retention_rate")
        retained = measures["retained"]
        assert retained.filter is not None
        assert retained.expr is not None
        test = self._snippet(retained.filter, "client_retention_rate.retained", base)
        client = self._snippet(retained.expr, "client_retention_rate.retained", base)
        query = (
            "SELECT r.rm_id, r.win, COUNT(*) FROM ("
            f"SELECT DISTINCT f.__rm AS rm_id, {client} AS client_id, {self.window_case(day)} "
            f"AS win FROM ({sql}) AS f WHERE {test} AND {self.in_windows(day)}"
            ") AS r JOIN ("
            "SELECT DISTINCT referred_by_client_id AS client_id, "
            f"{self.window_case('created_date')} AS win FROM leads "
            f"WHERE referred_by_client_id IS NOT NULL AND {self.in_windows('created_date')}"
            ") AS ref ON ref.client_id = r.client_id AND ref.win = r.win "
            "GROUP BY r.rm_id, r.win"
        )
        return {(str(r[0]), str(r[1])): int(r[2]) for r in conn.exec_driver_sql(query)}

    def personalised(self, conn: Connection) -> dict[tuple[str, str], int]:
        """(RM, window) → personalised policies issued in the window to clients who held a
        policy (any RM's, any status) issued before the window began."""
        held_before = (
            f"CASE WHEN p.issue_date < {_date(self.after.first)} "
            f"THEN {_date(self.before.first)} ELSE {_date(self.after.first)} END"
        )
        query = (
            f"SELECT p.rm_id, {self.window_case('p.issue_date')} AS win, COUNT(*) "
            f"FROM policies AS p WHERE p.personalised AND {self.in_windows('p.issue_date')} "
            "AND EXISTS (SELECT 1 FROM policies AS held WHERE held.client_id = p.client_id "
            f"AND held.issue_date < {held_before}) "
            f"GROUP BY p.rm_id, {self.window_case('p.issue_date')}"
        )
        return {(str(r[0]), str(r[1])): int(r[2]) for r in conn.exec_driver_sql(query)}


def group_members(
    conn: Connection, initiative_id: str, before: Window, after: Window
) -> dict[str, tuple[str, ...]]:
    """Participants: the initiative's RMs of role rm. Non-participants: every other RM of role rm
    employed over both windows (hired on or before the first day of the before window, and no
    exit date before the last day of the after window)."""
    participants = tuple(
        str(r[0])
        for r in conn.execute(
            sa.text(
                "SELECT p.rm_id FROM initiative_participants AS p "
                "JOIN relationship_managers AS r ON r.rm_id = p.rm_id "
                f"WHERE p.initiative_id = :i AND {is_scored_sql('r')} ORDER BY p.rm_id"
            ),
            {"i": initiative_id},
        )
    )
    if not participants:
        raise KraftError(
            f"Initiative {initiative_id!r} has no participants of role rm; import "
            "initiative_participants.csv with the RMs who carry it out."
        )
    others = tuple(
        str(r[0])
        for r in conn.execute(
            sa.text(
                f"SELECT rm_id FROM relationship_managers WHERE {is_scored_sql()} "
                "AND (hire_date IS NULL OR hire_date <= :first) "
                "AND (exit_date IS NULL OR exit_date >= :last) "
                "AND rm_id NOT IN (SELECT rm_id FROM initiative_participants "
                "WHERE initiative_id = :i) ORDER BY rm_id"
            ),
            {"i": initiative_id, "first": before.first, "last": after.last},
        )
    )
    return {PARTICIPANTS: participants, NON_PARTICIPANTS: others}
