"""Section-aware chunks: heading paths from bookmarks or font sizes, cut at section starts."""

from __future__ import annotations

import io

import pytest
from langchain_core.documents import Document
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from rag_core.generation.citations import build_citations
from rag_core.index.chunks import TERMS_METADATA_KEY, embedded_text, keyword_text
from rag_core.index.keyword import StoreKeywordSource
from rag_core.ingestion.loaders import load_bytes
from rag_core.ingestion.sections import MAX_HEADING_CHARS, MAX_SECTION_CHARS, Sections
from rag_core.ingestion.splitting import build_splitter, split_pages
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT

BODY = {
    "walrus": "Walruses haul out on sea ice in large herds and rest there between dives. " * 4,
    "diet": "They eat clams, which they find by touch with their whiskers on the sea bed. " * 4,
    "narwhal": "Narwhals carry a long spiral tusk, which is a tooth grown through the lip. " * 4,
}
"""Body text per section; no body sentence names its heading ("Diet" is only a heading)."""


def mammals_pdf(*, outline: bool, title: str = "Marine Mammals of the Arctic") -> bytes:
    """Two A4 pages: "1 Walruses" and "1.1 Diet" (page 1, mid-page), "2 Narwhals" (page 2).

    Headings in Helvetica-Bold 20 pt / 14 pt, body in Helvetica 10 pt; with ``outline``
    the bookmarks are added by pypdf (``add_outline_item``).
    """
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setTitle(title)
    y = 800.0

    def line(text: str, font: str, size: float) -> None:
        nonlocal y
        pdf.setFont(font, size)
        pdf.drawString(60, y, text)
        y -= size * 1.6

    def body(text: str) -> None:
        words, current = text.split(), ""
        for word in words:
            if len(current) + len(word) > 90:
                line(current, "Helvetica", 10)
                current = ""
            current = f"{current} {word}".strip()
        line(current, "Helvetica", 10)

    line("1 Walruses", "Helvetica-Bold", 20)
    body(BODY["walrus"])
    line("1.1 Diet", "Helvetica-Bold", 14)
    body(BODY["diet"])
    pdf.showPage()
    y = 800.0
    body("More about clams: they are swallowed without the shell, sucked out whole. " * 2)
    line("2 Narwhals", "Helvetica-Bold", 20)
    body(BODY["narwhal"])
    pdf.showPage()
    pdf.save()
    if not outline:
        return buf.getvalue()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    walruses = writer.add_outline_item("Walruses", 0)
    writer.add_outline_item("Diet", 0, parent=walruses)
    writer.add_outline_item("Narwhals", 1)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _chunks(data: bytes, size: int = 200):
    loaded = load_bytes("mammals.pdf", data)
    texts = {p.metadata["page"]: p.page_content for p in loaded.pages}
    return split_pages(loaded.pages, build_splitter(size, size // 10)), texts


def _section_of(chunks, words: str) -> set[str]:
    return {c.metadata.get("section", "") for c in chunks if words in c.page_content}


def test_bookmarks_give_every_chunk_its_heading_path_and_the_title():
    chunks, texts = _chunks(mammals_pdf(outline=True))
    assert _section_of(chunks, "haul out") == {"Walruses"}
    assert _section_of(chunks, "whiskers") == {"Walruses > Diet"}
    assert _section_of(chunks, "swallowed") == {"Walruses > Diet"}  # carried to page 2
    assert _section_of(chunks, "spiral tusk") == {"Narwhals"}
    assert {c.metadata["doc_title"] for c in chunks} == {"Marine Mammals of the Arctic"}
    for chunk in chunks:  # offsets still point into the page's text
        start, end = chunk.metadata["start_index"], chunk.metadata["end_index"]
        assert texts[chunk.metadata["page"]][start:end] == chunk.page_content


def test_a_chunk_never_spans_a_section_start():
    chunks, _ = _chunks(mammals_pdf(outline=True))
    for chunk in chunks:
        pairs = (("walrus", "haul"), ("diet", "whiskers"))
        sections = {name for name, words in pairs if words in chunk.page_content}
        assert len(sections) <= 1, chunk.page_content
        assert not ("swallowed" in chunk.page_content and "tusk" in chunk.page_content)
    firsts = [c for c in chunks if c.page_content.startswith(("1.1 Diet", "2 Narwhals"))]
    assert len(firsts) == 2  # each section's first chunk starts with its heading


def test_without_bookmarks_headings_come_from_font_size_and_weight():
    chunks, _ = _chunks(mammals_pdf(outline=False, title="untitled"))
    assert _section_of(chunks, "haul out") == {"1 Walruses"}
    assert _section_of(chunks, "whiskers") == {"1 Walruses > 1.1 Diet"}
    assert _section_of(chunks, "swallowed") == {"1 Walruses > 1.1 Diet"}
    assert _section_of(chunks, "spiral tusk") == {"2 Narwhals"}  # closes 1 and 1.1
    # ReportLab's placeholder /Title is not a title: the first heading of page 1 is
    assert {c.metadata["doc_title"] for c in chunks} == {"1 Walruses"}


def test_title_falls_back_to_the_first_top_level_bookmark_then_the_file_name():
    assert Sections("a.pdf", "", [[0, "Preface", 2], [1, "Thanks", 2]]).doc_title == "Preface"
    assert Sections("annual report.pdf").doc_title == "annual report"
    assert Sections("a.pdf", "Microsoft Word - plan.docx").doc_title == "plan.docx"


@pytest.fixture(scope="module")
def lshort_chunks():
    loaded = load_bytes("lshort.pdf", LSHORT.read_bytes())
    return split_pages(loaded.pages, build_splitter(500, 50))


def test_lshort_bookmarks_become_heading_paths(lshort_chunks):
    assert _section_of(lshort_chunks, "To publish something, authors give") == {
        "Things You Need to Know > Basics > Author, Book Designer, and Typesetter"
    }
    assert _section_of(lshort_chunks, "The AMS-LATEX bundle is a collection") == {
        "Typesetting Mathematical Formulae > The AMS-LaTeX bundle"
    }
    page57 = [c for c in lshort_chunks if c.metadata["page"] == 57]
    assert {c.metadata["section"] for c in page57} >= {
        "Typesetting Mathematical Formulae",
        "Typesetting Mathematical Formulae > The AMS-LaTeX bundle",
        "Typesetting Mathematical Formulae > Single Equations",
    }
    starts = [c for c in page57 if c.page_content.startswith("3.2 Single Equations")]
    assert len(starts) == 1  # the section's first chunk starts at its heading
    assert all("section_starts" not in c.metadata for c in lshort_chunks)
    assert sum("section" in c.metadata for c in lshort_chunks) / len(lshort_chunks) > 0.95


def test_hostile_outline_titles_are_bounded_and_printable():
    hostile = "\u202eevil\x00\x1b[31m" + "x" * 5000 + "\n![img](http://127.0.0.1/leak)"
    sections = Sections("h.pdf", hostile, [[depth, hostile, 1] for depth in range(40)])
    [(_, path)] = sections.page_starts(2, "text")
    assert len(path) <= MAX_SECTION_CHARS
    assert all(ch.isprintable() and ch not in "\u202e\n" for ch in path)
    assert len(sections.doc_title) <= MAX_HEADING_CHARS and "\x1b" not in sections.doc_title


def test_indexed_text_has_the_heading_and_the_shown_passage_does_not(empty_kb: KnowledgeBase):
    result = empty_kb.ingest_bytes("mammals.pdf", mammals_pdf(outline=True))
    assert result.status == "indexed", result.error
    store = empty_kb.store
    [(chunk_id, text, meta)] = [  # page 2: under "1.1 Diet", which is on page 1
        row for row in store.document_chunks(result.sha256) if "swallowed" in row[1]
    ]
    assert "Diet" not in text and "Marine Mammals" not in text  # what the sources show
    assert meta["section"] == "Walruses > Diet"
    stored_terms = meta[TERMS_METADATA_KEY].split()
    assert "diet" in stored_terms and "mammal" in stored_terms  # what BM25 indexed
    source = StoreKeywordSource(empty_kb.registry, store)
    by_id = {i: t for i, t, _ in source.document_chunks(result.sha256)}
    assert empty_kb.keyword_index.analyzer.analyze([by_id[chunk_id]])[0] == stored_terms
    hits = empty_kb.retriever(mode="bm25", k=5).retrieve("diet")
    [hit] = [h for h in hits if h.id == chunk_id]  # found by its heading alone
    assert hit.page_content == text
    chunk = Document(text, metadata=meta)
    assert embedded_text(chunk) == f"Walruses > Diet\n{text}"  # the title: BM25 only
    assert keyword_text(chunk).startswith("Marine Mammals of the Arctic > Walruses > Diet\n")
    assert keyword_text(chunk).endswith(text)
    [citation] = build_citations([hit])
    assert citation.section == "Walruses > Diet"
    assert citation.location == f"{citation.page_display} · {citation.section}"


def test_reingest_is_idempotent_with_stable_ids(empty_kb: KnowledgeBase):
    data = mammals_pdf(outline=True)
    first = empty_kb.ingest_bytes("mammals.pdf", data)
    ids = sorted(i for i, _, _ in empty_kb.store.document_chunks(first.sha256))
    again = empty_kb.ingest_bytes("mammals.pdf", data)
    assert again.status == "unchanged" and again.chunks == first.chunks
    chunks, _ = _chunks(data, empty_kb.settings.chunk_size)
    assert empty_kb.settings.chunk_overlap == empty_kb.settings.chunk_size // 10
    assert sorted(str(c.id) for c in chunks) == ids  # the same cut gives the same ids
