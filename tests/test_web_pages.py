"""The read pages: the company overview, teams, scorecards with the what-if and the drill-down to
rows, KPIs, the framework and the initiatives, for each role; their numbers against the CLI's
and the reports'; 404 for what is out of scope; an RM never shown another RM; downloads; and
names with markup or formulas in them escaped and neutralised."""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi import FastAPI
from markupsafe import escape
from typer.testing import CliRunner

from kraft.analysis.initiative import initiative_impact, points
from kraft.analysis.whatif import what_if
from kraft.cli import app as cli
from kraft.framework.smart import Severity, validate
from kraft.metrics.spec import load_catalogue
from kraft.reports.scorecard import ReportFormat, build_scorecard, render_scorecard
from kraft.scoring.stored import as_of_date
from kraft.scoring.target_table import comparable_actuals
from web_support import build_demo, served_app, signed_in

PERIOD = "2025-Q4"  # the demo's latest closed quarter (as of 2025-12-31): every page's default
RM, SAME_TEAM, OTHER_TEAM = "RM0002", "RM0004", "RM0001"  # RM0002's team T003 is the manager's
MANAGER_TEAM, FOREIGN_TEAM = "T003", "T004"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("pages") / "demo")


@pytest.fixture(scope="module")
def app(demo: Path) -> Iterator[FastAPI]:
    served = served_app(demo)
    yield served
    served.state.site.db.dispose()


