"""`kraft alerts`, `kraft variance` and `kraft drivers` on a small hand-built book, on both
databases; `tests/test_whatif.py` reuses the book.

The book's framework has two KRAs, so that every score can be worked out by hand:
  relationship_building (60): client_retention_rate (target 80, threshold 60) and
                              sales_conversion_rate (target 50, threshold 25), quarterly;
  customer_education (40):    education_sessions, monthly (2 a month, threshold 1: 6 and 3 a
                              quarter).
Team T1 (led by RM1): RM1, RM2, and RM3 (hired 2025-01-01). Data as of 2025-05-31, so 2025-Q2 is
open with 61 of its 91 days gone; 2025-Q1 is closed.

                    2024-Q1  2024-Q2 (Apr May Jun)  2024-Q4  2025-Q1  2025-Q2 to date (Apr May)
sessions  RM1          6        1   1   2              3        6        2   1
          RM2          0        0   0   0              2        0        1   1
          RM3          –        –   –   –              –        2        3   2
retention RM1     2 of 2 due                       1 of 2   3 of 4        –
          RM2                                               1 of 1        –
sales     RM1                                               1 won 4 lost  1 won 4 lost
          RM2                                               3 won 3 lost  2 won
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kpi_books import RMS, TEAMS, configure, interaction, policy
from kraft.cli import app
from kraft.workspace import Workspace

from books import Row, write_table

TINY_FRAMEWORK = """\
id: tiny
role: Relationship Manager
title: Tiny
kras:
  - id: relationship_building
    number: 1
    title: Relationship Building
    weight: 60
    kpis:
      - {id: client_retention_rate, name: Client retention rate, kind: computed,
         metric: client_retention_rate, unit: percent, direction: higher_is_better,
         grain: quarter, target: 80, threshold: 60}
      - {id: sales_conversion_rate, name: Sales conversion rate, kind: computed,
         metric: sales_conversion_rate, unit: percent, direction: higher_is_better,
         grain: quarter, target: 50, threshold: 25}
  - id: customer_education
    number: 2
    title: Customer Education
    weight: 40
    kpis:
      - {id: education_sessions, name: Education sessions, kind: computed,
         metric: education_sessions, unit: count, direction: higher_is_better,
         grain: month, target: 2, threshold: 1}
