"""`kraft targets set|list|import|derive` on both databases, and the scores that follow them.

The book: team T1 (led by RM1) holds RM1 and RM2. In every quarter of 2025 RM1 attends one
workshop and RM2 two; workshops_attended is a quarterly count KPI with the framework target 2
(threshold 1), scored by ratio (actual ÷ target × 100, capped at 120). As of 2025-12-31.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from kpi_books import activity, kraft, load
from kraft.cli import app
from kraft.store.database import workspace_database
from kraft.store.metadata import review_snapshots, reviews
from kraft.workspace import Workspace

KPI = "workshops_attended"
QUARTERS = [("01-15", "Q1"), ("04-15", "Q2"), ("07-15", "Q3"), ("10-15", "Q4")]


def _book() -> dict[str, list[dict[str, str]]]:
    rows = []
    for month_day, quarter in QUARTERS:
        rows.append(activity(f"A1{quarter}", "RM1", "workshop", f"2025-{month_day}"))
        rows.append(activity(f"A2{quarter}a", "RM2", "workshop", f"2025-{month_day}"))
        rows.append(activity(f"A2{quarter}b", "RM2", "seminar", f"2025-{month_day}"))
    return {"activities": rows}


def _loaded(ws: Workspace, tmp_path: Path) -> Workspace:
    load(ws, tmp_path / "book", _book(), "2025-12-31")
    return ws


def _query(ws: Workspace, sql: str, **params: Any) -> list[Any]:
    db = workspace_database(ws.root, ws.settings.database_url)
    try:
        with db.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        db.dispose()


def _kpi_score(ws: Workspace, rm: str, period: str) -> tuple[float, float, str | None]:
    """(target, score, target source) of workshops_attended in one stored scorecard."""
    rows = _query(
        ws,
        "SELECT target, score, target_source FROM scores WHERE level = 'kpi' AND item_id = :k "
        "AND rm_id = :r AND period = :p",
        k=KPI,
        r=rm,
        p=period,
    )
    assert len(rows) == 1, rows
    target, score, source = rows[0]
    return float(target), float(score), source


def _fails(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), *args])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output, output
    assert result.exit_code == 1, output
    return output


def _count(ws: Workspace, table: str) -> int:
    return int(_query(ws, f"SELECT count(*) FROM {table}")[0][0])


def test_framework_default_then_team_then_rm_override(workspace: Workspace, tmp_path: Path) -> None:
    ws = _loaded(workspace, tmp_path)
    # Framework: target 2 a quarter. RM2 2 → 2/2 = 100; RM1 1 → 50; the year 2025 target
    # scales to 4 × 2 = 8: RM2 8/8 = 100.
    assert _kpi_score(ws, "RM2", "2025-Q1") == (2.0, 100.0, "framework")
    assert _kpi_score(ws, "RM1", "2025-Q1") == (2.0, 50.0, "framework")
    assert _kpi_score(ws, "RM2", "2025") == (8.0, 100.0, "framework")

    # A team target of 4 a quarter for 2025: Q1 RM2 2/4 = 50, RM1 1/4 = 25; the year: 16, 8/16.
    out = kraft(ws, "targets", "set", "--kpi", KPI, "--scope", "team", "--id", "T1",
                "--period", "2025", "--target", "4", "--threshold", "3")  # fmt: skip
    assert "Saved 1 target version(s) (id 1)" in out
    assert "Re-scored" in out
    assert _kpi_score(ws, "RM2", "2025-Q1") == (4.0, 50.0, "team:T1")
    assert _kpi_score(ws, "RM1", "2025-Q1") == (4.0, 25.0, "team:T1")
    assert _kpi_score(ws, "RM2", "2025") == (16.0, 50.0, "team:T1")

    # RM2's own target of 1 for Q1 only: 2/1 × 100 = 200, capped at 120; Q2 keeps the team's.
    kraft(ws, "targets", "set", "--kpi", KPI, "--scope", "rm", "--id", "RM2",
          "--period", "2025-Q1", "--target", "1")  # fmt: skip
    assert _kpi_score(ws, "RM2", "2025-Q1") == (1.0, 120.0, "rm")
    assert _kpi_score(ws, "RM2", "2025-Q2") == (4.0, 50.0, "team:T1")
    assert _kpi_score(ws, "RM1", "2025-Q1") == (4.0, 25.0, "team:T1")

    # A newer team version replaces the older one (the history keeps both).
    kraft(ws, "targets", "set", "--kpi", KPI, "--scope", "team", "--id", "T1",
          "--period", "2025", "--target", "2.5")  # fmt: skip
    # RM1 Q1: 1 / 2.5 × 100 = 40.
    assert _kpi_score(ws, "RM1", "2025-Q1") == (2.5, 40.0, "team:T1")
    current = json.loads(kraft(ws, "targets", "list", "--kpi", KPI, "--format", "json"))
    assert [(r["scope_type"], r["scope_id"], r["target"]) for r in current] == [
        ("framework", "insurance_rm", "2"),
        ("team", "T1", "2.5"),
        ("rm", "RM2", "1"),
    ]
    history = json.loads(kraft(ws, "targets", "list", "--history", "--no-defaults",
                               "--format", "json"))  # fmt: skip
    assert [(r["target_id"], r["target"], r["current"]) for r in history] == [
        (3, "2.5", True),
        (2, "1", True),
        (1, "4", False),
    ]
    assert "Targets" in kraft(ws, "targets", "list")
    # Every version is in the audit log, and the chain holds.
    assert _count(ws, "audit_log") >= 3 + 1  # the import, then three targets
    assert "target.set" in kraft(ws, "audit", "list")
    kraft(ws, "audit", "verify")


def test_import_csv_all_or_nothing(workspace: Workspace, tmp_path: Path) -> None:
    ws = _loaded(workspace, tmp_path)
    bad = tmp_path / "targets.csv"
    bad.write_text(
        "scope_type,scope_id,kpi_id,period,from,to,target,threshold\n"
        "team,T1,workshops_attended,2025,,,3,1\n"
        "team,T9,workshops_attended,2025,,,3,1\n"
        "rm,RM2,no_such_kpi,2025-Q1,,,3,\n"
        "rm,RM2,workshops_attended,,2025-Q3,2025-Q1,3,\n"
        "rm,RM2,client_retention_rate,2025-Q1,,,85,90\n"
        "rm,M1,workshops_attended,2025-Q1,,,3,\n",
        encoding="utf-8",
    )
    before = _count(ws, "targets"), _count(ws, "audit_log")
    out = _fails(ws, "targets", "import", str(bad))
    assert "No target was saved: 5 problem(s)." in out
    assert 'targets.csv row 3: scope_id "T9" is not a team in the database' in out
    assert 'targets.csv row 4: kpi_id "no_such_kpi" is not a KPI of framework insurance_rm' in out
    assert "targets.csv row 5: from 2025-Q3 is after to 2025-Q1" in out
    assert "targets.csv row 6: threshold 90 is above target 85" in out
    assert 'targets.csv row 7: scope_id "M1" is not an RM (of role rm) in the database' in out
    assert (_count(ws, "targets"), _count(ws, "audit_log")) == before

    unreadable = tmp_path / "unreadable.csv"
    unreadable.write_text(
        "scope_type,scope_id,kpi_id,period,target\nteam,T1,workshops_attended,2025,lots\n",
        encoding="utf-8",
    )
    out = _fails(ws, "targets", "import", str(unreadable))
    assert (
        'unreadable.csv row 2, column target: "lots" is not a number (write a plain number '
        "such as 85)" in out
    )
    missing = tmp_path / "missing.csv"
    missing.write_text("scope_type,kpi_id,target\norg,workshops_attended,3\n", encoding="utf-8")
    assert "missing.csv has no column scope_id" in _fails(ws, "targets", "import", str(missing))
    assert _count(ws, "targets") == before[0]

    good = tmp_path / "good.csv"
    good.write_text(
        "scope_type,scope_id,kpi_id,period,from,to,target,threshold\n"
        "org,org,workshops_attended,,2025-Q1,,3,2\n"
        "rm,RM1,workshops_attended,2025-Q2,,,1,\n",
        encoding="utf-8",
    )
    assert "Saved 2 target version(s) (id 1 to 2)" in kraft(ws, "targets", "import", str(good))
    # The company's 3 from 2025-Q1 on: RM2 Q1 2/3 = 66.6667 (stored to 4 places); RM1's own 1
    # in Q2: 1/1 = 100.
    target, score, source = _kpi_score(ws, "RM2", "2025-Q1")
    assert (target, source) == (3.0, "org")
    assert score == 66.6667
    assert _kpi_score(ws, "RM1", "2025-Q2") == (1.0, 100.0, "rm")


def test_bad_options_say_what_to_fix(workspace: Workspace, tmp_path: Path) -> None:
    ws = _loaded(workspace, tmp_path)
    assert '--target: "abc" is not a number' in _fails(
        ws, "targets", "set", "--kpi", KPI, "--target", "abc"
    )
    assert "--scope team needs --id" in _fails(
        ws, "targets", "set", "--kpi", KPI, "--scope", "team", "--target", "3"
    )
    assert 'period "2025-Q5"' in _fails(
        ws, "targets", "set", "--kpi", KPI, "--period", "2025-Q5", "--target", "3"
    )
    assert "--kpi 'nope' is not a KPI" in _fails(ws, "targets", "derive", "--kpi", "nope")
    assert "--uplift -5% is negative" in _fails(
        ws, "targets", "derive", "--kpi", KPI, "--uplift", "-5%"
    )
    assert _count(ws, "targets") == 0


def test_achievable_against_last_years_spread(workspace: Workspace, tmp_path: Path) -> None:
    ws = _loaded(workspace, tmp_path)
    # Last full year 2025: quarterly actuals 1, 1, 1, 1 (RM1) and 2, 2, 2, 2 (RM2); the 95th
    # percentile (linear) of the 8 values is 2, the 5th is 1.
    out = kraft(ws, "targets", "set", "--kpi", KPI, "--scope", "team", "--id", "T1",
                "--target", "4")  # fmt: skip
    assert (
        "Achievable: the workshops_attended target 4 for team T1 is above the 95th percentile "
        "(2) of 8 recent actuals (2025)" in out
    )
    out = kraft(ws, "targets", "set", "--kpi", KPI, "--target", "1.5")
    assert "Achievable" not in out
    # The framework's own targets are checked against the same data: 2 is within [1, 2].
    assert "workshops_attended" not in kraft(ws, "framework", "validate")


def test_validate_flags_a_default_target_above_everyone(
    workspace: Workspace, tmp_path: Path
) -> None:
    # Both RMs attend one workshop a quarter: the 95th percentile is 1, the default target 2
    # lies above it.
    rows = [
        activity(f"A{rm}{q}", rm, "workshop", f"2025-{md}")
        for md, q in QUARTERS
        for rm in ("RM1", "RM2")
    ]
    load(workspace, tmp_path / "book", {"activities": rows}, "2025-12-31")
    out = kraft(workspace, "framework", "validate")
    assert "workshops_attended" in out
    assert "above the 95th percentile (1) of 8 recent actuals" in out


def test_derive_proposes_from_each_rms_own_year(workspace: Workspace, tmp_path: Path) -> None:
    ws = _loaded(workspace, tmp_path)
    # 2025 (the last full year): RM1 4 workshops = 1 a quarter, RM2 8 = 2 a quarter. 5 % better:
    # RM1 1.05, RM2 2.10; thresholds keep the framework's ratio 1/2: 0.525 → 0.53 (half up),
    # 1.05. They apply to 2026.
    out = kraft(ws, "targets", "derive", "--kpi", KPI, "--uplift", "5%", "--format", "csv")
    assert out.splitlines() == [
        "scope_type,scope_id,kpi_id,period,from,to,target,threshold",
        "rm,RM1,workshops_attended,2026,,,1.05,0.53",
        "rm,RM2,workshops_attended,2026,,,2.10,1.05",
    ]
    assert _count(ws, "targets") == 0  # only shown
    out = kraft(ws, "targets", "derive", "--kpi", KPI, "--uplift", "5%", "--apply")
    assert "Saved 2 target version(s)" in out
    rows = _query(
        ws, "SELECT scope_id, from_period, to_period, target, threshold, source FROM targets "
        "ORDER BY scope_id",
    )  # fmt: skip
    assert [(r[0], r[1], r[2], float(r[3]), float(r[4]), r[5]) for r in rows] == [
        ("RM1", "2026", "2026", 1.05, 0.53, "derive:last-year:5%"),
        ("RM2", "2026", "2026", 2.1, 1.05, "derive:last-year:5%"),
    ]


def test_a_target_over_a_signed_off_review_warns_and_keeps_the_snapshot(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Saved all the same; the warning names the review, whose snapshot stays as signed."""
    ws = _loaded(workspace, tmp_path)
    db = workspace_database(ws.root, ws.settings.database_url)
    now = datetime(2026, 1, 5)
    try:
        with db.begin() as conn:  # a review of RM1's 2025-Q2, signed off with its snapshot
            conn.execute(
                reviews.insert().values(
                    review_id=1, rm_id="RM1", period="2025-Q2", grain="quarter",
                    state="signed_off", version=6, started_by="m@x.in", started_at=now,
                    updated_at=now, signed_off_by="m@x.in", signed_off_at=now,
                )
            )  # fmt: skip
            conn.execute(
                review_snapshots.insert().values(
                    snapshot_id=1, review_id=1, rm_id="RM1", period="2025-Q2", taken_at=now,
                    taken_by="m@x.in", framework_id="insurance_rm", framework_version="1",
                    run_id=1, values_run_id=1, content='{"signed": true}', content_hash="h",
                )
            )  # fmt: skip
            conn.execute(reviews.update().values(snapshot_id=1))  # as sign-off links them
    finally:
        db.dispose()
    out = kraft(ws, "targets", "set", "--kpi", KPI, "--scope", "team", "--id", "T1",
                "--from", "2025-Q2", "--target", "3")  # fmt: skip
    assert "Saved 1 target version(s)" in out
    assert "re-rates 1 period(s) with a signed-off review (RM1 2025-Q2)" in " ".join(out.split())
    assert _kpi_score(ws, "RM1", "2025-Q2")[0] == 3.0  # re-rated
    assert _query(ws, "SELECT content FROM review_snapshots") == [('{"signed": true}',)]
    quiet = kraft(ws, "targets", "set", "--kpi", KPI, "--scope", "rm", "--id", "RM2",
                  "--period", "2025-Q2", "--target", "3")  # fmt: skip
    assert "signed-off" not in quiet  # RM2 has no signed-off review
