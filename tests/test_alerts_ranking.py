"""The alert ranking (kraft.analysis.ranking) through `kraft alerts`, on tests/test_alerts_cli.py's
small book (2025-Q2 open, as of 2025-05-31), every figure worked out by hand.

Forecast scorecards of 2025-Q2 (each KPI at its pacing forecast, scored as `kraft compute` does;
relationship_building weighs 60, customer_education 40; retention has no value in 2025-Q2):
  RM1: sales 20 % → 20 ÷ 50 × 100 = 40, the only scored KPI of relationship_building (40);
       sessions forecast 6 = target → 100. Overall 0.6 × 40 + 0.4 × 100 = 64.00: Needs
       improvement, below Meets. 2025-Q1: retention 75 % → 93.75, sales 40, KRA (93.75 + 40) ÷ 2
       = 66.875, sessions 6 → 100: 0.6 × 66.875 + 40 = 80.13 (half up). Down 16.13 ≥ 10.
       Severity max(80 − 64, 16.13) = 16.13. Driver: sales, 0.6 × (100 − 40) = 36.
  RM2: sales 100 % → 120; sessions 2 × 91 ÷ 61 = 2.98 → 49.73. 0.6 × 120 + 0.4 × 49.73 = 91.89:
       Meets, and up from 66 in 2025-Q1: no RM alert.
  RM3: sessions 7.46 → 120 (capped): no RM alert.
KPI alerts: RM1 sales (below threshold twice and at risk) 36; RM2 sessions (the same) 0.4 × 50.27.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpi_books import configure
from kraft.cli import app as cli
from kraft.workspace import Workspace
from test_alerts_cli import TINY_FRAMEWORK, approx, build, fails, kraft, kraft_json
from web_support import Browser, served_app, signed_in

SESSIONS = 100 - (2 * 91 / 61) / 6 * 100  # RM2's sessions: shortfall in score points


@pytest.fixture
def tiny(workspace: Workspace, tmp_path: Path) -> Workspace:
    return build(workspace, tmp_path / "book")


def _kpis(report: dict[str, object]) -> list[tuple[object, ...]]:
    found = report["alerts"]
    assert isinstance(found, list)
    return [(a["rm_id"], a["kpi_id"], a["kind"]) for a in found]


def test_rm_alert_and_kpi_severity_order(tiny: Workspace) -> None:
    report = kraft_json(tiny, "alerts")
    assert (report["rms_total"], report["alerts_total"]) == (1, 2)
    (rm1,) = report["rms"]
    assert (rm1["rm_id"], rm1["team_id"], rm1["overall"], rm1["rating"]) == ("RM1", "T1", 64, 2)
    assert (rm1["forecast"], rm1["below_meets"]) == (True, True)
    assert (rm1["previous_period"], rm1["previous_overall"]) == ("2025-Q1", approx(80.13))
    assert rm1["severity"] == approx(16.13)
    assert [(d["kpi_id"], d["weight"], d["shortfall"], d["severity"]) for d in rm1["drivers"]] == [
        ("sales_conversion_rate", approx(0.6), approx(60), approx(36))
    ]
    # one line per RM × KPI, its strongest reason, the costliest first
    assert _kpis(report) == [
        ("RM1", "sales_conversion_rate", "below_threshold_twice"),
        ("RM2", "education_sessions", "below_threshold_twice"),
    ]
    assert [a["severity"] for a in report["alerts"]] == [
        approx(36),
        pytest.approx(0.4 * SESSIONS, abs=1e-9),
    ]
    text = " ".join(kraft(tiny, "alerts").split())
    assert "RMs at risk in 2025-Q2 (open, as of 2025-05-31): 1, most severe first" in text
    assert "RM1 forecast overall 64.00 Needs improvement, -16.13 vs 2025-Q1" in text
    assert "points lost: Sales conversion rate −36.00" in text
    assert "2 KPI alert(s): --rm or --kra lists them" in text


def test_the_drop_option(tiny: Workspace) -> None:
    # a fall of 16.13 < 17 is no reason now; below Meets still is: 80 − 64 = 16
    (rm1,) = kraft_json(tiny, "alerts", "--drop", "17")["rms"]
    assert (rm1["rm_id"], rm1["severity"]) == ("RM1", approx(16))
    assert "--drop" in fails(tiny, "alerts", "--drop", "0")


def test_team_rm_kra_and_limit(tiny: Workspace) -> None:
    assert kraft_json(tiny, "alerts", "--team", "T1") == kraft_json(tiny, "alerts")
    assert kraft_json(tiny, "alerts", "--team", "B1")["alerts_total"] == 2  # the teams below
    only = kraft_json(tiny, "alerts", "--rm", "RM2")
    assert (only["rms"], _kpis(only)) == (
        [],
        [("RM2", "education_sessions", "below_threshold_twice")],
    )
    # customer_education: RM2's sessions; RM1's drivers are all in relationship_building
    kra = kraft_json(tiny, "alerts", "--kra", "customer_education")
    assert (kra["rms"], _kpis(kra)) == (
        [],
        [("RM2", "education_sessions", "below_threshold_twice")],
    )
    first = kraft_json(tiny, "alerts", "--limit", "1")
    assert (_kpis(first), first["alerts_total"]) == (
        [("RM1", "sales_conversion_rate", "below_threshold_twice")],
        2,
    )
    text = " ".join(kraft(tiny, "alerts", "--kra", "relationship_building", "--limit", "1").split())
    assert "KPI alerts for 2025-Q2 (open, as of 2025-05-31): 1, most severe first" in text
    assert "RM1 Sales conversion rate: −36.00 points" in text
    for args, option in (
        (("--team", "T9"), "--team"),
        (("--rm", "RM9"), "--rm"),
        (("--kra", "sales"), "--kra"),
        (("--limit", "0"), "--limit"),
    ):
        assert option in fails(tiny, "alerts", *args)


def test_insufficient_volume_is_not_alerted(workspace: Workspace, tmp_path: Path) -> None:
    """With sales needing 6 cases, RM1's 5 and RM2's 2 leads are too few to call: neither is an
    alert nor a driver. RM1's overall is then sessions alone: 100. RM2's is its sessions alone,
    49.73: below Meets by 30.27 (more than its fall from 2025-Q1's 66: 16.27)."""
    (workspace.root / "tiny.yaml").write_text(
        TINY_FRAMEWORK.replace("target: 50, threshold: 25}", "target: 50, threshold: 25,\n"
                               "         min_volume: 6}"),
        encoding="utf-8",
    )  # fmt: skip
    configure(workspace, framework="tiny.yaml")
    ws = build(workspace, tmp_path / "book", tiny=False)
    report = kraft_json(ws, "alerts")
    assert _kpis(report) == [("RM2", "education_sessions", "below_threshold_twice")]
    (rm2,) = report["rms"]
    assert (rm2["rm_id"], rm2["overall"], rm2["severity"]) == ("RM2", approx(49.73), approx(30.27))
    assert [d["kpi_id"] for d in rm2["drivers"]] == ["education_sessions"]


def _ready(browser: Browser, url: str) -> str:
    """The page's text once its at-risk section is made (the overview makes it in the
    background and says so until then)."""
    for _ in range(100):
        page = " ".join(re.sub(r"<[^>]+>", " ", browser.get(url).text).split())
        if "being worked out" not in page:
            return page
        time.sleep(0.1)
    raise AssertionError(f"{url}: the at-risk section was not made in 10 s")


def test_the_overview_and_team_page_rank_as_the_cli(tiny: Workspace) -> None:
    """The web's at-risk sections are the same ranking: RM1 at risk; RM1's sales before RM2's
    sessions; the team page of T1 shows its RMs' alerts."""
    add = ["--workspace", str(tiny.root), "users", "add", "admin@kraft.demo", "--role", "admin"]
    made = CliRunner().invoke(cli, [*add, "--password-stdin"], input="kraft-demo-admin\n")
    assert made.exit_code == 0, made.output
    served = served_app(tiny.root)
    try:
        browser = signed_in(served, "admin")
        for url in ("/", "/teams/T1"):
            page = _ready(browser, url)
            assert "1 RM at risk" in page, url
            assert "RM1 64.00 Needs improvement -16.13 vs 2025-Q1" in page, url
            assert "Sales conversion rate −36" in page, url
            sales = page.index("Ravi Sales conversion rate below threshold two periods running 36")
            sessions = page.index(
                "Asha Education sessions below threshold two periods running 20.11"
            )
            assert sales < sessions, url
            assert "2 KPI alerts" in page, url
    finally:
        served.state.site.db.dispose()
