"""The audit log in the app: /admin/audit and GET /api/v1/audit (admins only), with filters,
pagination, readable values (escaped), and the chain's verification, on the served demo.

The fixture adds 55 entries of its own (action test.note, actor tester@<b>kraft</b>, a value
holding a <script>) after the demo's, so that the page has more than one page of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kraft.store import audit
from web_support import bearer, build_demo, served_app, signed_in

NOTES = 55
SCRIPT = "<script>alert('audit')</script>"
ACTOR = "tester@<b>kraft</b>"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("audit") / "demo")


@pytest.fixture(scope="module")
def app(demo: Path) -> Iterator[FastAPI]:
    served = served_app(demo)
    with served.state.site.write() as conn:
        for i in range(NOTES):
            audit.append(
                conn,
                actor=ACTOR,
                action="test.note",
                object_type="note",
                object_id=f"N{i:02d}",
                old={"text": "before"} if i == 0 else None,
                new={"text": SCRIPT, "i": i, "nested": {"b": [1, 2]}},
            )
    yield served
    served.state.site.db.dispose()


def _rows(page: str) -> list[str]:
    """The seq of every entry row shown, in order."""
    return re.findall(r'<tr id="entry-(\d+)">', page)


def test_newest_first_paginated_and_escaped(app: FastAPI) -> None:
    admin = signed_in(app, "admin")
    first = admin.get("/admin/audit")
    assert first.status_code == 200
    page = first.text
    assert 'href="/admin/audit" aria-current="page">Audit</a>' in page  # in the navigation
    assert "Verify chain: intact" in page
    seqs = [int(s) for s in _rows(page)]
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    total = int(re.search(r"<h2 id=\"entries-title\">(\d+) entries", page)[1])  # type: ignore[index]
    assert total > NOTES and f"Page 1 of {-(-total // 50)}" in page
    assert SCRIPT not in page and "&lt;script&gt;alert(&#39;audit&#39;)&lt;/script&gt;" in page
    assert "<b>kraft</b>" not in page and "tester@&lt;b&gt;kraft&lt;/b&gt;" in page
    # The value as indented JSON, keys sorted.
    assert '<pre class="audit-value">{\n  &#34;i&#34;: 54,\n  &#34;nested&#34;: {' in page
    older = re.search(r'href="(/admin/audit\?page=2)" rel="next"', page)
    assert older, "no link to the next page"
    second = admin.get(older[1]).text
    assert [int(s) for s in _rows(second)] == sorted(
        [s for s in range(1, total + 1) if s <= total - 50], reverse=True
    )[:50]
    assert 'rel="prev"' in second


def test_filters(app: FastAPI) -> None:
    admin = signed_in(app, "admin")
    notes = admin.get("/admin/audit", params={"action": "test.note", "page": "2"}).text
    assert "55 entries: 51 to 55" in notes and len(_rows(notes)) == 5
    assert 'href="/admin/audit?action=test.note&amp;page=1" rel="prev"' in notes
    imports = admin.get("/admin/audit", params={"action": "import"}).text
    assert _rows(imports) and "test.note</th>" not in imports
    assert '<option value="import" selected>' in imports
    by_actor = admin.get("/admin/audit", params={"actor": "TESTER@"}).text  # any part, any case
    assert "55 entries" in by_actor
    one = admin.get("/admin/audit", params={"object_type": "note", "object_id": "N07"}).text
    assert "1 entry: 1 to 1" in one and "note N07" in one
    today = datetime.now(UTC).date()
    dated = {"action": "test.note", "from": str(today - timedelta(days=1)), "to": str(today)}
    assert "55 entries" in admin.get("/admin/audit", params=dated).text
    before = {"action": "test.note", "to": str(today - timedelta(days=1))}
    assert "No entry matches these filters" in admin.get("/admin/audit", params=before).text
    bad = admin.get("/admin/audit", params={"from": "31/12/2025"})
    assert bad.status_code == 422
    assert "From &#39;31/12/2025&#39; is not a date; write it as YYYY-MM-DD." in bad.text


def test_admins_only(app: FastAPI) -> None:
    for role in ("manager", "rm"):
        answer = signed_in(app, role).get("/admin/audit")
        assert answer.status_code == 403, role
        assert 'href="/admin/audit"' not in signed_in(app, role).get("/framework").text
        api = TestClient(app).get("/api/v1/audit", headers=bearer(app, role))
        assert api.status_code == 403 and api.headers["content-type"] == "application/problem+json"
    assert TestClient(app).get("/api/v1/audit").status_code == 401


def test_the_api(app: FastAPI) -> None:
    client, headers = TestClient(app), bearer(app, "admin")
    answer = client.get(
        "/api/v1/audit",
        headers=headers,
        params={"action": "test.note", "limit": 10, "offset": 50, "verify": "true"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["total"], body["limit"], body["offset"]) == (NOTES, 10, 50)
    assert [e["object_id"] for e in body["entries"]] == ["N04", "N03", "N02", "N01", "N00"]
    oldest = body["entries"][-1]
    assert oldest["old_value"] == {"text": "before"}  # JSON, as it was written
    assert oldest["new_value"] == {"text": SCRIPT, "i": 0, "nested": {"b": [1, 2]}}
    assert oldest["actor"] == ACTOR and len(oldest["hash"]) == 64
    assert body["chain"] == {"intact": True, "problems": []}
    plain = client.get("/api/v1/audit", headers=headers, params={"object_id": "N10"}).json()
    assert plain["total"] == 1 and plain["chain"] is None
    bad = client.get("/api/v1/audit", headers=headers, params={"from": "yesterday"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_a_broken_chain_is_shown(app: FastAPI) -> None:
    """An entry edited in the database shows on the page and in the API; put back, it is intact
    again (so the demo's own verification at teardown still passes)."""
    site = app.state.site
    with site.read() as conn:
        [entry], _ = audit.search(conn, audit.AuditFilter(object_id="N30"), limit=1)
    edit = "UPDATE audit_log SET new_value = :v WHERE seq = :s"
    with site.write() as conn:
        conn.execute(sa.text(edit), {"v": '{"text":"x"}', "s": entry.seq})
    try:
        page = signed_in(app, "admin").get("/admin/audit").text
        assert "The audit chain is broken: 1 problem(s)." in page
        assert f"entry {entry.seq} was changed after it was written" in page
        chain = (
            TestClient(app)
            .get("/api/v1/audit", headers=bearer(app, "admin"), params={"verify": "true"})
            .json()["chain"]
        )
        assert chain == {
            "intact": False,
            "problems": [f"entry {entry.seq} was changed after it was written"],
        }
    finally:
        with site.write() as conn:
            conn.execute(sa.text(edit), {"v": entry.new_value, "s": entry.seq})
    assert "Verify chain: intact" in signed_in(app, "admin").get("/admin/audit").text
