"""A manager's home and what it leads to, over a demo as of 2025-11-30 (2025-Q3 the last closed
quarter, 2025-Q4 open, as the shipped demo stands on its own as-of date): the teams with the RMs
of each subtree, the teams' KPIs of both quarters as stored, the at-risk RMs in the ranking's
order, the reviews due with their state; the reviews page's RMs still without a review; the
calibration's default quarter; the data contract served as a page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kraft.analysis.alerts import CLOSING_DAYS
from kraft.core.access import scope_of
from kraft.core.alerts import Narrowing, ranked_period_alerts
from kraft.core.reviews import StepInput, take_review_step
from kraft.scoring.review import Step
from kraft.store.users import find_by_email
from kraft.web.shown import Shown
from web_support import LOGINS, build_demo, served_app, signed_in

CLOSED, OPEN = "2025-Q3", "2025-Q4"
BRANCH, TEAM = "T001", "T003"  # the manager leads Mumbai Branch; its RMs are in Mumbai Team 1


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    root = tmp_path_factory.mktemp("home") / "demo"
    build_demo(root, None, "--rms", "20", "--months", "11", "--start", "2025-01", "--no-reports")
    served = served_app(root)
    yield served
    served.state.site.db.dispose()


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def section(page: str, anchor: str) -> str:
    """The page from the heading with the id to the next h2."""
    start = page.index(f'id="{anchor}"')
    end = page.find("<h2", start)
    return page[start : end if end > 0 else None]


def scored_rms(app: FastAPI, team_id: str) -> list[str]:
    with app.state.site.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT rm_id FROM relationship_managers WHERE team_id = ? "
            "AND coalesce(role, 'rm') = 'rm' ORDER BY rm_id",
            (team_id,),
        )
        return [r[0] for r in rows]


def test_the_home_shows_the_teams_and_their_kpis_of_the_closed_and_the_open_quarter(
    app: FastAPI,
) -> None:
    page = signed_in(app, "manager").get("/teams")
    assert page.status_code == 200
    text = text_of(page.text)
    assert f"{CLOSED} is the last closed quarter, {OPEN} is open" in text
    rms = len(scored_rms(app, TEAM))
    assert rms > 0
    # the branch has no RM of its own: it counts those of the team below it
    assert f'data-team="{BRANCH}">{rms}<' in page.text
    assert f'data-team="{TEAM}">{rms}<' in page.text
    kpis = section(page.text, f"kpis-{BRANCH}")
    assert f">{CLOSED}<" in kpis and f">{OPEN} to date<" in kpis
    site = app.state.site
    kpi = site.framework.kpi("client_retention_rate")
    with site.read() as conn:
        stored = dict(
            conn.exec_driver_sql(
                "SELECT period, value FROM kpi_values WHERE entity_type = 'team' "
                "AND entity_id = ? AND kpi_id = ? AND period IN (?, ?)",
                (BRANCH, kpi.id, CLOSED, OPEN),
            ).fetchall()
        )
    shown = Shown(site.framework.currency)
    row = re.search(rf'href="/kpis/{kpi.id}">.*?</tr>', kpis, re.S)
    assert row, kpis[:2000]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row[0])
    assert cells == [shown.value(kpi, stored[CLOSED]), shown.value(kpi, stored[OPEN])]


def test_the_home_lists_the_at_risk_rms_as_kraft_alerts_ranks_them(app: FastAPI) -> None:
    page = signed_in(app, "manager").get("/teams").text
    risky = section(page, "at-risk").split("</table>")[0]  # the RMs; then their KPIs
    listed = re.findall(rf'<th scope="row"><a href="/rms/(RM\d+)\?period={OPEN}"', risky)
    _, ranking = ranked_period_alerts(
        app.state.site, OPEN, closing_days=CLOSING_DAYS, narrowing=Narrowing(team_id=BRANCH)
    )
    assert listed, risky[:1000]
    assert listed == [r.rm_id for r in ranking.rms][: len(listed)]
    severities = [r.severity for r in ranking.rms]
    assert severities == sorted(severities, reverse=True)


def test_the_reviews_due_show_their_state_and_the_reviews_page_who_has_none(
    app: FastAPI,
) -> None:
    manager = signed_in(app, "manager")
    team = scored_rms(app, TEAM)
    started = team[0]
    site = app.state.site
    with site.read() as conn:
        user = find_by_email(conn, LOGINS["manager"][0])
        assert user is not None
        scope = scope_of(conn, user)
    take_review_step(site, scope, started, CLOSED, Step.start, StepInput("", None, confirmed=True))

    due = section(manager.get("/teams").text, "reviews-due")
    rows = re.findall(r'/rms/(RM\d+)/reviews/([^"]+)".*?data-state="(\w+)"', due, re.S)
    states = {rm: state for rm, period, state in rows if period == CLOSED}
    assert states[started] == "draft"
    assert {rm for rm, state in states.items() if state == "none"} == set(team) - {started}
    assert [s for _, _, s in rows] == sorted((s for _, _, s in rows), key=lambda s: s != "none")
    assert "draft (the manager is reviewing)" in text_of(due)

    listing = section(manager.get("/reviews").text, "to-start")
    assert f"Not started for {CLOSED}" in text_of(listing)
    to_start = re.findall(rf'href="/rms/(RM\d+)/reviews/{CLOSED}"', listing)
    assert sorted(to_start) == sorted(set(team) - {started})


def test_calibration_opens_on_the_last_closed_quarter(app: FastAPI) -> None:
    with app.state.site.read() as conn:
        rated = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT period FROM scores")}
    assert OPEN in rated  # the open quarter is rated too: the default must pass it over
    page = signed_in(app, "manager").get("/calibration")
    assert page.status_code == 200
    assert f'<h1>Calibration <span class="meta">{CLOSED}</span></h1>' in page.text
    chosen = signed_in(app, "manager").get(f"/calibration?period={OPEN}")
    assert f'<span class="meta">{OPEN}</span>' in chosen.text


def test_the_data_contract_is_a_page_for_everyone_signed_in(app: FastAPI) -> None:
    page = signed_in(app, "rm").get("/help/data-contract")
    assert page.status_code == 200
    assert 'href="/help/data-contract"' in page.text  # in the navigation
    text = text_of(page.text)
    for words in ("The import contract", "relationship_managers", "annual_premium"):
        assert words in text
    assert "<table>" in page.text and "<h1>" in page.text and page.text.count("<h1>") == 1
    out = TestClient(app).get("/help/data-contract", follow_redirects=False)
    assert out.status_code in (303, 401)  # not signed in: to the sign-in page
