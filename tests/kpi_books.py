"""Helpers for the hand-computed KPI tests: tiny books, import + compute + export, and checks.

A test builds a book (a dict of table name → rows), `load`s it into the workspace with an as-of
date, and compares the exported kpi-values with values worked out by hand.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.workspace import CONFIG_NAME, Workspace, render_config

from books import Row, write_table

Key = tuple[str, str, str, str]  # (entity_type, entity_id, period, kpi_id)
Values = dict[Key, tuple[float | None, bool]]

COLUMNS = [
    "entity_type",
    "entity_id",
    "period",
    "kpi_id",
    "value",
    "numerator",
    "denominator",
    "provisional",
]

# The default organisation: branch B1 (led by manager M1) with team T1 (led by RM1) below it.
TEAMS: list[Row] = [
    {"team_id": "B1", "name": "Branch", "leader_rm_id": "M1"},
    {"team_id": "T1", "name": "Team One", "leader_rm_id": "RM1", "parent_team_id": "B1"},
]
RMS: list[Row] = [
    {"rm_id": "M1", "name": "Maya", "team_id": "B1", "role": "manager", "hire_date": "2020-01-01"},
    {"rm_id": "RM1", "name": "Ravi", "team_id": "T1", "hire_date": "2020-01-01"},
    {"rm_id": "RM2", "name": "Asha", "team_id": "T1", "hire_date": "2020-01-01"},
]

# Every computed (kind C) KPI of KPIS.md's table, and the two manual ones.
COMPUTED_KPIS = [
    "client_retention_rate",
    "client_meetings_per_month",
    "customer_satisfaction_score",
    "referral_rate",
    "sales_conversion_rate",
    "revenue_per_quarter",
    "new_business_acquisition_rate",
    "cross_sell_success_rate",
    "adequate_coverage_rate",
    "risk_assessment_completion_rate",
    "claims_settlement_time",
    "loss_ratio_improvement",
    "education_sessions",
    "policy_understanding_score",
    "renewal_rate_after_education",
    "education_material_feedback",
    "competitor_analysis_reports",
    "new_market_segments",
    "market_penetration_growth_rate",
    "market_share_initiatives",
    "employee_satisfaction_score",
    "team_training_completion_rate",
    "team_goal_achievement_rate",
    "compliance_audit_rating",
    "compliance_trainings_attended",
    "regulatory_violations",
    "documentation_accuracy_rate",
    "tech_adoption_rate",
    "digital_service_feedback",
    "innovation_success_rate",
    "report_accuracy_rate",
    "action_plan_success_rate",
    "certifications_obtained",
    "workshops_attended",
    "skills_training_completion_rate",
    "knowledge_sharing_initiatives",
]
LEADER_KPIS = [
    "employee_satisfaction_score",
    "team_training_completion_rate",
    "team_goal_achievement_rate",
]
MANUAL_KPIS = ["automation_time_savings", "management_decision_impact"]
SCORE_KPIS = ["team_performance_improvement_rate", "key_metric_variance"]
COUNT_KPIS = [
    "revenue_per_quarter",
    "education_sessions",
    "competitor_analysis_reports",
    "new_market_segments",
    "market_share_initiatives",
    "compliance_trainings_attended",
    "regulatory_violations",
    "certifications_obtained",
    "workshops_attended",
    "knowledge_sharing_initiatives",
    "client_meetings_per_month",
]


def kraft(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output, output
    assert result.exit_code == 0, f"kraft {' '.join(args)} failed:\n{output}"
    return output


def configure(ws: Workspace, **settings: object) -> None:
    """Rewrite the workspace's kraft.toml with some settings changed (before importing)."""
    changed = ws.settings.model_copy(update=settings)
    (ws.root / CONFIG_NAME).write_text(render_config(changed), encoding="utf-8")


def policy(
    policy_id: str,
    client_id: str,
    rm_id: str,
    issue: str,
    start: str | None = None,
    end: str = "2026-12-31",
    status: str = "in_force",
    premium: str = "1000",
    **extra: str,
) -> Row:
    row: Row = {
        "policy_id": policy_id,
        "client_id": client_id,
        "rm_id": rm_id,
        "product_line": "motor",
        "business_type": "renewal" if extra.get("renewal_of_policy_id") else "new",
        "issue_date": issue,
        "start_date": start or issue,
        "end_date": end,
        "status": status,
        "annual_premium": premium,
    }
    row.update(extra)
    return row