def cli_output(root: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--workspace", str(root), *args])
    assert result.exit_code == 0, result.output
    return result.output


def text_of(page: str) -> str:
    """The page's text as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def query(app: FastAPI, sql: str) -> list[tuple[Any, ...]]:
    """Rows read through the app's own database (DuckDB allows one configuration per file)."""
    with app.state.site.read() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def rm_names(app: FastAPI) -> dict[str, str]:
    return dict(query(app, "SELECT rm_id, name FROM relationship_managers"))  # type: ignore[arg-type]


def copy_of(demo: Path, where: Path) -> Path:
    """A copy of the demo workspace to change with SQL (the module's app keeps the original)."""
    shutil.copytree(demo, where)
    return where


# -- every page, every role -----------------------------------------------------------------------


PAGES = {
    "/": {"admin": 200, "manager": 303, "rm": 303},
    "/teams": {"admin": 200, "manager": 200, "rm": 404},
    f"/teams/{MANAGER_TEAM}": {"admin": 200, "manager": 200, "rm": 404},
    f"/teams/{MANAGER_TEAM}?kpi=client_retention_rate": {"admin": 200, "manager": 200, "rm": 404},
    "/me": {"admin": 200, "manager": 200, "rm": 200},
    f"/rms/{RM}": {"admin": 200, "manager": 200, "rm": 200},
    f"/rms/{RM}/explain?kpi=client_retention_rate": {"admin": 200, "manager": 200, "rm": 200},
    "/kpis": {"admin": 200, "manager": 200, "rm": 200},
    "/kpis/client_retention_rate": {"admin": 200, "manager": 200, "rm": 200},
    "/framework": {"admin": 200, "manager": 200, "rm": 200},
    "/initiatives": {"admin": 200, "manager": 200, "rm": 404},
    "/initiatives/INIT-RETENTION": {"admin": 200, "manager": 200, "rm": 404},
}


@pytest.mark.parametrize("role", ["admin", "manager", "rm"])
def test_every_page_answers_each_role_as_its_scope_allows(app: FastAPI, role: str) -> None:
    browser = signed_in(app, role)
    for url, statuses in PAGES.items():
        answer = browser.get(url)
        assert answer.status_code == statuses[role], (url, answer.text[:300])
        if answer.status_code == 200:
            page = answer.text
            assert page.count("<h1") == 1, url
            levels = [int(h) for h in re.findall(r"<h([1-6])\b", page)]
            assert all(b - a <= 1 for a, b in pairwise(levels)), url
            assert "<th>" not in page, f"{url}: a table header without scope"
            for field in re.findall(r'<(?:select|input)[^>]*\bid="([^"]+)"', page):
                assert f'for="{field}"' in page, f"{url}: #{field} has no label"
            assert "https://cdn" not in page and '<script src="http' not in page
    home = {"manager": "/teams", "rm": "/me"}
    if role in home:
        assert browser.get("/").headers["location"] == home[role]


def test_the_overview_shows_the_stored_scores_and_the_datas_freshness(
    app: FastAPI, demo: Path
) -> None:
    page = signed_in(app, "admin").get("/").text
    exported = list(
        csv.DictReader(io.StringIO(cli_output(demo, "export", "scores", "--period", PERIOD)))
    )
    assert exported
    assert f'<option value="{PERIOD}" selected>' in page  # the latest closed quarter by default
    assert f'id="scored">{len(exported)}<' in page
    for rating in range(1, 6):
        count = sum(1 for r in exported if r["rating"] == str(rating))
        assert f'data-rating="{rating}">{count}<' in page
    assert "Data as of <strong>2025-12-31</strong>" in page
    assert "last import" in page and "last compute" in page
    assert page.count('class="vega-spec"') == 3  # ratings, heatmap, movers: drawn in the browser
    teams = dict(query(app, "SELECT rm_id, team_id FROM relationship_managers"))
    branch = sum(1 for r in exported if teams[r["rm_id"]] in ("T001", "T003"))  # T003 is below
    assert re.search(rf'T001</span></th><td class="num">{branch}<', page)
    older = signed_in(app, "admin").get("/?period=2025-Q3")
    assert older.status_code == 200 and '<option value="2025-Q3" selected>' in older.text
    never = signed_in(app, "admin").get("/?period=2031-Q1")
    assert never.status_code == 400
    assert "There are no scores for 2031-Q1; choose a scored period." in never.text


def test_the_team_leaderboard_is_the_clis_and_downloads_as_shown(app: FastAPI, demo: Path) -> None:
    browser = signed_in(app, "manager")
    page = browser.get(f"/teams/{MANAGER_TEAM}?period={PERIOD}")
    assert page.status_code == 200
    expected = cli_output(
        demo, "scores", "--period", PERIOD, "--team", MANAGER_TEAM, "--format", "csv"
    )
    board = list(csv.DictReader(io.StringIO(expected)))
    assert board
    for row in board:
        overall = f"{float(row['overall_score']):.2f}" if row["overall_score"] else "—"
        assert f'data-rm="{row["rm_id"]}">{overall}<' in page.text
    download = browser.get(f"/teams/{MANAGER_TEAM}/leaderboard.csv?period={PERIOD}")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert download.text == expected
    kpi = "client_retention_rate"
    by_kpi = browser.get(f"/teams/{MANAGER_TEAM}/leaderboard.csv?period={PERIOD}&kpi={kpi}").text
    assert by_kpi == cli_output(
        demo, "scores", "--period", PERIOD, "--team", MANAGER_TEAM, "--kpi", kpi, "--format", "csv"
    )
    workbook = browser.get(f"/teams/{MANAGER_TEAM}/report.xlsx?period={PERIOD}")
    assert workbook.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheets = zipfile.ZipFile(io.BytesIO(workbook.content)).read("xl/workbook.xml").decode()
    assert 'name="leaderboard"' in sheets and 'name="scores"' in sheets
    report = browser.get(f"/teams/{MANAGER_TEAM}/report.pdf?period={PERIOD}")
    assert report.headers["content-type"] == "application/pdf"
    assert report.content.startswith(b"%PDF")


def test_the_scorecard_is_the_reports_with_drill_down_links(app: FastAPI, demo: Path) -> None:
    site = app.state.site
    with site.read() as conn:
        report = build_scorecard(
            conn, site.framework, site.calendar, RM, site.calendar.parse(PERIOD)
        )
    exported = {
        r["rm_id"]: r
        for r in csv.DictReader(
            io.StringIO(cli_output(demo, "export", "scores", "--period", PERIOD))
        )
    }
    for role in ("admin", "manager", "rm"):
        page = signed_in(app, role).get(f"/rms/{RM}?period={PERIOD}").text
        assert f'id="overall">{report.overall_shown}<' in page
        assert f"{float(exported[RM]['overall_score']):.2f}" == report.overall_shown
        assert f'id="rating">{escape(report.rating_shown)!s}<' in page
        for kra in report.kras:
            shown = f"{kra.score:.2f}" if kra.score is not None else "—"
            assert f'data-kra="{kra.kra_id}">{shown}<' in page
        for line in report.kpis:
            link = f"/rms/{RM}/explain?kpi={line.kpi_id}&amp;period={PERIOD}"
            assert f'<a href="{link}" data-kpi="{line.kpi_id}"' in page
            assert f">{escape(line.shown['actual'])!s}</a>" in page
        assert 'class="vega-spec"' in page  # the trends spec, drawn by the browser
    mine = signed_in(app, "rm").get("/me").text
    assert f'id="overall">{report.overall_shown}<' in mine  # /me is the RM's own card


def test_an_rm_sees_their_rank_and_their_teams_distribution_but_no_other_rm(
    app: FastAPI, demo: Path
) -> None:
    names = rm_names(app)
    signed_in(app, "manager").get(f"/teams/{MANAGER_TEAM}?period={PERIOD}")  # the board is made
    browser = signed_in(app, "rm")
    pages = [
        browser.get(url).text
        for url in (
            "/me",
            f"/rms/{RM}?period={PERIOD}&kpi=client_retention_rate&value=99",
            f"/rms/{RM}/explain?kpi=referral_rate&period={PERIOD}",
            f"/rms/{RM}/explain?kpi=team_training_completion_rate&period={PERIOD}",
            f"/kpis/client_retention_rate?period={PERIOD}",
            "/framework",
            "/kpis",
        )
    ]
    for page in pages:
        shown = text_of(page)
        for rm_id, name in names.items():
            if rm_id != RM:
                assert name not in shown, f"{name} ({rm_id}) shown to {RM}"
                assert rm_id not in shown, f"{rm_id} shown to {RM}"
    assert names[RM] in text_of(pages[0])
    place = re.search(r'id="rank">Rank <strong>(\d+)</strong> of (\d+)', pages[0])
    assert place is not None
    board = list(
        csv.DictReader(
            io.StringIO(
                cli_output(
                    demo, "scores", "--period", PERIOD, "--team", MANAGER_TEAM, "--format", "csv"
                )
            )
        )
    )
    assert place[1] == next(r["rank"] for r in board if r["rm_id"] == RM)
    assert int(place[2]) == sum(1 for r in board if r["rank"])
    assert "lower quartile" in pages[0] and "median" in pages[0]
    assert "Yours:" in pages[4] and "Lowest" not in pages[4]  # the KPI page: no names at the ends


def said(page: str) -> str:
    found = re.search(r'role="alert">(.*?)<', page)
    assert found is not None, page[:300]
    return found[1]


def test_everything_out_of_scope_is_404_like_what_does_not_exist(app: FastAPI) -> None:
    foreign = {
        "manager": [
            f"/teams/{FOREIGN_TEAM}",
            f"/teams/{FOREIGN_TEAM}?kpi=client_retention_rate",
            f"/teams/{FOREIGN_TEAM}/leaderboard.csv",
            f"/teams/{FOREIGN_TEAM}/report.xlsx",
            f"/teams/{FOREIGN_TEAM}/report.pdf",
            f"/rms/{OTHER_TEAM}",
            f"/rms/{OTHER_TEAM}?kpi=client_retention_rate&value=90",
            f"/rms/{OTHER_TEAM}/explain?kpi=client_retention_rate",
            f"/rms/{OTHER_TEAM}/scorecard.pdf",
            f"/rms/{OTHER_TEAM}/scorecard.md",
            f"/rms/{OTHER_TEAM}/scorecard.csv",
        ],
        "rm": [
            f"/rms/{SAME_TEAM}",
            f"/rms/{SAME_TEAM}?kpi=client_retention_rate&value=90",
            f"/rms/{SAME_TEAM}/explain?kpi=client_retention_rate",
            f"/rms/{SAME_TEAM}/scorecard.csv",
            f"/rms/{OTHER_TEAM}/scorecard.pdf",
            "/teams",
            f"/teams/{MANAGER_TEAM}",
            f"/teams/{MANAGER_TEAM}/leaderboard.csv",
            f"/teams/{MANAGER_TEAM}/report.xlsx",
            "/initiatives",
            "/initiatives/INIT-RETENTION",
            "/initiatives/INIT-RETENTION/report.md",
        ],
    }
    admin = signed_in(app, "admin")
    absent = {
        "/teams/": said(admin.get("/teams/NOPE").text),
        "/rms/": said(admin.get("/rms/NOPE").text),
    }
    for url in ("/teams/NOPE/leaderboard.csv", "/rms/NOPE/explain?kpi=client_retention_rate"):
        assert admin.get(url).status_code == 404, url
    for role, urls in foreign.items():
        browser = signed_in(app, role)
        for url in urls:
            answer = browser.get(url)
            assert answer.status_code == 404, (role, url)
            for prefix, sentence in absent.items():
                if url.startswith(prefix):
                    assert said(answer.text) == sentence, (role, url)  # exactly as missing


def test_the_explain_view_masks_other_rms_clients_for_an_rm_only(
    demo: Path, tmp_path: Path
) -> None:
    root = copy_of(demo, tmp_path / "masked")
    with duckdb.connect(str(root / "kraft.duckdb")) as conn:
        lead = conn.execute(
            f"SELECT lead_id FROM leads WHERE rm_id = '{RM}' AND created_date BETWEEN "
            "'2025-10-01' AND '2025-12-31' ORDER BY lead_id LIMIT 1"
        ).fetchone()
        theirs = conn.execute(
            f"SELECT min(client_id) FROM policies WHERE rm_id = '{OTHER_TEAM}' AND client_id NOT IN "
            f"(SELECT client_id FROM policies WHERE rm_id = '{RM}')"
        ).fetchone()
        mine = {
            r[0]
            for r in conn.execute(
                f"SELECT client_id FROM policies WHERE rm_id = '{RM}' UNION "
                f"SELECT client_id FROM leads WHERE rm_id = '{RM}'"
            ).fetchall()
        }
        assert lead and theirs and mine
        conn.execute(
            "UPDATE leads SET referred_by_client_id = ? WHERE lead_id = ?", [theirs[0], lead[0]]
        )
    served = served_app(root)
    try:
        url = f"/rms/{RM}/explain?kpi=referral_rate&period={PERIOD}"
        as_rm = signed_in(served, "rm").get(url).text
        assert "another RM&#39;s client" in as_rm
        assert theirs[0] not in as_rm
        shown = set(re.findall(r">(C\d+)<", as_rm))
        assert shown and shown <= mine  # the RM's own clients stay readable, and only those
        as_manager = signed_in(served, "manager").get(url).text
        assert theirs[0] in as_manager and "another RM&#39;s client" not in as_manager
    finally:
        served.state.site.db.dispose()


def test_the_explain_view_gives_the_stored_numbers_and_the_sql(app: FastAPI, demo: Path) -> None:
    kpi = "client_retention_rate"
    page = signed_in(app, "manager").get(f"/rms/{RM}/explain?kpi={kpi}&period={PERIOD}").text
    ((numerator, denominator),) = query(
        app,
        f"SELECT numerator, denominator FROM kpi_values WHERE entity_type = 'rm' AND "
        f"entity_id = '{RM}' AND kpi_id = '{kpi}' AND period = '{PERIOD}'",
    )
    assert numerator is not None and denominator is not None
    assert f'id="explain-numerator">{numerator:g}<' in page
    assert f'id="explain-denominator">{denominator:g}<' in page
    assert '<pre class="sql"><code>SELECT' in page
    due = re.search(r"due_policies · 2025-Q4: (\d+) rows?", text_of(page))
    assert due is not None and int(due[1]) >= denominator  # every due policy, counted or not


def test_the_explain_view_of_an_improvement_shows_both_loss_ratios(app: FastAPI) -> None:
    kpi = "loss_ratio_improvement"
    page = signed_in(app, "manager").get(f"/rms/{RM}/explain?kpi={kpi}&period={PERIOD}").text
    facts = text_of(page.split('<h2 id="rows">')[0])
    assert "Loss ratio, 2025-Q3" in facts and "Loss ratio, 2025-Q4" in facts
    assert facts.count("earned premium ₹") == 2 and "claims incurred ₹" in facts
    assert "None" not in facts and not re.search(r"\d\.\d{3,}", facts)
    assert 'id="explain-numerator"' not in page  # an improvement has none: left out


def test_the_what_if_scores_again_without_writing(app: FastAPI) -> None:
    site = app.state.site
    browser = signed_in(app, "rm")
    kpi = "client_retention_rate"
    with site.read() as conn:
        expected = what_if(
            conn, site.framework, load_catalogue(), RM, site.calendar.parse(PERIOD), kpi, "100"
        )
        before = conn.exec_driver_sql("SELECT count(*), sum(score) FROM scores").fetchone()
    page = browser.get(f"/rms/{RM}?period={PERIOD}&kpi={kpi}&value=100").text
    assert expected.after.overall is not None
    assert f'id="whatif-overall">{expected.after.overall.quantize(Decimal("0.01"))}<' in page
    with site.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*), sum(score) FROM scores").fetchone() == before
    wrong = browser.get(f"/rms/{RM}?period={PERIOD}&kpi={kpi}&value=lots").text
    assert "The value &#39;lots&#39; is not a number; give the KPI&#39;s value, e.g. 85." in wrong
    other = browser.get(f"/rms/{RM}?period={PERIOD}&kpi=nope&value=3").text
    assert f"Choose one of the scorecard&#39;s KPIs for {PERIOD}." in other


