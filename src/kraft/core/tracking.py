"""Which KPIs the workspace tracks: what its data leaves untracked, and turning a KPI off (or
on again) in kraft.toml, audited, without touching the framework's YAML."""

from __future__ import annotations

from kraft.core.compute import rescore
from kraft.core.context import Kraft
from kraft.core.settings_change import SettingChange, change_setting
from kraft.errors import InvalidInputError
from kraft.periods import Period
from kraft.scoring.tracking import Tracking, first_scored_period, workspace_tracking


def tracking_state(kraft: Kraft) -> Tracking:
    """The contract tables never imported and the KPIs not tracked, each with why."""
    with kraft.db.connect() as conn:
        return workspace_tracking(
            conn, kraft.framework, kraft.catalogue, kraft.settings.untracked_kpis
        )


def set_kpi_tracked(kraft: Kraft, kpi_id: str, tracked: bool, *, actor: str) -> str:
    """Turn a KPI off (`tracked` False) or on again in kraft.toml's untracked_kpis, audited,
    then re-score. Returns a sentence saying what changed."""
    known = [kpi.id for _, kpi in kraft.framework.kpis()]
    if kpi_id not in known:
        raise InvalidInputError(
            f"The framework has no KPI {kpi_id!r}; give one of its KPI ids "
            "(see `kraft framework show`)."
        )
    before = tuple(kraft.settings.untracked_kpis)
    after = tuple(k for k in before if k != kpi_id) if tracked else (*before, kpi_id)
    if tracked == (kpi_id not in before):
        state = "tracked" if tracked else "turned off"
        return f"{kpi_id} is already {state}; nothing changed."
    change = SettingChange(
        name="untracked_kpis",
        value=after,
        action="framework.track",
        object_type="kpi",
        object_id=kpi_id,
        old={"untracked_kpis": list(before)},
        new={"untracked_kpis": list(after)},
    )
    change_setting(kraft, change, actor=actor)
    rescore(kraft)
    if tracked:
        return f"{kpi_id} is tracked again; run `kraft compute` to store its values."
    return (
        f"{kpi_id} is not tracked now: shown as not tracked, never scored; `kraft compute` "
        "stores its values as null."
    )


def first_scored_label(kraft: Kraft) -> str | None:
    """The first scored period's label (kraft.toml's, else the default rule's); None without
    policies."""
    first = first_scored(kraft)
    return first.label if first is not None else None


def first_scored(kraft: Kraft) -> Period | None:
    """The first scored period: earlier periods are computed, never scored, offered or
    exported (unless asked for every period)."""
    with kraft.db.connect() as conn:
        return first_scored_period(
            conn,
            kraft.calendar,
            kraft.framework,
            kraft.catalogue,
            kraft.settings.first_scored_period,
            kraft.settings.untracked_kpis,
        )
