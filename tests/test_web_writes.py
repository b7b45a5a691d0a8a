"""The pages and API that change data: imports by upload (check, every problem, apply), the
compute job, the framework editor, users admin; and who may not act (403/404)."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kraft.schema.tables import TABLES, TABLES_BY_NAME
from kraft.store import audit
from kraft.web.jobs import ComputeJobs
from web_support import LOGINS, Browser, bearer, build_demo, served_app

COUNTED = [t.name for t in TABLES] + [
    "audit_log",
    "import_runs",
    "compute_runs",
    "kpi_values",
    "scores",
    "targets",
    "users",
]
POLICIES_HEADER = (
    "policy_id,client_id,rm_id,product_line,business_type,issue_date,start_date,end_date,"
    "status,annual_premium\n"
)
# Four rows, each with one problem: the row (spreadsheet numbering) and column it is in.
BAD_POLICIES = POLICIES_HEADER + (
    "PNEW1,C0000001,RM9999,life,new,2025-06-01,2025-06-01,2026-05-31,in_force,1000\n"
    "PNEW2,C0000001,RM0002,boat,new,2025-06-01,2025-06-01,2026-05-31,in_force,1000\n"
    "PNEW3,C0000001,RM0002,life,new,2025-13-01,2025-06-01,2026-05-31,in_force,1000\n"
    "PNEW4,C0000001,RM0002,life,new,2025-06-01,2025-06-01,2026-05-31,in_force,-5\n"
)
BAD_CELLS = {(2, "rm_id"), (3, "product_line"), (4, "issue_date"), (5, "annual_premium")}
BAD_CLIENTS = "client_id,name,segment\nCNEW001,Asha Rao,<b>royalty</b>\n"  # row 2: no such segment
GOOD_CLIENTS = "client_id,name,segment\nCNEW001,Asha Rao,retail\nCNEW002,Ravi Menon,hni\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("writes") / "demo")


@pytest.fixture
def root(demo: Path, tmp_path: Path) -> Path:
    """A copy of the demo workspace of the test's own: the tests change it."""
    copy = tmp_path / "ws"
    shutil.copytree(demo, copy)
    return copy


@pytest.fixture
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder uploads go to, to see that none is left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def app(root: Path, uploads: Path) -> Iterator[FastAPI]:
    served = served_app(root)
    yield served
    _wait_for_jobs(served)
    served.state.site.db.dispose()


def signed_in(app: FastAPI, role: str) -> Browser:
    """A browser signed in as the role, with the CSRF token of its session (read from a page
    of this module, which every role may load: an admin's form or another's refusal)."""
    browser = Browser(app, follow_redirects=False)
    email, password = LOGINS[role]
    answer = browser.post("/login", data={"username": email, "password": password})
    assert answer.status_code == 303, answer.text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', browser.get("/imports").text)
    assert found
    browser.csrf = found[1]
    return browser


def _wait_for_jobs(app: FastAPI, seconds: float = 120) -> None:
    jobs = ComputeJobs.of(app)
    deadline = time.monotonic() + seconds
    while jobs.running() is not None and time.monotonic() < deadline:
        time.sleep(0.1)


def counts(app: FastAPI) -> dict[str, int]:
    with app.state.site.read() as conn:
        return {
            n: int(conn.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar_one())
            for n in COUNTED
        }


def upload_folders(folder: Path) -> list[Path]:
    return sorted(folder.glob("kraft-uploads-*/*/upload-*"))


def problem_groups(html: str) -> list[tuple[str, str, int, list[int]]]:
    """(file, column, problems, the example rows) of each line of the page's problem table."""
    table = re.search(r'<table id="import-problems">(.*?)</table>', html, re.S)
    assert table, "no problem table on the page"
    lines = re.findall(
        r'<tr><td>([^<]*)</td><td>([^<]*)</td><td class="num">([\d,]+)</td><td>(.*?)</td></tr>',
        table[1],
        re.S,
    )
    return [
        (f, c, int(n.replace(",", "")), [int(r) for r in re.findall(r"<li>row (\d+):", examples)])
        for f, c, n, examples in lines
    ]


def problem_cells(html: str) -> set[tuple[str, int, str]]:
    """(file, row, column) of each example of the page's problem table."""
    return {(f, r, c) for f, c, _, rows in problem_groups(html) for r in rows}


def csv_file(name: str, text: str) -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, text.encode(), "text/csv"))


# -- imports ---------------------------------------------------------------------------------


