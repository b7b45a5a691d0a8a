"""The web app of `kraft serve`: server-rendered pages and the JSON API under /api/v1, one FastAPI
application over the workspace's database.

Pages live in kraft.web.pages, one module a topic, and the API in kraft.web.api; each module has a
`router`. Errors: the API answers application/problem+json with a human message; pages show the
message on an error page. A KraftError (bad input) is 400 (422 for a form or upload that fails
validation is raised by the route itself), out-of-scope resources are 404 as missing ones are.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kraft import __version__
from kraft.core.snapshots import Snapshots
from kraft.errors import KraftError
from kraft.store.database import Database
from kraft.web.api_docs import add_api_docs
from kraft.web.deps import SignInRequiredError
from kraft.web.errors import status_of
from kraft.web.render import render_page
from kraft.web.security import SESSION_COOKIE, Signer, workspace_secret
from kraft.web.site import STATIC, Site
from kraft.web.warm import Warmer
from kraft.workspace import Workspace

PAGE_MODULES = (
    "auth",
    "overview",
    "team",
    "scorecard",
    "kpi",
    "framework",
    "targets",
    "measurements",
    "imports",
    "import_mapping",
    "compute",
    "initiative",
    "admin",
    "audit",
    "review",
    "help",
)
API_MODULES = (
    "auth",
    "framework_versions",  # before catalog: /frameworks/current is not a framework id
    "catalog",
    "values",
    "scores",
    "targets",
    "measurements",
    "imports",
    "mapping",
    "compute",
    "initiatives",
    "users",
    "audit",
    "reviews",
    "health",
    "local",
)
PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Too large",
    422: "Unprocessable",
    428: "Precondition required",
    429: "Too many requests",
    500: "Server error",
}


# Requests served at once (each holds at most one database connection at a time): fewer than
# the engine's pool (SQLAlchemy's default 5 + 10 overflow), leaving room for a background compute.
CONCURRENT_REQUESTS = 12
BACKGROUND = "kraft-"  # the names of the threads reading ahead or keeping results
STOP_SECONDS = 30.0  # a stop waits this long for each of them
# Bytes a request body may have (a form, a framework's YAML, a JSON body): more answers 413
# before it is read. Uploads stream to disk under their own limit (pages/imports.UPLOAD_BODY_BYTES).
BODY_LIMIT = 4 * 1024 * 1024
HSTS = "max-age=31536000; includeSubDomains"
STATIC_HEADERS = {"Cache-Control": "public, max-age=3600"}  # browsers keep CSS and scripts an hour


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Cap the worker threads of sync routes (anyio's default is 40) below the connection pool,
    so that a burst of requests waits its turn instead of timing out on the pool; read ahead
    what the first pages need, now and after every write that re-scores (kraft.web.warm)."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = CONCURRENT_REQUESTS
    site: Site = app.state.site
    warmer = Warmer(site)
    app.state.warmer = warmer
    site.after_write = warmer.start
    warmer.start()
    yield
    site.after_write = None
    warmer.stop()
    if site.snapshots is not None:
        site.snapshots.remove()
    site.uploads.remove()
    for thread in threading.enumerate():  # background reads finish before the database closes
        if thread.name.startswith(BACKGROUND) and thread is not threading.current_thread():
            thread.join(STOP_SECONDS)


def create_app(
    workspace: Workspace,
    db: Database,
    *,
    secure_cookies: bool = False,
    local_token: str | None = None,
) -> FastAPI:
    """The app over the workspace's (already opened, schema-current) database. `local_token`:
    on DuckDB, what the commands run beside the server send for a snapshot to read."""
    app = FastAPI(
        lifespan=_lifespan,
        title="kraft",
        version=__version__,
        description="KRA/KPI performance management for insurance relationship managers: the "
        "REST API. Sign in with POST /api/v1/auth/token and send `Authorization: Bearer <token>`.",
        docs_url=None,  # /api/docs and /api/redoc: kraft.web.api_docs, with kraft's own assets
        redoc_url=None,
        openapi_url="/openapi.json",
        max_body_size=BODY_LIMIT,
    )
    app.state.site = Site(
        workspace=workspace,
        db=db,
        signer=Signer(workspace_secret(workspace.root)),
        secure_cookies=secure_cookies,
        local_token=local_token,
        snapshots=Snapshots() if local_token and db.is_duckdb else None,
    )
    app.state.site.uploads.sweep()  # what servers killed before left
    for name in PAGE_MODULES:
        app.include_router(import_module(f"kraft.web.pages.{name}").router)
    for name in API_MODULES:
        app.include_router(import_module(f"kraft.web.api.{name}").router, prefix="/api/v1")
    add_api_docs(app)
    _static_routes(app)
    _error_handlers(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-eval'; frame-ancestors 'none'; form-action 'self'",
        )
        if secure_cookies:  # served over HTTPS: browsers keep to it for a year
            response.headers["Strict-Transport-Security"] = HSTS
        shared = response.headers.get("Cache-Control", "").startswith("public")  # CSS, scripts
        if _authenticated(request) and not shared:  # a signed-in answer is kept by no cache
            response.headers["Cache-Control"] = "no-store"
        return response

    return app


def _authenticated(request: Request) -> bool:
    """A request a user was signed in for, or one carrying a session or token (its answer, a
    sign-in or a refusal, is no more for a cache than a page)."""
    return (
        getattr(request.state, "user", None) is not None
        or SESSION_COOKIE in request.cookies
        or "authorization" in request.headers
    )


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def problem(
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    problems: list[str] | None = None,
) -> JSONResponse:
    """application/problem+json; `problems` lists each of several problems (a rejected
    framework's findings) under that extension member."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if problems:
        body["problems"] = problems
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _error_handlers(app: FastAPI) -> None:
    async def sign_in(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is no such page, or it is not yours to see."
        headers = dict(exc.headers or {})
        if is_api(request):
            return problem(exc.status_code, detail, headers)
        return error_page(request, exc.status_code, detail, headers)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KraftError)
        status = status_of(exc)
        if is_api(request):
            return problem(status, exc.message, problems=exc.details)
        return error_page(request, status, exc.message)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        detail = f"{where}: {first.get('msg', 'invalid')}".strip(": ")
        if is_api(request):
            return problem(422, detail)
        return error_page(request, 422, detail)

    async def unexpected(request: Request, exc: Exception) -> Response:
        message = "Something went wrong on the server; the error is in its log. Nothing changed."
        if is_api(request):
            return problem(500, message)
        return error_page(request, 500, message)

    app.add_exception_handler(SignInRequiredError, sign_in)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(KraftError, refused)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)


def error_page(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    return render_page(
        request,
        "error.html.j2",
        {"status": status, "title": TITLES.get(status, "Error"), "detail": detail},
        status_code=status,
        headers=headers,
        user=None,
    )


def _static_routes(app: FastAPI) -> None:
    """CSS and scripts served from the package; the Vega runtime from vl-convert (no CDN)."""

    @app.get("/static/vega.js", include_in_schema=False)
    def vega_bundle() -> Response:
        site: Site = app.state.site
        return Response(site.vega_bundle, media_type="text/javascript", headers=STATIC_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        types = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
        path = STATIC / name
        kind = types.get(path.suffix)
        if kind is None or not path.is_file() or path.parent != STATIC:
            raise HTTPException(404, "There is no such file.")
        return Response(path.read_bytes(), media_type=kind, headers=STATIC_HEADERS)
