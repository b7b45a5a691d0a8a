"""`kraft scores` and `kraft export scores` on a small hand-built book, on both databases.

The book (quarter 2026-Q1, as of its last day) uses a two-KPI framework: documentation accuracy
(KRA compliance, 50) and customer satisfaction (KRA relationship_building, 50), both proportions.
R1 has a perfect book of 5 checks and 5 responses; R2 and R3 large books; R4 only 2 responses;
the manager M1 has checks too, and is never scored, ranked or used for shrinkage.

Raw scores (ratio, cap 120):
  R1: doc 100/95 × 100 = 105.2632, csat 100/85 × 100 = 117.6471 → 111.46 Outstanding
  R2: doc 97.5/95 → 102.6316, csat 95/85 → 111.7647 → 107.20 Exceeds
  R3: doc 90/95 → 94.7368 (on track), csat 85/85 → 100 → 97.37 Exceeds
  R4: doc no data, csat 2 responses < 5 (insufficient volume) → no overall, coverage 0

Shrinkage (teams T1 = R1, R2 and T2 = R3, R4 are small: the company's prior for everyone):
  doc books 5/5, 195/200, 180/200: μ = 380/405; rates 1, 0.975, 0.9 about μ: Σ(p − μ)² =
    0.0038 + 0.0014 + 0.0015 = 0.0067, v = 0.00336; h = (1/5 + 2/200)/3 = 0.07;
    μ(1 − μ)h = 0.0041 > v: no spread beyond chance → fallback, strength Σn/k = 405/3 = 135,
    α = μ × 135 = 380/3. Shrunk: R1 (5 + 380/3)/140 = 79/84 = 94.0476 %,
    R2 (195 + 380/3)/335 = 193/201 = 96.0199 %, R3 (180 + 380/3)/335 = 184/201 = 91.5423 %
  csat books 5/5, 19/20, 17/20, 2/2: μ = 43/47; v = 0.00359 < μ(1 − μ)h = 0.0156 (h = 0.2)
    → fallback, strength 47/4, α = 43/4. Shrunk: R1 15.75/16.75 = 63/67 = 94.0299 %,
    R2 29.75/31.75 = 119/127 = 93.7008 %, R3 27.75/31.75 = 111/127 = 87.4016 %,
    R4 12.75/13.75 = 51/55 = 92.7273 %
Adjusted overall (the same scoring on the shrunk rates):
  R1 (98.9975 + 110.6234)/2 = 104.81; R2 (101.0736 + 110.2362)/2 = 105.65;
  R3 (96.3603 + 102.8254)/2 = 99.59 — so R2 outranks R1, whose 3-point lead was luck.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kpi_books import configure, kraft, load
from kraft.cli import app
from kraft.workspace import Workspace

from books import Row

FRAMEWORK = """\
id: small_books
role: Relationship Manager
title: Small books
kras:
  - id: compliance
    number: 1
    title: Compliance
    weight: 50
    kpis:
      - id: documentation_accuracy_rate
        name: Policy documentation accuracy rate
        kind: computed
        metric: documentation_accuracy_rate
        unit: percent
        direction: higher_is_better
        grain: quarter
        target: 95
        threshold: 90
        min_volume: 5
  - id: relationship_building
    number: 2
    title: Relationship Building
    weight: 50
    kpis:
      - id: customer_satisfaction_score
        name: Customer satisfaction score
        kind: computed
        metric: customer_satisfaction_score
        unit: percent
        direction: higher_is_better
        grain: quarter
        target: 85
        threshold: 75
        min_volume: 5
