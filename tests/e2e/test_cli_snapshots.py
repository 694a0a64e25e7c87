"""Snapshots through the command line: export, import elsewhere, refusals with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from rag_core.knowledge_base import KnowledgeBase
from tests.e2e.test_cli import run_cli


def test_export_then_import_round_trip(corpus_kb: KnowledgeBase, tmp_path: Path):
    archive = tmp_path / "backup.zip"
    exported = run_cli(
        "export", "documents", str(archive), "--with-files", data_dir=corpus_kb.settings.data_dir
    )
    assert exported.returncode == 0, exported.stderr
    chunks = corpus_kb.chunk_count()
    assert f"exported documents: 2 documents, {chunks} chunks, 2 files" in exported.stdout

    fresh = tmp_path / "fresh"
    imported = run_cli("import", str(archive), "--as", "restored", data_dir=fresh)
    assert imported.returncode == 0, imported.stderr
    assert f"imported restored: 2 documents, {chunks} chunks" in imported.stdout
    listed = run_cli("--collection", "restored", "documents", "--json", data_dir=fresh)
    names = sorted(d["name"] for d in json.loads(listed.stdout.strip().splitlines()[-1]))
    assert names == ["lshort-ko.pdf", "lshort.pdf"]
    found = run_cli(
        "--collection", "restored", "retrieve", "Knuth TeX 1977", "--mode", "bm25", data_dir=fresh
    )
    assert found.returncode == 0 and "lshort.pdf" in found.stdout

    again = run_cli("import", str(archive), "--as", "restored", data_dir=fresh)
    assert again.returncode == 2
    assert "already holds documents" in again.stderr and "--as NAME" in again.stderr

    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(archive.read_bytes()[:1000])
    refused = run_cli("import", str(damaged), "--as", "other", data_dir=fresh)
    assert refused.returncode == 2 and "damaged.zip is not a snapshot archive" in refused.stderr
    collections = run_cli("collections", "--json", data_dir=fresh)
    assert [c["name"] for c in json.loads(collections.stdout)] == ["restored"]
