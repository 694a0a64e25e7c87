"""The Documents page's server folder: refused outside the allowed roots, synced inside."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rag_core.config import build_settings
from rag_core.folder_sync import sync_state
from tests.ollama_server import FakeOllamaServer
from tests.ui.test_permissions import auth_file, documents_page, shared  # noqa: F401 (fixtures)


def _texts(app: AppTest) -> list[str]:
    return [e.value.replace("\\", "") for e in [*app.error, *app.success, *app.warning]]


def _wait_for_documents(app: AppTest, expected: list[str], timeout_s: float = 180.0) -> None:
    """Rerun the page (as its timer would) until the background sync listed ``expected``."""
    deadline = time.monotonic() + timeout_s
    while True:
        app.run()
        assert not app.exception, app.exception
        if app.dataframe and sorted(app.dataframe[0].value["Name"]) == expected:
            return
        assert time.monotonic() < deadline, "the folder was not synced"
        time.sleep(0.5)


def test_folder_outside_the_allowed_roots_is_refused_inside_it_is_synced(
    make_app, tmp_path: Path, fake_ollama: FakeOllamaServer, monkeypatch: pytest.MonkeyPatch
):
    allowed = tmp_path / "allowed"
    team = allowed / "team"
    (team / "sub").mkdir(parents=True)
    (team / "walrus.txt").write_text("Walruses live in the Arctic.")
    (team / "sub" / "otter.md").write_text("Sea otters hold hands while they sleep.")
    (team / "empty.txt").write_bytes(b"")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwords.txt").write_text("root password: hunter2")
    monkeypatch.setenv("RAG_SYNC_ROOTS", str(allowed))
    data = tmp_path / "data"
    app = make_app(data, fake_ollama.url)
    app.switch_page("pages/documents.py").run()
    assert any("Allowed folders" in c.value for c in app.caption)

    for refused in (secret, allowed / ".." / "secret", Path("/etc")):
        app.text_input(key="sync_folder:documents").set_value(str(refused)).run()
        app.button(key="sync_save").click().run()
        assert not app.exception
        assert any("is not under an allowed folder" in e for e in _texts(app)), _texts(app)
        assert sync_state(build_settings(data_dir=data)).folders() == {}

    app.text_input(key="sync_folder:documents").set_value(str(team)).run()
    app.button(key="sync_save").click().run()
    assert any(str(team) in s and "Folder saved" in s for s in _texts(app)), _texts(app)
    _wait_for_documents(app, ["sub/otter.md", "walrus.txt"])
    _wait_for_report(app)
    assert any("empty.txt: the file is empty" in w for w in _texts(app)), _texts(app)

    (team / "walrus.txt").unlink()
    app.button(key="sync_now").click().run()
    _wait_for_documents(app, ["sub/otter.md"])


def _wait_for_report(app: AppTest, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not any("Last sync" in m.value for m in app.markdown):
        assert time.monotonic() < deadline, "no sync report shown"
        time.sleep(0.5)
        app.run()


def test_with_sign_in_and_no_allowed_roots_folder_sync_is_off(
    make_app,
    shared: Path,  # noqa: F811 (the fixture)
    tmp_path: Path,
    fake_ollama: FakeOllamaServer,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv("RAG_SYNC_ROOTS", raising=False)
    app = documents_page(make_app, shared, fake_ollama.url, "alice")  # the owner
    assert any("Folder sync on the server is off" in i.value for i in app.info)
    assert not [w for w in app.text_input if (w.key or "").startswith("sync_folder")]
