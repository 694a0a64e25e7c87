"""The hard development set: a mixed Korean/English store of 14 real documents.

Documents (see ``tests/data/hard/README.md`` for sources and licences): ``lshort.pdf`` and
``lshort-ko.pdf`` (``tests/data``), ``gnuplot.pdf`` (``benchmarks/data``) and the files of
``tests/data/hard``. Questions: ``tests/data/hard/qa_hard.jsonl``; each has a
``translation`` (the question in the other language), which the test Ollama server
answers translation requests with (:func:`translation_table`), so cross-lingual rows
measure retrieval with a model that translates correctly, not a model's translations.
"""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.embeddings import Embeddings

from rag_core.config import build_settings
from rag_core.knowledge_base import KnowledgeBase

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
HARD = DATA / "hard"
QA_HARD = HARD / "qa_hard.jsonl"
HARD_DOCUMENTS = sorted(
    [
        DATA / "lshort.pdf",
        DATA / "lshort-ko.pdf",
        REPO / "benchmarks" / "data" / "gnuplot.pdf",
        *(p for p in HARD.iterdir() if p.suffix in (".pdf", ".hwpx")),
    ],
    key=lambda p: p.name,
)


def translation_table(path: Path = QA_HARD) -> dict[str, str]:
    """Question -> its translation, for every question of the set (the test server's
    lookup table for translation requests)."""
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            table[row["question"].strip()] = row["translation"].strip()
    return table


def build_hard_kb(data_dir: Path, embeddings: Embeddings, **overrides: object) -> KnowledgeBase:
    """Ingest every hard-set document into ``data_dir`` (skipped when already there).

    Raises:
        AssertionError: a document failed to ingest.
    """
    kb = KnowledgeBase(build_settings(data_dir=data_dir, **overrides), embeddings)
    have = {d.name for d in kb.documents()}
    for path in HARD_DOCUMENTS:
        if path.name not in have:
            result = kb.ingest_path(path)
            assert result.status == "indexed", f"{path.name}: {result.error}"
    return kb
