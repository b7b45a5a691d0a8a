"""The REST API's read endpoints on the demo book: the same numbers as the CLI's exports and the
scorecard report, and the same permissions as the pages (out of scope answers 404 exactly as
missing does; admin-only collections answer 403)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kraft.cli import app as cli
from kraft.periods import Calendar
from kraft.reports.scorecard import build_scorecard
from kraft.scoring.leaderboard import overall_leaderboard
from kraft.store.database import workspace_database
from kraft.workspace import load_workspace
from web_support import bearer, build_demo, demo_database, served_app

RM, OTHER_RM, FOREIGN_RM = "RM0002", "RM0003", "RM0001"  # FOREIGN_RM: outside the manager's teams
QUARTER = "2025-Q4"
FOREIGN_CLIENT_LEAD = "L-API-FOREIGN"
KNOWN = {"rm_id": RM, "kpi_id": "client_retention_rate", "team_id": "T003", "period": QUARTER,
         "initiative_id": "INIT-RETENTION"}  # path parameters for the route table  # fmt: skip


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The demo book on each database, with one lead of the RM referred by another RM's client
    (the explain view must mask that client for the RM)."""
    with demo_database(request.param) as url:
        yield _with_foreign_lead(build_demo(tmp_path_factory.mktemp("api-read") / "demo", url))


def _with_foreign_lead(root: Path) -> Path:
    workspace = load_workspace(root)
    db = workspace_database(workspace.root, workspace.settings.database_url)
    with db.begin() as conn:
        foreign = conn.execute(
            sa.text(
                "SELECT min(client_id) FROM policies WHERE rm_id = :o AND client_id NOT IN "
                "(SELECT client_id FROM policies WHERE rm_id = :r)"
            ),
            {"o": OTHER_RM, "r": RM},
        ).scalar()
        conn.execute(
            sa.text(
                "INSERT INTO leads (lead_id, rm_id, created_date, source, referred_by_client_id, "
                "status) VALUES (:l, :r, DATE '2025-11-03', 'referral', :c, 'open')"
            ),
            {"l": FOREIGN_CLIENT_LEAD, "r": RM, "c": foreign},
        )
    db.dispose()
    return root


@pytest.fixture(scope="module")
def app(demo: Path) -> Iterator[FastAPI]:
    served = served_app(demo)
    yield served
    served.state.site.db.dispose()


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture(scope="module")
def tokens(app: FastAPI) -> dict[str, dict[str, str]]:
    return {role: bearer(app, role) for role in ("admin", "manager", "rm")}


def get(client: TestClient, tokens: dict[str, dict[str, str]], role: str, url: str) -> Any:
    answer = client.get(url, headers=tokens[role])
    assert answer.status_code == 200, (url, answer.text)
    return answer.json()


def refused(
    client: TestClient, tokens: dict[str, dict[str, str]], role: str, url: str, status: int
) -> str:
    answer = client.get(url, headers=tokens[role])
    assert answer.status_code == status, (role, url, answer.text)
    assert answer.headers["content-type"] == "application/problem+json"
    detail: str = answer.json()["detail"]
    assert detail and "\n" not in detail and "Traceback" not in detail  # one sentence
    return detail