"""

TEAMS: list[Row] = [
    {"team_id": "B1", "name": "Branch"},
    {"team_id": "T1", "name": "Team One", "parent_team_id": "B1"},
    {"team_id": "T2", "name": "Team Two", "parent_team_id": "B1"},
]
RMS: list[Row] = [
    {"rm_id": "M1", "name": "Maya", "team_id": "B1", "role": "manager", "hire_date": "2025-01-01"},
    {"rm_id": "R1", "name": "Ravi", "team_id": "T1", "hire_date": "2025-01-01"},
    {"rm_id": "R2", "name": "Asha", "team_id": "T1", "hire_date": "2025-01-01"},
    {"rm_id": "R3", "name": "Bina", "team_id": "T2", "hire_date": "2025-01-01"},
    {"rm_id": "R4", "name": "Dev", "team_id": "T2", "hire_date": "2025-01-01"},
]


def checks(rm: str, good: int, total: int) -> list[Row]:
    return [
        {
            "check_id": f"{rm}-D{i}",
            "rm_id": rm,
            "date": "2026-02-10",
            "in_good_order": "true" if i < good else "false",
        }
        for i in range(total)
    ]


def responses(rm: str, satisfied: int, total: int) -> list[Row]:
    """csat on a 1–5 scale: 5 is satisfied (≥ 0.8 × 5), 3 is not."""
    return [
        {
            "response_id": f"{rm}-S{i}",
            "survey_type": "csat",
            "rm_id": rm,
            "date": "2026-02-12",
            "score": "5" if i < satisfied else "3",
            "scale_min": "1",
            "scale_max": "5",
        }
        for i in range(total)
    ]


@pytest.fixture
def scored(workspace: Workspace, tmp_path: Path) -> Workspace:
    (workspace.root / "framework.yaml").write_text(FRAMEWORK, encoding="utf-8")
    configure(workspace, framework="framework.yaml")
    load(
        workspace,
        tmp_path / "book",
        {
            "teams": TEAMS,
            "relationship_managers": RMS,
            "clients": [],
            "document_checks": [
                *checks("R1", 5, 5),
                *checks("R2", 195, 200),
                *checks("R3", 180, 200),
                *checks("M1", 0, 10),
            ],
            "surveys": [
                *responses("R1", 5, 5),
                *responses("R2", 19, 20),
                *responses("R3", 17, 20),
                *responses("R4", 2, 2),
            ],
        },
        "2026-03-31",
    )
    return workspace


def board(ws: Workspace, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(kraft(ws, "scores", "--format", "json", *args))
    return rows


def refused(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args])
    output = result.output  # stdout and stderr together
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
    return output


def test_overall_leaderboard_ranks_by_the_adjusted_overall(scored: Workspace) -> None:
    rows = board(scored)  # the default period: the latest scored quarter, 2026-Q1
    assert [
        (r["rank"], r["rm_id"], r["overall_score"], r["adjusted_overall"], r["rating"])
        for r in rows
    ] == [
        (1, "R2", 107.2, 105.65, 4),
        (2, "R1", 111.46, 104.81, 5),
        (3, "R3", 97.37, 99.59, 4),
        (None, "R4", None, None, None),
    ]
    by_rm = {r["rm_id"]: r for r in rows}
    assert by_rm["R1"]["rating_label"] == "Outstanding"
    assert [by_rm[rm]["coverage"] for rm in ("R1", "R2", "R3", "R4")] == [100.0, 100.0, 100.0, 0.0]
    # R1: both 95 % intervals of 5/5 span 56.6–100 (> 40 points); adjusted 6.65 points lower
    assert by_rm["R1"]["flags"] == "wide interval ×2; small book"
    assert by_rm["R2"]["flags"] == ""  # 94.3–98.9 and 76.4–99.1: narrow enough
    assert by_rm["R4"]["flags"] == "insufficient volume ×1"
    assert (by_rm["R2"]["name"], by_rm["R2"]["team_id"]) == ("Asha", "T1")

    assert board(scored, "--period", "2026-Q1") == rows
    assert [r["rm_id"] for r in board(scored, "--team", "B1")] == ["R2", "R1", "R3", "R4"]
    team_one = board(scored, "--team", "T1")
    assert [(r["rank"], r["rm_id"]) for r in team_one] == [(1, "R2"), (2, "R1")]
    assert [r["rm_id"] for r in board(scored, "--limit", "2")] == ["R2", "R1"]

    text = kraft(scored, "scores")
    assert "Overall leaderboard, 2026-Q1" in text
    assert "105.65" in text and "111.46" in text and "small book" in text
    assert "M1" not in text  # a manager is never ranked
    listed = list(csv.DictReader(io.StringIO(kraft(scored, "scores", "--format", "csv"))))
    assert [r["rm_id"] for r in listed] == ["R2", "R1", "R3", "R4"]
    assert listed[1]["adjusted_overall"] == "104.81"


def test_kpi_leaderboards_rank_by_the_shrunk_rate(scored: Workspace) -> None:
    rows = board(scored, "--kpi", "documentation_accuracy_rate")
    assert [(r["rank"], r["rm_id"], r["value"]) for r in rows] == [
        (1, "R2", 97.5),
        (2, "R1", 100.0),  # first on the raw rate, second once 5 checks are weighed
        (3, "R3", 90.0),
        (None, "R4", None),  # no checks: no data
    ]
    by_rm = {r["rm_id"]: r for r in rows}
    assert by_rm["R1"]["shrunk"] == pytest.approx(79 / 84 * 100)
    assert by_rm["R2"]["shrunk"] == pytest.approx(193 / 201 * 100)
    assert by_rm["R3"]["shrunk"] == pytest.approx(184 / 201 * 100)
    assert (by_rm["R2"]["numerator"], by_rm["R2"]["denominator"]) == (195.0, 200.0)
    # Wilson 195/200: p = 0.975, d = 1.019207, centre = (0.975 + 0.009604)/d = 0.966046,
    # half = z/d × √(0.000121875 + 0.0000240) = 1.923023 × 0.012078 = 0.023225
    assert by_rm["R2"]["interval_low"] == pytest.approx(94.2821659593, abs=1e-6)
    assert by_rm["R2"]["interval_high"] == pytest.approx(98.9275280348, abs=1e-6)
    assert by_rm["R1"]["interval_low"] == pytest.approx(56.5517535217, abs=1e-6)
    assert by_rm["R1"]["interval_high"] == 100.0
    assert by_rm["R1"]["shrunk_toward"] == "company"
    assert by_rm["R3"]["status"] == "on track"
    assert by_rm["R4"]["status"] == "no data"

    rows = board(scored, "--kpi", "customer_satisfaction_score", "--period", "2026-Q1")
    assert [(r["rank"], r["rm_id"]) for r in rows] == [(1, "R1"), (2, "R2"), (3, "R4"), (4, "R3")]
    by_rm = {r["rm_id"]: r for r in rows}
    assert [by_rm[rm]["shrunk"] for rm in ("R1", "R2", "R3", "R4")] == [
        pytest.approx(63 / 67 * 100),
        pytest.approx(119 / 127 * 100),
        pytest.approx(111 / 127 * 100),
        pytest.approx(51 / 55 * 100),
    ]
    # 2 responses: not scored, still ranked by its (heavily) shrunk rate, and flagged
    assert by_rm["R4"]["status"] == "insufficient volume"
    assert by_rm["R4"]["insufficient_volume"] is True
    assert by_rm["R4"]["value"] == 100.0

    text = kraft(scored, "scores", "--kpi", "documentation_accuracy_rate")
    assert "56.6–100.0 %" in text and "94.0 %" in text and "Ranked by the shrunk rate" in text


def test_export_scores_has_the_stable_columns(scored: Workspace, tmp_path: Path) -> None:
    header = (
        "rm_id,period,overall_score,rating,rating_label,coverage,"
        "kra:compliance,kra:relationship_building,final_rating"
    )
    quarter = [
        "R1,2026-Q1,111.46,5,Outstanding,100.0,105.2632,117.6471,",
        "R2,2026-Q1,107.2,4,Exceeds,100.0,102.6316,111.7647,",
        "R3,2026-Q1,97.37,4,Exceeds,100.0,94.7368,100.0,",
        "R4,2026-Q1,,,,0.0,,,",
    ]
    text = kraft(scored, "export", "scores", "--grain", "quarter")
    assert text.splitlines() == [header, *quarter]
    assert kraft(scored, "export", "scores", "--period", "2026-Q1").splitlines() == [
        header,
        *quarter,
    ]
    # every grain: the quarter, then the year (the same book); no monthly KPIs, no month rows
    everything = kraft(scored, "export", "scores").splitlines()
    assert everything[:5] == [header, *quarter]
    assert everything[5] == "R1,2026,111.46,5,Outstanding,100.0,105.2632,117.6471,"
    assert len(everything) == 9

    records = json.loads(
        kraft(scored, "export", "scores", "--format", "json", "--grain", "quarter")
    )
    assert records[0] == {
        "rm_id": "R1",
        "period": "2026-Q1",
        "overall_score": 111.46,
        "rating": 5,
        "rating_label": "Outstanding",
        "coverage": 100.0,
        "kra:compliance": 105.2632,
        "kra:relationship_building": 117.6471,
        "final_rating": None,  # not reviewed (tests/test_review.py exports a reviewed one)
    }

    from openpyxl import load_workbook

    target = tmp_path / "scores.xlsx"
    kraft(scored, "export", "scores", "--format", "xlsx", "-o", str(target), "--period", "2026-Q1")
    sheet = load_workbook(target).active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    rm_id, *rest = header.split(",")
    assert cells[0] == [rm_id, "name", "team_id", "team_name", *rest]  # who, for a person
    assert cells[2][0] == "R2" and all(isinstance(c, str) for c in cells[2][1:4])
    assert cells[2][4:] == ["2026-Q1", 107.2, 4, "Exceeds", 100.0, 102.6316, 111.7647, None]
    formats = {cells[0][c.column - 1]: c.number_format for c in sheet[3]}
    assert formats["overall_score"] == "0.00" and formats["kra:compliance"] == "0.00"
    assert formats["coverage"] == '0.0" %"'  # numbers stay numbers, shown rounded


def test_bad_options_are_refused_in_one_sentence(scored: Workspace) -> None:
    assert "--kpi 'nope' is not a KPI of framework small_books" in refused(
        scored, "scores", "--kpi", "nope"
    )
    assert "--team 'T9' is not a team" in refused(scored, "scores", "--team", "T9")
    assert "--period 2025-Q1 has no scores" in refused(scored, "scores", "--period", "2025-Q1")
    assert "--period: '2026-Q5' is not a period label" in refused(
        scored, "scores", "--period", "2026-Q5"
    )
    assert "has no values of documentation_accuracy_rate" in refused(
        scored, "scores", "--kpi", "documentation_accuracy_rate", "--period", "2024-Q1"
    )
    assert "--format 'xml' is not table, csv or json" in refused(
        scored, "scores", "--format", "xml"
    )
    assert "--limit -1 is negative" in refused(scored, "scores", "--limit", "-1")
    assert "--format 'parquet' is not csv, json or xlsx" in refused(
        scored, "export", "scores", "--format", "parquet"
    )
    assert "--format xlsx needs --output FILE" in refused(
        scored, "export", "scores", "--format", "xlsx"
    )
    assert "--grain 'week' is not month, quarter, year or all" in refused(
        scored, "export", "scores", "--grain", "week"
    )
    assert "--period 2026-Q1 is a quarter, not a year" in refused(
        scored, "export", "scores", "--period", "2026-Q1", "--grain", "year"
    )
    assert "--period 2025-Q4 has no scores" in refused(
        scored, "export", "scores", "--period", "2025-Q4"
    )


def test_without_scores_the_leaderboard_says_what_to_do(workspace: Workspace) -> None:
    assert "There are no scores yet; run `kraft compute` first." in refused(workspace, "scores")
