"""The permission matrix: every route of the app (pages and API, every method) × every role
(anonymous, admin, manager, rm) × their own and a foreign resource, generated from the app's
route table and checked against ONE table of rules (RULES), with the path parameters' values
from one table (PARAMETERS) derived from the demo book.

A route RULES does not know, or a path parameter PARAMETERS does not know, fails with a message
saying to add it: a new route cannot be forgotten. A rule for a route that is gone fails too.

"Own" is a resource in the role's scope (the RM's own RM0002, a manager's team T003 and its RM
RM0004, anything for the admin); "foreign" is one outside it (the RM's teammate RM0004, the other
branch's team T004 and RM RM0001) or, for the admin, one that does not exist: both must answer
the same 404. Every 200 a manager or an RM gets is scanned for RM ids and names outside their
scope. Writes are sent so that they are refused before acting (a stale If-Match, an invalid
period, a bad file, a measurement that exists) on a throwaway demo workspace.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from kraft.store.database import workspace_database
from kraft.web.app import create_app
from kraft.workspace import Settings, init_workspace
from web_support import LOGINS, Browser, bearer, build_demo, served_app, signed_in

ROLES = ("anonymous", "admin", "manager", "rm")
PERIOD = "2025-Q4"
MANAGER_RM = "RM0021"  # manager@kraft.demo: leads T001 (Mumbai Branch), above T003
OWN_RM = "RM0002"  # rm@kraft.demo, in T003


class Outcome(Enum):
    OK = "ok"  # the rule's `ok` answer: the request got past every permission
    HOME = "home"  # 303 to the role's own home (a page that is not theirs, e.g. the company)
    FORBIDDEN = "forbidden"  # 403 whatever the resource: the role may not use the route
    READ_ONLY = "read-only"  # 403 on a resource the user sees; 404 on one they do not
    HIDDEN = "hidden"  # 404, exactly as for a resource that does not exist
    FILTERED = "filtered"  # a list filtered by a foreign id: 200 with nothing of theirs


OK, HOME, FORBIDDEN, READ_ONLY, HIDDEN, FILTERED = Outcome
HOMES = {"admin": "/", "manager": "/teams", "rm": "/me"}


@dataclass(frozen=True)
class Values:
    """A parameter's value per role: one the role owns, and one it does not (another RM's, a
    team outside the manager's, or for the admin one that does not exist). foreign None: the
    parameter says nothing about whose a resource is (a period, a file format)."""

    own: Mapping[str, str]
    foreign: Mapping[str, str] | None = None


def each(value: str) -> dict[str, str]:
    return dict.fromkeys(ROLES, value)


def by_role(anonymous: str, admin: str, manager: str, rm: str) -> dict[str, str]:
    return {"anonymous": anonymous, "admin": admin, "manager": manager, "rm": rm}


# `target:RMxxxx` and `job:compute` are made by the fixture (the demo book has no targets, and
# a compute job lives in the server's memory).
PARAMETERS: dict[str, Values] = {
    "rm_id": Values(
        own=by_role("RM0002", "RM0001", "RM0004", OWN_RM),
        foreign=by_role("RM0004", "RM9999", "RM0001", "RM0004"),
    ),
    "team_id": Values(
        own=by_role("T003", "T004", "T003", "T003"),
        foreign=by_role("T004", "T999", "T004", "T004"),
    ),
    "kpi_id": Values(own=each("client_retention_rate"), foreign=each("no_such_kpi")),
    "framework_id": Values(own=each("insurance_rm"), foreign=each("no_such_framework")),
    "target_id": Values(
        own=by_role("target:RM0002", "target:RM0001", "target:RM0004", "target:RM0002"),
        foreign=by_role("target:RM0004", "999999", "target:RM0001", "target:RM0004"),
    ),
    "user_id": Values(own=each("1"), foreign=each("999")),  # 1: the admin's own sign-in
    "job_id": Values(own=each("job:compute"), foreign=each("no-such-job")),
    "period": Values(own=each(PERIOD)),
    "fmt": Values(own=each("csv")),
    "initiative_id": Values(own=each("INIT-RETENTION"), foreign=each("INIT-NO-SUCH")),
    "name": Values(own=each("kraft.css")),
}

EVERYONE = {"admin": OK, "manager": OK, "rm": OK}
STAFF = {"admin": OK, "manager": OK, "rm": HIDDEN}  # team views name RMs: never an RM's
ADMIN = {"admin": OK, "manager": FORBIDDEN, "rm": FORBIDDEN}
EDITORS = {"admin": OK, "manager": OK, "rm": READ_ONLY}  # targets
SETTERS = {"admin": OK, "manager": OK, "rm": FORBIDDEN}  # the targets pages: none for an RM
# management_decision_impact is entered by the manager (the framework's entered_by): not by an
# admin, never by the RM rated
MANAGERS_ENTER = {"admin": READ_ONLY, "manager": OK, "rm": READ_ONLY}
PUBLIC = dict.fromkeys(ROLES, OK)
# a manager's steps of a review (comments, adjustments, sign-off): an admin too, never the RM
REVIEWERS = {"admin": OK, "manager": OK, "rm": READ_ONLY}

STALE = {"If-Match": '"stale-etag"'}
BAD_CLIENTS = b"client_id,segment\nC-BAD-1,platinum\n"


@dataclass(frozen=True)
class Rule:
    """Who gets what from one route (method and path) with their own values; `foreign` says
    what a foreign value gives where it is not simply a 404 (HIDDEN) for those let through."""

    who: Mapping[str, Outcome]
    ok: frozenset[int] = frozenset({200})
    query: str = ""
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    foreign: Mapping[str, Outcome] = field(default_factory=dict)
    values: Mapping[str, Values] = field(default_factory=dict)
    fresh: bool = False  # signs in (or out): a client of its own, not the shared one

    def outcome(self, role: str, variant: str) -> Outcome:
        own = self.who[role]
        if variant == "own":
            return own
        if role in self.foreign:
            return self.foreign[role]
        return HIDDEN if own in (OK, READ_ONLY) else own


def codes(*numbers: int) -> frozenset[int]:
    return frozenset(numbers)


SIGNS_OUT_EVERYWHERE = (
    "/logout",
    "/account/password",
    "/api/v1/auth/logout",
    "/api/v1/auth/password",
)
LOGIN = {"username": LOGINS["admin"][0], "password": LOGINS["admin"][1]}
SCORED = "period=" + PERIOD
MEASURED = {
    "kpi_id": Values(own=each("management_decision_impact")),  # the manager's, never the RM's
}

RULES: dict[str, Rule] = {
    # -- open to all: signing in, the static files, the API's schema and docs
    "GET /login": Rule(PUBLIC),
    "POST /login": Rule(PUBLIC, ok=codes(303), form=LOGIN, fresh=True),
    "POST /api/v1/auth/token": Rule(PUBLIC, form=LOGIN, fresh=True),
    "GET /static/vega.js": Rule(PUBLIC),
    "GET /static/{name}": Rule(PUBLIC),
    "GET /api/v1/health": Rule(PUBLIC),
    "GET /openapi.json": Rule(PUBLIC),
    "HEAD /openapi.json": Rule(PUBLIC),
    "GET /api/docs": Rule(PUBLIC),
    "HEAD /api/docs": Rule(PUBLIC),
    "GET /api/docs/assets/{name}": Rule(
        PUBLIC, values={"name": Values(own=each("swagger-ui.css"))}
    ),
    "POST /logout": Rule(EVERYONE, ok=codes(303), form={}, fresh=True),
    "GET /account/password": Rule(EVERYONE),
    "POST /account/password": Rule(
        EVERYONE, ok=codes(403), form={"current": "not the password", "new": "x" * 12}
    ),
    # -- pages
    "GET /": Rule({"admin": OK, "manager": HOME, "rm": HOME}, query=SCORED),
    "GET /teams": Rule(STAFF),
    "GET /teams/{team_id}": Rule(STAFF, query=SCORED),
    "GET /teams/{team_id}/leaderboard.csv": Rule(STAFF, query=SCORED),
    "GET /teams/{team_id}/report.xlsx": Rule(STAFF, query=SCORED),
    "GET /teams/{team_id}/report.pdf": Rule(STAFF, query=SCORED),
    "GET /me": Rule(EVERYONE, ok=codes(200, 303)),  # an RM's goes to /rms/<their id>
    "GET /rms/{rm_id}": Rule(EVERYONE, query=SCORED),
    "GET /rms/{rm_id}/explain": Rule(EVERYONE, query=f"kpi=client_retention_rate&period={PERIOD}"),
    "GET /rms/{rm_id}/scorecard.{fmt}": Rule(EVERYONE, query=SCORED),
    "GET /kpis": Rule(EVERYONE),
    "GET /kpis/{kpi_id}": Rule(EVERYONE, query=SCORED),
    "GET /framework": Rule(EVERYONE),
    "GET /help/data-contract": Rule(EVERYONE),
    "GET /imports": Rule(ADMIN),
    "POST /imports/check": Rule(
        ADMIN, ok=codes(422), files={"files": ("clients.csv", BAD_CLIENTS, "text/csv")}
    ),
    "POST /imports/apply": Rule(ADMIN, ok=codes(409), form={"token": "no-such-upload"}),
    "POST /imports/mapping": Rule(
        ADMIN, ok=codes(409), form={"token": "no-such-upload", "mapping": "tables: {}"}
    ),
    "GET /compute": Rule(ADMIN),
    "POST /compute": Rule(ADMIN, ok=codes(422), form={"from": "not-a-period"}),
    "GET /compute/jobs/{job_id}": Rule(ADMIN),
    "GET /admin/framework": Rule(ADMIN),
    "POST /admin/framework": Rule(
        ADMIN, ok=codes(422), form={"yaml": "kras: [", "action": "check"}
    ),
    "GET /targets": Rule(SETTERS),
    "POST /targets": Rule(
        SETTERS,
        ok=codes(422),
        form={
            "scope": "rm:{rm_id}",
            "kpi_id": "client_retention_rate",
            "from_period": "not-a-period",
            "to_period": "not-a-period",
            "target": "90",
        },
    ),
    "GET /targets/{target_id}": Rule(SETTERS),
    # a stale form: the page shows the current version again (409), nothing saved
    "POST /targets/{target_id}": Rule(
        SETTERS, ok=codes(409), form={"etag": '"stale-etag"', "target": "91"}
    ),
    "GET /measurements": Rule(EVERYONE),
    "POST /measurements": Rule(
        MANAGERS_ENTER,
        ok=codes(409),  # it exists already
        form={
            "rm_id": "{rm_id}",
            "kpi_id": "management_decision_impact",
            "period": PERIOD,
            "value": "80",
        },
    ),
    "GET /measurements/{rm_id}/{kpi_id}/{period}": Rule(EVERYONE, values=MEASURED),
    "POST /measurements/{rm_id}/{kpi_id}/{period}": Rule(
        MANAGERS_ENTER,
        ok=codes(409),
        form={"etag": '"stale-etag"', "value": "81"},
        values=MEASURED,
    ),
    "GET /initiatives": Rule(STAFF),
    "GET /initiatives/{initiative_id}": Rule(STAFF),
    "GET /initiatives/{initiative_id}/report.{fmt}": Rule(
        STAFF, values={"fmt": Values(own=each("md"))}
    ),
    "GET /admin/users": Rule(ADMIN),
    "GET /admin/audit": Rule(ADMIN, query="action=import&page=1"),
    "POST /admin/users": Rule(ADMIN, ok=codes(422), form={"email": "x@kraft.demo", "role": "boss"}),
    # the admin disabling their own sign-in: refused
    "POST /admin/users/{user_id}/active": Rule(ADMIN, ok=codes(422), form={"active": ""}),
    # the review cycle: a step on a stale page (no review yet, an old version) changes nothing
    "GET /reviews": Rule(EVERYONE, query=SCORED),
    "GET /rms/{rm_id}/reviews/{period}": Rule(EVERYONE),
    "POST /rms/{rm_id}/reviews/{period}": Rule(
        REVIEWERS, ok=codes(409), form={"step": "comment", "version": "999", "text": "Fine."}
    ),
    "GET /calibration": Rule(STAFF, query=SCORED),
    # -- the API
    "GET /api/v1/auth/me": Rule(EVERYONE),
    "POST /api/v1/auth/logout": Rule(EVERYONE, ok=codes(204)),
    "POST /api/v1/auth/password": Rule(
        EVERYONE, ok=codes(403), json={"current": "not the password", "new": "x" * 12}
    ),
    "GET /api/v1/frameworks": Rule(EVERYONE),
    "GET /api/v1/frameworks/current": Rule(ADMIN),
    # only kraft's own commands beside the server, with its local token: no signed-in user
    "POST /api/v1/local/snapshot": Rule(
        {"admin": FORBIDDEN, "manager": FORBIDDEN, "rm": FORBIDDEN}
    ),
    "POST /api/v1/frameworks": Rule(ADMIN, ok=codes(422), json={"yaml": "kras: ["}),
    "GET /api/v1/frameworks/{framework_id}": Rule(EVERYONE),
    "GET /api/v1/kpis": Rule(EVERYONE),
    "GET /api/v1/kpis/{kpi_id}": Rule(EVERYONE),
    "GET /api/v1/rms": Rule(EVERYONE),
    "GET /api/v1/rms/{rm_id}": Rule(EVERYONE),
    "GET /api/v1/teams": Rule(EVERYONE),
    "GET /api/v1/teams/{team_id}": Rule(STAFF),
    "GET /api/v1/periods": Rule(EVERYONE),
    "GET /api/v1/kpi-values": Rule(
        EVERYONE,
        query=f"entity_type=rm&entity_id={{rm_id}}&period={PERIOD}",
        foreign=dict.fromkeys(EVERYONE, FILTERED),
    ),
    "GET /api/v1/explain": Rule(
        EVERYONE, query=f"rm_id={{rm_id}}&kpi_id=client_retention_rate&period={PERIOD}"
    ),
    "GET /api/v1/scores": Rule(EVERYONE, query=f"rm_id={{rm_id}}&period={PERIOD}"),
    "GET /api/v1/rms/{rm_id}/scorecard": Rule(EVERYONE, query=SCORED),
    "GET /api/v1/teams/{team_id}/leaderboard": Rule(STAFF, query=SCORED),
    "GET /api/v1/targets": Rule(
        EVERYONE,
        query="scope_type=rm&scope_id={rm_id}",
        foreign=dict.fromkeys(EVERYONE, FILTERED),
    ),
    "POST /api/v1/targets": Rule(
        {"admin": OK, "manager": OK, "rm": FORBIDDEN},
        ok=codes(422),
        json={
            "scope_type": "rm",
            "scope_id": "{rm_id}",
            "kpi_id": "client_retention_rate",
            "period": "not-a-period",
            "target": 90,
        },
    ),
    "GET /api/v1/targets/{target_id}": Rule(EVERYONE),
    "PUT /api/v1/targets/{target_id}": Rule(
        EDITORS, ok=codes(412), json={"target": 91}, headers=STALE
    ),
    "DELETE /api/v1/targets/{target_id}": Rule(EDITORS, ok=codes(412), headers=STALE),
    "GET /api/v1/measurements": Rule(
        EVERYONE, query="rm_id={rm_id}", foreign=dict.fromkeys(EVERYONE, FILTERED)
    ),
    "POST /api/v1/measurements": Rule(
        MANAGERS_ENTER,
        ok=codes(409),  # it exists already: PUT changes it
        json={
            "rm_id": "{rm_id}",
            "kpi_id": "management_decision_impact",
            "period": PERIOD,
            "value": 80,
        },
    ),
    "GET /api/v1/measurements/{rm_id}/{kpi_id}/{period}": Rule(EVERYONE, values=MEASURED),
    "PUT /api/v1/measurements/{rm_id}/{kpi_id}/{period}": Rule(
        MANAGERS_ENTER, ok=codes(412), json={"value": 81}, headers=STALE, values=MEASURED
    ),
    "DELETE /api/v1/measurements/{rm_id}/{kpi_id}/{period}": Rule(
        MANAGERS_ENTER, ok=codes(412), headers=STALE, values=MEASURED
    ),
    "POST /api/v1/imports": Rule(
        ADMIN, ok=codes(422), files={"files": ("clients.csv", BAD_CLIENTS, "text/csv")}
    ),
    "GET /api/v1/mapping": Rule(ADMIN),
    "PUT /api/v1/mapping": Rule(ADMIN, ok=codes(422), json={"tables": {}}),
    "POST /api/v1/compute": Rule(ADMIN, ok=codes(422), json={"from": "not-a-period"}),
    "GET /api/v1/compute/jobs/{job_id}": Rule(ADMIN),
    "GET /api/v1/compute/runs": Rule(ADMIN),
    "GET /api/v1/initiatives": Rule(SETTERS),
    "GET /api/v1/initiatives/{initiative_id}/impact": Rule(SETTERS, query="resamples=100"),
    "GET /api/v1/users": Rule(ADMIN),
    "GET /api/v1/audit": Rule(ADMIN, query="verify=true&limit=5"),
    "POST /api/v1/users": Rule(
        ADMIN,
        ok=codes(422),
        json={"email": "new@kraft.demo", "password": "short", "role": "rm", "rm_id": "RM0003"},
    ),
    # the admin disabling themselves: refused
    "PATCH /api/v1/users/{user_id}": Rule(ADMIN, ok=codes(409), json={"active": False}),
    "GET /api/v1/reviews": Rule(EVERYONE, query=SCORED),
    "GET /api/v1/rms/{rm_id}/reviews/{period}": Rule(EVERYONE),
    "POST /api/v1/rms/{rm_id}/reviews/{period}/{step}": Rule(
        REVIEWERS,
        ok=codes(412),
        json={"text": "Fine."},
        headers=STALE,
        values={"step": Values(own=each("comment"))},
    ),
    "GET /api/v1/calibration": Rule(STAFF, query=SCORED),
}


# -- the route table -------------------------------------------------------------------------


def route_table() -> list[tuple[str, str]]:
    """(method, path) of every route of an app over an empty throwaway workspace: the routes do
    not depend on the data. fastapi.routing.iter_route_contexts sees into included routers."""
    with tempfile.TemporaryDirectory(prefix="kraft-routes-") as tmp:
        workspace, _ = init_workspace(Path(tmp) / "ws", Settings())
        db = workspace_database(workspace.root, workspace.settings.database_url)
        try:
            app = create_app(workspace, db)
            found = {
                (method, str(route.path))
                for route in iter_route_contexts(app.routes)
                for method in (route.methods or ())
            }
        finally:
            db.dispose()
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


ROUTES = route_table()


def path_parameters(path: str) -> list[str]:
    return re.findall(r"{(\w+)(?::\w+)?}", path)


def rule_of(method: str, path: str) -> Rule:
    key = f"{method} {path}"
    if key not in RULES:
        pytest.fail(
            f"The route {key} is not in tests/test_permissions.py RULES: add it there with who "
            "may use it (and a request that is refused before acting, if it writes)."
        )
    return RULES[key]


def values_of(rule: Rule, name: str) -> Values:
    if name in rule.values:
        return rule.values[name]
    if name not in PARAMETERS:
        pytest.fail(
            f"The path parameter {{{name}}} is not in tests/test_permissions.py PARAMETERS: "
            "add an own and a foreign value for each role."
        )
    return PARAMETERS[name]


def parameters_of(rule: Rule, path: str) -> list[str]:
    """The parameters a request names: the path's and the placeholders of the rule's query,
    JSON body and form."""
    templates = rule.query + repr(rule.json) + repr(rule.form)
    return path_parameters(path) + re.findall(r"{(\w+)}", templates)


def variants(method: str, path: str) -> list[str]:
    """own, and foreign where a parameter says whose the resource is."""
    rule = RULES.get(f"{method} {path}")
    if rule is None:  # unknown: one case, which fails saying to add it
        return ["own"]
    owning = [
        name
        for name in parameters_of(rule, path)
        if (rule.values.get(name) or PARAMETERS.get(name) or Values({})).foreign
    ]
    return ["own", "foreign"] if owning else ["own"]


CASES = [
    pytest.param(method, path, role, variant, id=f"{method} {path} {role} {variant}")
    for method, path in ROUTES
    for variant in variants(method, path)
    for role in ROLES
]


# -- the world the cases run in --------------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    made: dict[str, str]  # what the fixture made: target:RMxxxx, job:compute
    visible: dict[str, set[str]]  # role → the rm_ids they may see (manager, rm)
    names: dict[str, str]  # rm_id → name
    browsers: dict[str, Browser] = field(default_factory=dict)
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    def browser(self, role: str) -> Browser:
        if role not in self.browsers:
            self.browsers[role] = signed_in(self.app, role)
        return self.browsers[role]

    def bearer(self, role: str) -> dict[str, str]:
        if role not in self.tokens:
            self.tokens[role] = bearer(self.app, role)
        return self.tokens[role]


def _visible(conn: sa.Connection) -> dict[str, set[str]]:
    """Read from the data, not from kraft.core.access: the manager's teams are those they lead
    and every team below; an RM sees only themselves."""
    teams = conn.execute(sa.text("SELECT team_id, leader_rm_id, parent_team_id FROM teams")).all()
    led = {t.team_id for t in teams if t.leader_rm_id == MANAGER_RM}
    while True:
        below = {t.team_id for t in teams if t.parent_team_id in led} - led
        if not below:
            break
        led |= below
    members = conn.execute(sa.text("SELECT rm_id, team_id FROM relationship_managers")).all()
    return {"manager": {m.rm_id for m in members if m.team_id in led}, "rm": {OWN_RM}}


def _make(app: FastAPI) -> dict[str, str]:
    """A target for each RM the cases name, and a finished compute job."""
    client = TestClient(app)
    admin = bearer(app, "admin")
    made: dict[str, str] = {}
    for rm_id in ("RM0001", "RM0002", "RM0004"):
        answer = client.post(
            "/api/v1/targets",
            headers=admin,
            json={"scope_type": "rm", "scope_id": rm_id, "kpi_id": "client_retention_rate",
                  "period": PERIOD, "target": 90, "threshold": 80},
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
        made[f"target:{rm_id}"] = str(answer.json()["target_id"])
    started = client.post("/api/v1/compute", headers=admin, json={"from": PERIOD, "to": PERIOD})
    assert started.status_code == 202, started.text
    job = started.json()
    deadline = time.monotonic() + 120
    while job["state"] in ("waiting", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(f"/api/v1/compute/jobs/{job['job_id']}", headers=admin).json()
    assert job["state"] == "done", job
    made["job:compute"] = job["job_id"]
    return made


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = build_demo(tmp_path_factory.mktemp("permissions") / "demo")
    app = served_app(root)
    with app.state.site.read() as conn:
        visible = _visible(conn)
        names = dict(conn.execute(sa.text("SELECT rm_id, name FROM relationship_managers")).all())
    made = _make(app)
    yield World(app, made, visible, names)
    app.state.site.db.dispose()


# -- one case --------------------------------------------------------------------------------


def _fill(template: str, chosen: Mapping[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: chosen[m[1]], template)


def _choose(world: World, rule: Rule, path: str, role: str, variant: str) -> dict[str, str]:
    chosen = {}
    for name in parameters_of(rule, path):
        values = values_of(rule, name)
        table = values.foreign if variant == "foreign" and values.foreign else values.own
        value = table[role]
        chosen[name] = world.made.get(value, value)
    return chosen


def _json(template: dict[str, Any] | None, chosen: Mapping[str, str]) -> dict[str, Any] | None:
    if template is None:
        return None
    return {k: _fill(v, chosen) if isinstance(v, str) else v for k, v in template.items()}


def request(world: World, method: str, path: str, role: str, variant: str) -> Any:
    rule = rule_of(method, path)
    chosen = _choose(world, rule, path, role, variant)
    url = _fill(path, chosen) + ("?" + _fill(rule.query, chosen) if rule.query else "")
    api = path.startswith("/api/")
    headers = dict(rule.headers)
    if role == "anonymous" or rule.fresh:
        client: TestClient = TestClient(world.app, follow_redirects=False)
        if rule.fresh and role != "anonymous":
            client = signed_in(world.app, role)
    elif api:
        client = TestClient(world.app, follow_redirects=False)
        headers.update(world.bearer(role))
    else:
        client = world.browser(role)
    form = _json(rule.form, chosen)
    if form is not None or rule.files is not None:
        form = dict(form or {})
        if not api and isinstance(client, Browser):
            form["csrf_token"] = client.csrf
    answer = client.request(
        method, url, headers=headers, json=_json(rule.json, chosen), data=form, files=rule.files
    )
    if path in SIGNS_OUT_EVERYWHERE:  # the role's kept session and token ended with it
        world.browsers.pop(role, None)
        world.tokens.pop(role, None)
    return answer


def expected(rule: Rule, role: str, variant: str) -> Outcome | str:
    """The rule's outcome; for anonymous, what every non-public route gives a stranger."""
    if role not in rule.who:
        return "sign-in"
    return rule.outcome(role, variant)


