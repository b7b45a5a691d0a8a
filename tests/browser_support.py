"""The browser tests' machinery: a real `kraft serve` in a subprocess, Debian's chromium driven by
Playwright, and a `Visit` that signs in, opens pages as a person would, waits for their charts,
collects console errors and saves a screenshot of every step to tests/artifacts/.

    with running_server(root) as server, launched_chromium() as chromium:
        visit = Visit.open(chromium, server.url, "test_name")
        visit.sign_in("admin")
        visit.goto("/", "overview")       # tests/artifacts/test_name-overview.png
        assert visit.charts_drawn() >= 1
        visit.assert_no_console_errors()
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from web_support import LOGINS

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 60.0
CHART_MS = 20_000  # the Vega runtime (0.9 MB) parses and draws within this on a busy 2-core box
NO_CHART = "The chart could not be drawn"  # what static/kraft.js writes when vega-embed fails


def require_chromium() -> None:
    """Skip where Debian's chromium is not installed (CI installs it: .ci/run), fail in CI."""
    if CHROMIUM.is_file() and shutil.which("chromium"):
        return
    if os.environ.get("CI"):
        pytest.fail(f"chromium is missing at {CHROMIUM}; .ci/run must install it with apt")
    pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM} (apt install chromium)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A `kraft serve` subprocess in its own process group, and where it writes its log."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _wait_for_port(server: Server, port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"kraft serve exited with {server.process.returncode}:\n{server.output()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"kraft serve did not listen on {port} in {STARTUP_SECONDS:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (uvicorn and anything it started), then SIGKILL."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    # a leader that would not stop, or children that outlived it, still hold the group
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


@contextmanager
def running_server(root: Path) -> Iterator[Server]:
    """`kraft --workspace ROOT serve` on a free loopback port, until the block ends."""
    port = free_port()
    log = root.parent / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "kraft", "--workspace", str(root), "serve",
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_for_port(server, port)
        yield server
    finally:
        stop(process)


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def artifact_name(test_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")


@dataclass
class Visit:
    """One person's tab: every page it opens is screenshotted, every console error kept."""

    context: Any
    page: Any
    base_url: str
    name: str
    console_errors: list[str] = field(default_factory=list)
    expected_failures: set[str] = field(default_factory=set)
    shots: list[Path] = field(default_factory=list)

    @classmethod
    def open(cls, chromium: Any, base_url: str, test_name: str) -> Visit:
        context = chromium.new_context(
            base_url=base_url, viewport={"width": 1280, "height": 900}, locale="en-GB"
        )
        visit = cls(context, context.new_page(), base_url, artifact_name(test_name))
        visit.page.set_default_timeout(CHART_MS)
        visit.page.on("console", visit._console)
        visit.page.on("pageerror", lambda error: visit.console_errors.append(f"page: {error}"))
        return visit

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        if message.text.startswith("Failed to load resource") and where in self.expected_failures:
            return  # the page itself answered the error status the test asked for
        self.console_errors.append(f"{message.text} ({where})")

    def close(self) -> None:
        self.context.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str, step: str, *, status: int = 200) -> Any:
        """Open the page, check its status, draw its charts, save its screenshot."""
        if status >= 400:
            self.expected_failures.add(self.url(path))
        response = self.page.goto(self.url(path), wait_until="load")
        assert response is not None, f"no response for {path}"
        assert response.status == status, (
            f"{path} answered {response.status}, not {status}: {self.page.inner_text('main')[:400]}"
        )
        self.settle(step)
        return response

    def click_through(self, target: Any, step: str, *, status: int = 200, at: str = "") -> Any:
        """Click a link or a form's button as a person would, and land on the next page (whose
        status is checked; an error status needs the path it is expected `at`)."""
        if status >= 400:
            assert at, "say at which path the error page is expected"
            self.expected_failures.add(self.url(at))
        with self.page.expect_navigation() as navigation:
            target.click()
        response = navigation.value
        assert response is not None and response.status == status, (
            f"{response.url if response else step} answered "
            f"{response.status if response else None}, not {status}"
        )
        self.settle(step)
        return response

    def settle(self, step: str) -> Path:
        """After a navigation (goto, a click, a form): wait for the charts, then screenshot."""
        self.page.wait_for_load_state("load")
        self.wait_for_charts()
        return self.shot(step)

    def shot(self, step: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{artifact_name(step)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path

    def wait_for_charts(self) -> None:
        """Every figure.chart holds an <svg> drawn by the Vega runtime (or the test fails with
        the message kraft.js wrote in its place)."""
        if self.page.locator("figure.chart").count() == 0:
            return
        try:
            self.page.wait_for_function(
                "(broken) => [...document.querySelectorAll('figure.chart')]"
                ".every(f => f.querySelector('svg') || f.textContent.includes(broken))",
                arg=NO_CHART,
                timeout=CHART_MS,
            )
        except Exception as exc:  # a timeout names no chart; say which page and what is missing
            raise AssertionError(
                f"charts not drawn on {self.page.url} in {CHART_MS} ms; console: "
                f"{self.console_errors}"
            ) from exc
        broken = self.page.locator("figure.chart", has_text=NO_CHART)
        assert broken.count() == 0, broken.first.inner_text()

    def charts_drawn(self) -> int:
        """How many charts of the page have an <svg> with marks in it."""
        drawn: int = self.page.evaluate(
            "() => [...document.querySelectorAll('figure.chart svg')]"
            ".filter(s => s.querySelectorAll('path, rect, line, circle, text').length > 3).length"
        )
        return drawn

    def sign_in(self, role: str, *, step: str = "signed-in") -> None:
        """The login form, filled in as a person would; lands on the role's home."""
        email, password = LOGINS[role]
        self.goto("/login", "login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.click_through(self.page.get_by_role("button", name="Sign in"), step)

    def api_get(self, path: str, role: str) -> Any:
        """GET an API resource as the role, with a bearer token (outside the tab's session)."""
        email, password = LOGINS[role]
        api = self.context.request
        token = api.post(
            self.url("/api/v1/auth/token"), form={"username": email, "password": password}
        )
        assert token.ok, token.text()
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        answer = api.get(self.url(path), headers=bearer)
        assert answer.ok, answer.text()
        return answer.json()

    @property
    def path(self) -> str:
        url: str = self.page.url
        return url.removeprefix(self.base_url)

    def table_rows(self, selector: str = "main table") -> int:
        """Body rows of the tables matching the selector (filled tables, not just headers)."""
        rows: int = self.page.locator(f"{selector} tbody tr").count()
        return rows

    def assert_no_console_errors(self) -> None:
        assert not self.console_errors, "console errors:\n" + "\n".join(self.console_errors)