"""

AS_OF = "2025-05-31"


def _sessions(rm: str, months: dict[str, int]) -> list[Row]:
    rows = []
    for month, count in months.items():
        for i in range(count):
            rows.append(interaction(f"{rm}-{month}-{i}", rm, "education_session", f"{month}-1{i}"))
    return rows


def _lead(lead_id: str, rm: str, status: str, closed: str) -> Row:
    return {"lead_id": lead_id, "rm_id": rm, "created_date": "2024-12-01", "source": "walk_in",
            "status": status, "closed_date": closed}  # fmt: skip


def _due(policy_id: str, client: str, rm: str, end: str, renewed_on: str | None) -> list[Row]:
    """A policy ending on `end`, and its renewal starting on `renewed_on` (or none)."""
    rows = [policy(policy_id, client, rm, "2023-06-01", end=end, status="expired")]
    if renewed_on:
        rows.append(policy(f"R{policy_id}", client, rm, renewed_on, renewal_of_policy_id=policy_id))
    return rows


def book() -> dict[str, list[Row]]:
    policies = [
        *_due("P07", "C7", "RM1", "2024-02-10", "2024-02-11"),  # 2024-Q1: 2 of 2 renewed
        *_due("P08", "C8", "RM1", "2024-03-10", "2024-03-11"),
        *_due("P05", "C5", "RM1", "2024-11-30", "2024-12-01"),  # 2024-Q4: 1 of 2
        *_due("P06", "C6", "RM1", "2024-12-15", None),
        *_due("P01", "C1", "RM1", "2025-01-31", "2025-02-01"),  # 2025-Q1: 3 of 4
        *_due("P02", "C2", "RM1", "2025-02-28", "2025-03-01"),
        *_due("P03", "C3", "RM1", "2025-03-15", "2025-03-16"),
        *_due("P04", "C4", "RM1", "2025-03-20", None),
        *_due("P09", "C9", "RM2", "2025-02-15", "2025-02-16"),  # 2025-Q1: 1 of 1
    ]
    leads = [
        _lead("L11", "RM1", "won", "2025-02-10"),
        *(_lead(f"L1{i}", "RM1", "lost", "2025-02-11") for i in range(2, 6)),
        _lead("L21", "RM1", "won", "2025-04-10"),
        *(_lead(f"L2{i}", "RM1", "lost", "2025-05-10") for i in range(2, 6)),
        *(_lead(f"L3{i}", "RM2", "won", "2025-03-01") for i in range(1, 4)),
        *(_lead(f"L3{i}", "RM2", "lost", "2025-03-01") for i in range(4, 7)),
        *(_lead(f"L4{i}", "RM2", "won", "2025-04-20") for i in range(1, 3)),
    ]
    interactions = [
        *_sessions("RM1", {"2024-01": 2, "2024-02": 2, "2024-03": 2, "2024-04": 1,
                           "2024-05": 1, "2024-06": 2, "2024-10": 1, "2024-11": 1,
                           "2024-12": 1, "2025-01": 2, "2025-02": 2, "2025-03": 2,
                           "2025-04": 2, "2025-05": 1}),
        *_sessions("RM2", {"2024-10": 1, "2024-11": 1, "2025-04": 1, "2025-05": 1}),
        *_sessions("RM3", {"2025-01": 2, "2025-04": 3, "2025-05": 2}),
    ]  # fmt: skip
    rms = [*RMS, {"rm_id": "RM3", "name": "Dev", "team_id": "T1", "hire_date": "2025-01-01"}]
    clients = sorted({p["client_id"] for p in policies})
    return {
        "teams": TEAMS,
        "relationship_managers": rms,
        "clients": [{"client_id": c, "name": c} for c in clients],
        "policies": policies,
        "leads": leads,
        "interactions": interactions,
    }


def run(ws: Workspace, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of a kraft command (wide, so tables do not wrap)."""
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args], env={"COLUMNS": "250"})
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout, result.stderr


def kraft(ws: Workspace, *args: str) -> str:
    code, stdout, stderr = run(ws, *args)
    assert code == 0, f"kraft {' '.join(args)} failed:\n{stdout}{stderr}"
    return stdout


def kraft_json(ws: Workspace, *args: str) -> Any:
    return json.loads(kraft(ws, *args, "--format", "json"))


def fails(ws: Workspace, *args: str) -> str:
    """The one-line error of a refused command."""
    code, stdout, stderr = run(ws, *args)
    assert code == 1, stdout + stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


def build(ws: Workspace, folder: Path, *, tiny: bool = True) -> Workspace:
    """The book above, imported as of 2025-05-31, computed and scored under the tiny framework
    (or the built-in one)."""
    if tiny:
        (ws.root / "tiny.yaml").write_text(TINY_FRAMEWORK, encoding="utf-8")
        configure(ws, framework="tiny.yaml")
    for name, rows in book().items():
        write_table(folder, name, rows)
    kraft(ws, "import", str(folder), "--as-of", AS_OF)
    kraft(ws, "compute")
    return ws


@pytest.fixture
def tiny(workspace: Workspace, tmp_path: Path) -> Workspace:
    return build(workspace, tmp_path / "book")


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


