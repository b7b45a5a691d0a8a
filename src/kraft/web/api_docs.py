"""The REST API's documentation page, /api/docs (Swagger UI), served with kraft's own assets:
an insurer's network is often closed to CDNs, and the pages' CSP allows scripts from the server
only. Swagger UI's files are those the fastapi-offline package ships; the page starts it from a
script of kraft's (static/api-docs.js), never inline. (No ReDoc page: its bundle fetches its logo
from its maker's CDN.)
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

DOCS_URL = "/api/docs"
ASSETS_URL = "/api/docs/assets"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
ASSET_HEADERS = {"Cache-Control": "public, max-age=3600"}


@cache
def bundled_assets() -> Path:
    """The folder of Swagger UI's files in the fastapi-offline package (looked up on the first
    request for one: the app itself starts without it)."""
    return Path(str(files("fastapi_offline") / "static"))


def add_api_docs(app: FastAPI) -> None:
    """The documentation page and the files it loads (FastAPI's own page is off: it loads its
    scripts from a CDN and starts them inline)."""

    @app.api_route(DOCS_URL, methods=["GET", "HEAD"], include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(docs_page(app.title, app.openapi_url or ""))

    @app.get(f"{ASSETS_URL}/{{name}}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        path = bundled_assets() / name
        if name not in ASSETS or not path.is_file():
            raise HTTPException(404, "There is no such file.")
        return FileResponse(path, media_type=ASSET_TYPES[path.suffix], headers=ASSET_HEADERS)


def docs_page(title: str, openapi_url: str) -> str:
    """Swagger UI's page: its stylesheet and bundle, then kraft's script that starts it over
    the schema named in the body's data-openapi."""
    return (
        "<!doctype html>\n"
        f'<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} API</title>\n"
        f'<link rel="icon" href="{ASSETS_URL}/favicon.png">\n'
        f'<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">\n</head>\n'
        f'<body data-openapi="{escape(openapi_url)}">\n<div id="swagger-ui"></div>\n'
        f'<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>\n'
        '<script src="/static/api-docs.js"></script>\n</body>\n</html>\n'
    )
