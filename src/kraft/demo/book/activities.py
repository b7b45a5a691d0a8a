"""Activities, compliance, tool usage, team goals and manual measurements."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from kraft.demo.book.arrow import build_table, date_column, enum_column, id_column, take_or_null
from kraft.demo.book.draws import Arr, Rng, between, choice, logit, sigmoid
from kraft.demo.book.organisation import Org, Window
from kraft.demo.book.spans import Span, events, once
from kraft.schema.tables import table

TOOLS = (
    "CRM Mobile",
    "Quote Engine",
    "e-KYC",
    "WhatsApp Connect",
    "Claims Tracker",
    "Analytics Dashboard",
)
INCIDENT_CATEGORIES = (
    "KYC lapse",
    "Mis-selling complaint",
    "Documentation",
    "Data privacy",
    "Cash handling",
    "Disclosure",
)
GOALS = (
    "Quarterly premium target",
    "Team retention at or above 85 %",
    "All members complete compliance training",
    "Cross-sell campaign conversions",
    "Zero open complaints older than 30 days",
)
MONTHLY_GOALS = ("Monthly renewal drive", "Monthly client education drive")


ACTIVITY_RATES = {  # events per RM-month (compliance_training: quarterly; performance_report: monthly)
    "competitor_analysis_report": 0.40,
    "market_segment_identified": 0.17,
    "market_initiative": 0.35,
    "training": 2.00,
    "certification": 0.12,
    "workshop": 0.40,
    "seminar": 0.35,
    "knowledge_sharing": 0.45,
    "innovation_project": 0.08,
    "action_plan_item": 2.00,
}
# An engaged RM does more of the optional work: these types' rates scale by e^(k s).
ENGAGEMENT = {
    "competitor_analysis_report": 0.5,
    "market_segment_identified": 0.5,
    "market_initiative": 0.5,
    "certification": 0.5,
    "workshop": 0.4,
    "seminar": 0.4,
    "knowledge_sharing": 0.3,
}
ACTIVITY_HOURS = {
    "training": (2, 16),
    "compliance_training": (1, 3),
    "certification": (10, 40),
    "workshop": (3, 8),
    "seminar": (1, 4),
    "knowledge_sharing": (1, 2),
}
PLANNED, DONE, DROPPED = 0, 1, 2  # activities.status: planned, completed, cancelled


ACTIVITY_TYPES = table("activities").column("type").enum


def activities_table(rng: Rng, org: Org, months: Span, quarters: Span, rm_ids: Any) -> Any:
    """Every activity: the rated types, quarterly compliance training, monthly reports."""
    parts = [_rated(rng, org, months, name, rate) for name, rate in ACTIVITY_RATES.items()]
    rm, _, day = once(rng, quarters, sigmoid(logit(0.95) + org.skill)[:, None])
    status = choice(rng, np.array([0.05, 0.9, 0.05]), rm.size)
    parts.append(_rows(rng, "compliance_training", rm, day, status))
    rm, month = np.nonzero(months.employed & ~org.manager[:, None])
    day = months.hi[rm, month]  # submitted at month end (or on the last employed day)
    clean = rng.random(rm.size) < np.clip(0.9 + 0.05 * org.skill[rm], 0.6, 0.99)
    corrections = np.where(clean, 0, 1 + rng.poisson(0.5, rm.size))
    parts.append(
        _rows(rng, "performance_report", rm, day, np.full(rm.size, DONE), corrections=corrections)
    )
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cols["rm"], cols["day"]))
    cols = {k: v[order] for k, v in cols.items()}
    return build_table(
        "activities",
        {
            "activity_id": id_column("A", order.size, 7),
            "rm_id": take_or_null(rm_ids, cols["rm"]),
            "type": enum_column("activities", "type", cols["type"]),
            "date": date_column(cols["day"]),
            "due_date": date_column(cols["due"], cols["due"] < 0),
            "completed_date": date_column(cols["done"], cols["done"] < 0),
            "status": enum_column("activities", "status", cols["status"]),
            "outcome": enum_column("activities", "outcome", cols["outcome"]),
            "corrections": pa.array(
                cols["corrections"], type=pa.int64(), mask=cols["corrections"] < 0
            ),
            "hours": pa.array(cols["hours"], type=pa.float64(), mask=cols["hours"] < 0),
        },
    )


def _rows(rng: Rng, name: str, rm: Arr, day: Arr, status: Arr, **extra: Arr) -> dict[str, Arr]:
    """One activity type's rows; hours drawn for the types that take time."""
    n = rm.size
    done = extra.get("done", np.where(status == DONE, day, -1))
    hours = np.full(n, -1.0)
    if name in ACTIVITY_HOURS:
        low, high = ACTIVITY_HOURS[name]
        hours = np.where(status == DROPPED, -1.0, between(rng, low, high, n).astype(float))
    return {
        "type": np.full(n, ACTIVITY_TYPES.index(name)),
        "rm": rm,
        "day": day,
        "due": extra.get("due", np.full(n, -1)),
        "done": done,
        "status": status,
        "outcome": extra.get("outcome", np.full(n, -1)),
        "corrections": extra.get("corrections", np.full(n, -1)),
        "hours": hours,
    }


