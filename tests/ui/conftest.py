"""AppTest fixtures: the app pointed at a data directory and an Ollama host."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from ui.preferences import PREFERENCES_FILE
from ui.resources import get_ollama_status

APP = str(REPO / "app.py")


def settle(app: AppTest, timeout_s: float = 180.0) -> AppTest:
    """Rerun ``app`` until no ingest progress bar is left (the ingest runs on a thread).

    A browser refreshes the progress panel on its own (``st.fragment(run_every=...)``);
    AppTest does not, so the test reruns the script the way that timer would.
    """
    deadline = time.monotonic() + timeout_s
    while app.progress:
        assert time.monotonic() < deadline, "ingest did not finish"
        time.sleep(0.25)
        app.run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def make_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path, str], AppTest]]:
    """Return a factory: ``make_app(data_dir, ollama_url, query)`` -> a run AppTest of app.py.

    ``query`` sets URL query parameters (as a browser opening ``?chat=<id>`` would).

    The Ollama status cache is cleared so each test sees its own server; the embedding
    model stays cached (it is the same model in every test).
    """

    used: list[Path] = []

    def make(data_dir: Path, ollama_url: str, query: dict[str, str] | None = None) -> AppTest:
        used.append(data_dir)
        monkeypatch.setenv("RAG_DATA_DIR", str(data_dir))
        monkeypatch.setenv("RAG_OLLAMA_HOST", ollama_url)
        get_ollama_status.clear()
        app = AppTest.from_file(APP, default_timeout=180)
        for key, value in (query or {}).items():
            app.query_params[key] = value
        app.run()
        assert not app.exception, app.exception
        return app

    yield make
    for data_dir in used:  # a language picked here is not the next test's default
        (data_dir / PREFERENCES_FILE).unlink(missing_ok=True)