def test_the_kpi_page_has_the_definition_the_sql_and_the_distribution(
    app: FastAPI, demo: Path
) -> None:
    kpi = "client_retention_rate"
    admin = signed_in(app, "admin").get(f"/kpis/{kpi}?period={PERIOD}").text
    definition = app.state.site.framework.kpi(kpi)
    assert str(escape(definition.definition or "")) in admin
    assert '<pre class="sql"><code>' in admin and "CREATE TEMPORARY TABLE" in admin
    valued = query(
        app,
        "SELECT v.entity_id, r.team_id FROM kpi_values AS v JOIN relationship_managers AS r "
        f"ON r.rm_id = v.entity_id WHERE v.entity_type = 'rm' AND v.kpi_id = '{kpi}' AND "
        f"v.period = '{PERIOD}' AND v.value IS NOT NULL AND r.role = 'rm'",
    )
    assert f'id="spread">{len(valued)} RMs with a value in {PERIOD}' in admin
    assert "Lowest" in admin and "Highest" in admin
    rm = signed_in(app, "rm").get(f"/kpis/{kpi}?period={PERIOD}").text
    team = sum(1 for _, team_id in valued if team_id == MANAGER_TEAM)
    assert f'id="spread">{team} RMs with a value in {PERIOD}' in rm  # the RM's own team
    assert "(yours)" in rm
    assert signed_in(app, "rm").get("/kpis/nope").status_code == 404