def _rated(rng: Rng, org: Org, months: Span, name: str, rate: float) -> dict[str, Arr]:
    """An activity type drawn at its monthly rate: trainings and action items have due dates,
    innovation projects an outcome, the rest a status."""
    skill = org.skill[:, None]
    per_rm = rate * np.exp(ENGAGEMENT.get(name, 0.0) * skill)
    rm, _, day = events(rng, months, np.broadcast_to(per_rm, months.lo.shape))
    n = rm.size
    bound = org.hi[rm]
    s = org.skill[rm]
    if name in ("training", "action_plan_item"):
        longest, p_on = (60, 0.88 + 0.06 * s) if name == "training" else (90, 0.82 + 0.08 * s)
        due = day + between(rng, 14, longest, n)
        dropped = rng.random(n) < 0.04
        on_time = rng.random(n) < np.clip(p_on, 0.4, 0.99)
        late = ~on_time & (rng.random(n) < 0.6)
        finish = np.where(on_time, between(rng, day, due), due + between(rng, 1, 30, n))
        has = ~dropped & (on_time | late) & (finish <= bound)
        status = np.where(dropped, DROPPED, np.where(has, DONE, PLANNED))
        return _rows(rng, name, rm, day, status, due=due, done=np.where(has, finish, -1))
    if name == "innovation_project":
        finish = day + between(rng, 30, 180, n)
        dropped = rng.random(n) < 0.1
        has = ~dropped & (finish <= bound)
        success = rng.random(n) < np.clip(0.55 + 0.12 * s, 0.2, 0.9)
        status = np.where(dropped, DROPPED, np.where(has, DONE, PLANNED))
        outcome = np.where(has, np.where(success, 0, 1), -1)
        return _rows(rng, name, rm, day, status, done=np.where(has, finish, -1), outcome=outcome)
    return _rows(rng, name, rm, day, choice(rng, np.array([0.07, 0.88, 0.05]), n))


def compliance_tables(
    rng: Rng, org: Org, months: Span, quarters: Span, rm_ids: Any
) -> tuple[Any, Any]:
    rm, _, day = once(rng, quarters, 0.95)
    order = np.lexsort((rm, day))
    rm, day = rm[order], day[order]
    rating = np.clip(80.0 + 8.0 * org.skill[rm] + rng.normal(0.0, 6.0, rm.size), 0.0, 100.0)
    audits = build_table(
        "compliance_audits",
        {
            "audit_id": id_column("AU", rm.size, 6),
            "rm_id": take_or_null(rm_ids, rm),
            "date": date_column(day),
            "rating": np.round(rating, 1),
        },
    )
    rate = 0.012 * np.exp(-0.5 * org.skill)[:, None]
    rm, _, day = events(rng, months, np.broadcast_to(rate, months.lo.shape))
    order = np.lexsort((rm, day))
    rm, day = rm[order], day[order]
    n = rm.size
    incidents = build_table(
        "compliance_incidents",
        {
            "incident_id": id_column("IN", n, 5),
            "rm_id": take_or_null(rm_ids, rm),
            "date": date_column(day),
            "category": pa.array(INCIDENT_CATEGORIES).take(
                pa.array(rng.integers(0, len(INCIDENT_CATEGORIES), n))
            ),
            "severity": enum_column(
                "compliance_incidents", "severity", choice(rng, np.array([0.6, 0.3, 0.1]), n)
            ),
            "substantiated": rng.random(n) < 0.4,
            "reported_by": enum_column(
                "compliance_incidents",
                "reported_by",
                choice(rng, np.array([0.2, 0.4, 0.3, 0.1]), n),
            ),
        },
    )
    return audits, incidents


