"""Files the pages offer for download (CSV, workbooks, PDF and Markdown reports), named after what
they hold."""

from __future__ import annotations

from fastapi.responses import Response


def download(content: bytes | str, media_type: str, filename: str) -> Response:
    """The content as an attachment the browser saves under `filename`."""
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def safe_name(text: str) -> str:
    """An id as part of a file name."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text).lstrip(".") or "_"