def test_a_bad_upload_lists_every_problem_and_changes_nothing(app: FastAPI, uploads: Path) -> None:
    admin = signed_in(app, "admin")
    before = counts(app)
    answer = admin.form(
        "/imports/check",
        {"mode": "upsert"},
        files=[csv_file("policies.csv", BAD_POLICIES), csv_file("clients.csv", BAD_CLIENTS)],
    )
    assert answer.status_code == 422
    assert "Check failed: nothing was written" in answer.text
    assert "5 problem(s); nothing was written." in answer.text
    assert "By file, column and kind: 5 groups." in answer.text
    cells = problem_cells(answer.text)
    assert {(r, c) for f, r, c in cells if f == "policies.csv"} == BAD_CELLS
    assert ("clients.csv", 2, "segment") in cells
    assert "<b>royalty</b>" not in answer.text and "&lt;b&gt;royalty&lt;/b&gt;" in answer.text
    assert "/imports/apply" not in answer.text  # nothing to apply
    assert counts(app) == before
    assert upload_folders(uploads) == []

    api = TestClient(app).post(
        "/api/v1/imports",
        headers=bearer(app, "admin"),
        files=[csv_file("policies.csv", BAD_POLICIES)],
        data={"mode": "upsert"},
    )
    assert api.status_code == 422
    assert api.headers["content-type"].startswith("application/problem+json")
    body = api.json()
    assert body["ok"] is False and body["total_errors"] == 4
    assert body["detail"].startswith("The import was rejected: 4 problem(s); nothing was written.")
    assert {(e["row"], e["column"]) for e in body["errors"]} == BAD_CELLS
    assert all(e["file"] == "policies.csv" and e["reason"] for e in body["errors"])
    product_line = next(g for g in body["groups"] if g["column"] == "product_line")
    assert product_line == {
        "file": "policies.csv",
        "column": "product_line",
        "problem": "is not one of: life, health, motor, property, travel, other",
        "count": 1,
        "examples": [{"row": 3, "value": "boat"}],
        "fix": 'add `values: {"boat": TODO}` to this column\'s mapping, each word mapped to '
        "one of: life, health, motor, property, travel, other",
    }
    assert sum(g["count"] for g in body["groups"]) == 4
    assert counts(app) == before
    assert upload_folders(uploads) == []