def leaks(world: World, role: str, answer: Any) -> list[str]:
    """RM ids and names outside the role's scope in a text answer (manager, rm)."""
    if role not in world.visible or answer.status_code != 200:
        return []
    kind = answer.headers.get("content-type", "")
    if not any(t in kind for t in ("html", "json", "csv", "markdown", "text/plain")):
        return []
    text = answer.text
    others = set(world.names) - world.visible[role]
    found = sorted(rm for rm in set(re.findall(r"\bRM\d{4}\b", text)) if rm in others)
    if role == "rm":
        found += sorted(world.names[rm] for rm in others if world.names[rm] in text)
    return found


@pytest.mark.parametrize(("method", "path", "role", "variant"), CASES)
def test_permission(world: World, method: str, path: str, role: str, variant: str) -> None:
    rule = rule_of(method, path)
    want = expected(rule, role, variant)
    answer = request(world, method, path, role, variant)
    status = answer.status_code
    said = f"{method} {answer.request.url.path}?{answer.request.url.query.decode()} as {role}"
    detail = answer.text[:300] if status != 200 else ""
    if want == "sign-in":
        if path.startswith("/api/"):
            assert status == 401, f"{said}: {status}, not 401 {detail}"
            assert answer.headers["content-type"] == "application/problem+json"
        elif method in ("GET", "HEAD"):
            assert status == 303, f"{said}: {status}, not 303 to /login {detail}"
            assert answer.headers["location"].startswith("/login?next=")
        else:  # a form without a session: its CSRF check or the sign-in refuses it
            assert status in (303, 403), f"{said}: {status}, not refused {detail}"
            if status == 303:
                assert answer.headers["location"].startswith("/login")
        return
    if want is OK:
        assert status in rule.ok, f"{said}: {status}, not {sorted(rule.ok)} {detail}"
    elif want is HOME:
        assert status == 303, f"{said}: {status}, not 303 to {HOMES[role]}"
        assert answer.headers["location"] == HOMES[role]
    elif want is FORBIDDEN or (want is READ_ONLY and variant == "own"):
        assert status == 403, f"{said}: {status}, not 403 {detail}"
    elif want in (HIDDEN, READ_ONLY):
        assert status == 404, f"{said}: {status}, not 404 {detail}"
    elif want is FILTERED:
        assert status == 200, f"{said}: {status}, not 200 {detail}"
        foreign = _choose(world, rule, path, role, "foreign")
        assert not [v for v in foreign.values() if v in answer.text], f"{said}: {answer.text}"
    if status >= 400 and path.startswith("/api/"):
        assert answer.headers["content-type"] == "application/problem+json", said
        assert answer.json()["detail"], said
    assert not leaks(world, role, answer), f"{said} shows {leaks(world, role, answer)}"


