"""The upload page and API with an export in another layout: kraft proposes a mapping, the admin
confirms or edits it, it is saved for the workspace (audited) and every later upload applies it;
a TODO or a database query is refused; only an admin may."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kraft.store.metadata import audit_log
from kraft.workspace import load_workspace
from web_support import Browser, bearer, build_demo, served_app, signed_in

# The insurer's branch master: a title row above the header, its own column names.
# Its "Label" column is the team's name, which kraft cannot tell from the header: a TODO.
EXPORT = "Branch master\nBranch Code,Label,Zone\nB9,Ninth Branch,West\n"
LATER = "Branch master\nBranch Code,Label,Zone\nB10,Tenth Branch,East\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("webmap") / "demo")


@pytest.fixture
def root(demo: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(demo, copy)
    return copy


@pytest.fixture
def app(root: Path) -> Iterator[FastAPI]:
    served = served_app(root)
    yield served
    served.state.site.db.dispose()


def upload(name: str, text: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, text.encode(), "text/csv"))]


def proposal(html: str) -> tuple[str, str]:
    """The token and the mapping text of the page's proposal."""
    token = re.search(r'action="/imports/mapping".*?name="token" value="([^"]+)"', html, re.S)
    text = re.search(r'<textarea id="mapping" name="mapping"[^>]*>(.*?)</textarea>', html, re.S)
    assert token and text, html[-3000:]
    return token[1], unescape(text[1])


def team_names(app: FastAPI) -> dict[str, str]:
    with app.state.site.read() as conn:
        rows = conn.execute(sa.text("SELECT team_id, name FROM teams WHERE team_id LIKE 'B_%'"))
        return {r.team_id: r.name for r in rows}


def saves(app: FastAPI) -> list[dict[str, str]]:
    query = sa.select(audit_log).where(audit_log.c.action == "mapping.save")
    with app.state.site.read() as conn:
        return [json.loads(r.new_value) for r in conn.execute(query)]


def test_an_export_in_another_layout_is_mapped_once_then_imported_with_no_questions(
    app: FastAPI, root: Path
) -> None:
    admin = signed_in(app, "admin")
    before = team_names(app)
    answer = admin.form("/imports/check", {}, files=upload("branches_0125.csv", EXPORT))
    assert answer.status_code == 422
    assert "These files are not in the contract's layout" in answer.text
    assert "teams ← branches_0125.csv" in answer.text  # what kraft is sure of
    token, text = proposal(answer.text)
    assert "name: 'TODO: which column holds name?'" in text and "team_id: Branch Code" in text
    assert "<mark>TODO</mark>" in answer.text  # the line left to decide, pointed at

    refused = admin.form("/imports/mapping", {"token": token, "mapping": text})
    assert refused.status_code == 422
    assert "Not saved: The mapping: tables.teams.columns.name is still a TODO" in unescape(
        refused.text
    )
    assert not (root / "mapping.yaml").exists() and saves(app) == []
    assert load_workspace(root).settings.mapping is None
    token, kept = proposal(refused.text)
    assert kept == text  # the admin's text, to edit

    decided = re.sub(r"name: 'TODO.*", "name: Label", text).replace("    - Label\n", "")
    unfit = admin.form(
        "/imports/mapping", {"token": token, "mapping": decided.replace("Branch Code", "Code")}
    )
    assert unfit.status_code == 422  # saved, but the files do not fit it: shown again to edit
    assert "The files do not fit it:" in unfit.text and "Not saved" not in unfit.text
    token, _ = proposal(unfit.text)
    decided = decided.replace("file: branches_0125.csv", "file: branches_*.csv")  # every month
    checked = admin.form("/imports/mapping", {"token": token, "mapping": decided})
    assert checked.status_code == 200, checked.text[-3000:]
    assert "The mapping was saved as mapping.yaml" in checked.text
    assert "Check passed" in checked.text and team_names(app) == before
    saved = (root / "mapping.yaml").read_bytes()
    assert load_workspace(root).settings.mapping == "mapping.yaml"
    digest = hashlib.sha256(saved).hexdigest()
    assert saves(app)[1:] == [{"mapping": "mapping.yaml", "sha256": digest}]  # each save audited
    apply = re.search(r'action="/imports/apply".*?name="token" value="([^"]+)"', checked.text, re.S)
    assert apply
    applied = admin.form("/imports/apply", {"token": apply[1]})
    assert applied.status_code == 200, applied.text[-2000:]
    assert team_names(app)["B9"] == "Ninth Branch"

    later = admin.form("/imports/check", {}, files=upload("branches_0225.csv", LATER))
    assert later.status_code == 200, later.text[-3000:]
    assert "mapping-proposal" not in later.text and "/imports/apply" in later.text


def test_a_query_source_is_refused_from_the_web_and_the_api(app: FastAPI, root: Path) -> None:
    query = "tables:\n  teams:\n    query: SELECT 1\n    database: INSURER_DB\n"
    admin = signed_in(app, "admin")
    answer = admin.form("/imports/check", {}, files=upload("branches_0125.csv", EXPORT))
    token, _ = proposal(answer.text)
    refused = admin.form("/imports/mapping", {"token": token, "mapping": query})
    assert refused.status_code == 422
    assert "tables.teams.query is a database query, which runs only from the command line" in (
        unescape(refused.text)
    )
    api = TestClient(app).put("/api/v1/mapping", headers=bearer(app, "admin"), content=query)
    assert api.status_code == 422
    assert "tables.teams.query is a database query" in api.json()["detail"]
    assert not (root / "mapping.yaml").exists() and saves(app) == []


def test_the_api_reads_and_saves_the_workspace_mapping(app: FastAPI, root: Path) -> None:
    headers = bearer(app, "admin")
    client = TestClient(app)
    assert client.get("/api/v1/mapping", headers=headers).json() == {
        "mapping": None,
        "text": None,
        "sha256": None,
    }
    todo = "tables:\n  teams:\n    file: branches*.csv\n    skip_rows: 1\n    columns:\n"
    todo += "      team_id: Branch Code\n      name: TODO\n"
    refused = client.put("/api/v1/mapping", headers=headers, content=todo)
    assert refused.status_code == 422 and "still a TODO" in refused.json()["detail"]
    mapping = todo.replace("name: TODO", "name: Label")
    saved = client.put("/api/v1/mapping", headers=headers, content=mapping)
    assert saved.status_code == 200, saved.text
    digest = hashlib.sha256(mapping.encode()).hexdigest()
    assert saved.json() == {"mapping": "mapping.yaml", "text": mapping, "sha256": digest}
    assert saves(app) == [{"mapping": "mapping.yaml", "sha256": digest}]
    imported = client.post(
        "/api/v1/imports", headers=headers, files=upload("branches_0325.csv", EXPORT)
    )
    assert imported.status_code == 200, imported.text
    assert team_names(app)["B9"] == "Ninth Branch"


@pytest.mark.parametrize("role", ["manager", "rm"])
def test_only_an_admin_may_map(app: FastAPI, root: Path, role: str) -> None:
    browser: Browser = signed_in(app, role)
    answer = browser.form("/imports/mapping", {"token": "x", "mapping": "tables: {}"})
    assert answer.status_code == 403
    client = TestClient(app)
    headers = bearer(app, role)
    assert client.get("/api/v1/mapping", headers=headers).status_code == 403
    assert client.put("/api/v1/mapping", headers=headers, content="x").status_code == 403
    assert not (root / "mapping.yaml").exists()