def test_the_framework_page_has_the_document_weights_and_smart_findings(app: FastAPI) -> None:
    site = app.state.site
    framework = site.framework
    with site.read() as conn:
        as_of = as_of_date(conn)
        assert as_of is not None
        actuals = comparable_actuals(conn, framework, site.calendar, as_of)
    findings = validate(framework, known_metrics=load_catalogue().kpi_ids(), recent_actuals=actuals)
    page = signed_in(app, "rm").get("/framework").text
    assert f'id="framework-version">{framework.version}<' in page
    for kra in framework.kras:
        assert f'data-kra="{kra.id}">{kra.weight:g} %<' in page
    errors = sum(1 for f in findings if f.severity is Severity.error)
    if findings:
        assert f"{errors} error" in page and f"{len(findings) - errors} warning" in page
    assert str(escape(framework.document_title)) in page  # the seed's structured document
    assert page.count("<main") == 1


def test_the_initiative_page_is_the_analysis(app: FastAPI) -> None:
    site = app.state.site
    impact = initiative_impact(
        site.db, load_catalogue(), site.compute_parameters, "INIT-RETENTION",
        example=site.framework.example,
    )  # fmt: skip
    page = signed_in(app, "manager").get("/initiatives/INIT-RETENTION").text
    assert f"<strong>{points(impact.difference_in_differences, True)} points</strong>" in page
    assert impact.conclusion in text_of(page)
    assert 'class="vega-spec"' in page
    listed = signed_in(app, "admin").get("/initiatives").text
    assert 'href="/initiatives/INIT-RETENTION"' in listed
    assert signed_in(app, "admin").get("/initiatives/NOPE").status_code == 404
    bad = signed_in(app, "admin").get("/initiatives/INIT-RETENTION?window=forever")
    assert bad.status_code == 400 and "is not a number of months" in bad.text