def test_alerts_open_period(tiny: Workspace) -> None:
    report = kraft_json(tiny, "alerts")  # default: the quarter holding the as-of date
    assert (report["period"], report["as_of"], report["open"]) == ("2025-Q2", AS_OF, True)
    found = [(a["rm_id"], a["kpi_id"], a["kind"]) for a in report["alerts"]]
    # RM1 sales: 1 won of 5 = 20 %, a ratio stays at its value to date: 20 < 50 at risk, and
    # 20 < 25 below threshold as in 2025-Q1 (also 20 %).
    # RM1 sessions: seasonal 3 × (1 + 1 + 2) ÷ (1 + 1) = 6 = the quarter's target: on track.
    # RM2 sessions: last year had 0 by the end of May → run rate 2 × 91 ÷ 61 = 2.98 < 6 at risk,
    # and < 3 as in 2025-Q1 (0).
    # RM3 sessions: no last year (hired 2025) → run rate 5 × 91 ÷ 61 = 7.46 ≥ 6: on track.
    # RM2 sales 2 of 2 = 100 %: on track. Retention: nothing due in 2025-Q2: no data.
    # Once per RM × KPI, its strongest reason (below threshold twice before at risk), by
    # severity = weight within the overall × shortfall in score points (kraft.analysis.ranking):
    # RM1 sales: forecast 20 → 20 ÷ 50 × 100 = 40; retention has no value, so sales carries
    #   relationship_building (60 of 60 + 40): weight 0.6 × (100 − 40) = 36.
    # RM2 sessions: 2.98 ÷ 6 × 100 = 49.73; customer_education weighs 40 of 100: 0.4 × 50.27.
    assert found == [
        ("RM1", "sales_conversion_rate", "below_threshold_twice"),
        ("RM2", "education_sessions", "below_threshold_twice"),
    ]
    sales, sessions = report["alerts"]
    assert sales["reasons"] == ["below_threshold_twice", "at_risk"]
    assert sales["actual"] == approx(20) and sales["forecast"] == approx(20)
    assert (sales["method"], sales["target"], sales["threshold"]) == ("to date", 50, 25)
    assert (sales["previous_period"], sales["previous_actual"]) == ("2025-Q1", 20)
    assert (sales["weight"], sales["shortfall"], sales["severity"]) == (
        approx(0.6),
        approx(60),
        approx(36),
    )
    assert sessions["actual"] == 2
    assert sessions["forecast"] == approx(2 * 91 / 61)
    assert (sessions["method"], sessions["target"], sessions["threshold"]) == ("run rate", 6, 3)
    assert (sessions["previous_period"], sessions["previous_actual"]) == ("2025-Q1", 0)
    shortfall = 100 - (2 * 91 / 61) / 6 * 100
    assert sessions["shortfall"] == pytest.approx(shortfall, abs=1e-9)
    assert sessions["severity"] == pytest.approx(0.4 * shortfall, abs=1e-9)
    text = kraft(tiny, "alerts", "--rm", "RM2")
    assert "KPI alerts for 2025-Q2 (open, as of 2025-05-31): 1" in text
    assert "run rate" in text and "2025-Q1: 0" in text
    # The open month: May is over on the 31st, so 2025-05 is closed; June has no data yet.
    assert "nothing to pace" in kraft(tiny, "alerts", "--period", "2025-05")


def test_alerts_closed_period(tiny: Workspace) -> None:
    # 2025-Q1 is closed: nothing at risk by pacing. Below threshold in 2024-Q4 and 2025-Q1:
    # RM2's sessions (2 < 3, then 0 < 3). RM1's retention was below in 2024-Q4 (50 < 60) but
    # not in 2025-Q1 (75); RM1's sales had no value in 2024-Q4.
    report = kraft_json(tiny, "alerts", "--period", "2025-Q1")
    assert report["open"] is False
    assert [(a["rm_id"], a["kpi_id"], a["kind"], a["actual"], a["previous_actual"])
            for a in report["alerts"]] == [
        ("RM2", "education_sessions", "below_threshold_twice", 0, 2)
    ]  # fmt: skip
    # 2024-Q3: RM2 had no sessions in 2024-Q2 or -Q3; RM1 none in 2024-Q3, but 4 in 2024-Q2.
    assert [(a["rm_id"], a["kpi_id"], a["actual"], a["previous_actual"])
            for a in kraft_json(tiny, "alerts", "--period", "2024-Q3")["alerts"]] == [
        ("RM2", "education_sessions", 0, 0)
    ]  # fmt: skip
    assert "KPI alerts for 2025-Q1 (closed: nothing to pace): 1" in kraft(
        tiny, "alerts", "--period", "2025-Q1", "--kra", "customer_education"
    )
    assert "--period" in fails(tiny, "alerts", "--period", "2025-Q7")
    assert "after the data's as-of date" in fails(tiny, "alerts", "--period", "2025-Q3")
    assert "--format" in fails(tiny, "alerts", "--format", "xml")


