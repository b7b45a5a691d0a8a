"""/api/docs loads nothing from outside kraft's server: an insurer's network is
often closed, and the pages' CSP allows the server's own scripts only (the browser test,
tests/test_browser.py, opens /api/docs and sees the operations listed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kraft.cli import app as cli
from web_support import served_app

SOURCES = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)\"""")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("docs") / "ws"
    made = CliRunner().invoke(cli, ["init", str(root)])
    assert made.exit_code == 0, made.output
    with TestClient(served_app(Path(root))) as client:
        yield client


def test_the_docs_load_every_file_from_the_server_itself(client: TestClient) -> None:
    answer = client.get("/api/docs")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "http" not in answer.text  # no CDN, no font service: every address is the server's
    assert "<script>" not in answer.text  # nothing inline, which the CSP would refuse
    sources = SOURCES.findall(answer.text)
    assert any(s.endswith(".js") for s in sources), answer.text
    for source in sources:
        assert source.startswith("/"), source
        loaded = client.get(source)
        assert loaded.status_code == 200, source
        assert len(loaded.content) > 500, source  # the bundle itself, not a placeholder
    assert 'data-openapi="/openapi.json"' in answer.text


def test_swagger_ui_is_started_by_a_script_of_kraft_not_inline(client: TestClient) -> None:
    started = client.get("/static/api-docs.js").text
    assert "SwaggerUIBundle(" in started and "document.body.dataset.openapi" in started
    assert "script-src 'self'" in client.get("/api/docs").headers["content-security-policy"]


def test_only_the_bundled_files_are_served(client: TestClient) -> None:
    assert client.get("/api/docs/assets/swagger-ui.css").status_code == 200
    for name in ("core.py", "..%2F__init__.py", "LICENSE", "nothing.js"):
        assert client.get(f"/api/docs/assets/{name}").status_code == 404, name