def test_scorecard_downloads_are_what_is_on_screen(app: FastAPI) -> None:
    site = app.state.site
    with site.read() as conn:
        report = build_scorecard(
            conn, site.framework, site.calendar, RM, site.calendar.parse("2025-Q3")
        )
    browser = signed_in(app, "rm")
    md = browser.get(f"/rms/{RM}/scorecard.md?period=2025-Q3")
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text == render_scorecard(report, ReportFormat.md)
    rows = list(
        csv.DictReader(io.StringIO(browser.get(f"/rms/{RM}/scorecard.csv?period=2025-Q3").text))
    )
    assert [r["kpi_id"] for r in rows] == [line.kpi_id for line in report.kpis]
    for row, line in zip(rows, report.kpis, strict=True):
        assert row["period"] == "2025-Q3" and row["status"] == line.status
        assert (float(row["score"]) if row["score"] else None) == (
            float(line.score) if line.score is not None else None
        )
    pdf = browser.get(f"/rms/{RM}/scorecard.pdf?period=2025-Q3")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert browser.get(f"/rms/{RM}/scorecard.exe").status_code == 404


def test_names_with_markup_are_escaped_and_formulas_neutralised(demo: Path, tmp_path: Path) -> None:
    root = copy_of(demo, tmp_path / "names")
    with duckdb.connect(str(root / "kraft.duckdb")) as conn:
        conn.execute(
            "UPDATE relationship_managers SET name = '<script>alert(1)</script>' WHERE rm_id = ?",
            [SAME_TEAM],
        )
        conn.execute(
            "UPDATE relationship_managers SET name = '=HYPERLINK(\"x\")' WHERE rm_id = ?", [RM]
        )
        conn.execute("UPDATE teams SET name = '<b>Team</b>' WHERE team_id = ?", [MANAGER_TEAM])
    served = served_app(root)
    try:
        browser = signed_in(served, "manager")
        for url in (f"/teams/{MANAGER_TEAM}?period={PERIOD}", f"/rms/{SAME_TEAM}", "/teams"):
            page = browser.get(url).text
            assert "<script>alert" not in page and "<b>Team</b>" not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in browser.get(f"/rms/{SAME_TEAM}").text
        admin = signed_in(served, "admin").get(f"/?period={PERIOD}").text
        assert "<script>alert" not in admin
        board = browser.get(f"/teams/{MANAGER_TEAM}/leaderboard.csv?period={PERIOD}").text
        assert "'=HYPERLINK" in board and ",=HYPERLINK" not in board
    finally:
        served.state.site.db.dispose()


def test_a_manager_without_a_scored_record_is_told_so_on_me(app: FastAPI) -> None:
    page = signed_in(app, "manager").get("/me")
    assert page.status_code == 200
    assert (
        "Your record RM0021 is a manager&#39;s: managers lead teams and are not scored."
        in page.text
    )
    assert signed_in(app, "admin").get("/rms/RM0021").status_code == 404