def test_variance_of_rm1_in_2025_q1(tiny: Workspace) -> None:
    report = kraft_json(tiny, "variance", "--period", "2025-Q1", "--rm", "RM1", "--all")
    assert report["tolerance_percent"] == approx(10)
    rows = {v["kpi_id"]: v for v in report["variances"]}
    assert list(rows) == ["client_retention_rate", "sales_conversion_rate", "education_sessions"]

    def parts(c: dict[str, Any]) -> tuple[Any, ...]:
        return (c["reference"], c["difference"], c["percent"], c["flag"])

    # % KPIs change in percentage points: the difference, no percent of the reference
    retention = rows["client_retention_rate"]  # 3 of 4 = 75
    assert retention["actual"] == 75
    assert parts(retention["target"]) == (80, -5, None, None)  # 5 ≤ 8
    assert retention["target"]["change"] == "points"
    assert parts(retention["previous"]) == (50, 25, None, "favourable")  # 2024-Q4: 1 of 2
    assert retention["previous"]["period"] == "2024-Q4"
    assert parts(retention["last_year"]) == (100, -25, None, "unfavourable")  # 2024-Q1: 2 of 2
    # Team median over RM1 75, RM2 100 (RM3 has nothing due) = 87.5.
    assert parts(retention["team_median"]) == (87.5, -12.5, None, "unfavourable")
    sales = rows["sales_conversion_rate"]  # 1 of 5 = 20
    assert parts(sales["target"]) == (50, -30, None, "unfavourable")
    assert parts(sales["previous"]) == (None, None, None, None)  # nothing closed in 2024-Q4
    assert parts(sales["team_median"]) == (35, -15, None, "unfavourable")
    sessions = rows["education_sessions"]  # 6; target 2 a month = 6 a quarter
    assert parts(sessions["target"]) == (6, 0, 0, None)
    assert parts(sessions["previous"]) == (3, 3, 100, "favourable")
    assert parts(sessions["last_year"]) == (6, 0, 0, None)
    assert parts(sessions["team_median"]) == (2, 4, 200, "favourable")  # RM1 6, RM2 0, RM3 2
    assert sessions["basis"] == "actual" and sessions["forecast"] is None  # a closed quarter

    # A wider tolerance (30 %): retention is still flagged against 2024-Q4 (25 > 15), no longer
    # against last year (25 ≤ 30) nor the team (12.5 ≤ 26.25).
    wide = kraft_json(tiny, "variance", "--period", "2025-Q1", "--rm", "RM1", "--tolerance", "30")
    retention = next(v for v in wide["variances"] if v["kpi_id"] == "client_retention_rate")
    assert [retention[k]["flag"] for k in ("target", "previous", "last_year", "team_median")] == [
        None, "favourable", None, None,
    ]  # fmt: skip
    text = kraft(tiny, "variance", "--period", "2025-Q1", "--team", "T1")
    assert "Variance in 2025-Q1, tolerance ±10 %" in text and "RM3" in text
    assert "50 %: +25 pp fav" in text and "100 %: -25 pp unfav" in text
    assert "--tolerance" in fails(tiny, "variance", "--period", "2025-Q1", "--tolerance", "-5")
    assert "--rm" in fails(tiny, "variance", "--period", "2025-Q1", "--rm", "NOBODY")
    assert "--rm" in fails(tiny, "variance", "--period", "2025-Q1", "--rm", "M1")  # a manager