def tool_usage_table(rng: Rng, org: Org, w: Window, months: Span, rm_ids: Any) -> Any:
    n_tools = len(TOOLS)
    count = between(rng, 2, 4, org.n)
    rank = np.argsort(np.argsort(rng.random((org.n, n_tools)), axis=1), axis=1)
    assigned = (rank < count[:, None]) & ~org.manager[:, None]
    rm, tool, month = np.nonzero(assigned[:, :, None] & months.employed[:, None, :])
    days = months.hi[rm, month] - months.lo[rm, month] + 1
    adopted = rng.random(rm.size) < np.clip(0.86 + 0.06 * org.skill[rm], 0.5, 0.99)
    active = np.where(
        adopted,
        between(rng, np.minimum(4, days), days),
        between(rng, 0, np.minimum(3, days)),
    )
    order = np.lexsort((tool, rm, month))
    rm, tool, month, active = rm[order], tool[order], month[order], active[order]
    return build_table(
        "tool_usage",
        {
            "rm_id": take_or_null(rm_ids, rm),
            "tool": pa.array(TOOLS).take(pa.array(tool)),
            "month": pa.array(w.month_label).take(pa.array(month)),
            "active_days": active.astype(np.int64),
        },
    )


def team_goals_table(rng: Rng, org: Org, w: Window, team_ids: Any) -> Any:
    ordinary = np.flatnonzero(org.team_parent >= 0)
    members = ~org.manager
    skill_sum = np.bincount(org.team[members], org.skill[members], minlength=len(org.team_name))
    head = np.bincount(org.team[members], minlength=len(org.team_name))
    team_skill = skill_sum / np.maximum(head, 1)
    n_q = len(w.quarter_label)
    team_q = np.repeat(ordinary, n_q)
    quarter = np.tile(np.arange(n_q), ordinary.size)
    k = between(rng, 2, 3, team_q.size)
    rank = np.argsort(np.argsort(rng.random((team_q.size, len(GOALS))), axis=1), axis=1)
    row, goal = np.nonzero(rank < k[:, None])
    q_team, q_period = team_q[row], quarter[row]
    q_label = pa.array(w.quarter_label).take(pa.array(q_period))
    q_desc = pa.array(GOALS).take(pa.array(goal))
    monthly = np.nonzero(rng.random((ordinary.size, w.months)) < 0.25)
    m_team, m_period = ordinary[monthly[0]], monthly[1]
    m_label = pa.array(w.month_label).take(pa.array(m_period))
    m_desc = pa.array(MONTHLY_GOALS).take(
        pa.array(rng.integers(0, len(MONTHLY_GOALS), m_team.size))
    )
    team = np.concatenate([q_team, m_team])
    met = rng.random(team.size) < sigmoid(logit(0.7) + 0.8 * team_skill[team])
    return build_table(
        "team_goals",
        {
            "goal_id": id_column("G", team.size, 5),
            "team_id": take_or_null(team_ids, team),
            "period": pa.concat_arrays([q_label, m_label]),
            "description": pa.concat_arrays([q_desc, m_desc]),
            "met": met,
        },
    )


def measurements_table(rng: Rng, org: Org, w: Window, quarters: Span, rm_ids: Any) -> Any:
    rm, quarter = np.nonzero(quarters.employed & ~org.manager[:, None])
    s = org.skill[rm]
    n = rm.size
    saving = np.round(np.clip(rng.normal(15.0 + 6.0 * s, 5.0), 5.0, 30.0), 1)
    rating = np.clip(np.rint(3.3 + 0.8 * s + rng.normal(0.0, 0.7, n)), 1, 5)
    kpi = np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]
    rm2, quarter2 = np.r_[rm, rm], np.r_[quarter, quarter]
    value = np.r_[saving, (rating - 1.0) * 25.0]
    keep = rng.random(2 * n) < 0.92  # some never entered
    kpi, rm2, quarter2, value = kpi[keep], rm2[keep], quarter2[keep], value[keep]
    order = np.lexsort((kpi, rm2, quarter2))
    kpi, rm2, quarter2, value = kpi[order], rm2[order], quarter2[order], value[order]
    names = pa.array(["automation_time_savings", "management_decision_impact"])
    notes = pa.array(["time-and-motion study of quote issuance", "branch manager's 1-5 rating"])
    return build_table(
        "measurements",
        {
            "rm_id": take_or_null(rm_ids, rm2),
            "kpi_id": names.take(pa.array(kpi)),
            "period": pa.array(w.quarter_label).take(pa.array(quarter2)),
            "value": value,
            "note": notes.take(pa.array(kpi)),
        },
    )