def export(demo: Path, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        cli, ["--workspace", str(demo), "export", *args, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    records: list[dict[str, Any]] = json.loads(result.output)
    return records


def every_page(client: TestClient, headers: dict[str, str], url: str) -> list[dict[str, Any]]:
    """All items of a paged endpoint, 500 a page."""
    items: list[dict[str, Any]] = []
    joiner = "&" if "?" in url else "?"
    while True:
        page = client.get(f"{url}{joiner}limit=500&offset={len(items)}", headers=headers).json()
        items += page["items"]
        if len(items) >= page["total"]:
            assert len(items) == page["total"]
            return items


def test_the_openapi_schema_documents_every_endpoint_with_its_model(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/frameworks", "/api/v1/kpis/{kpi_id}", "/api/v1/rms", "/api/v1/teams/{team_id}",
        "/api/v1/periods", "/api/v1/kpi-values", "/api/v1/explain", "/api/v1/scores",
        "/api/v1/rms/{rm_id}/scorecard", "/api/v1/teams/{team_id}/leaderboard",
        "/api/v1/targets/{target_id}", "/api/v1/measurements/{rm_id}/{kpi_id}/{period}",
        "/api/v1/initiatives/{initiative_id}/impact", "/api/v1/users/{user_id}",
    ):  # fmt: skip
        assert path in paths, path
    answer = paths["/api/v1/rms/{rm_id}/scorecard"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/Scorecard")
    models = schema["components"]["schemas"]
    assert {"KpiValuePage", "TargetOut", "MeasurementOut", "ScoreRow", "Leaderboard"} <= set(models)
    assert "if-match" in {
        p["name"] for p in paths["/api/v1/targets/{target_id}"]["put"]["parameters"]
    }


def test_the_framework_and_its_kpis_with_formula_and_sql(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    (framework,) = get(client, tokens, "rm", "/api/v1/frameworks")
    assert framework["id"] == "insurance_rm" and len(framework["kras"]) == 10
    assert sum(k["weight"] for k in framework["kras"]) == 100
    kpis = get(client, tokens, "rm", "/api/v1/kpis")
    assert len(kpis) == sum(len(k["kpis"]) for k in framework["kras"]) == 40
    retention = get(client, tokens, "manager", "/api/v1/kpis/client_retention_rate")
    assert (retention["unit"], retention["direction"], retention["grain"]) == (
        "percent", "higher_is_better", "quarter",
    )  # fmt: skip
    assert retention["target"] == 85 and retention["threshold"] == 75
    formula = retention["formula"]
    assert (formula["numerator"], formula["denominator"], formula["scale"]) == (
        "retained", "due", 100.0,
    )  # fmt: skip
    assert formula["measures"]["retained"] == {
        "fact": "due_policies", "agg": "count_distinct", "expr": "client_id", "filter": "renewed",
    }  # fmt: skip
    assert formula["facts"]["due_policies"]["table"] == "policies"
    assert "CREATE TEMPORARY TABLE kraft_fact_due_policies" in retention["sql"]
    manual = get(client, tokens, "rm", "/api/v1/kpis/management_decision_impact")
    assert manual["kind"] == "manual" and manual["entered_by"] == ["manager"]
    assert manual["formula"] is None and "FROM measurements" in manual["sql"]
    detail = refused(client, tokens, "admin", "/api/v1/kpis/no_such_kpi", 404)
    assert "no_such_kpi" in detail


def test_rms_and_teams_are_those_of_the_users_scope(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    everyone = [r["rm_id"] for r in get(client, tokens, "admin", "/api/v1/rms")]
    assert len(everyone) == 23 and everyone == sorted(everyone)
    assert [r["rm_id"] for r in get(client, tokens, "rm", "/api/v1/rms")] == [RM]
    mine = {r["rm_id"] for r in get(client, tokens, "manager", "/api/v1/rms")}
    assert RM in mine and FOREIGN_RM not in mine and OTHER_RM not in mine
    assert get(client, tokens, "rm", f"/api/v1/rms/{RM}")["name"]
    assert get(client, tokens, "rm", "/api/v1/teams") == []
    teams = {t["team_id"] for t in get(client, tokens, "manager", "/api/v1/teams")}
    assert teams == {"T001", "T003"}
    team = get(client, tokens, "manager", "/api/v1/teams/T001")
    assert team["child_team_ids"] == ["T003"] and "RM0021" in team["rm_ids"]
    assert RM in get(client, tokens, "manager", "/api/v1/teams/T003")["rm_ids"]
    # another's resource answers exactly as a missing one
    assert refused(client, tokens, "rm", f"/api/v1/rms/{OTHER_RM}", 404) == refused(
        client, tokens, "rm", "/api/v1/rms/RM9999", 404
    ).replace("RM9999", OTHER_RM)
    missing = refused(client, tokens, "admin", "/api/v1/rms/RM9999", 404)
    assert refused(client, tokens, "manager", f"/api/v1/rms/{FOREIGN_RM}", 404) == missing.replace(
        "RM9999", FOREIGN_RM
    )
    assert refused(client, tokens, "manager", "/api/v1/teams/T002", 404) == refused(
        client, tokens, "admin", "/api/v1/teams/T999", 404
    ).replace("T999", "T002")
    refused(client, tokens, "rm", "/api/v1/teams/T003", 404)  # their own team names others


def test_periods_have_grains_and_say_what_is_scored(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    periods = get(client, tokens, "rm", "/api/v1/periods")
    labels = [p["label"] for p in periods]
    # the demo (12 months from 2025-01) is scored from 2025-01: its values of the policies
    # issued before (from 2023-12) are computed but not offered (issue #17 item 6)
    assert labels[0] == "2025-01" and labels[-1] == "2025"
    found = {p["label"]: p for p in periods}
    assert found[QUARTER]["grain"] == "quarter" and found[QUARTER]["has_scores"]
    assert found[QUARTER]["start"] == "2025-10-01" and found[QUARTER]["end"] == "2025-12-31"
    assert [p["grain"] for p in periods] == sorted(
        (p["grain"] for p in periods), key=["month", "quarter", "year"].index
    )


@pytest.mark.parametrize(
    ("query", "options"),
    [
        ("entity_type=rm&grain=quarter", ["--entity-type", "rm", "--grain", "quarter"]),
        ("from=2025-Q2&to=2025-Q3&entity_type=team", ["--from", "2025-Q2", "--to", "2025-Q3",
                                                      "--entity-type", "team"]),
        ("grain=year", ["--grain", "year"]),
    ],
)  # fmt: skip
def test_kpi_values_equal_the_export_for_the_same_filters(
    demo: Path,
    client: TestClient,
    tokens: dict[str, dict[str, str]],
    query: str,
    options: list[str],
) -> None:
    exported = export(demo, "kpi-values", *options)
    assert exported
    assert every_page(client, tokens["admin"], f"/api/v1/kpi-values?{query}") == exported


def test_kpi_values_of_every_period_equal_the_export_of_every_period(
    demo: Path, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    every = export(demo, "kpi-values", "--grain", "year", "--all-periods")
    assert {v["period"] for v in every} == {"2023", "2024", "2025"}  # 2023, 2024: not scored
    url = "/api/v1/kpi-values?grain=year&all_periods=true"
    assert every_page(client, tokens["admin"], url) == every


def test_kpi_values_are_scoped_to_the_users_rms_and_teams(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    own = every_page(client, tokens["rm"], "/api/v1/kpi-values?grain=quarter")
    assert own and {(v["entity_type"], v["entity_id"]) for v in own} == {("rm", RM)}
    manager = every_page(client, tokens["manager"], f"/api/v1/kpi-values?period={QUARTER}")
    kinds = {(v["entity_type"], v["entity_id"]) for v in manager}
    assert ("team", "T003") in kinds and ("team", "T001") in kinds and ("rm", RM) in kinds
    assert not {k for k in kinds if k[0] == "org" or k[1] in (FOREIGN_RM, "T002", "T004")}
    foreign = client.get(
        f"/api/v1/kpi-values?entity_id={FOREIGN_RM}", headers=tokens["manager"]
    ).json()
    assert foreign["total"] == 0 and foreign["items"] == []
    one = client.get(
        f"/api/v1/kpi-values?entity_id={RM}&kpi_id=client_retention_rate&period={QUARTER}",
        headers=tokens["rm"],
    ).json()
    assert one["total"] == 1 and one["items"][0]["value"] is not None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("entity_type=company", "entity_type"),
        ("period=2025-13", "period"),
        ("grain=week", "grain"),
        ("kpi_id=nope", "kpi_id"),
        ("from=someday", "from"),
        ("limit=0", "limit"),
    ],
)
def test_a_bad_filter_is_one_sentence_naming_it(
    client: TestClient, tokens: dict[str, dict[str, str]], query: str, field: str
) -> None:
    detail = refused(client, tokens, "admin", f"/api/v1/kpi-values?{query}", 422)
    assert detail.startswith(f"{field}:")


def test_explain_gives_the_stored_value_and_its_rows(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    url = f"/api/v1/explain?rm_id={RM}&kpi_id=client_retention_rate&period={QUARTER}&limit=0"
    found = get(client, tokens, "manager", url)
    value = client.get(
        f"/api/v1/kpi-values?entity_id={RM}&kpi_id=client_retention_rate&period={QUARTER}",
        headers=tokens["admin"],
    ).json()["items"][0]
    stored = found["stored"]
    assert (stored["value"], stored["numerator"], stored["denominator"]) == (
        value["value"], value["numerator"], value["denominator"],
    )  # fmt: skip
    (rows,) = found["row_sets"]
    due = {r[rows["columns"].index("client_id")] for r in rows["rows"]}
    assert len(due) == stored["denominator"] and rows["total"] == len(rows["rows"])
    assert "SELECT" in rows["sql"]
    limited = get(client, tokens, "rm", url.replace("limit=0", "limit=3"))
    assert len(limited["row_sets"][0]["rows"]) == 3 and limited["row_sets"][0]["total"] > 3
    refused(client, tokens, "rm", url.replace(RM, OTHER_RM), 404)
    refused(client, tokens, "manager", url.replace(RM, FOREIGN_RM), 404)
    refused(client, tokens, "admin", url.replace("client_retention_rate", "nope"), 404)
    assert refused(client, tokens, "admin", url.replace(QUARTER, "2025-Q5"), 422).startswith(
        "period:"
    )


def test_an_rm_sees_other_rms_clients_masked_in_the_rows(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    url = f"/api/v1/explain?rm_id={RM}&kpi_id=referral_rate&period={QUARTER}&limit=0"

    def referrers(role: str) -> tuple[bool, dict[str, Any]]:
        found = get(client, tokens, role, url)
        leads = found["row_sets"][0]
        assert leads["columns"][:3] == ["lead_id", "created_date", "referred_by_client_id"]
        by_lead = {row[0]: row for row in leads["rows"]}
        return found["masked"], by_lead

    masked, seen = referrers("rm")
    assert masked
    row = seen[FOREIGN_CLIENT_LEAD]
    assert row[2] == "(another RM's client)" and row[-1] == "(another RM's client)"
    others = [r for lead, r in seen.items() if lead != FOREIGN_CLIENT_LEAD and r[2] is not None]
    assert others and all(not str(r[2]).startswith("(") for r in others)  # their own clients
    plain, unmasked = referrers("manager")
    assert not plain and unmasked[FOREIGN_CLIENT_LEAD][2].startswith("C")


def test_scores_equal_the_export_and_are_scoped(
    demo: Path, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    exported = export(demo, "scores", "--period", QUARTER)
    assert every_page(client, tokens["admin"], f"/api/v1/scores?period={QUARTER}") == exported
    quarters = export(demo, "scores", "--grain", "quarter")
    assert every_page(client, tokens["admin"], "/api/v1/scores?grain=quarter") == quarters
    assert set(exported[0]) >= {"rm_id", "overall_score", "coverage", "kra:sales_revenue"}
    mine = every_page(client, tokens["rm"], "/api/v1/scores?grain=quarter")
    assert mine == [r for r in quarters if r["rm_id"] == RM]
    team = every_page(client, tokens["manager"], f"/api/v1/scores?period={QUARTER}&team_id=T003")
    members = set(get(client, tokens, "admin", "/api/v1/teams/T003")["rm_ids"])
    assert team == [r for r in exported if r["rm_id"] in members] and len(team) > 5
    refused(client, tokens, "manager", "/api/v1/scores?team_id=T002", 404)
    refused(client, tokens, "rm", f"/api/v1/scores?rm_id={OTHER_RM}", 404)
    assert refused(client, tokens, "admin", f"/api/v1/scores?period={QUARTER}&grain=month", 422)


RAW_NUMBER = re.compile(r"\d\.\d{3,}|\bNone\b|\bnan\b")  # more than 2 decimals, or no number


def shown_strings(node: Any, inside: bool = False) -> Iterator[str]:
    """Every string a person reads in an answer: under a `shown` key, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from shown_strings(value, inside or key == "shown")
    elif isinstance(node, list):
        for value in node:
            yield from shown_strings(value, inside)
    elif isinstance(node, str) and inside:
        yield node


def test_shown_strings_hold_no_raw_floats(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    rms = [r["rm_id"] for r in get(client, tokens, "admin", "/api/v1/rms") if r["role"] == "rm"]
    answers = [
        get(client, tokens, "admin", f"/api/v1/rms/{rm_id}/scorecard?period={QUARTER}")
        for rm_id in rms[:6]
    ]
    shown = [text for answer in answers for text in shown_strings(answer)]
    tooltips = [t for a in answers for t in shown_strings(a["trends"]["datasets"])]
    assert len(shown) > 200 and len(tooltips) > 100  # the cells and every trend's tooltips
    assert [text for text in shown if RAW_NUMBER.search(text)] == []


def test_the_scorecard_is_the_reports_numbers(
    demo: Path, client: TestClient, tokens: dict[str, dict[str, str]], app: FastAPI
) -> None:
    site = app.state.site
    with site.read() as conn:
        report = build_scorecard(
            conn, site.framework, Calendar(1), RM, Calendar(1).parse(QUARTER), charts=False
        )
    card = get(client, tokens, "rm", f"/api/v1/rms/{RM}/scorecard?period={QUARTER}")
    assert card["overall"] == float(report.overall or 0) and card["rating"] == report.rating
    assert card["coverage"] == float(report.coverage or 0)
    assert card["shown"]["overall"] == report.overall_shown
    assert card["previous_period"] == "2025-Q3" and card["trends"]["$schema"]
    kras = {k["kra_id"]: k for k in card["kras"]}
    lines = 0
    for kra in report.kras:
        assert kras[kra.kra_id]["score"] == (float(kra.score) if kra.score is not None else None)
        assert kras[kra.kra_id]["status"] == kra.status
        shown = {k["kpi_id"]: k for k in kras[kra.kra_id]["kpis"]}
        for line in kra.kpis:
            got = shown[line.kpi_id]
            for field in ("actual", "target", "threshold", "score", "volume"):
                expected = getattr(line, field)
                assert got[field] == (float(expected) if expected is not None else None)
            assert got["status"] == line.status and got["shown"] == line.shown
            assert (got["interval"] is None) == (line.interval is None)
            if line.variance is not None:
                assert got["variance"]["target"]["flag"] == (
                    line.variance.target.flag.value if line.variance.target.flag else None
                )
            lines += 1
    assert lines >= 30
    assert [d["kpi_id"] for d in card["drivers"]] == [d.kpi_id for d in report.drivers]
    default = get(client, tokens, "manager", f"/api/v1/rms/{RM}/scorecard")
    assert default["period"] == QUARTER  # the latest scored quarter
    refused(client, tokens, "rm", f"/api/v1/rms/{OTHER_RM}/scorecard", 404)
    refused(client, tokens, "manager", f"/api/v1/rms/{FOREIGN_RM}/scorecard", 404)
    assert "manager" in refused(client, tokens, "admin", "/api/v1/rms/RM0021/scorecard", 404)
    assert "no scores" in refused(
        client, tokens, "admin", f"/api/v1/rms/{RM}/scorecard?period=2019-Q1", 404
    )


def test_a_teams_leaderboard_with_intervals_for_its_managers_only(
    client: TestClient, tokens: dict[str, dict[str, str]], app: FastAPI
) -> None:
    site = app.state.site
    board = get(client, tokens, "manager", f"/api/v1/teams/T003/leaderboard?period={QUARTER}")
    with site.read() as conn:
        calendar = Calendar(1)
        expected = overall_leaderboard(
            conn, site.framework, calendar, calendar.parse(QUARTER), "T003"
        )
    assert [(s["rank"], s["rm_id"], s["adjusted_overall"]) for s in board["standings"]] == [
        (s.rank, s.rm_id, float(s.adjusted) if s.adjusted is not None else None) for s in expected
    ]
    kpi = get(
        client, tokens, "manager", "/api/v1/teams/T001/leaderboard?kpi_id=client_retention_rate"
    )
    assert kpi["period"] == QUARTER and kpi["kpi_id"] == "client_retention_rate"
    ranked = [s for s in kpi["standings"] if s["rank"] is not None]
    assert ranked and all(
        s["interval"]["low"] <= s["value"] <= s["interval"]["high"] for s in ranked
    )
    refused(client, tokens, "rm", "/api/v1/teams/T003/leaderboard", 404)
    refused(client, tokens, "manager", "/api/v1/teams/T002/leaderboard", 404)
    refused(client, tokens, "admin", "/api/v1/teams/T003/leaderboard?kpi_id=nope", 404)


def test_initiative_impact_is_the_clis_json_for_managers_and_admins(
    demo: Path, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    (initiative,) = get(client, tokens, "manager", "/api/v1/initiatives")
    assert initiative["initiative_id"] == "INIT-RETENTION" and initiative["participants"] > 0
    url = "/api/v1/initiatives/INIT-RETENTION/impact?resamples=200&seed=3"
    found = get(client, tokens, "admin", url)
    result = CliRunner().invoke(
        cli,
        ["--workspace", str(demo), "initiative", "impact", "INIT-RETENTION", "--format", "json",
         "--resamples", "200", "--seed", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert found == json.loads(result.output)
    managed = get(client, tokens, "manager", url)
    scope = {r["rm_id"] for r in get(client, tokens, "manager", "/api/v1/rms")}
    for name, group in managed["groups"].items():
        assert set(group["rm_ids"]) <= scope
        assert group["rms"] == found["groups"][name]["rms"]  # the figures stay the company's
    assert managed["difference_in_differences"] == found["difference_in_differences"]
    refused(client, tokens, "rm", "/api/v1/initiatives", 403)
    refused(client, tokens, "rm", url, 403)
    refused(client, tokens, "admin", "/api/v1/initiatives/NOPE/impact", 404)
    assert refused(client, tokens, "admin", url + "&window=soon", 422).startswith("window:")


def test_users_are_for_admins_only(client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    emails = [u["email"] for u in get(client, tokens, "admin", "/api/v1/users")]
    assert emails == sorted(emails) and "rm@kraft.demo" in emails
    for role in ("manager", "rm"):
        assert refused(client, tokens, role, "/api/v1/users", 403) == "Only an admin manages users."


def test_every_read_endpoint_asks_for_sign_in(client: TestClient, app: FastAPI) -> None:
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/v1/") or path == "/api/v1/auth/token":
            continue
        if "GET" not in getattr(route, "methods", set()):
            continue
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: KNOWN.get(m[1], "1"), path)
        answer = client.get(url)
        assert answer.status_code == 401, (url, answer.status_code)
