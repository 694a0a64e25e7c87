"""THREATS.md checklist, engine side: hostile files, faults and load on a real store.

Every malicious PDF is built here with pypdf's ``PdfWriter`` (no binary fixtures). Each bad
file is ingested into a knowledge base that already holds a good document, and every test
checks that nothing of the bad file was stored and the good document is untouched.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
import zlib
from argparse import Namespace
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    StreamObject,
)

from rag_core.__main__ import _cmd_documents, main
from rag_core.errors import (
    EmbeddingModelMismatchError,
    PasswordRequiredError,
    StoreBusyError,
    WrongPasswordError,
)
from rag_core.index.collections import list_collections
from rag_core.index.locking import write_lock
from rag_core.index.registry import registry_collection_name
from rag_core.index.vector_store import VectorStore, build_chroma_client
from rag_core.index.vectors import vectors_name
from rag_core.ingestion.loaders import display_name, load_bytes
from rag_core.ingestion.pipeline import FIRST_STORE_BATCH
from rag_core.ingestion.progress import IngestProgress
from rag_core.ingestion.reindex import reindex_into_new_collection
from rag_core.ingestion.worker import iter_pdf_pages
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT, REPO, pdf_pages, settings_for, text_pdf

GOOD_TEXT = b"Walruses live in the Arctic Ocean and use their tusks to haul out on ice."
PASSWORD = "c0rrect-h0rse-8attery"


class CountingEmbeddings(Embeddings):
    """Wraps a real model and counts the chunk texts it embeds."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.texts = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@pytest.fixture
def kb_with_good(tmp_path: Path, embeddings: Embeddings) -> KnowledgeBase:
    """A knowledge base holding one good document, ``good.txt``."""
    kb = KnowledgeBase(settings_for(tmp_path / "data"), embeddings, parse_timeout_s=30)
    assert kb.ingest_bytes("good.txt", GOOD_TEXT).status == "indexed"
    return kb


def assert_only_good(kb: KnowledgeBase) -> None:
    """Nothing but ``good.txt`` is stored: registry (any status), chunks and BM25 terms."""
    assert [d.name for d in kb.documents(include_incomplete=True)] == ["good.txt"]
    assert kb.chunk_count() == 1
    hits = kb.retriever(mode="bm25", k=5).invoke("walruses arctic tusks")
    assert [d.metadata["source"] for d in hits] == ["good.txt"]


def _font(writer: PdfWriter) -> DictionaryObject:
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    return DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})