def activity(
    activity_id: str, rm_id: str, kind: str, day: str, status: str = "completed", **extra: str
) -> Row:
    return {
        "activity_id": activity_id,
        "rm_id": rm_id,
        "type": kind,
        "date": day,
        "status": status,
        **extra,
    }


def survey(
    response_id: str, rm_id: str, kind: str, day: str, score: str, lo: str = "", hi: str = ""
) -> Row:
    return {
        "response_id": response_id,
        "survey_type": kind,
        "rm_id": rm_id,
        "date": day,
        "score": score,
        "scale_min": lo,
        "scale_max": hi,
    }


def interaction(
    interaction_id: str,
    rm_id: str,
    kind: str,
    day: str,
    status: str = "completed",
    client_id: str = "",
    session_id: str = "",
) -> Row:
    return {
        "interaction_id": interaction_id,
        "rm_id": rm_id,
        "client_id": client_id,
        "type": kind,
        "date": day,
        "status": status,
        "session_id": session_id,
    }


def _client_ids(tables: dict[str, list[Row]]) -> list[str]:
    seen: dict[str, None] = {}
    for name in ("policies", "leads", "interactions", "surveys"):
        for row in tables.get(name, []):
            for column in ("client_id", "referred_by_client_id"):
                if row.get(column):
                    seen[row[column]] = None
    return list(seen)


def load(
    ws: Workspace,
    folder: Path,
    tables: dict[str, list[Row]],
    as_of: str,
    *compute_args: str,
) -> Values:
    """Write the book (default teams and RMs, clients inferred), import it, compute, export."""
    book = {"teams": TEAMS, "relationship_managers": RMS, **tables}
    if "clients" not in book:
        book["clients"] = [{"client_id": c, "name": c} for c in _client_ids(book)]
    for name, rows in book.items():
        write_table(folder, name, rows)
    kraft(ws, "import", str(folder), "--as-of", as_of)
    return values(ws, *compute_args)


def values(ws: Workspace, *compute_args: str) -> Values:
    """Run `kraft compute` and `kraft export kpi-values`, parse the CSV."""
    kraft(ws, "compute", *compute_args)
    out = ws.root / "kpi-values.csv"
    kraft(ws, "export", "kpi-values", "--format", "csv", "-o", str(out), "--all-periods")
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        result: Values = {}
        for row in reader:
            key = (row["entity_type"], row["entity_id"], row["period"], row["kpi_id"])
            assert key not in result, f"duplicate row {key}"
            assert row["provisional"] in ("true", "false"), row
            value = float(row["value"]) if row["value"] != "" else None
            result[key] = (value, row["provisional"] == "true")
    return result


def expect(vals: Values, kpi: str, expected: dict[tuple[str, str, str], float | None]) -> None:
    """Every (entity_type, entity_id, period) of `expected` has that value of `kpi`; all
    mismatches are reported together."""
    problems = []
    for (etype, eid, period), want in expected.items():
        key = (etype, eid, period, kpi)
        if key not in vals:
            problems.append(f"{key}: no row (expected {want})")
            continue
        got = vals[key][0]
        if want is None:
            if got is not None:
                problems.append(f"{key}: expected empty (null), got {got}")
        elif got is None or got != pytest.approx(want, rel=1e-9, abs=1e-9):
            problems.append(f"{key}: expected {want}, got {got}")
    assert not problems, "\n".join(problems)


def expect_provisional(vals: Values, expected: dict[Key, bool]) -> None:
    problems = []
    for key, want in expected.items():
        if key not in vals:
            problems.append(f"{key}: no row (expected provisional={want})")
        elif vals[key][1] is not want:
            problems.append(f"{key}: expected provisional={want}, got {vals[key][1]}")
    assert not problems, "\n".join(problems)


def numbers(ws: Workspace) -> dict[Key, tuple[float | None, float | None]]:
    """(numerator, denominator) per key, from the CSV the last `values` call exported."""
    with (ws.root / "kpi-values.csv").open(newline="", encoding="utf-8") as handle:
        return {
            (r["entity_type"], r["entity_id"], r["period"], r["kpi_id"]): (
                float(r["numerator"]) if r["numerator"] != "" else None,
                float(r["denominator"]) if r["denominator"] != "" else None,
            )
            for r in csv.DictReader(handle)
        }
