"""`kraft report framework`: the framework document of `kraft framework render` (one
implementation), also as a PDF read the way a person reads it: pages that show something, and
text that holds every KRA title and the worked example."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.framework.loader import load_builtin
from kraft.framework.model import Framework
from kraft.reports.pdf import html_to_pdf
from pdf_checks import not_blank, pages_as_png, pdf_text

BUILTIN = Path(__file__).resolve().parent.parent / "src/kraft/framework/builtin/insurance_rm.yaml"


def words(text: str) -> str:
    """Text with every run of spaces and line breaks made one space (pdftotext wraps lines)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def framework() -> Framework:
    return load_builtin("insurance_rm")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The PDF, plain and detailed, written by the command (module scope: rendered once)."""
    folder = tmp_path_factory.mktemp("framework_pdf")
    written = {}
    for name, extra in (("plain", []), ("detailed", ["--detailed"])):
        target = folder / f"{name}.pdf"
        result = CliRunner().invoke(
            app, ["report", "framework", "--format", "pdf", "-o", str(target), *extra]
        )
        assert result.exit_code == 0, result.output
        assert f"to {target}" in result.output
        written[name] = target.read_bytes()
    return written


@pytest.mark.parametrize("name", ["plain", "detailed"])
def test_every_page_shows_something(pdfs: dict[str, bytes], name: str) -> None:
    pages = pages_as_png(pdfs[name])
    assert len(pages) >= 2
    assert all(not_blank(page) for page in pages)


@pytest.mark.parametrize("name", ["plain", "detailed"])
def test_pdf_text_has_every_kra_and_the_worked_example(
    pdfs: dict[str, bytes], framework: Framework, name: str
) -> None:
    text = words(pdf_text(pdfs[name]))
    assert words(framework.document_title) in text
    for kra in framework.kras:
        assert f"{kra.number}. {kra.title}" in text
        for kpi in kra.kpis:
            assert words(kpi.name) in text
    assert framework.example is not None
    assert words(framework.example.title) in text
    assert "Key Takeaways" in text


def test_detailed_pdf_adds_the_smart_tables(pdfs: dict[str, bytes], framework: Framework) -> None:
    plain, detailed = words(pdf_text(pdfs["plain"])), words(pdf_text(pdfs["detailed"]))
    assert "SMART definitions" not in plain
    assert "SMART definitions" in detailed
    kpi = framework.kpi("revenue_per_quarter")
    # target and threshold as format_value writes them: INR with Indian grouping
    assert "₹15,00,000" in detailed and "₹12,00,000" in detailed
    assert kpi.name in detailed
    assert len(pages_as_png(pdfs["detailed"])) > len(pages_as_png(pdfs["plain"]))


@pytest.mark.parametrize("fmt", ["md", "html"])
@pytest.mark.parametrize("detailed", [[], ["--detailed"]])
def test_same_document_as_framework_render(
    runner: CliRunner, fmt: str, detailed: list[str]
) -> None:
    report = runner.invoke(app, ["report", "framework", "--format", fmt, *detailed])
    render = runner.invoke(app, ["framework", "render", "--format", fmt, *detailed])
    assert report.exit_code == 0 and render.exit_code == 0, report.output + render.output
    assert report.stdout == render.stdout
    assert "Relationship Building" in report.stdout


def test_any_framework_file_and_user_text_is_escaped(runner: CliRunner, tmp_path: Path) -> None:
    hostile = "Claims <b>&</b> Care"
    text = BUILTIN.read_text(encoding="utf-8").replace(
        "    title: Relationship Building", f'    title: "{hostile}"', 1
    )
    source = tmp_path / "custom.yaml"
    source.write_text(text, encoding="utf-8")
    html = runner.invoke(app, ["report", "framework", "-f", str(source), "--format", "html"])
    assert html.exit_code == 0, html.output
    assert "Claims &lt;b&gt;&amp;&lt;/b&gt; Care" in html.stdout
    assert hostile not in html.stdout
    target = tmp_path / "custom.pdf"
    result = runner.invoke(
        app, ["report", "framework", "-f", str(source), "--format", "pdf", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert f"1. {hostile}" in words(pdf_text(target.read_bytes()))  # shown as text, not markup


def test_pdf_needs_an_output_file(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "framework", "--format", "pdf"])
    assert result.exit_code == 1
    assert "--format pdf needs --output FILE" in result.output
    assert "Traceback" not in result.output


def test_unknown_format_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "framework", "--format", "docx"])
    assert result.exit_code == 1
    assert "--format 'docx' is not md, html or pdf" in result.output


def test_unknown_framework_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "framework", "-f", "no_such_framework"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output


class _Recorder(http.server.BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_pdf_fetches_nothing_from_a_network(web_server: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text("h1 { color: red }", encoding="utf-8")
    html = (
        f'<html><head><link rel="stylesheet" href="{web_server}/style.css">'
        f'<link rel="stylesheet" href="{secret.as_uri()}"></head>'
        f'<body><h1>Report ₹12,34,567</h1><img src="{web_server}/logo.png">'
        '<svg width="60" height="20"><rect width="60" height="20" fill="#1f5f99"/></svg>'
        '<img src="data:image/svg+xml;utf8,<svg xmlns=%22http://www.w3.org/2000/svg%22 '
        'width=%2210%22 height=%2210%22></svg>"></body></html>'
    )
    pdf = html_to_pdf(html)
    assert _Recorder.paths == []
    assert pdf.startswith(b"%PDF")
    assert "Report ₹12,34,567" in pdf_text(pdf)
    assert all(not_blank(page) for page in pages_as_png(pdf))


def test_a_blank_page_is_blank() -> None:
    pages = pages_as_png(html_to_pdf("<html><body></body></html>"))
    assert len(pages) == 1 and not not_blank(pages[0])