def flate_bomb_pdf(megabytes: int) -> bytes:
    """One page whose content stream inflates to ``megabytes`` MiB of spaces (~1000:1)."""
    squeeze = zlib.compressobj(9)
    block = b" " * (1 << 20)
    packed = b"".join(squeeze.compress(block) for _ in range(megabytes)) + squeeze.flush()
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    stream = StreamObject()
    stream._data = packed
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    page[NameObject("/Resources")] = _font(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def appearance_bomb_pdf(megabytes: int) -> bytes:
    """One page without content whose annotation appearance inflates to ``megabytes`` MiB.

    pypdf's text extraction never reads annotation appearances, so the page has no text
    and goes to OCR, where PDFium renders the annotation (``may_draw_forms``) and inflates
    the stream: only the OCR worker's memory cap stops it (issue 21, item 8).
    """
    squeeze = zlib.compressobj(9)
    block = b" " * (1 << 20)
    packed = b"".join(squeeze.compress(block) for _ in range(megabytes)) + squeeze.flush()
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    box = ArrayObject([FloatObject(0), FloatObject(0), FloatObject(595), FloatObject(842)])
    appearance = StreamObject()
    appearance._data = packed
    appearance[NameObject("/Type")] = NameObject("/XObject")
    appearance[NameObject("/Subtype")] = NameObject("/Form")
    appearance[NameObject("/BBox")] = box
    appearance[NameObject("/Filter")] = NameObject("/FlateDecode")
    annotation = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Square"),
            NameObject("/Rect"): box,
            NameObject("/AP"): DictionaryObject({NameObject("/N"): writer._add_object(appearance)}),
        }
    )
    page[NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def cpu_bomb_pdf(operators: int = 300_000) -> bytes:
    """One page with ``operators`` text-showing operators (pypdf needs many seconds)."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    content = DecodedStreamObject()
    content.set_data(b"BT /F1 1 Tf " + b"1 0 Td (a) Tj " * operators + b"ET")
    page[NameObject("/Contents")] = writer._add_object(content)
    page[NameObject("/Resources")] = _font(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("inner.pdf", text_pdf(["zipped"]))
    return out.getvalue()


# --------------------------------------------------------------- rows 1-3: not a PDF
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", "the file is empty", id="row1-empty"),
        pytest.param(b"just some notes, not a PDF\n" * 20, "not a PDF file", id="row2-text"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(200), "not a PDF file", id="row2-png"),
        pytest.param(zip_bytes(), "not a PDF file", id="row2-zip"),
        pytest.param(
            text_pdf(["Walrus facts on page one.", "More facts."])[:600],
            "damaged or truncated",
            id="row3-truncated",
        ),
    ],
)
def test_files_that_are_not_readable_pdfs_are_rejected(
    kb_with_good: KnowledgeBase, data: bytes, expected: str
):
    result = kb_with_good.ingest_bytes("upload.pdf", data)
    assert result.status == "failed"
    assert result.error.startswith("upload.pdf: ") and expected in result.error
    assert_only_good(kb_with_good)


# --------------------------------------------------------------- rows 4-5: encryption
@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_encrypted_pdf_asks_for_password_then_ingests(
    kb_with_good: KnowledgeBase, algorithm: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    data = text_pdf(
        ["The narwhal tusk is a tooth.", "Narwhals live near Greenland."],
        user_password=PASSWORD,
        algorithm=algorithm,
    )
    assert PdfReader(io.BytesIO(data)).is_encrypted
    with pytest.raises(PasswordRequiredError, match="encrypted: enter its password"):
        kb_with_good.ingest_bytes("locked.pdf", data)
    assert_only_good(kb_with_good)
    with pytest.raises(WrongPasswordError, match=r"locked\.pdf: wrong password"):
        kb_with_good.ingest_bytes("locked.pdf", data, password="not-it")
    assert_only_good(kb_with_good)

    result = kb_with_good.ingest_bytes("locked.pdf", data, password=PASSWORD)
    assert result.status == "indexed" and result.pages == 2
    names = sorted(d.name for d in kb_with_good.documents())
    assert names == ["good.txt", "locked.pdf"]
    hits = kb_with_good.retriever(mode="bm25", k=1).invoke("narwhal tusk tooth")
    assert hits[0].metadata["source"] == "locked.pdf"
    assert caplog.records, "the engine logs nothing at DEBUG: the check below would be empty"
    assert PASSWORD not in caplog.text
    assert "not-it" not in caplog.text


def test_owner_password_only_aes_pdf_ingests_without_a_password(kb_with_good: KnowledgeBase):
    data = text_pdf(["Beluga whales are white."], user_password="", owner_password="0wner-only")
    assert PdfReader(io.BytesIO(data)).is_encrypted
    result = kb_with_good.ingest_bytes("owner.pdf", data)
    assert result.status == "indexed", result.error
    assert result.chunks == 1


# --------------------------------------------------------------- row 6: no text layer
def test_scanned_pdf_without_text_is_rejected(kb_with_good: KnowledgeBase):
    result = kb_with_good.ingest_bytes("scan.pdf", text_pdf(["", "", ""]))
    assert result.status == "failed"
    assert "no page has extractable text" in result.error
    assert_only_good(kb_with_good)


def test_mixed_pdf_reports_empty_pages_and_stores_none_of_them(kb_with_good: KnowledgeBase):
    data = text_pdf(["Orcas hunt in pods.", "", "Orcas are dolphins."])
    result = kb_with_good.ingest_bytes("mixed.pdf", data)
    assert result.status == "indexed"
    assert result.empty_pages == [2]
    assert result.page_kinds == {2: "blank"}  # no content stream: blank, not "scanned?"
    assert result.warning == "page 2: blank, nothing to read."
    stored = kb_with_good.store.collection.get(
        where={"sha256": result.sha256}, include=["documents", "metadatas"]
    )
    assert sorted(m["page"] for m in stored["metadatas"]) == [1, 3]
    assert all(text.strip() for text in stored["documents"])
    record = next(d for d in kb_with_good.documents() if d.name == "mixed.pdf")
    assert record.empty_pages == "2"


# --------------------------------------------------------------- rows 7-8: bombs
def test_decompression_bomb_is_stopped_by_the_reader_limit(kb_with_good: KnowledgeBase):
    data = flate_bomb_pdf(500)  # 500 MiB of spaces in a ~0.5 MB file
    assert len(data) < 1_000_000
    result = kb_with_good.ingest_bytes("bomb.pdf", data)
    assert result.status == "failed"
    assert "safety limits (decompression bomb?)" in result.error
    assert_only_good(kb_with_good)


def test_parse_memory_is_capped_in_the_worker():
    data = flate_bomb_pdf(70)  # under pypdf's 75 MB limit: only our memory cap stops it
    with pytest.raises(Exception, match="too large to read within the memory limit"):
        list(iter_pdf_pages("big.pdf", data, memory_limit=128 * 2**20, timeout_s=60))


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="no Tesseract: no OCR")
def test_a_bomb_only_the_ocr_renderer_inflates_is_refused_as_a_bomb(kb_with_good: KnowledgeBase):
    # 1 MB holding 1 GiB: the OCR worker hits its memory cap while rendering page 2. It
    # was "page 2 could not be OCR'd: OCR failed" (and the text page indexed without it).
    data = text_pdf(["Seals sleep on ice floes."])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.append(PdfReader(io.BytesIO(appearance_bomb_pdf(1024))))
    out = io.BytesIO()
    writer.write(out)
    assert len(out.getvalue()) < 1_100_000

    result = kb_with_good.ingest_bytes("bomb.pdf", out.getvalue())

    assert result.status == "failed", result.warning
    assert result.error_code == "limit"
    assert "safety limits (decompression bomb?)" in result.error
    assert "rendering page 2 for OCR" in result.error and "2048 MB memory limit" in result.error
    assert result.error_params == {"page": 2, "limit_mb": 2048}
    assert_only_good(kb_with_good)


def test_cpu_bomb_is_killed_at_the_timeout(kb_with_good: KnowledgeBase):
    data = cpu_bomb_pdf()
    with pytest.raises(Exception, match="too complex"):
        load_bytes("cpu.pdf", data, timeout_s=1)
    kb_with_good.parse_timeout_s = 1
    result = kb_with_good.ingest_bytes("cpu.pdf", data)
    assert result.status == "failed" and "cpu.pdf: the PDF is too complex" in result.error
    assert "took longer than 1 s" in result.error and result.error_params == {"seconds": 1}
    assert_only_good(kb_with_good)
    kb_with_good.parse_timeout_s = 30
    assert kb_with_good.ingest_bytes("next.txt", b"Seals sleep on ice floes.").status == "indexed"


def test_the_parse_limit_is_on_the_worker_not_on_a_slow_consumer():
    # Pages already read are served however long the caller spends between them (it embeds
    # earlier pages meanwhile); the limit is on the worker's own reading.
    pages = []
    for item in iter_pdf_pages("slow.pdf", text_pdf(["one", "two", "three"]), timeout_s=1):
        pages.append(item)
        time.sleep(0.6)
    assert [p[0] for p in pages[1:]] == [1, 2, 3]


def test_pages_are_embedded_while_later_pages_are_still_being_read(
    kb_with_good: KnowledgeBase,
):
    events: list[IngestProgress] = []
    served_while_indexing: list[set[str]] = []

    def on_progress(event: IngestProgress) -> None:
        events.append(event)
        if event.stage == "store" and not served_while_indexing:
            hits = kb_with_good.retriever(mode="dense", k=5).invoke("LaTeX document class")
            served_while_indexing.append({d.metadata["source"] for d in hits})

    result = kb_with_good.ingest_bytes(
        "lshort-part.pdf", pdf_pages(LSHORT, 10, 39), progress=on_progress
    )
    assert result.status == "indexed" and result.chunks > 2 * FIRST_STORE_BATCH
    # chunks already stored, but the document is not complete: not served yet
    assert served_while_indexing == [{"good.txt"}]
    hits = kb_with_good.retriever(mode="dense", k=5).invoke("LaTeX document class")
    assert "lshort-part.pdf" in {d.metadata["source"] for d in hits}
    stages = [(e.stage, e.done, e.total) for e in events]
    last_page = stages.index(("parse", 30, 30))
    first_embed = next(i for i, e in enumerate(events) if e.stage == "embed")
    assert first_embed < last_page  # streaming, not parse-everything-first
    embedded = [e for e in events if e.stage == "embed"]
    assert [e.done for e in embedded] == sorted(e.done for e in embedded)
    assert embedded[-1].done == embedded[-1].total == result.chunks
    assert all(e.total > e.done for e in embedded[:-1])  # estimates while pages remain
    stored = kb_with_good.store.collection.get(where={"sha256": result.sha256}, include=[])
    assert len(stored["ids"]) == result.chunks == kb_with_good.registry.get(result.sha256).chunks


def test_a_pdf_that_fails_part_way_leaves_nothing_and_keeps_the_old_version(
    kb_with_good: KnowledgeBase,
):
    old = kb_with_good.ingest_bytes("manual.pdf", text_pdf(["Narwhals have one long tusk."]))
    assert old.status == "indexed"
    # 30 real pages, then a page whose content stream is a decompression bomb: the worker
    # sends the good pages (embedded and stored meanwhile) before it fails on the last one.
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_pages(LSHORT, 10, 39))))
    writer.append(PdfReader(io.BytesIO(flate_bomb_pdf(500))))
    out = io.BytesIO()
    writer.write(out)
    events: list[IngestProgress] = []

    result = kb_with_good.ingest_bytes("manual.pdf", out.getvalue(), progress=events.append)

    assert result.status == "failed" and "safety limits" in result.error
    assert any(e.stage == "store" and e.done > 0 for e in events)  # chunks had been written
    assert sorted(d.name for d in kb_with_good.documents(include_incomplete=True)) == [
        "good.txt",
        "manual.pdf",
    ]
    [manual] = kb_with_good.registry.find_by_name("manual.pdf")
    assert manual.sha256 == old.sha256 and manual.status == "complete"
    assert kb_with_good.chunk_count() == 2  # good.txt and the old manual, nothing else
    assert result.sha256 and kb_with_good.files.find(result.sha256) is None
    hits = kb_with_good.retriever(mode="bm25", k=5).invoke("narwhals tusk latex document")
    assert hits[0].metadata["sha256"] == old.sha256
    assert result.sha256 not in {d.metadata["sha256"] for d in hits}


# --------------------------------------------------------------- row 9: hostile names
HOSTILE_NAMES = [
    ("../../x.pdf", "x.pdf"),
    ("a" * 500 + ".pdf", None),
    ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),
    ("<img src=x onerror=alert(1)>.pdf", "<img src=x onerror=alert(1)>.pdf"),
]


def test_hostile_file_names_are_never_used_as_paths(
    tmp_path: Path, embeddings: Embeddings, monkeypatch: pytest.MonkeyPatch
):
    cwd = tmp_path / "deep" / "cwd"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    data_dir = tmp_path / "deep" / "data"
    kb = KnowledgeBase(settings_for(data_dir), embeddings)
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(data_dir)}
    shown_names = []
    for index, (name, shown) in enumerate(HOSTILE_NAMES):
        result = kb.ingest_bytes(name, text_pdf([f"Hostile name test document {index}."]))
        assert result.status == "indexed", result.error
        shown_names.append(result.filename)
        if shown is not None:
            assert result.filename == shown
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(data_dir)}
    assert after == before  # nothing written outside the data directory
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "deep" / "x.pdf").exists()
    long_name = shown_names[1]
    assert len(long_name) <= 200 and long_name.endswith(".pdf")
    assert all("\u202e" not in n and "/" not in n for n in shown_names)
    assert sorted(d.name for d in kb.documents()) == sorted(shown_names)
    assert display_name("..\\..\\windows\\x.pdf") == "x.pdf"


# --------------------------------------------------------------- rows 12-13: idempotence
def test_same_content_twice_and_under_another_name_is_one_document(
    tmp_path: Path, embeddings: Embeddings
):
    counting = CountingEmbeddings(embeddings)
    kb = KnowledgeBase(settings_for(tmp_path / "data"), counting)
    data = text_pdf(["Manatees graze on sea grass.", "Manatees are slow swimmers."])
    counting.texts = 0
    first = kb.ingest_bytes("manatee.pdf", data)
    assert first.status == "indexed" and first.embedded == first.chunks == 2
    assert counting.texts == 2
    again = kb.ingest_bytes("manatee.pdf", data)
    renamed = kb.ingest_bytes("copy of manatee.pdf", data)
    assert again.status == renamed.status == "unchanged"
    assert again.indexed_as == ""
    assert renamed.indexed_as == "manatee.pdf"
    assert counting.texts == 2  # embeddings computed once
    assert [d.name for d in kb.documents()] == ["manatee.pdf"]
    assert kb.chunk_count() == 2


def _sources(kb: KnowledgeBase, question: str) -> dict[str, set[str]]:
    return {
        mode: {d.metadata["source"] for d in kb.retriever(mode=mode, k=5).invoke(question)}
        for mode in ("dense", "bm25", "hybrid")
    }


def test_changed_file_replaces_and_delete_survives_a_restart(
    tmp_path: Path, embeddings: Embeddings
):
    settings = settings_for(tmp_path / "data")
    kb = KnowledgeBase(settings, embeddings)
    kb.ingest_bytes("other.txt", b"Penguins cannot fly but they swim very well.")
    old = kb.ingest_bytes("dugong.pdf", text_pdf(["Dugongs eat seagrass in shallow bays."]))
    new = kb.ingest_bytes("dugong.pdf", text_pdf(["Dugongs are related to elephants."]))
    assert new.replaced == [old.sha256]
    stored = kb.store.collection.get(where={"sha256": old.sha256}, include=[])
    assert stored["ids"] == []
    assert "dugong.pdf" in _sources(kb, "dugong elephants")["bm25"]

    before = _sources(kb, "dugongs seagrass elephants")
    assert all("dugong.pdf" in sources for sources in before.values()), before
    removed = kb.delete("dugong.pdf")
    assert [r.sha256 for r in removed] == [new.sha256]
    after = _sources(kb, "dugongs seagrass elephants")
    assert after == {"dense": {"other.txt"}, "bm25": set(), "hybrid": {"other.txt"}}
    restarted = KnowledgeBase(settings, embeddings)
    assert [d.name for d in restarted.documents(include_incomplete=True)] == ["other.txt"]
    assert _sources(restarted, "dugongs seagrass elephants") == after
    assert restarted.chunk_count() == 1


# --------------------------------------------------------------- row 20: kill -9
KILL_SCRIPT = """
import sys, time
from pathlib import Path
import rag_core.ingestion.pipeline as pipeline
import rag_core.knowledge_base as knowledge_base
from rag_core.config import build_settings
from tests.conftest import LSHORT, default_embeddings, pdf_pages

pipeline.STORE_BATCH = 8
kb = knowledge_base.KnowledgeBase(
    build_settings(data_dir=Path(sys.argv[1])), default_embeddings()
)

def stall(event):
    if event.stage == "store" and 0 < event.done < event.total:
        print("stored", event.done, event.total, flush=True)
        time.sleep(600)  # killed here, mid-ingest

kb.ingest_bytes("lshort-part.pdf", pdf_pages(LSHORT, 10, 39), progress=stall)
print("finished", flush=True)
"""


def test_kill_9_mid_ingest_then_the_next_ingest_completes_it(
    tmp_path: Path, embeddings: Embeddings
):
    data_dir = tmp_path / "data"
    script = tmp_path / "ingest_then_stall.py"
    script.write_text(KILL_SCRIPT)
    child = subprocess.Popen(
        [sys.executable, str(script), str(data_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = child.stdout.readline()
        assert line.startswith("stored "), f"the ingest did not reach the store: {line!r}"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    stored_before = int(line.split()[1])

    counting = CountingEmbeddings(embeddings)
    kb = KnowledgeBase(settings_for(data_dir), counting)
    assert kb.documents() == []  # not listed as complete
    [half] = kb.documents(include_incomplete=True)
    assert half.status == "indexing" and half.name == "lshort-part.pdf"
    assert kb.chunk_count() == stored_before
    for mode in ("dense", "hybrid"):  # its stored chunks are not served either
        assert kb.retriever(mode=mode, k=5).invoke("LaTeX document class") == []

    counting.texts = 0
    result = kb.ingest_bytes("lshort-part.pdf", pdf_pages(LSHORT, 10, 39))
    assert result.status == "indexed"
    assert result.embedded == result.chunks - stored_before < result.chunks
    assert counting.texts == result.embedded  # only the missing chunks were embedded
    [done] = kb.documents()
    assert done.status == "complete" and done.chunks == result.chunks == kb.chunk_count()
    assert kb.keyword_index.document_chunk_ids(result.sha256) == set(
        kb.store.collection.get(where={"sha256": result.sha256}, include=[])["ids"]
    )
    assert kb.ingest_bytes("lshort-part.pdf", pdf_pages(LSHORT, 10, 39)).status == "unchanged"


# --------------------------------------------------------------- row 19: one writer
LOCK_SCRIPT = """
import sys
from pathlib import Path
from rag_core.index.locking import write_lock

with write_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_second_writer_fails_fast_with_a_clear_message(kb_with_good: KnowledgeBase, tmp_path):
    script = tmp_path / "hold_lock.py"
    script.write_text(LOCK_SCRIPT)
    holder = subprocess.Popen(
        [sys.executable, str(script), str(kb_with_good.settings.lock_path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreBusyError, match="another process is writing to the store"):
            kb_with_good.ingest_bytes("seal.txt", b"Seals sleep on ice.", lock_timeout_s=0)
        with pytest.raises(StoreBusyError):
            kb_with_good.delete("good.txt")
        assert_only_good(kb_with_good)
    finally:
        holder.stdin.close()
        holder.wait()
    assert kb_with_good.ingest_bytes("seal.txt", b"Seals sleep on ice.").status == "indexed"


def test_write_lock_is_exclusive_within_one_process(tmp_path: Path):
    lock = tmp_path / "write.lock"
    with write_lock(lock), pytest.raises(StoreBusyError), write_lock(lock, timeout_s=0):
        pass
    with write_lock(lock):  # released again
        pass


# --------------------------------------------------------------- row 14: model switch
def test_model_switch_is_detected_and_reindex_rebuilds_the_collection(
    tmp_path: Path, embeddings: Embeddings
):
    settings = settings_for(tmp_path / "data", embedding_backend="torch")  # plain fp32
    kb = KnowledgeBase(settings, embeddings)
    kb.ingest_bytes("walrus.txt", GOOD_TEXT)
    kb.ingest_bytes("penguin.txt", b"Penguins cannot fly but they swim very well.")
    ids = set(kb.store.collection.get(include=[])["ids"])

    other = DeterministicFakeEmbedding(size=768)
    with pytest.raises(EmbeddingModelMismatchError) as caught:
        KnowledgeBase(settings, other, model_name="fake-768")
    message = str(caught.value)
    assert "all-MiniLM-L6-v2 (384 dimensions)" in message
    assert "fake-768 (768 dimensions)" in message and "re-index" in message

    events: list[IngestProgress] = []
    assert (
        reindex_into_new_collection(settings, other, model_name="fake-768", progress=events.append)
        == 2
    )
    reindexed = KnowledgeBase(settings, other, model_name="fake-768")
    assert set(reindexed.store.collection.get(include=[])["ids"]) == ids
    meta = reindexed.store.collection.metadata
    assert meta["embedding_model"] == "fake-768" and meta["embedding_dim"] == 768
    assert [e.done for e in events if e.stage == "embed"][-1] == 2
    assert sorted(d.name for d in reindexed.documents()) == ["penguin.txt", "walrus.txt"]
    hits = reindexed.retriever(mode="dense", k=2).invoke("anything")
    assert len(hits) == 2 and len(reindexed.embeddings.embed_query("x")) == 768
    # the old vectors are gone: the registry and the new vectors (named by the pointer)
    assert {c.name for c in build_chroma_client(settings.chroma_dir).list_collections()} == {
        vectors_name(settings.collection, "fake-768"),
        registry_collection_name(settings.collection),
    }
    assert list(list_collections(settings)) == [settings.collection]
    reopened = KnowledgeBase(settings, other, model_name="fake-768")  # no mismatch any more
    assert reopened.chunk_count() == 2
    with pytest.raises(EmbeddingModelMismatchError):
        KnowledgeBase(settings, embeddings)


def test_cli_reindex_after_a_model_switch(
    tmp_path: Path,
    embeddings: Embeddings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    data_dir = tmp_path / "data"
    old = KnowledgeBase(settings_for(data_dir), embeddings, model_name="old-model")
    old.ingest_bytes("otter.txt", b"Sea otters hold hands while they sleep.")
    monkeypatch.setattr(  # the real model, loaded once per test run
        "rag_core.knowledge_base.build_embeddings", lambda *args, **kwargs: embeddings
    )
    base = ["--data-dir", str(data_dir)]
    assert main([*base, "documents", "--json"]) == 2
    assert "python -m rag_core reindex" in capsys.readouterr().err
    assert main([*base, "reindex"]) == 0
    assert "re-indexed 1 chunks with all-MiniLM-L6-v2" in capsys.readouterr().out
    assert main([*base, "documents", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["name"] == "otter.txt" and row["status"] == "complete"


# --------------------------------------------------------------- row 15: large documents
def test_more_chunks_than_chromas_max_batch_are_all_written(tmp_path: Path):
    from langchain_core.documents import Document

    client = build_chroma_client(tmp_path / "chroma")
    assert client.get_max_batch_size() < 6000
    store = VectorStore(client, "big", model_name="fake-8", dimension=lambda: 8)
    chunks = [
        Document(id=f"c{i}", page_content=f"chunk {i}", metadata={"sha256": "s", "page": 1})
        for i in range(6000)
    ]
    vectors = [[float(i % 7), 1.0, 0, 0, 0, 0, 0, float(i)] for i in range(6000)]
    store.upsert(chunks, vectors)
    assert store.count() == 6000
    got = store.collection.get(ids=["c0", "c5999"], include=["documents"])
    assert sorted(got["documents"]) == ["chunk 0", "chunk 5999"]


# --------------------------------------------------------------- progress and CLI
def test_progress_reports_pages_per_stage_with_an_eta(kb_with_good: KnowledgeBase):
    events: list[IngestProgress] = []
    kb_with_good.ingest_bytes(
        "three.pdf", text_pdf(["Sea otters.", "Sea lions.", "Sea cows."]), progress=events.append
    )
    parse = [(e.done, e.total) for e in events if e.stage == "parse"]
    assert parse[:4] == [(0, 1), (1, 3), (2, 3), (3, 3)]  # pages done/total as they arrive
    assert [e.stage for e in events][-1] == "done"
    stages = [e.stage for e in events]
    assert stages.index("parse") < stages.index("split") < stages.index("embed")
    assert all(e.eta_s is not None and e.eta_s >= 0 for e in events if e.done > 0)
    assert IngestProgress("f", "embed", 1, 4, 9.0, 2.0).eta_s == pytest.approx(6.0)
    assert IngestProgress("f", "embed", 0, 4, 9.0, 2.0).eta_s is None
    assert IngestProgress("f", "embed", 4, 4, 9.0, 2.0).eta_s == 0.0


def test_cli_documents_json_has_the_registry_fields(
    kb_with_good: KnowledgeBase, capsys: pytest.CaptureFixture[str]
):
    assert _cmd_documents(kb_with_good, Namespace(json=True)) == 0
    [row] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["name"] == "good.txt" and len(row["sha256"]) == 64
    assert row["pages"] == 1 and row["chunks"] == 1 and row["status"] == "complete"
