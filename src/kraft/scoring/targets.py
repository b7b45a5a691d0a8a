"""Which target and threshold a scorecard uses: RM over team over company over framework.

Targets are given per the KPI's grain. A row of the `targets` table applies to a scorecard when
its date range covers the scorecard's period; the RM's own row wins, then the nearest team above
the RM (a team's target applies to its descendant teams), then the company's (`org`), then the
framework's default. Among rows of the same scope the latest recorded wins (rows are never
changed, only added: the table is the history). A row whose source is DELETED is a deletion
record: it withdraws the versions of its scope, KPI and range recorded before it (so the next
scope's target applies), and is never a target itself. Count and currency targets and thresholds
scale with the number of grain periods in a longer scorecard (3 a month is 9 a quarter).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from kraft.framework.model import KPI, Framework, Unit
from kraft.periods import Period
from kraft.scoring.methods import Goal
from kraft.scoring.scorecard import Person, TargetChoice

SCALING_UNITS = {Unit.count, Unit.currency}
SCOPES = ("org", "team", "rm")
DELETED = "deleted"  # the source of a deletion record


@dataclass(frozen=True)
class TargetRow:
    """One version of a target, as the `targets` table keeps it."""

    target_id: int
    scope_type: str  # org, team or rm
    scope_id: str
    kpi_id: str
    from_date: date | None
    to_date: date | None
    target: Decimal
    threshold: Decimal | None
    recorded_at: datetime

    def covers(self, period: Period) -> bool:
        return (self.from_date is None or self.from_date <= period.start) and (
            self.to_date is None or period.end <= self.to_date
        )


def scale(kpi: KPI, period: Period) -> Decimal:
    """How many of the KPI's grain periods the scorecard's period holds, for counts and sums."""
    if kpi.unit not in SCALING_UNITS or kpi.grain is None:
        return Decimal(1)
    return Decimal(period.months // kpi.grain.months)


class TargetBook:
    """Looks up the goal of a KPI for an RM and a period (a GoalLookup for the Scorer)."""

    def __init__(
        self,
        framework: Framework,
        rows: Iterable[TargetRow],
        team_parents: Mapping[str, str | None],
    ) -> None:
        self.framework = framework
        self.team_parents = dict(team_parents)
        self._rows: dict[tuple[str, str, str], list[TargetRow]] = {}
        for row in sorted(rows, key=lambda r: (r.recorded_at, r.target_id), reverse=True):
            self._rows.setdefault((row.kpi_id, row.scope_type, row.scope_id), []).append(row)
        self._kpis_with_rows = {kpi for kpi, _, _ in self._rows}
        self._defaults: dict[tuple[str, str], TargetChoice | None] = {}
        self._overrides: dict[tuple[int, Decimal], TargetChoice] = {}
        self._chains: dict[str | None, list[str]] = {}

    def _chain(self, team: str | None) -> list[str]:
        """The team and every team above it, nearest first."""
        if team not in self._chains:
            chain: list[str] = []
            current = team
            while current is not None and current not in chain:
                chain.append(current)
                current = self.team_parents.get(current)
            self._chains[team] = chain
        return self._chains[team]

    def _default(self, kpi: KPI, period: Period) -> TargetChoice | None:
        key = (kpi.id, period.grain)
        if key not in self._defaults:
            choice = None
            if kpi.target is not None:
                factor = scale(kpi, period)
                threshold = kpi.threshold * factor if kpi.threshold is not None else None
                choice = TargetChoice(Goal(kpi.target * factor, threshold), "framework")
            self._defaults[key] = choice
        return self._defaults[key]

    def _latest(self, kpi_id: str, scope: str, scope_id: str, period: Period) -> TargetRow | None:
        for row in self._rows.get((kpi_id, scope, scope_id), ()):
            if row.covers(period):
                return row
        return None

    def override(self, person: Person, kpi_id: str, period: Period) -> TargetRow | None:
        """The table's row that applies, if any."""
        row = self._latest(kpi_id, "rm", person.rm_id, period)
        if row is None:
            for team in self._chain(person.team_id):
                row = self._latest(kpi_id, "team", team, period)
                if row is not None:
                    break
        if row is None:
            row = self._latest(kpi_id, "org", "org", period)
        return row

    def __call__(self, person: Person, kpi: KPI, period: Period) -> TargetChoice | None:
        default = self._default(kpi, period)
        if kpi.id not in self._kpis_with_rows:
            return default
        row = self.override(person, kpi.id, period)
        if row is None:
            return default
        factor = scale(kpi, period)
        key = (row.target_id, factor)
        choice = self._overrides.get(key)
        if choice is None:
            threshold = row.threshold if row.threshold is not None else kpi.threshold
            source = (
                "rm"
                if row.scope_type == "rm"
                else ("org" if row.scope_type == "org" else f"team:{row.scope_id}")
            )
            choice = self._overrides[key] = TargetChoice(
                Goal(row.target * factor, threshold * factor if threshold is not None else None),
                source,
                row.target_id,
            )
        return choice
