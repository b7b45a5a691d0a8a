"""kraft as a person meets it: a real `kraft serve` over the demo workspace, Debian's chromium
driven by Playwright. Each role signs in and lands on their home; the company overview, a team
and a scorecard open with their charts drawn and their tables filled; a KPI value drills down to
the rows behind it; a changed target changes the RM's score; a bad upload shows its errors; an
RM asking for another RM's scorecard gets the same 404 as for one that does not exist.

Every page visited is saved to tests/artifacts/<test>-<step>.png; no page may log a console
error (a CSP that blocked the Vega runtime would, and its charts would not be drawn).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from browser_support import Server, Visit, launched_chromium, require_chromium, running_server
from web_support import build_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The demo book as of 2025-11-30, as the shipped demo stands: 2025-Q3 closed, 2025-Q4 open.
DEMO = ("--rms", "20", "--months", "11", "--start", "2025-01", "--no-reports")
PERIOD, OPEN = "2025-Q3", "2025-Q4"
HOMES = {"admin": "/", "manager": "/teams", "rm": "/me"}
OWN_RM = "RM0002"  # rm@kraft.demo, in team T003 (Mumbai Team 1), which the manager leads
BRANCH = "T001"  # Mumbai Branch, the manager's: no RM of its own, T003 below it
TEAMMATE = "RM0004"  # another RM of T003: the one an RM would most like to peek at


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    root = build_demo(tmp_path_factory.mktemp("browser") / "demo", None, *DEMO)
    with running_server(root) as served:
        yield served


@pytest.fixture(scope="module")
def chromium(server: Server) -> Iterator[Any]:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def visit(chromium: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Visit]:
    tab = Visit.open(chromium, server.url, request.node.name)
    yield tab
    tab.close()


def other_rm_names(visit: Visit) -> list[str]:
    """The full names of the demo's RMs other than the RM's own (read as the admin sees them)."""
    rows = visit.api_get("/api/v1/rms", "admin")
    return [r["name"] for r in rows if r["rm_id"] != OWN_RM and r.get("name")]


@pytest.mark.parametrize("role", ["admin", "manager", "rm"])
def test_each_role_signs_in_and_lands_on_their_home(visit: Visit, role: str) -> None:
    visit.sign_in(role, step="home")
    assert visit.path.split("?")[0] == HOMES[role]
    assert visit.page.get_by_role("button", name="Sign out").is_visible()
    assert f"({role})" in visit.page.locator("header .who").inner_text()
    heading = visit.page.locator("main h1").inner_text()
    expected = {"admin": "Company overview", "manager": "My teams", "rm": "Scorecard: Akash Das"}
    assert heading.startswith(expected[role]), heading
    if role == "rm":  # the RM's home is their own scorecard, with its charts
        assert visit.charts_drawn() >= 1
    visit.assert_no_console_errors()


def test_a_manager_lands_on_what_to_do_next(visit: Visit) -> None:
    visit.sign_in("manager", step="home")
    page = visit.page
    main = page.locator("main").inner_text()
    assert f"{PERIOD} is the last closed quarter, {OPEN} is open" in main
    rms = page.locator(f"td[data-team='{BRANCH}']").inner_text()
    assert int(rms) > 0  # the branch counts the RMs of the teams below it
    kpis = page.locator("table.team-kpis").first
    assert PERIOD in kpis.locator("thead").inner_text() and OPEN in kpis.inner_text()
    assert visit.table_rows("table.team-kpis") >= 20
    assert visit.table_rows("table.at-risk-rms") >= 1  # the RMs at risk, ranked
    due = page.locator("#reviews-due-table tbody tr")
    assert due.count() >= 1 and "not started" in due.first.inner_text()
    visit.click_through(due.first.locator("a").first, "review")
    assert page.locator("main h1").inner_text().startswith("Review:")
    assert PERIOD in page.locator("main h1").inner_text()
    visit.goto("/reviews", "reviews")
    assert visit.table_rows("#reviews-to-start") >= 1
    visit.goto("/calibration", "calibration")
    assert PERIOD in page.locator("main h1").inner_text()
    visit.assert_no_console_errors()


def test_the_admin_opens_the_company_a_team_and_a_scorecard(visit: Visit) -> None:
    visit.sign_in("admin", step="overview")
    page = visit.page
    assert page.locator("main h1").inner_text() == "Company overview"
    assert visit.charts_drawn() >= 3  # rating distribution, KRA heatmap, movers
    assert visit.table_rows() >= 10  # ratings, heatmap, movers, at-risk and teams tables
    assert page.locator("main a[href^='/teams/']").count() >= 4  # every team of the demo

    visit.click_through(page.locator("main a[href^='/teams/T003']").first, "team")
    assert page.locator("main h1").inner_text().startswith("Mumbai Team 1")
    assert visit.table_rows("table.leaderboard") >= 5
    assert visit.charts_drawn() >= 1

    visit.click_through(
        page.locator(f"table.leaderboard a[href^='/rms/{TEAMMATE}?']").first, "scorecard"
    )
    assert page.locator("main h1").inner_text().startswith("Scorecard:")
    assert TEAMMATE in page.locator("main h1").inner_text()
    overall = page.locator("#overall").inner_text().strip()
    assert re.fullmatch(r"\d+(\.\d+)?", overall), overall
    assert visit.table_rows("table.kpis") >= 10
    assert visit.charts_drawn() >= 1  # the trends
    visit.assert_no_console_errors()


@pytest.mark.parametrize("role", ["manager", "rm"])
def test_a_kpi_value_drills_down_to_the_rows_behind_it(visit: Visit, role: str) -> None:
    rm_id = TEAMMATE if role == "manager" else OWN_RM
    others = other_rm_names(visit) if role == "rm" else []
    visit.sign_in(role)
    visit.goto(f"/rms/{rm_id}?period={PERIOD}", "scorecard")
    page = visit.page
    value = page.locator("table.kpis a[data-kpi='sales_conversion_rate']")
    shown = value.inner_text().strip()
    assert shown and shown != "—", shown
    visit.click_through(value, "explain")
    assert visit.path.startswith(f"/rms/{rm_id}/explain?kpi=sales_conversion_rate")
    assert page.locator("main h1").inner_text().startswith("Sales conversion rate")
    assert page.locator("#explain-value").inner_text().strip() == shown
    assert visit.table_rows("table.rows") >= 1
    page.locator("details summary").first.click()  # the SQL that selects the rows
    assert "select" in page.locator("pre.sql").first.inner_text().lower()
    visit.shot("explain-sql")
    explained = page.locator("main").inner_text()
    visit.click_through(page.get_by_role("link", name="about this KPI"), "kpi")
    assert page.locator("main h1").inner_text().startswith("Sales conversion rate")
    assert re.match(rf"\d+ RMs? with a value in {PERIOD}", page.locator("#spread").inner_text())
    assert visit.table_rows("table.histogram") >= 2
    if role == "rm":  # the distribution, their own marked, and no other RM's name anywhere
        assert page.locator("table.histogram tr.own-bin").count() == 1
        for text in (explained, page.locator("main").inner_text()):
            assert not [name for name in others if name in text]
    visit.assert_no_console_errors()


def test_an_rm_gets_404_for_another_rms_scorecard_as_for_a_missing_one(visit: Visit) -> None:
    visit.sign_in("rm")
    page = visit.page
    visit.goto(f"/rms/{TEAMMATE}?period={PERIOD}", "teammate", status=404)
    foreign = page.locator("main").inner_text()
    visit.goto(f"/rms/RM9999?period={PERIOD}", "missing", status=404)
    missing = page.locator("main").inner_text()
    assert "not yours to see" in foreign
    assert foreign == missing  # nothing tells the two apart
    visit.goto(
        f"/rms/{TEAMMATE}/explain?kpi=client_retention_rate&period={PERIOD}", "explain", status=404
    )
    assert page.locator("main").inner_text() == missing
    assert "Vikram Bose" not in page.content()  # RM0004's name
    visit.goto(f"/rms/{OWN_RM}?period={PERIOD}", "own")  # their own still opens
    visit.assert_no_console_errors()


HEADER = "client_id,name,segment,territory,acquired_date,source\n"
BAD_CLIENTS = HEADER + (
    "C-BAD-1,Asha Menon,platinum,Pune,2025-03-04,referral\n"
    "C-BAD-2,Ravi Iyer,retail,Pune,2025-02-30,walk_in\n"
    ",Meera Nair,hni,Pune,2025-01-05,digital\n"
    "C-BAD-4,Kiran Rao,sme,Pune,2025-01-06,telepathy\n"
)


def test_a_bad_upload_shows_every_error_and_changes_nothing(visit: Visit) -> None:
    visit.sign_in("admin")
    visit.goto("/imports", "imports")
    page = visit.page
    recent_before = visit.table_rows("main table:not(#import-problems)")
    page.get_by_label("Files (.csv, .xlsx, .parquet)").set_input_files(
        {"name": "clients.csv", "mimeType": "text/csv", "buffer": BAD_CLIENTS.encode()}
    )
    button = page.get_by_role("button", name="Check the files", exact=True)
    visit.click_through(button, "report", status=422, at="/imports/check")
    assert page.locator("#report-title").inner_text() == "Check failed: nothing was written"
    problems = page.locator("#import-problems tbody tr")
    assert problems.count() == 4, page.locator("#import-problems").inner_text()
    listed = page.locator("#import-problems").inner_text()
    for value in ("platinum", "2025-02-30", "telepathy"):
        assert value in listed
    assert "client_id" in listed  # the row without its key
    assert page.get_by_role("button", name=re.compile("^Apply")).count() == 0

    many = "".join(f"C-BAD-{i},Client {i},platinum,Pune,2025-02-30,referral\n" for i in range(352))
    page.get_by_label("Files (.csv, .xlsx, .parquet)").set_input_files(
        [
            {"name": "clients.csv", "mimeType": "text/csv", "buffer": (HEADER + many).encode()},
            {"name": "policies.csv", "mimeType": "text/csv", "buffer": b"policy_id\nP1\n"},
        ]
    )
    visit.click_through(button, "headers", status=422, at="/imports/check")
    listed = page.locator("#import-problems").inner_text()
    assert "policies.csv" in listed and "rm_id" in listed  # each header problem with its file
    page.get_by_label("Files (.csv, .xlsx, .parquet)").set_input_files(
        {"name": "clients.csv", "mimeType": "text/csv", "buffer": (HEADER + many).encode()}
    )
    visit.click_through(button, "many", status=422, at="/imports/check")
    assert "704 problem(s)" in page.locator("#import-rejected").inner_text()
    assert problems.count() == 2  # segment and acquired_date, 352 each
    assert "and 349 more" in page.locator("#import-problems").inner_text()
    visit.goto("/help/data-contract", "contract")
    assert page.locator("main h1").inner_text() == "The data contract"
    visit.goto("/imports", "after")
    assert visit.table_rows("main table:not(#import-problems)") == recent_before
    visit.assert_no_console_errors()


def test_an_export_in_another_layout_gets_a_mapping_to_confirm(visit: Visit) -> None:
    visit.sign_in("admin")
    visit.goto("/imports", "imports")
    page = visit.page
    export = b"Branch master\nBranch Code,Label,Zone\nB9,Ninth Branch,West\n"
    page.get_by_label("Files (.csv, .xlsx, .parquet)").set_input_files(
        {"name": "branches_0125.csv", "mimeType": "text/csv", "buffer": export}
    )
    check = page.get_by_role("button", name="Check the files", exact=True)
    visit.click_through(check, "proposal", status=422, at="/imports/check")
    assert "teams ← branches_0125.csv" in page.locator("#mapping-sure").inner_text()
    assert "TODO" in page.locator("#mapping-todo-lines + ul mark").first.inner_text()
    assert "name: 'TODO" in page.get_by_label("The mapping (YAML)").input_value()
    confirm = page.get_by_role("button", name="Confirm the mapping and check the files again")
    visit.click_through(confirm, "todo-refused", status=422, at="/imports/mapping")
    assert "is still a TODO" in page.locator("#mapping-error").inner_text()  # nothing saved
    visit.assert_no_console_errors()


def _score_cells(visit: Visit, kpi_id: str) -> tuple[str, str, str]:
    """The scorecard's overall score, and the KPI's target and score cells."""
    row = visit.page.locator(f"table.kpis tr:has(a[data-kpi='{kpi_id}'])")
    cells = row.locator("td")
    return (
        visit.page.locator("#overall").inner_text().strip(),
        cells.nth(1).inner_text().strip(),
        cells.nth(3).inner_text().strip(),
    )


def test_a_manager_changes_a_target_and_sees_the_rms_score_change(visit: Visit) -> None:
    kpi = "sales_conversion_rate"  # RM0004 converts about 28 % of leads against a 25 % target
    visit.sign_in("manager")
    visit.goto(f"/rms/{TEAMMATE}?period={PERIOD}", "before")
    before = _score_cells(visit, kpi)
    visit.goto("/targets", "targets")
    page = visit.page
    form = page.locator("form[action='/targets'][method='post']")
    assert f"rm:{OWN_RM}" in form.get_by_label("For").inner_html()  # their team's RMs
    assert "rm:RM0001" not in form.get_by_label("For").inner_html()  # not the other branch's
    form.get_by_label("For").select_option(f"rm:{TEAMMATE}")
    form.get_by_label("KPI", exact=True).select_option(kpi)
    form.get_by_label(re.compile(r"^From period")).fill(PERIOD)
    form.get_by_label(re.compile(r"^To period")).fill(PERIOD)
    form.get_by_label(re.compile(r"^Target")).fill("99")
    form.get_by_label(re.compile(r"^Threshold")).fill("98")
    visit.click_through(form.get_by_role("button", name="Set the target"), "saved")
    assert "Saved: the new target is in force." in page.locator("main").inner_text()
    visit.goto(f"/rms/{TEAMMATE}?period={PERIOD}", "after")
    after = _score_cells(visit, kpi)
    assert after[1] != before[1] and after[1].startswith("99"), (before, after)
    assert after[2] != before[2], (before, after)  # the KPI's score against the new target
    assert after[0] != before[0], (before, after)  # and so the overall
    visit.assert_no_console_errors()


def test_the_api_docs_list_the_operations_from_the_server_alone(visit: Visit) -> None:
    """Swagger UI draws every operation with nothing fetched from another server."""
    elsewhere: list[str] = []
    visit.page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((visit.base_url, "data:", "blob:"))
            else elsewhere.append(request.url)
        ),
    )
    visit.page.goto(visit.url("/api/docs"), wait_until="load")
    scorecard = "/api/v1/rms/{rm_id}/scorecard"
    visit.page.locator(".opblock-summary-path", has_text=scorecard).first.wait_for()
    assert visit.page.locator(".opblock").count() > 40  # one block an operation
    assert "/api/v1/scores" in visit.page.inner_text("#swagger-ui")
    visit.shot("api-docs")
    assert not elsewhere, f"/api/docs fetched {elsewhere}"
    visit.assert_no_console_errors()