# -- CSRF: every form and every API change refuses a session without its token ---------------

WRITES = [
    (method, path)
    for method, path in ROUTES
    if method not in ("GET", "HEAD", "OPTIONS") and f"{method} {path}" in RULES
    and not RULES[f"{method} {path}"].fresh
]  # fmt: skip


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
@pytest.mark.parametrize("role", ["admin", "manager", "rm"])
def test_a_session_without_its_csrf_token_changes_nothing(
    world: World, method: str, path: str, role: str
) -> None:
    """A page's form without its csrf_token, or an API call on the session cookie without the
    X-CSRF-Token header, answers 403 for every role."""
    rule = RULES[f"{method} {path}"]
    chosen = _choose(world, rule, path, role, "own")
    url = _fill(path, chosen) + ("?" + _fill(rule.query, chosen) if rule.query else "")
    browser = world.browser(role)
    answer = browser.request(
        method,
        url,
        headers=dict(rule.headers),
        json=_json(rule.json, chosen),
        data=_json(rule.form, chosen) if rule.form is not None else ({} if rule.files else None),
        files=rule.files,
    )
    assert answer.status_code == 403, f"{method} {url} as {role}: {answer.status_code}"
    if role == "admin":  # who passes every other check is stopped by this one
        assert "CSRF" in answer.text or "did not come from kraft" in answer.text, answer.text


# -- the tables themselves -------------------------------------------------------------------


def test_the_route_table_is_read_whole() -> None:
    """The enumeration sees into included routers (a vacuous table would pass every case):
    every path of the OpenAPI schema, and the pages, are in it."""
    with tempfile.TemporaryDirectory(prefix="kraft-routes-") as tmp:
        workspace, _ = init_workspace(Path(tmp) / "ws", Settings())
        db = workspace_database(workspace.root, workspace.settings.database_url)
        try:
            schema = create_app(workspace, db).openapi()
        finally:
            db.dispose()
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert documented and documented <= set(ROUTES), documented - set(ROUTES)
    for page in ("/login", "/", "/rms/{rm_id}", "/teams/{team_id}"):
        assert ("GET", page) in ROUTES
    assert len(CASES) >= 4 * len(ROUTES)


def test_every_rule_names_a_route_that_exists() -> None:
    stale = sorted(set(RULES) - {f"{m} {p}" for m, p in ROUTES})
    assert not stale, f"RULES in tests/test_permissions.py name routes that are gone: {stale}"
