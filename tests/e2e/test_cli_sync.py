"""``python -m rag_core sync`` end to end: a sync, a dry run as JSON, watching a folder."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import LSHORT, REPO, pdf_pages, process_stacks
from tests.e2e.test_cli import run_cli


def test_sync_then_dry_run_json_then_sync_the_change(tmp_path: Path):
    folder = tmp_path / "shared"
    (folder / "docs").mkdir(parents=True)
    (folder / "old").mkdir()
    (folder / "docs" / "a.txt").write_text("Walruses live in the Arctic.")
    (folder / "old" / "a.txt").write_text("Penguins live in the Antarctic.")
    (folder / "guide.pdf").write_bytes(pdf_pages(LSHORT, 15, 15))
    (folder / "empty.md").write_bytes(b"")
    data = tmp_path / "data"
    done = run_cli("sync", str(folder), "--collection", "team", data_dir=data)
    assert done.returncode == 1, done.stderr  # empty.md is reported as bad
    assert "add: docs/a.txt (indexed, 1 chunk)" in done.stdout
    assert "add: old/a.txt (indexed, 1 chunk)" in done.stdout
    assert "skipped: empty.md (the file is empty (0 bytes))" in done.stdout
    assert "3 add, 1 skipped" in done.stdout
    listed = run_cli("--collection", "team", "documents", "--json", data_dir=data)
    names = sorted(d["name"] for d in json.loads(listed.stdout.strip().splitlines()[-1]))
    assert names == ["docs/a.txt", "guide.pdf", "old/a.txt"]

    (folder / "empty.md").unlink()
    (folder / "old" / "a.txt").unlink()
    (folder / "docs" / "a.txt").write_text("Walruses live in the Arctic; their tusks grow.")
    dry = run_cli("sync", str(folder), "--collection", "team", "--dry-run", "--json", data_dir=data)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout.strip().splitlines()[-1])
    assert plan["dry_run"] is True
    assert {i["name"]: i["action"] for i in plan["items"]} == {
        "docs/a.txt": "replace",
        "guide.pdf": "unchanged",
        "old/a.txt": "remove",
    }
    listed = run_cli("--collection", "team", "documents", "--json", data_dir=data)
    assert len(json.loads(listed.stdout.strip().splitlines()[-1])) == 3  # nothing changed

    synced = run_cli("sync", str(folder), "--collection", "team", "--json", data_dir=data)
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout.strip().splitlines()[-1])
    assert report["counts"]["replace"] == 1 and report["counts"]["remove"] == 1
    listed = run_cli("--collection", "team", "documents", "--json", data_dir=data)
    names = sorted(d["name"] for d in json.loads(listed.stdout.strip().splitlines()[-1]))
    assert names == ["docs/a.txt", "guide.pdf"]


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def _next_json(lines: queue.Queue, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no sync report in time"
        line = lines.get(timeout=left)
        if line.startswith("{"):
            return json.loads(line)


def test_watch_syncs_a_new_file_and_stops_on_ctrl_c(tmp_path: Path):
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "a.txt").write_text("Walruses live in the Arctic.")
    env = dict(os.environ, RAG_OLLAMA_HOST="http://127.0.0.1:9", HF_HUB_OFFLINE="1")
    cli = [sys.executable, "-m", "rag_core", "--data-dir", str(tmp_path / "data")]
    proc = subprocess.Popen(
        [*cli, "sync", str(folder), "--watch", "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    notes: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    threading.Thread(target=_lines, args=(proc.stderr, notes), daemon=True).start()
    try:
        first = _next_json(lines, 240)
        assert [(i["name"], i["status"]) for i in first["items"]] == [("a.txt", "indexed")]
        assert notes.get(timeout=60).startswith("watching")  # after the first sync
        time.sleep(1.0)  # watchfiles sets up its inotify watch as it starts
        (folder / "sub").mkdir()
        (folder / "sub" / "b.md").write_text("Narwhals have one long tusk.")
        second = _next_json(lines, 120)
        statuses = {i["name"]: i["status"] for i in second["items"]}
        assert statuses == {"a.txt": "unchanged", "sub/b.md": "indexed"}
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("sync --watch did not stop on Ctrl-C:\n" + process_stacks(proc.pid))
        assert code == 0
        assert notes.get(timeout=10).startswith("stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
