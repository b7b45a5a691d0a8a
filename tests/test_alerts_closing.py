"""`kraft alerts`: provisional values about to close, on a hand-built book (both databases);
tests/test_alerts_email.py mails the same book's alerts.

The tiny framework of tests/test_alerts_cli.py (retention target 80, threshold 60, quarterly;
education sessions 2 a month, threshold 1: 6 and 3 a quarter). Renewal grace 30 days. Data as
of 2025-04-10: 2025-Q1 is closed, 2025-Q2 open (10 of its 91 days gone).

Organisation: branch B1 (manager M1) above team T1 (led by RM1: RM1, RM2, RM3); branch B2
(manager M2) above team T2 (RM4).

2025-Q1 retention (due policies; "open" = not renewed, still inside its grace window on 04-10,
which closes on end_date + 30, the last day a renewal may start and count):
  RM1  5 due: 3 renewed; P04 ends 03-20 (closes 04-19), P05 ends 03-25 (closes 04-24): 60 %,
       provisional, closing on 2025-04-24 with 2 still open: 14 days away, below target 80.
  RM2  2 due: 1 renewed; P07 ends 03-30 (closes 04-29): 50 %, 19 days away.
  RM3  5 due: 4 renewed; P12 ends 03-25 (closes 04-24): 80 % = the target: nothing to win.
  RM4  2 due: 1 renewed; P13 ends 03-28 (closes 04-27): 50 %, 17 days away.
Education sessions: RM1, RM2, RM3 two a month in 2025-Q1; in April to date RM1 and RM2 one
each (run rate 1 × 91 ÷ 10 = 9.1 ≥ 6: on track), RM3 none (at risk); RM4 none at all (at risk,
and below threshold in 2025-Q1 and by forecast in 2025-Q2: two periods running).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from kpi_books import configure, interaction, policy
from kraft.analysis.alerts import _undated, window_end
from kraft.metrics import snippets
from kraft.metrics.spec import load_catalogue
from kraft.workspace import Workspace, load_workspace
from test_alerts_cli import TINY_FRAMEWORK, fails, kraft, kraft_json

from books import Row, write_table

AS_OF = "2025-04-10"
TEAMS: list[Row] = [
    {"team_id": "B1", "name": "North Branch", "leader_rm_id": "M1"},
    {"team_id": "T1", "name": "Team One", "leader_rm_id": "RM1", "parent_team_id": "B1"},
    {"team_id": "B2", "name": "South Branch", "leader_rm_id": "M2"},
    {"team_id": "T2", "name": "Team Two", "parent_team_id": "B2"},
]
RMS: list[Row] = [
    {"rm_id": "M1", "name": "Maya", "team_id": "B1", "role": "manager", "hire_date": "2020-01-01"},
    {"rm_id": "RM1", "name": "Ravi", "team_id": "T1", "hire_date": "2020-01-01"},
    {"rm_id": "RM2", "name": "Asha", "team_id": "T1", "hire_date": "2020-01-01"},
    {"rm_id": "RM3", "name": "Dev", "team_id": "T1", "hire_date": "2020-01-01"},
    {"rm_id": "M2", "name": "Meera", "team_id": "B2", "role": "manager", "hire_date": "2020-01-01"},
    {"rm_id": "RM4", "name": "Kiran <b>K</b>", "team_id": "T2", "hire_date": "2020-01-01"},
]


def _due(policy_id: str, rm: str, end: str, renewed: bool) -> list[Row]:
    """A policy of client C<id> ending on `end`, renewed the day after (or not at all)."""
    client = f"C{policy_id[1:]}"
    rows = [policy(policy_id, client, rm, "2024-01-01", end=end, status="expired")]
    if renewed:
        day = int(end[-2:])
        rows.append(
            policy(f"R{policy_id}", client, rm, f"{end[:-2]}{day + 1:02d}",
                   renewal_of_policy_id=policy_id)
        )  # fmt: skip
    return rows


def _sessions(rm: str, days: list[str]) -> list[Row]:
    return [interaction(f"{rm}-{d}", rm, "education_session", d) for d in days]


Q1_SESSIONS = ["2025-01-10", "2025-01-20", "2025-02-10", "2025-02-20", "2025-03-10", "2025-03-20"]


def book() -> dict[str, list[Row]]:
    policies = [
        *_due("P01", "RM1", "2025-01-30", True),
        *_due("P02", "RM1", "2025-02-27", True),
        *_due("P03", "RM1", "2025-03-15", True),
        *_due("P04", "RM1", "2025-03-20", False),
        *_due("P05", "RM1", "2025-03-25", False),
        *_due("P06", "RM2", "2025-02-15", True),
        *_due("P07", "RM2", "2025-03-30", False),
        *_due("P08", "RM3", "2025-01-10", True),
        *_due("P09", "RM3", "2025-01-20", True),
        *_due("P10", "RM3", "2025-02-10", True),
        *_due("P11", "RM3", "2025-03-10", True),
        *_due("P12", "RM3", "2025-03-25", False),
        *_due("P13", "RM4", "2025-03-28", False),
        *_due("P14", "RM4", "2025-02-10", True),
    ]
    interactions = [
        *_sessions("RM1", [*Q1_SESSIONS, "2025-04-05"]),
        *_sessions("RM2", [*Q1_SESSIONS, "2025-04-06"]),
        *_sessions("RM3", Q1_SESSIONS),
    ]
    clients = sorted({p["client_id"] for p in policies})
    return {
        "teams": TEAMS,
        "relationship_managers": RMS,
        "clients": [{"client_id": c, "name": c} for c in clients],
        "policies": policies,
        "interactions": interactions,
    }


def build_closing(ws: Workspace, folder: Path) -> Workspace:
    """The book above under the tiny framework, imported as of 2025-04-10, computed."""
    (ws.root / "tiny.yaml").write_text(TINY_FRAMEWORK, encoding="utf-8")
    configure(ws, framework="tiny.yaml")
    for name, rows in book().items():
        write_table(folder, name, rows)
    kraft(ws, "import", str(folder), "--as-of", AS_OF)
    kraft(ws, "compute")
    return load_workspace(ws.root)  # with its kraft.toml as configured


@pytest.fixture
def closing(workspace: Workspace, tmp_path: Path) -> Workspace:
    return build_closing(workspace, tmp_path / "book")


def _kinds(report: dict[str, object]) -> list[tuple[object, ...]]:
    alerts = report["alerts"]
    assert isinstance(alerts, list)
    # kraft alerts ranks them by severity (tests/test_alerts_ranking.py); here: what is found
    return sorted((a["rm_id"], a["kpi_id"], a["period"], a["kind"]) for a in alerts)


def _of(report: dict[str, Any], rm_id: str, kind: str) -> dict[str, Any]:
    return next(a for a in report["alerts"] if a["rm_id"] == rm_id and a["kind"] == kind)


def test_provisional_values_closing_within_14_days(closing: Workspace) -> None:
    report = kraft_json(closing, "alerts")  # 2025-Q2, open; 2025-Q1 still has open windows
    assert (report["period"], report["open"]) == ("2025-Q2", True)
    assert _kinds(report) == [
        ("RM1", "client_retention_rate", "2025-Q1", "closing_soon"),
        ("RM3", "education_sessions", "2025-Q2", "at_risk"),
        ("RM4", "education_sessions", "2025-Q2", "below_threshold_twice"),  # and at risk: once
    ]
    retention = _of(report, "RM1", "closing_soon")
    assert (retention["actual"], retention["target"], retention["threshold"]) == (60, 80, 60)
    assert (retention["closes_on"], retention["pending"]) == ("2025-04-24", 2)
    assert (retention["forecast"], retention["method"]) == (None, None)
    text = kraft(closing, "alerts", "--rm", "RM1")
    assert "2025-Q1 closes on 2025-04-24, 2 still in their window" in " ".join(text.split())
    # The closed quarter asked for: the same window, nothing to pace, and RM4's sessions below
    # threshold in 2024-Q4 and 2025-Q1 (none in either).
    q1 = kraft_json(closing, "alerts", "--period", "2025-Q1")
    assert _kinds(q1) == [
        ("RM1", "client_retention_rate", "2025-Q1", "closing_soon"),
        ("RM4", "education_sessions", "2025-Q1", "below_threshold_twice"),
    ]


def test_the_horizon_is_the_closing_days(closing: Workspace) -> None:
    # 19 days: RM2 (closes 04-29) and RM4 (04-27) come in; RM3 at its target never does.
    wide = kraft_json(closing, "alerts", "--period", "2025-Q1", "--closing-days", "19")
    assert sorted(
        (a["rm_id"], a["closes_on"], a["pending"], a["actual"])
        for a in wide["alerts"]
        if a["kind"] == "closing_soon"
    ) == [("RM1", "2025-04-24", 2, 60), ("RM2", "2025-04-29", 1, 50), ("RM4", "2025-04-27", 1, 50)]
    # 13 days: 04-24 is one day too far.
    narrow = kraft_json(closing, "alerts", "--period", "2025-Q1", "--closing-days", "13")
    assert [a["kind"] for a in narrow["alerts"]] == ["below_threshold_twice"]
    assert "--closing-days" in fails(closing, "alerts", "--closing-days", "-1")


def test_the_open_period_closes_on_its_last_day(closing: Workspace) -> None:
    # April is open until the 30th (20 days away). RM1 and RM2 have 1 session of 2: on track by
    # run rate (1 × 30 ÷ 10 = 3), but not there yet: closing soon. RM3 and RM4 have none: at
    # risk, so not repeated as closing soon (RM4 had none in March either).
    report = kraft_json(closing, "alerts", "--period", "2025-04", "--closing-days", "20")
    assert _kinds(report) == [
        ("RM1", "education_sessions", "2025-04", "closing_soon"),
        ("RM2", "education_sessions", "2025-04", "closing_soon"),
        ("RM3", "education_sessions", "2025-04", "at_risk"),
        ("RM4", "education_sessions", "2025-04", "below_threshold_twice"),  # and at risk: once
    ]
    first = _of(report, "RM1", "closing_soon")
    assert (first["actual"], first["target"], first["closes_on"], first["pending"]) == (
        1, 2, "2025-04-30", None,
    )  # fmt: skip
    nineteen = kraft_json(closing, "alerts", "--period", "2025-04", "--closing-days", "19")
    assert "closing_soon" not in [a["kind"] for a in nineteen["alerts"]]


def test_which_windows_have_a_closing_day() -> None:
    """Read from the catalogue: the renewal grace term gives the day; an open claim has none."""
    catalogue = load_catalogue()
    watch = catalogue.metrics["client_retention_rate"].provisional_when
    assert watch is not None and watch.filter is not None
    end = window_end(snippets.parse(watch.filter, "test"))
    assert end is not None and isinstance(end, exp.Add)
    assert snippets.column_names(end, "policies") == {"end_date"}
    assert snippets.placeholders(end) == {"renewal_grace_days"}
    assert not _undated(catalogue, "client_retention_rate")
    assert not _undated(catalogue, "renewal_rate_after_education")
    assert _undated(catalogue, "loss_ratio")  # open claims
    assert _undated(catalogue, "loss_ratio_improvement")  # derived from it
    assert not _undated(catalogue, "education_sessions")
