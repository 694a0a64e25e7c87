"""A real app (``streamlit run``) on 127.0.0.1, the Ollama test server, headless chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import REPO, process_stacks
from tests.ollama_server import FakeOllamaServer

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_CHROMIUM = (
    "no Chromium for the browser tests: install it with `apt-get install chromium` "
    "(Debian/Ubuntu) or `python -m playwright install chromium`"
)
# Assertions wait as long as actions: a cold CI machine loads the embedding model and
# embeds a chapter before the first "indexed" message appears.
expect.set_options(timeout=120_000)


def switch_on(container: Locator, label: str, tries: int = 3) -> None:
    """Click the toggle ``label`` in ``container`` until it shows as on.

    A click that lands while the page is still being rebuilt after an answer can be undone
    by that rebuild (seen in a cold test run); a person clicks again, and so does this.
    """
    switch = container.get_by_role("switch", name=label)
    for attempt in range(tries):
        container.get_by_text(label).click()
        try:
            expect(switch).to_be_checked(timeout=15_000)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Listener:
    """An HTTP server that records every request it gets (the exfiltration target)."""

    port: int
    hits: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def listener() -> Iterator[Listener]:
    record = Listener(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record.hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", record.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield record
    server.shutdown()


@dataclass
class RunningApp:
    url: str
    ollama: FakeOllamaServer
    data_dir: Path


# Apps running now (URL -> process, log), so a failed test's report can show their state.
_LIVE_APPS: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
LOG_TAIL_CHARS = 12_000


def app_state(url: str) -> str:
    """The app's thread stacks (``py-spy dump``, Python and native frames) and its log's tail."""
    process, log_path = _LIVE_APPS[url]
    if process.poll() is not None:
        stacks = f"exited with {process.returncode}"
    else:
        stacks = process_stacks(process.pid)
    return stacks + "\n--- log ---\n" + log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A failed or erroring browser test carries the state of every app that runs now."""
    report = yield
    if report.failed and _LIVE_APPS:
        for url in list(_LIVE_APPS):
            report.sections.append((f"app {url}: stacks and log", app_state(url)))
    return report


@contextmanager
def serve_app(data_dir: Path, ollama: FakeOllamaServer, **env: str) -> Iterator[str]:
    """``streamlit run app.py`` on a free port with ``data_dir``, ``ollama`` and ``env``; its URL."""
    port = free_port()
    full_env = dict(
        os.environ,
        RAG_DATA_DIR=str(data_dir),
        RAG_OLLAMA_HOST=ollama.url,
        HF_HUB_OFFLINE="1",
        **env,
    )
    log = (data_dir / "streamlit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true"],
        cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.kill()
        log.close()
        raise RuntimeError("streamlit did not start: " + (data_dir / "streamlit.log").read_text())
    _LIVE_APPS[url] = (process, data_dir / "streamlit.log")
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            state = app_state(url)
            process.kill()
            raise RuntimeError(f"the app did not stop on SIGTERM in 20 s:\n{state}") from None
        finally:
            _LIVE_APPS.pop(url, None)
            log.close()


@pytest.fixture(scope="session")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """``streamlit run app.py`` as a newcomer starts it, on a free port, fresh data dir."""
    data_dir = tmp_path_factory.mktemp("browser-data")
    with FakeOllamaServer(token_delay=0.01) as ollama, serve_app(data_dir, ollama) as url:
        yield RunningApp(url=url, ollama=ollama, data_dir=data_dir)


def system_chromium() -> str | None:
    """Debian's ``/usr/bin/chromium`` or a ``chromium`` on PATH; None if neither exists."""
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Chromium: the system one, else a Playwright-managed one.

    Raises:
        playwright.sync_api.Error: neither can be started.
    """
    path = system_chromium()
    if path is not None:
        return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    return playwright.chromium.launch(args=CHROMIUM_ARGS)


def chromium_available() -> bool:
    """True when :func:`launch_chromium` can start a browser (a quick trial launch)."""
    if system_chromium() is not None:
        return True
    try:
        with sync_playwright() as playwright:
            launch_chromium(playwright).close()
    except PlaywrightError:
        return False
    return True


@pytest.fixture(scope="session", autouse=True)
def _require_chromium() -> None:
    """Skip every browser test, with one reason naming the install command, without Chromium.

    Autouse and session-scoped, so it runs before the app is started, once.
    """
    if not chromium_available():
        pytest.skip(NO_CHROMIUM)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    yield tab
    context.close()
