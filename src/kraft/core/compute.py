"""Compute and score: every KPI of the framework from the data, then every RM's scores; and the
re-score that follows a change of targets or measurements. One path for the CLI, the web's
compute jobs and the API, each audited alike."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kraft.core.context import Kraft
from kraft.metrics.runner import ComputeRequest, ComputeResult, compute
from kraft.scoring.runner import ScoreResult, score_database
from kraft.store import audit

if TYPE_CHECKING:  # Spark is an optional extra, loaded only when asked for
    from kraft.metrics.spark import SparkOptions

Progress = Callable[[int, int], None]
COMPUTING, SCORING = "Computing KPIs", "Scoring every RM"


@dataclass(frozen=True)
class ComputeOutcome:
    computed: ComputeResult
    scored: ScoreResult | None  # None: scoring was not asked for

    def summary(self, framework: str) -> dict[str, Any]:
        """What the audit entry and the API say of the run."""
        c = self.computed
        return {
            "run_id": c.run_id,
            "as_of": c.as_of.isoformat(),
            "first_period": c.first_period,
            "last_period": c.last_period,
            "kpis": len(c.kpis),
            "values": c.rows,
            "scorecards": self.scored.scorecards if self.scored else None,
            "scores": self.scored.rows if self.scored else None,
            "framework": framework,
        }


def compute_and_score(
    kraft: Kraft,
    request: ComputeRequest,
    *,
    actor: str,
    score: bool = True,
    spark: SparkOptions | None = None,
    progress: Progress | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> ComputeOutcome:
    """Compute the KPI values (where the data is, or in Spark), then (unless told not to) score
    every RM from them, holding the one writer; one audit entry `compute` names the run.
    `on_phase` hears each phase as it begins ("Computing KPIs", "Scoring every RM")."""
    framework = kraft.framework
    phase = on_phase or (lambda _: None)
    with kraft.writer():
        phase(COMPUTING)
        request = replace(request, untracked=sorted(kraft.scoring_policy().untracked))
        computed = _compute_values(kraft, request, actor, spark, progress)
        scored = None
        if score:
            phase(SCORING)
            scored = score_database(
                kraft.db,
                framework,
                kraft.calendar,
                computed.run_id,
                workers=kraft.scoring_workers,
                policy=kraft.scoring_policy(),
            )
        outcome = ComputeOutcome(computed, scored)
        with kraft.db.begin() as conn:
            audit.append(
                conn,
                actor=actor,
                action="compute",
                object_type="compute_run",
                object_id=str(computed.run_id),
                new=outcome.summary(f"{framework.id} v{framework.version}"),
            )
    return outcome


def _compute_values(
    kraft: Kraft,
    request: ComputeRequest,
    actor: str,
    spark: SparkOptions | None,
    progress: Progress | None,
) -> ComputeResult:
    arguments = (
        kraft.db,
        kraft.framework,
        kraft.catalogue,
        kraft.calendar,
        kraft.compute_parameters,
        request,
    )
    if spark is None:
        return compute(*arguments, actor=actor, progress=progress)
    from kraft.metrics.spark import compute_spark

    return compute_spark(*arguments, spark, actor=actor, progress=progress)


def rescore(kraft: Kraft, rm_ids: Collection[str] | None = None) -> ScoreResult | None:
    """Re-score from the stored values: every RM, or (`rm_ids`) only the team trees holding
    those RMs, which is all a change for them can alter (scores never cross from one top-level
    team tree to another, so the result is the full re-score's). None when nothing is computed
    yet: then `kraft compute` scores with the change."""
    with kraft.writer():
        with kraft.db.connect() as conn:
            run_id = conn.execute(sa.text("SELECT max(run_id) FROM compute_runs")).scalar()
        if run_id is None:
            return None
        return score_database(
            kraft.db,
            kraft.framework,
            kraft.calendar,
            int(run_id),
            workers=kraft.scoring_workers,
            rm_ids=rm_ids,
            policy=kraft.scoring_policy(),
        )