def test_a_long_problem_list_is_grouped_by_file_and_column_with_the_exact_total(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = "".join(f"CBAD{i:05d},Client,royalty,2025-02-01\n" for i in range(702))
    rows = bad + "CBAD-X,Client,moon,2025-01-01\nCBAD-Y,Client,retail,never\n"
    files = [csv_file("clients.csv", "client_id,name,segment,acquired_date\n" + rows)]
    answer = signed_in(app, "admin").form("/imports/check", {}, files=files)
    assert answer.status_code == 422
    assert "704 problem(s); nothing was written." in answer.text
    assert (
        "By file, column and kind: 2 groups." in answer.text and "The first 20" not in answer.text
    )
    groups = problem_groups(answer.text)
    assert [(f, c, n) for f, c, n, _ in groups] == [
        ("clients.csv", "segment", 703),
        ("clients.csv", "acquired_date", 1),
    ]
    assert [rows for *_, rows in groups] == [[2, 3, 4], [705]]  # the first three of each
    assert "and 700 more" in answer.text
    assert (
        '<td class="fix">add `values: {&#34;moon&#34;: TODO, &#34;royalty&#34;: TODO}` to this '
        "column&#39;s mapping, each word mapped to one of: "
    ) in answer.text
    assert answer.text.count("<tr>") < 20  # not 704 lines: the page stays short

    monkeypatch.setattr("kraft.web.pages.imports.SHOWN_GROUPS", 1)
    answer = signed_in(app, "admin").form("/imports/check", {}, files=files)
    assert [c for _, c, _, _ in problem_groups(answer.text)] == ["segment"]
    assert "By file, column and kind: 2 groups, the first 1 listed." in answer.text
    assert "Not listed: 1 more problem in 1 more group." in answer.text


def test_header_problems_name_their_file_every_file_checked(app: FastAPI) -> None:
    files = [
        csv_file("policies.csv", "policy_id,client_id\nP1,C1\n"),
        csv_file("clients.csv", "name,segment\nAsha,retail\n"),
    ]
    answer = signed_in(app, "admin").form("/imports/check", {}, files=files)
    assert answer.status_code == 422
    groups = [(f, c, n) for f, c, n, _ in problem_groups(answer.text)]
    given = {"policy_id", "client_id"}
    missing = [
        c.name for c in TABLES_BY_NAME["policies"].columns if c.required and c.name not in given
    ]
    assert "rm_id" in missing
    assert groups == [
        *(("policies.csv", column, 1) for column in missing),
        ("clients.csv", "client_id", 1),
    ]
    assert "a required column missing from the header" in answer.text
    assert 'href="/help/data-contract"' in answer.text
    assert "docs/data-contract.md" not in answer.text


def test_a_file_that_is_no_table_is_one_sentence(app: FastAPI) -> None:
    admin = signed_in(app, "admin")
    before = counts(app)
    answer = admin.form("/imports/check", {}, files=[csv_file("salaries.csv", "a,b\n1,2\n")])
    assert answer.status_code == 422
    assert "&#39;salaries&#39; is not a table of the import contract" in answer.text
    api_read = TestClient(app).post(
        "/api/v1/imports", headers=bearer(app, "admin"), files=[csv_file("salaries.csv", "a\n1\n")]
    )
    assert api_read.status_code == 422
    assert api_read.json()["detail"].startswith("salaries.csv: 'salaries' is not a table of the")
    problem = api_read.json()["errors"][0]
    assert problem["file"] == "salaries.csv"
    assert api_read.json()["detail"] == f"salaries.csv: {problem['reason']}"
    api = TestClient(app).post(
        "/api/v1/imports",
        headers=bearer(app, "admin"),
        files=[("files", ("notes.txt", b"hello", "text/plain"))],
    )
    assert api.status_code == 422
    assert api.json()["detail"] == (
        "notes.txt: kraft imports .csv, .parquet and .xlsx files; convert it to one of those."
    )
    assert counts(app) == before


def test_a_good_upload_is_checked_then_applied_then_offers_compute(
    app: FastAPI, uploads: Path
) -> None:
    admin = signed_in(app, "admin")
    before = counts(app)
    checked = admin.form(
        "/imports/check",
        {"mode": "upsert", "as_of": "2025-12-31"},
        files=[csv_file("clients.csv", GOOD_CLIENTS)],
    )
    assert checked.status_code == 200, checked.text
    assert "Check passed" in checked.text
    assert re.search(r'<th scope="row">clients</th><td class="num">2</td>', checked.text)
    assert counts(app) == before  # a check writes nothing
    token = re.search(r'name="token" value="([^"]+)"', checked.text)
    assert token
    assert len(upload_folders(uploads)) == 1  # kept for Apply

    manager = signed_in(app, "manager")
    assert manager.form("/imports/apply", {"token": token[1]}).status_code == 403

    applied = admin.form("/imports/apply", {"token": token[1]})
    assert applied.status_code == 200, applied.text
    assert "Import 2 committed; data as of 2025-12-31 (--as-of)." in applied.text
    assert 'action="/compute"' in applied.text  # next: compute
    after = counts(app)
    assert after["clients"] == before["clients"] + 2
    assert after["import_runs"] == before["import_runs"] + 1
    assert after["audit_log"] == before["audit_log"] + 1
    with app.state.site.read() as conn:
        entry = audit.entries(conn, limit=1)[0]
        assert (
            conn.execute(
                sa.text("SELECT segment FROM clients WHERE client_id = 'CNEW002'")
            ).scalar()
            == "hni"
        )
    assert (entry.action, entry.actor) == ("import", "web:admin@kraft.demo")
    assert upload_folders(uploads) == []

    again = admin.form("/imports/apply", {"token": token[1]})
    assert again.status_code == 409
    assert "The checked upload is no longer kept" in again.text
    assert counts(app) == after


def test_the_api_imports_and_its_dry_run_writes_nothing(app: FastAPI) -> None:
    headers = bearer(app, "admin")
    before = counts(app)
    client = TestClient(app)
    dry = client.post(
        "/api/v1/imports",
        headers=headers,
        files=[csv_file("clients.csv", GOOD_CLIENTS)],
        data={"dry_run": "true"},
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["tables"]["clients"]["inserted"] == 2
    assert counts(app) == before
    real = client.post(
        "/api/v1/imports", headers=headers, files=[csv_file("clients.csv", GOOD_CLIENTS)]
    )
    assert real.status_code == 200, real.text
    report = real.json()
    assert report["ok"] is True and report["import_id"] == 2 and report["errors"] == []
    # the demo book sends every table of the contract: nothing left untracked
    assert report["tables_never_imported"] == [] and report["untracked_kpis"] == {}
    assert counts(app)["clients"] == before["clients"] + 2


def test_the_import_report_counts_rounded_decimals_and_names_skipped_sheets(
    app: FastAPI, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    names = list(TABLES_BY_NAME["policies"].column_names)
    with app.state.site.read() as conn:
        row = dict(conn.execute(sa.text("SELECT * FROM policies LIMIT 1")).mappings().one())
    row["annual_premium"] = f"{row['annual_premium']:.0f}.1234565"  # a tie: the even 6 stays
    book = Workbook()
    book.remove(book.active)
    book.create_sheet("Sheet1").append(["notes"])
    sheet = book.create_sheet("Policies")
    sheet.append(names)
    sheet.append([None if row[c] is None else str(row[c])[:10] if "date" in c else row[c]
                  for c in names])  # fmt: skip
    path = tmp_path / "book.xlsx"
    book.save(path)
    answer = TestClient(app).post(
        "/api/v1/imports",
        headers=bearer(app, "admin"),
        files=[("files", ("book.xlsx", path.read_bytes(), "application/octet-stream"))],
        data={"dry_run": "true"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["tables"]["policies"]["updated"] == 1, report
    assert report["rounded"] == {"policies": {"annual_premium": 1}}
    assert report["skipped"] == [
        "Sheet1 in book.xlsx names no table of the import contract; skipped"
    ]


def test_an_oversized_upload_is_refused_with_413(app: FastAPI, uploads: Path) -> None:
    app.state.site.upload_limit = 1000
    big = "client_id,name,segment\n" + "".join(
        f"CBIG{i:05d},Big Client,retail\n" for i in range(200)
    )
    before = counts(app)
    admin = signed_in(app, "admin")
    page = admin.form("/imports/check", {}, files=[csv_file("clients.csv", big)])
    assert page.status_code == 413
    assert "clients.csv is larger than the upload limit of 1 kB" in page.text
    api = TestClient(app).post(
        "/api/v1/imports", headers=bearer(app, "admin"), files=[csv_file("clients.csv", big)]
    )
    assert api.status_code == 413
    assert api.json()["detail"].startswith("clients.csv is larger than the upload limit of 1 kB;")
    assert counts(app) == before
    assert upload_folders(uploads) == []


def test_an_upload_without_the_csrf_token_is_refused(app: FastAPI) -> None:
    admin = signed_in(app, "admin")
    answer = admin.post("/imports/check", files=[csv_file("clients.csv", GOOD_CLIENTS)])
    assert answer.status_code == 403
    assert "The form has expired or did not come from kraft" in answer.text


# -- compute ---------------------------------------------------------------------------------


def _poll_page(browser: TestClient, url: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page = browser.get(url)
        assert page.status_code == 200
        if 'http-equiv="refresh"' not in page.text:
            return str(page.text)
        assert "<progress" in page.text
        time.sleep(0.2)
    raise AssertionError(f"{url} did not finish")


def test_a_compute_job_runs_to_done_and_the_scores_exist(app: FastAPI) -> None:
    before = counts(app)
    with app.state.site.write() as conn:
        conn.execute(sa.text("DELETE FROM scores"))
    assert counts(app)["scores"] == 0
    admin = signed_in(app, "admin")
    started = admin.form("/compute", {"grain": "all", "score": "true"})
    assert started.status_code == 303
    job_url = started.headers["location"]
    assert re.fullmatch(r"/compute/jobs/[0-9a-f]{16}", job_url)
    done = _poll_page(admin, job_url)
    assert "Done" in done and 'id="job-summary"' in done, done
    after = counts(app)
    assert after["scores"] == before["scores"] > 0
    assert after["compute_runs"] == before["compute_runs"] + 1
    with app.state.site.read() as conn:
        run = conn.execute(
            sa.text("SELECT run_id, actor FROM compute_runs ORDER BY run_id DESC")
        ).first()
        entry = audit.entries(conn, limit=1)[0]
    assert run is not None and run.actor == "web:admin@kraft.demo"
    assert (entry.action, entry.object_id) == ("compute", str(run.run_id))
    listing = admin.get("/compute")
    assert f'<td class="num">{run.run_id}</td>' in listing.text


def test_the_api_starts_one_compute_at_a_time(app: FastAPI) -> None:
    headers = bearer(app, "admin")
    client = TestClient(app)
    site = app.state.site
    with site.writer():  # the writer is busy: the job waits, so a second one is refused
        first = client.post("/api/v1/compute", headers=headers, json={"grain": "quarter"})
        assert first.status_code == 202, first.text
        url = first.headers["location"]
        assert url == first.json()["url"] and first.json()["state"] == "waiting"
        second = client.post("/api/v1/compute", headers=headers)
        assert second.status_code == 409
        assert second.json()["detail"].startswith("A compute is already running (job ")
        page = signed_in(app, "admin").form("/compute", {"grain": "all"})
        assert page.status_code == 409 and "A compute is already running" in page.text
    deadline = time.monotonic() + 120
    while (job := client.get(url, headers=headers).json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["state"] == "done", job
    assert job["result"]["scorecards"] > 0 and job["request"]["grain"] == "quarter"
    bad = client.post("/api/v1/compute", headers=headers, json={"from": "2025-Q5"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("From: ")
    assert client.get("/api/v1/compute/jobs/0000", headers=headers).status_code == 404


# -- framework editor ------------------------------------------------------------------------


def _editor_form(page: str) -> tuple[str, str]:
    text = re.search(r'<textarea id="yaml" name="yaml"[^>]*>(.*?)</textarea>', page, re.S)
    base = re.search(r'name="base" value="([0-9a-f]+)"', page)
    assert text and base
    return unescape(text[1]), base[1]


def test_the_framework_editor_refuses_weights_not_100_and_saves_a_new_version(
    app: FastAPI, root: Path
) -> None:
    admin = signed_in(app, "admin")
    text, base = _editor_form(admin.get("/admin/framework").text)
    assert "id: insurance_rm" in text and 'version: "1"' in text
    config_before = (root / "kraft.toml").read_text()
    audit_before = counts(app)["audit_log"]

    # KRA 1 weighs 15: 25 makes the KRAs sum to 110.
    heavy = text.replace("    weight: 15\n", "    weight: 25\n", 1)
    refused = admin.form("/admin/framework", {"yaml": heavy, "base": base, "action": "save"})
    assert refused.status_code == 422
    assert "KRA weights sum to 110, not 100" in refused.text
    assert "nothing was saved" in refused.text
    assert _editor_form(refused.text)[0] == heavy  # the text as typed, kept
    assert (root / "kraft.toml").read_text() == config_before
    assert not list(root.glob("*.yaml"))
    assert counts(app)["audit_log"] == audit_before

    broken = admin.form("/admin/framework", {"yaml": "id: [", "base": base, "action": "save"})
    assert broken.status_code == 422 and "YAML syntax error" in broken.text

    retitled = text.replace(
        "title: Relationship Manager (Insurance)", "title: Relationship Manager (Insurance, 2026)"
    )
    saved = admin.form("/admin/framework", {"yaml": retitled, "base": base, "action": "save"})
    assert saved.status_code == 200, saved.text
    assert "Saved insurance_rm version 2 as insurance_rm-v2.yaml" in saved.text
    settings = tomllib.loads((root / "kraft.toml").read_text())
    assert settings["framework"] == "insurance_rm-v2.yaml"
    assert 'version: "2"' in (root / "insurance_rm-v2.yaml").read_text()
    assert app.state.site.framework.version == "2"
    assert app.state.site.framework.title == "Relationship Manager (Insurance, 2026)"
    with app.state.site.read() as conn:
        entry = audit.entries(conn, limit=1)[0]
    assert (entry.action, entry.object_id) == ("framework.save", "insurance_rm")
    assert '"file":"insurance_rm-v2.yaml"' in (entry.new_value or "")

    # The form opened on version 1 is stale now: refused, the text kept, nothing saved.
    stale = admin.form("/admin/framework", {"yaml": retitled, "base": base, "action": "save"})
    assert stale.status_code == 409
    assert "changed by someone else since you opened it" in stale.text
    assert _editor_form(stale.text)[0] == retitled
    assert sorted(p.name for p in root.glob("*.yaml")) == ["insurance_rm-v2.yaml"]

    # From version 2 on, a save writes version 3 beside it; version 2's file is kept as it is.
    text2, base2 = _editor_form(admin.get("/admin/framework").text)
    v2 = (root / "insurance_rm-v2.yaml").read_text()
    third = admin.form(
        "/admin/framework",
        {"yaml": text2.replace("(Insurance, 2026)", "(Insurance, v3)"), "base": base2},
    )
    assert third.status_code == 200 and "version 3 as insurance_rm-v3.yaml" in third.text
    assert (root / "insurance_rm-v2.yaml").read_text() == v2


def test_check_only_saves_nothing(app: FastAPI, root: Path) -> None:
    admin = signed_in(app, "admin")
    text, base = _editor_form(admin.get("/admin/framework").text)
    checked = admin.form("/admin/framework", {"yaml": text, "base": base, "action": "check"})
    assert checked.status_code == 200
    assert "passes every SMART and structure rule; nothing was saved" in checked.text
    assert not list(root.glob("*.yaml"))


# -- users -----------------------------------------------------------------------------------


def test_the_users_page_adds_disables_and_enables(app: FastAPI) -> None:
    admin = signed_in(app, "admin")
    listing = admin.get("/admin/users")
    assert listing.status_code == 200 and "rm@kraft.demo" in listing.text
    added = admin.form(
        "/admin/users",
        {"email": "asha@kraft.demo", "role": "rm", "rm_id": "RM0003", "password": "asha-secret-1"},
    )
    assert added.status_code == 303
    page = admin.get(added.headers["location"])
    assert "The user was added." in page.text and "asha@kraft.demo" in page.text
    fresh = TestClient(app, follow_redirects=False)
    login = {"username": "asha@kraft.demo", "password": "asha-secret-1"}
    assert fresh.post("/login", data=login).headers["location"] == "/me"

    refused = admin.form(
        "/admin/users",
        {"email": "boss@kraft.demo", "role": "manager", "rm_id": "", "password": "boss-secret-1"},
    )
    assert refused.status_code == 422
    assert "A manager needs an RM record" in refused.text
    assert 'value="boss@kraft.demo"' in refused.text and "boss-secret-1" not in refused.text
    unknown = admin.form(
        "/admin/users",
        {"email": "x@kraft.demo", "role": "rm", "rm_id": "RM9999", "password": "xxxx-secret-1"},
    )
    assert unknown.status_code == 422 and "There is no RM record &#39;RM9999&#39;" in unknown.text

    with app.state.site.read() as conn:
        user_id = conn.execute(
            sa.text("SELECT user_id FROM users WHERE email = 'asha@kraft.demo'")
        ).scalar_one()
    off = admin.form(f"/admin/users/{user_id}/active", {"active": "false"})
    assert off.status_code == 303
    assert TestClient(app).post("/login", data=login).status_code == 401
    on = admin.form(f"/admin/users/{user_id}/active", {"active": "true"})
    assert on.status_code == 303
    assert TestClient(app, follow_redirects=False).post("/login", data=login).status_code == 303
    with app.state.site.read() as conn:
        actions = [e.action for e in audit.entries(conn, limit=3)]
    assert actions == ["user.enable", "user.disable", "user.add"]

    own = admin.get("/admin/users")
    me = re.search(r"admin@kraft.demo", own.text)
    assert me
    with app.state.site.read() as conn:
        admin_id = conn.execute(
            sa.text("SELECT user_id FROM users WHERE email = 'admin@kraft.demo'")
        ).scalar_one()
    itself = admin.form(f"/admin/users/{admin_id}/active", {"active": "false"})
    assert itself.status_code == 422 and "You cannot disable your own sign-in" in itself.text
    assert admin.form("/admin/users/999/active", {"active": "false"}).status_code == 404


# -- who may not act -------------------------------------------------------------------------

ADMIN_PAGES = ["/imports", "/compute", "/admin/framework", "/admin/users"]
ADMIN_FORMS: list[tuple[str, dict[str, Any]]] = [
    ("/imports/apply", {"token": "x"}),
    ("/compute", {"grain": "all"}),
    ("/admin/framework", {"yaml": "id: x", "base": "x"}),
    ("/admin/users", {"email": "y@kraft.demo", "role": "admin", "password": "long-enough-1"}),
    ("/admin/users/1/active", {"active": "false"}),
]


@pytest.mark.parametrize("role", ["manager", "rm"])
def test_managers_and_rms_may_not_import_compute_or_administer(app: FastAPI, role: str) -> None:
    before = counts(app)
    browser = signed_in(app, role)
    for url in ADMIN_PAGES:
        assert browser.get(url).status_code == 403, url
    for url, data in ADMIN_FORMS:
        answer = browser.form(url, data)
        assert answer.status_code == 403, url
        assert "Only an admin may" in answer.text
    upload = browser.form("/imports/check", {}, files=[csv_file("clients.csv", GOOD_CLIENTS)])
    assert upload.status_code == 403
    assert browser.get("/compute/jobs/0123456789abcdef").status_code == 403
    headers = bearer(app, role)
    client = TestClient(app)
    api = client.post(
        "/api/v1/imports", headers=headers, files=[csv_file("clients.csv", GOOD_CLIENTS)]
    )
    assert api.status_code == 403 and api.json()["detail"] == "Only an admin may import data."
    assert client.post("/api/v1/compute", headers=headers).status_code == 403
    assert client.get("/api/v1/compute/jobs/x", headers=headers).status_code == 403
    assert client.get("/api/v1/compute/runs", headers=headers).status_code == 403
    assert counts(app) == before
    assert ComputeJobs.of(app).recent() == []


def test_signed_out_visitors_are_sent_to_sign_in_and_the_api_answers_401(app: FastAPI) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    for url in ADMIN_PAGES:
        answer = anonymous.get(url)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    api = anonymous.post("/api/v1/imports", files=[csv_file("clients.csv", GOOD_CLIENTS)])
    assert api.status_code == 401
    assert anonymous.post("/api/v1/compute").status_code == 401


# -- targets ---------------------------------------------------------------------------------


def score_of(app: FastAPI, rm_id: str, period: str, level: str, item: str) -> Decimal:
    with app.state.site.read() as conn:
        value = conn.execute(
            sa.text(
                "SELECT score FROM scores WHERE rm_id = :r AND period = :p AND level = :l "
                "AND item_id = :i"
            ),
            {"r": rm_id, "p": period, "l": level, "i": item},
        ).scalar_one()
    return Decimal(str(value))


def _etag(page: str) -> str:
    found = re.search(r'name="etag" value="([^"]+)"', page)
    assert found, page[:2000]
    return unescape(found[1])


def test_a_target_change_re_scores_the_rm_as_expected(app: FastAPI) -> None:
    # RM0005 in 2025-Q4: 7 education sessions against the framework's 3 a month (9 a quarter)
    # score 77.7778; a target of 2 a month (6 a quarter) scores 7 / 6 = 116.6667. Customer
    # education's score is the mean of its 3 scored, equally weighted KPIs, so it gains
    # 38.8889 / 3 = 12.9630. The target also moves key_metric_variance (KPIs at or near target):
    # 12 of the RM's 29 scored KPIs instead of 11, 41.3793 % against its target of 70 %, a score
    # of 59.1133; reporting is the mean of it and management_decision_impact's 66.6667. The
    # overall is the KRA scores weighted over the 90 points of KRAs that apply to an RM who leads
    # no team: customer education weighs 10 and reporting 5.
    before_kpi = score_of(app, "RM0005", "2025-Q4", "kpi", "education_sessions")
    before_kra = score_of(app, "RM0005", "2025-Q4", "kra", "customer_education")
    before_reporting = score_of(app, "RM0005", "2025-Q4", "kra", "reporting")
    before = score_of(app, "RM0005", "2025-Q4", "overall", "overall")
    assert before_kpi == Decimal("77.7778")
    manager = signed_in(app, "manager")
    page = manager.get("/targets")
    assert page.status_code == 200 and 'value="rm:RM0005"' in page.text
    assert 'value="rm:RM0001"' not in page.text and 'value="org"' not in page.text  # out of scope
    audit_before = counts(app)["audit_log"]
    answer = manager.form(
        "/targets",
        {
            "scope": "rm:RM0005",
            "kpi_id": "education_sessions",
            "from_period": "2025-Q4",
            "to_period": "2025-Q4",
            "target": "2",
            "threshold": "1",
        },
    )
    assert answer.status_code == 303, answer.text
    saved = manager.get(answer.headers["location"])
    assert "Saved: the new target is in force." in saved.text
    assert 'href="/rms/RM0005?period=2025-Q4" id="affected-link"' in saved.text
    assert score_of(app, "RM0005", "2025-Q4", "kpi", "education_sessions") == Decimal("116.6667")
    kra = score_of(app, "RM0005", "2025-Q4", "kra", "customer_education")
    assert kra == Decimal("97.5171") and kra - before_kra == Decimal("12.9630")
    assert score_of(app, "RM0005", "2025-Q4", "kpi", "key_metric_variance") == Decimal("59.1133")
    reporting = score_of(app, "RM0005", "2025-Q4", "kra", "reporting")
    assert reporting == Decimal("62.8900") and before_reporting == Decimal("60.4269")
    after = score_of(app, "RM0005", "2025-Q4", "overall", "overall")
    gain = (Decimal(10) * (kra - before_kra) + Decimal(5) * (reporting - before_reporting)) / 90
    assert (before, after) == (Decimal("76.30"), before + gain.quantize(Decimal("0.01")))
    assert counts(app)["audit_log"] == audit_before + 1

    refused = manager.form(
        "/targets",
        {"scope": "rm:RM0001", "kpi_id": "education_sessions", "target": "6"},
    )
    assert refused.status_code == 404
    assert "There is no RM RM0001, or it is not in your scope." in refused.text
    assert 'value="6"' in refused.text  # the form as typed
    bad = manager.form(
        "/targets", {"scope": "rm:RM0002", "kpi_id": "education_sessions", "target": "six"}
    )
    assert bad.status_code == 422 and "target: &#39;six&#39; is not a number." in bad.text


def test_a_stale_target_form_says_so_and_loses_nothing(app: FastAPI) -> None:
    admin, manager = signed_in(app, "admin"), signed_in(app, "manager")
    set_answer = admin.form(
        "/targets", {"scope": "team:T003", "kpi_id": "education_sessions", "target": "8"}
    )
    assert set_answer.status_code == 303
    url = set_answer.headers["location"].split("?")[0]
    opened = _etag(manager.get(url).text)  # the manager opens the form …
    first = admin.form(url, {"etag": _etag(admin.get(url).text), "target": "7"})  # … admin saves
    assert first.status_code == 303
    current_url = first.headers["location"].split("?")[0]
    assert current_url != url

    stale = manager.form(url, {"etag": opened, "target": "10", "threshold": "5"})
    assert stale.status_code == 409
    assert "changed by someone else since you opened it; nothing was saved" in stale.text
    assert 'name="target" type="text" inputmode="decimal" required value="10"' in stale.text
    assert 'value="5"' in stale.text  # what the manager typed, kept
    assert '<span class="value">7</span>' in stale.text  # what is stored now, shown
    with app.state.site.read() as conn:
        stored = conn.execute(
            sa.text("SELECT target FROM targets WHERE scope_id = 'T003' ORDER BY target_id")
        ).all()
    assert [Decimal(str(r[0])) for r in stored] == [Decimal(8), Decimal(7)]  # nothing of 10

    again = manager.form(current_url, {"etag": _etag(stale.text), "target": "10", "threshold": "5"})
    assert again.status_code == 303  # saved from the kept form, against the current version
    deleted = admin.form(
        again.headers["location"].split("?")[0],
        {"etag": _etag(admin.get(again.headers["location"]).text), "action": "delete"},
    )
    assert deleted.status_code == 303 and "saved=deleted" in deleted.headers["location"]
    history = admin.get("/targets?history=1&kpi=education_sessions").text
    assert history.count("<td>deleted</td>") == 1 and history.count("<td>replaced (by") == 2


def test_rms_cannot_open_the_targets_editor_and_managers_not_foreign_targets(app: FastAPI) -> None:
    admin = signed_in(app, "admin")
    foreign = admin.form(
        "/targets", {"scope": "rm:RM0001", "kpi_id": "education_sessions", "target": "5"}
    )
    assert foreign.status_code == 303
    url = foreign.headers["location"].split("?")[0]
    rm = signed_in(app, "rm")
    assert rm.get("/targets").status_code == 403
    assert rm.get(url).status_code == 403
    manager = signed_in(app, "manager")
    assert manager.get(url).status_code == 404  # RM0001 is not in the manager's teams
    assert manager.form(url, {"etag": "x", "target": "9"}).status_code == 404
    assert manager.get("/targets/99999").status_code == 404


# -- measurements ----------------------------------------------------------------------------


def test_measurements_are_entered_changed_with_the_version_check_and_deleted(
    app: FastAPI,
) -> None:
    manager = signed_in(app, "manager")
    page = manager.get("/measurements")
    assert page.status_code == 200
    assert 'id="enter-management_decision_impact"' in page.text  # the manager enters it
    added = manager.form(
        "/measurements",
        {
            "rm_id": "RM0004",
            "kpi_id": "management_decision_impact",
            "period": "2024-Q4",
            "value": "80",
            "note": "quarterly review",
        },
    )
    assert added.status_code == 303, added.text
    url = added.headers["location"].split("?")[0]
    assert url == "/measurements/RM0004/management_decision_impact/2024-Q4"
    shown = manager.get(added.headers["location"])
    assert "Saved the new measurement" in shown.text and 'id="affected-link"' in shown.text
    etag = _etag(shown.text)

    other = signed_in(app, "manager")
    changed = other.form(url, {"etag": etag, "value": "60", "note": "revised"})
    assert changed.status_code == 303
    stale = manager.form(url, {"etag": etag, "value": "90", "note": "mine"})
    assert stale.status_code == 409
    assert "changed by someone else since you opened it; nothing was saved" in stale.text
    assert 'value="90"' in stale.text and 'value="mine"' in stale.text
    assert '<span class="value" id="stored-value">60' in stale.text
    with app.state.site.read() as conn:
        value = conn.execute(
            sa.text(
                "SELECT value FROM measurements WHERE rm_id = 'RM0004' AND period = '2024-Q4' "
                "AND kpi_id = 'management_decision_impact'"
            )
        ).scalar_one()
    assert Decimal(str(value)) == 60

    bad = manager.form(url, {"etag": _etag(stale.text), "value": "150"})
    assert bad.status_code == 422 and "value: 150 is above" in bad.text
    gone = manager.form(url, {"etag": _etag(stale.text), "action": "delete"})
    assert gone.status_code == 303
    assert manager.get(url).status_code == 404
    with app.state.site.read() as conn:
        actions = [e.action for e in audit.entries(conn, limit=3)]
    assert actions == ["measurement.delete", "measurement.change", "measurement.add"]


def test_an_rm_sees_own_measurements_and_never_enters_their_managers_kpi(app: FastAPI) -> None:
    rm = signed_in(app, "rm")
    page = rm.get("/measurements")
    assert page.status_code == 200
    assert "RM0002" in page.text and "RM0004" not in page.text
    assert 'id="enter-management_decision_impact"' not in page.text
    assert 'id="enter-automation_time_savings"' in page.text  # the RM may enter this one
    own = rm.get("/measurements/RM0002/management_decision_impact/2025-Q1")
    assert own.status_code == 200 and 'name="etag"' not in own.text  # seen, not changeable
    refused = rm.form(
        "/measurements",
        {
            "rm_id": "RM0002",
            "kpi_id": "management_decision_impact",
            "period": "2024-Q4",
            "value": "100",
        },
    )
    assert refused.status_code == 403
    assert rm.get("/measurements/RM0003/management_decision_impact/2025-Q1").status_code == 404
    foreign = rm.form(
        "/measurements",
        {
            "rm_id": "RM0003",
            "kpi_id": "automation_time_savings",
            "period": "2024-Q4",
            "value": "10",
        },
    )
    assert foreign.status_code == 404
