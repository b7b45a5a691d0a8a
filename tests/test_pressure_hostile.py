"""Hostile input through the uploads, forms and filters: oversized files and bodies (413, nothing
written), xlsx zip bombs (refused before a sheet is parsed, quickly and in little memory),
formula cells (neutralised in every CSV and Excel download), `<script>` in names and notes
(escaped on every page that shows them), SQL in filters (refused by the period parser or bound
as a plain value: nothing executed)."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from kraft.errors import KraftError
from kraft.ingest.sources import read_sources
from kraft.store.metadata import operational
from pressure_support import kraft
from web_support import bearer, build_demo, served_app, signed_in

RM = "RM0002"  # the demo's RM sign-in, in the manager's team T003
TEAM = "T003"
SCRIPT = '<script>alert("kraft")</script>'
FORMULAS = ('=HYPERLINK("http://x")', "+1+2", "-3+4", "@SUM(1)")
COUNTED = ("clients", "relationship_managers", "import_runs", "audit_log", "targets", "users")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("hostile") / "demo")


@pytest.fixture(scope="module")
def app(root: Path) -> Iterator[FastAPI]:
    application = served_app(root)
    yield application
    application.state.site.db.dispose()


def counts(app: FastAPI) -> dict[str, int]:
    with app.state.site.read() as conn:
        return {
            name: int(conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in COUNTED
        }


def _csv_of_rows(table: str, rows: list[dict[str, Any]]) -> bytes:
    columns = [c.name for c in operational[table].columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        cells = []
        for name in columns:
            value = row.get(name)
            if value is None:
                cells.append("")
            elif isinstance(value, bool):
                cells.append("true" if value else "false")
            elif isinstance(value, date):
                cells.append(value.isoformat())
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return buffer.getvalue().encode("utf-8")


def _rows(app: FastAPI, table: str, where: str, **params: Any) -> list[dict[str, Any]]:
    with app.state.site.read() as conn:
        found = conn.execute(sa.text(f"SELECT * FROM {table} WHERE {where}"), params).mappings()
        return [dict(r) for r in found]


def _import(app: FastAPI, files: dict[str, bytes]) -> Any:
    return TestClient(app).post(
        "/api/v1/imports",
        headers=bearer(app, "admin"),
        files=[("files", (name, data, "text/csv")) for name, data in files.items()],
        data={"mode": "upsert"},
    )


# -- oversized ---------------------------------------------------------------------------------


def test_an_upload_over_the_cap_is_refused_and_writes_nothing(app: FastAPI) -> None:
    site = app.state.site
    before = counts(app)
    big = b"client_id,name\n" + b"".join(b"CBIG%06d,Big %d\n" % (i, i) for i in range(2000))
    site.upload_limit = 10_000
    try:
        answer = _import(app, {"clients.csv": big})
        assert answer.status_code == 413, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "clients.csv is larger than the upload limit" in answer.json()["detail"]
        browser = signed_in(app, "admin")
        page = browser.post(
            "/imports/check",
            files=[("files", ("clients.csv", big, "text/csv"))],
            data={"csrf_token": browser.csrf, "mode": "upsert"},
        )
        assert page.status_code == 413
        assert "clients.csv is larger than the upload limit" in page.text
    finally:
        site.upload_limit = type(site).upload_limit
    assert counts(app) == before


def test_a_body_over_the_limit_is_refused_before_it_is_read(app: FastAPI) -> None:
    before = counts(app)
    huge = "x" * (5 * 1024 * 1024)
    client = TestClient(app)
    assert client.post("/login", data={"username": huge, "password": "p"}).status_code == 413
    answer = client.post(
        "/api/v1/targets",
        headers={**bearer(app, "admin"), "Content-Type": "application/json"},
        content=('{"kpi_id": "' + huge + '", "target": 1}').encode(),
    )
    assert answer.status_code == 413
    browser = signed_in(app, "admin")
    editor = browser.form("/admin/framework", {"yaml": huge, "action": "check"})
    assert editor.status_code == 413
    assert counts(app) == before


# -- zip bombs ---------------------------------------------------------------------------------


def _bomb(path: Path, megabytes: int) -> Path:
    """A valid-looking workbook whose sheet `clients` unpacks to `megabytes` MB of rows."""
    row = b"<row><c t='inlineStr'><is><t>x</t></is></c></row>" * 2000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr(
            "xl/workbook.xml", "<workbook><sheets><sheet name='clients'/></sheets></workbook>"
        )
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b"<worksheet><sheetData>")
            written = 0
            while written < megabytes * 1024 * 1024:
                sheet.write(row)
                written += len(row)
            sheet.write(b"</sheetData></worksheet>")
    return path


@pytest.mark.parametrize("megabytes", [64, 700])  # under the size cap (by ratio), over it
def test_an_xlsx_zip_bomb_is_refused_quickly_in_little_memory(
    app: FastAPI, tmp_path: Path, megabytes: int
) -> None:
    bomb = _bomb(tmp_path / "clients.xlsx", megabytes)
    assert bomb.stat().st_size < 4 * 1024 * 1024  # small enough for any upload limit
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(KraftError, match=r"^clients\.xlsx") as refused:
            read_sources([bomb])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2
    assert peak < 20 * 1024 * 1024
    assert "export" in refused.value.message and "CSV" in refused.value.message
    before = counts(app)
    answer = TestClient(app).post(
        "/api/v1/imports",
        headers=bearer(app, "admin"),
        files=[("files", ("clients.xlsx", bomb.read_bytes(), "application/octet-stream"))],
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("clients.xlsx")
    assert counts(app) == before


def test_a_real_workbook_is_not_taken_for_a_bomb(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("clients")
    sheet.append(["client_id", "name", "segment"])
    for i in range(50_000):
        sheet.append([f"C{i:07d}", "Same Name", "retail"])
    path = tmp_path / "clients.xlsx"
    book.save(path)
    assert read_sources([path])[0].rows == 50_000


# -- formula cells -----------------------------------------------------------------------------


def _neutral(cell: str) -> bool:
    return not cell.startswith(("=", "+", "-", "@"))


def test_formula_cells_are_neutralised_in_every_download(app: FastAPI) -> None:
    members = _rows(app, "relationship_managers", "team_id = :t ORDER BY rm_id", t=TEAM)
    renamed = [{**row, "name": FORMULAS[i % len(FORMULAS)]} for i, row in enumerate(members)]
    answer = _import(
        app, {"relationship_managers.csv": _csv_of_rows("relationship_managers", renamed)}
    )
    assert answer.status_code == 200, answer.text
    browser = signed_in(app, "admin")
    period = "2025-Q4"
    leaderboard = browser.get(f"/teams/{TEAM}/leaderboard.csv?period={period}")
    assert leaderboard.status_code == 200, leaderboard.text[:300]
    cells = [cell for row in csv.reader(io.StringIO(leaderboard.text)) for cell in row]
    assert any(cell.startswith("'=HYPERLINK") for cell in cells), cells[:40]
    for cell in cells:
        assert _neutral(cell) or re.fullmatch(r"-\d+(\.\d+)?", cell), cell
    workbook = browser.get(f"/teams/{TEAM}/report.xlsx?period={period}")
    assert workbook.status_code == 200
    book = load_workbook(io.BytesIO(workbook.content), read_only=True)
    texts = [
        value
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if isinstance(value, str)
    ]
    assert any(text.startswith("'@SUM") for text in texts)
    assert all(_neutral(text) for text in texts), [t for t in texts if not _neutral(t)][:5]
    scorecard = browser.get(f"/rms/{members[0]['rm_id']}/scorecard.csv?period={period}")
    assert scorecard.status_code == 200
    for row in csv.reader(io.StringIO(scorecard.text)):
        for cell in row:
            assert _neutral(cell) or re.fullmatch(r"-\d+(\.\d+)?", cell), cell
    _import(app, {"relationship_managers.csv": _csv_of_rows("relationship_managers", members)})


# -- script tags ---------------------------------------------------------------------------------


def _page_paths(app: FastAPI, values: dict[str, str]) -> list[str]:
    """Every HTML page of the app (GET, outside the API and the assets, not a download), with
    its path parameters filled in."""
    paths = set()
    for route in iter_route_contexts(app.routes):
        path = str(route.path)
        if "GET" not in (route.methods or ()) or "." in path:
            continue
        if path.startswith(("/api/", "/static", "/docs", "/openapi")):
            continue
        names = re.findall(r"{(\w+)}", path)
        if set(names) <= values.keys():
            paths.add(re.sub(r"{(\w+)}", lambda m: values[m[1]], path))
    return sorted(paths)


def test_script_tags_in_names_and_notes_are_escaped_on_every_page(app: FastAPI) -> None:
    rm = _rows(app, "relationship_managers", "rm_id = :r", r=RM)
    team = _rows(app, "teams", "team_id = :t", t=TEAM)
    client_id = _rows(app, "policies", "rm_id = :r ORDER BY policy_id LIMIT 1", r=RM)[0][
        "client_id"
    ]
    client = _rows(app, "clients", "client_id = :c", c=client_id)
    answer = _import(
        app,
        {
            "relationship_managers.csv": _csv_of_rows(
                "relationship_managers", [{**rm[0], "name": f"RM {SCRIPT}"}]
            ),
            "teams.csv": _csv_of_rows("teams", [{**team[0], "name": f"Team {SCRIPT}"}]),
            "clients.csv": _csv_of_rows("clients", [{**client[0], "name": f"Client {SCRIPT}"}]),
        },
    )
    assert answer.status_code == 200, answer.text
    manager = bearer(app, "manager")
    url = f"/api/v1/measurements/{RM}/automation_time_savings/2025-Q2"
    read = TestClient(app).get(url, headers=manager)
    changed = TestClient(app).put(
        url,
        headers={**manager, "If-Match": read.headers["etag"]},
        json={"value": "12.5", "note": f"note {SCRIPT}"},
    )
    assert changed.status_code == 200, changed.text

    values = {
        "rm_id": RM,
        "team_id": TEAM,
        "kpi_id": "automation_time_savings",
        "period": "2025-Q2",
        "initiative_id": "INIT-RETENTION",
    }
    seen = 0
    for role in ("admin", "manager", "rm"):
        browser = signed_in(app, role)
        for path in _page_paths(app, values):
            page = browser.get(path)
            if not page.headers.get("content-type", "").startswith("text/html"):
                continue
            assert SCRIPT not in page.text, f"{role} {path} shows the tag unescaped"
            seen += "&lt;script&gt;" in page.text
        explain = browser.get(f"/rms/{RM}/explain?kpi_id=client_retention_rate&period=2025-Q4")
        assert SCRIPT not in explain.text
    assert seen >= 6, "the names were shown (escaped) on too few pages to prove anything"


# -- SQL in filters ------------------------------------------------------------------------------

INJECTION = "2025-Q1' OR '1'='1"
DROP = "x'; DROP TABLE kpi_values; --"


def test_sql_in_filters_is_refused_or_bound_and_nothing_runs(app: FastAPI, root: Path) -> None:
    headers = bearer(app, "admin")
    client = TestClient(app)
    before = counts(app)
    with app.state.site.read() as conn:
        values_before = conn.execute(sa.text("SELECT count(*) FROM kpi_values")).scalar_one()
    for field, params in (
        ("period", {"period": INJECTION}),
        ("from", {"from": DROP}),
        ("to", {"to": INJECTION}),
        ("kpi_id", {"kpi_id": DROP}),
        ("entity_type", {"entity_type": DROP}),
        ("grain", {"grain": DROP}),
    ):
        answer = client.get("/api/v1/kpi-values", headers=headers, params=params)
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["detail"].startswith(field), answer.json()
    bound = client.get("/api/v1/kpi-values", headers=headers, params={"entity_id": DROP})
    assert bound.status_code == 200 and bound.json()["total"] == 0  # a value, never SQL
    for path, params in (
        ("/api/v1/scores", {"period": INJECTION}),
        ("/api/v1/explain", {"rm_id": RM, "kpi_id": "client_retention_rate", "period": DROP}),
        ("/api/v1/measurements", {"rm_id": DROP}),
        ("/api/v1/targets", {"scope_type": DROP}),
    ):
        answer = client.get(path, headers=headers, params=params)
        assert answer.status_code in (200, 404, 422), (path, answer.text)
        assert (
            answer.status_code != 200
            or answer.json() in ([], {"items": []})
            or (isinstance(answer.json(), dict) and answer.json().get("total", 0) == 0)
        ), (path, answer.text[:300])
    with app.state.site.read() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM kpi_values")).scalar_one() == values_before
        )
    assert counts(app) == before


def test_sql_in_the_cli_export_filters_is_refused(root: Path, app: FastAPI) -> None:
    app.state.site.db.dispose()  # the CLI opens the DuckDB file itself
    done = subprocess.run(
        kraft("--workspace", root, "export", "kpi-values", "--format", "csv", "--from", DROP),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output
    assert "--from" in output and len(output.strip().splitlines()) == 1, output