def test_variance_of_an_open_quarter(tiny: Workspace) -> None:
    """2025-Q2 is open (61 of 91 days): RM2's sessions, a count, are compared by their forecast
    2 × 91 ÷ 61 = 2.98 with the whole quarter's target 6 (−50.27 %) and with 2025-Q1 (0: no
    percent of 0, +2.98); the team median is of the values to date (RM1 3, RM2 2, RM3 5 → 3), so
    there the 2 to date (−33.33 %). The sales rate is compared to date."""
    report = kraft_json(tiny, "variance", "--period", "2025-Q2", "--rm", "RM2", "--all")
    rows = {v["kpi_id"]: v for v in report["variances"]}
    sessions = rows["education_sessions"]
    forecast = 2 * 91 / 61
    assert (sessions["actual"], sessions["basis"]) == (2, "forecast")
    assert sessions["forecast"] == approx(forecast)
    target = sessions["target"]
    assert (target["basis"], target["reference"]) == ("forecast", 6)
    assert target["percent"] == pytest.approx((forecast - 6) / 6 * 100, abs=1e-9)
    previous = sessions["previous"]
    assert (previous["reference"], previous["percent"], previous["change"]) == (
        0, None, "absolute"
    )  # fmt: skip
    assert previous["difference"] == approx(forecast)
    median = sessions["team_median"]
    assert (median["basis"], median["reference"], median["difference"]) == ("to date", 3, -1)
    assert median["percent"] == pytest.approx(-100 / 3, abs=1e-9)
    sales = rows["sales_conversion_rate"]  # 2 won of 2 = 100 % to date
    assert (sales["basis"], sales["forecast"], sales["target"]["difference"]) == (
        "to date", None, 50
    )  # fmt: skip
    text = " ".join(kraft(tiny, "variance", "--period", "2025-Q2", "--rm", "RM2").split())
    assert "open, as of 2025-05-31: counts and sums by their forecast" in text
    assert "2 (provisional), forecast 2.98" in text and "6: -50.27 %" in text


def test_drivers_of_rm1_since_2024_q4(tiny: Workspace) -> None:
    # 2024-Q4: retention 50 → 62.5, sales no data, sessions 3 of 6 → 50:
    #   overall = (60 × 62.5 + 40 × 50) ÷ 100 = 57.5; contributions 37.5 and 20.
    # 2025-Q1: retention 75 → 93.75, sales 20 → 40, sessions 6 → 100:
    #   relationship = (93.75 + 40) ÷ 2 = 66.875; overall = (60 × 66.875 + 40 × 100) ÷ 100
    #   = 80.125 → 80.13; contributions 0.6 × 93.75 ÷ 2 = 28.125, 0.6 × 40 ÷ 2 = 12, 40.
    report = kraft_json(tiny, "drivers", "--rm", "RM1", "--period", "2025-Q1")
    assert (report["overall_before"], report["overall_after"]) == (57.5, 80.13)
    assert [(d["kpi_id"], d["contribution_before"], d["contribution_after"], d["delta"])
            for d in report["drivers"]] == [
        ("education_sessions", 20, 40, 20),
        ("sales_conversion_rate", 0, 12, 12),
        # Its score rose (62.5 → 93.75) but it now shares the KRA with sales.
        ("client_retention_rate", 37.5, 28.125, -9.375),
    ]  # fmt: skip
    assert sum(d["contribution_after"] for d in report["drivers"]) == approx(80.125)
    text = kraft(tiny, "drivers", "--rm", "RM1", "--period", "2025-Q1", "--top", "1")
    assert "overall score 2024-Q4 → 2025-Q1: 57.50 → 80.13" in text
    assert "Education sessions" in text and "Sales conversion rate" not in text
    assert "--rm" in fails(tiny, "drivers", "--rm", "M1", "--period", "2025-Q1")
    assert "--top" in fails(tiny, "drivers", "--rm", "RM1", "--period", "2025-Q1", "--top", "-1")


def test_analysis_before_compute(workspace: Workspace) -> None:
    assert "run `kraft compute` first" in fails(workspace, "alerts")
    assert "run `kraft compute`" in fails(
        workspace, "drivers", "--rm", "RM1", "--period", "2025-Q1"
    )
