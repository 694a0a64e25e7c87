"""OCR of pages without usable text: real Tesseract on real pages made into scans.

One mixed PDF is ingested once per session (a text page, a scanned Korean page, a scanned
page under a garbage text layer) at a modest resolution; the other tests read files
without embedding them, and only two of them run Tesseract (one page each).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from rag_core.errors import NoTextError
from rag_core.evaluation.ocr import character_error_rate, levenshtein
from rag_core.generation.citations import build_citations
from rag_core.index.files import page_words
from rag_core.ingestion.loaders import load_bytes
from rag_core.ingestion.ocr import (
    INSTALL_COMMAND,
    OcrOptions,
    OcrPage,
    is_garbage,
    iter_ocr,
    needs_ocr,
    ocr_text,
    tesseract_problem,
)
from rag_core.ingestion.progress import IngestProgress, IngestResult
from rag_core.knowledge_base import KnowledgeBase
from rag_core.language import hangul_share
from rag_core.sources.page_view import render_cited_page
from tests.conftest import LSHORT, LSHORT_KO, pdf_pages, settings_for
from tests.scans import (
    ENGLISH_PAGES,
    HANGUL_PAGES,
    KOREAN_PAGES,
    garbage_text_pdf,
    huge_image_pdf,
    join_pdfs,
    scanned_copy,
    text_scan,
)

pytestmark = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason=f"Tesseract is not installed: {INSTALL_COMMAND}",
)
HANGUL = range(0xAC00, 0xD7A4)
FAST = {"ocr_dpi": 200}
"""Tests read 150-dpi scans at 200 dpi (the product default is 300)."""


@pytest.fixture(scope="session")
def mixed_pdf() -> bytes:
    """Page 1 text (lshort-ko p. 19), 2 a scan of p. 41, 3 a scan of p. 57 under garbage."""
    scans = scanned_copy(LSHORT_KO, [41, 57], dpi=150)
    reader = PdfReader(io.BytesIO(scans))
    first, second = PdfWriter(), PdfWriter()
    first.add_page(reader.pages[0])
    second.add_page(reader.pages[1])
    out1, out2 = io.BytesIO(), io.BytesIO()
    first.write(out1)
    second.write(out2)
    garbage = garbage_text_pdf(out2.getvalue())
    return join_pdfs(pdf_pages(LSHORT_KO, 19, 19), out1.getvalue(), garbage)


@pytest.fixture(scope="session")
def ocr_kb(tmp_path_factory, embeddings, mixed_pdf):
    """The mixed PDF ingested with OCR on "auto", with its progress events."""
    kb = KnowledgeBase(settings_for(tmp_path_factory.mktemp("ocr-data"), **FAST), embeddings)
    events: list[IngestProgress] = []
    result = kb.ingest_bytes("mixed.pdf", mixed_pdf, progress=events.append)
    return kb, result, events


def test_scanned_pages_are_ocrd_searchable_and_marked(ocr_kb):
    kb, result, events = ocr_kb
    assert result.status == "indexed", result.error
    assert result.ocr_pages == [2, 3] and not result.empty_pages and not result.ocr_skipped
    assert result.warning == "pages 2, 3: read by OCR."
    ocr_events = [e for e in events if e.stage == "ocr"]
    assert [(e.done, e.total) for e in ocr_events] == [(1, 2), (2, 2)]
    assert ocr_events[-1].eta_s == 0.0
    hits = kb.retriever(mode="bm25", k=3).invoke("교차참조 명령 label ref pageref")
    assert hits and hits[0].metadata["page"] == 2 and hits[0].metadata["ocr"] is True
    assert sum(ord(c) in HANGUL for c in hits[0].page_content) > 50
    assert build_citations(hits)[0].ocr is True
    page1 = [d for d in kb.retriever(mode="bm25", k=20).invoke("LaTeX") if d.metadata["page"] == 1]
    assert page1 and not any(d.metadata.get("ocr") for d in page1)


def test_garbage_text_layer_is_replaced_by_ocr(ocr_kb, mixed_pdf):
    kb, _, _ = ocr_kb
    layer = PdfReader(io.BytesIO(mixed_pdf)).pages[2].extract_text()
    assert "(cid:" in layer and is_garbage(layer)
    chunks = kb.retriever(mode="bm25", k=10).invoke("수식 함수 이름 정의 DeclareMathOperator")
    from_page3 = [d for d in chunks if d.metadata["page"] == 3]
    assert from_page3
    assert all("(cid:" not in d.page_content and d.metadata["ocr"] for d in from_page3)
    assert "DeclareMathOperator" in " ".join(d.page_content for d in from_page3)


def test_page_view_highlights_an_ocr_passage_from_word_boxes(ocr_kb):
    kb, result, _ = ocr_kb
    stored = kb.files.find(result.sha256)
    assert stored is not None and stored.suffix == ".pdf"
    words = page_words(stored, 2)
    assert words and all(0 <= w[1] <= w[3] <= 1 and 0 <= w[2] <= w[4] <= 1 for w in words)
    hit = kb.retriever(mode="bm25", k=1).invoke("교차참조 명령 label ref pageref")[0]
    view = render_cited_page(stored, 2, hit.page_content, scale=0.5)
    assert view.found and view.highlighted == "passage" and len(view.boxes) >= 2
    # the boxes lie inside the page and inside the text block, not over the whole page
    assert all(0 <= b.left < b.right <= 596 and 0 <= b.bottom < b.top <= 842 for b in view.boxes)
    assert max(b.right - b.left for b in view.boxes) < 500
    elsewhere = render_cited_page(stored, 3, hit.page_content, scale=0.3)
    assert not elsewhere.found


def test_ocr_off_keeps_todays_behaviour(mixed_pdf):
    loaded = load_bytes("mixed.pdf", mixed_pdf, ocr=OcrOptions(mode="off"))
    assert [p.metadata["page"] for p in loaded.pages] == [1, 3]
    assert loaded.empty_pages == [2]
    assert not any(p.metadata.get("ocr") for p in loaded.pages)
    with pytest.raises(NoTextError, match="scanned"):
        load_bytes("scan.pdf", scanned_copy(LSHORT_KO, [41], dpi=72), ocr=OcrOptions(mode="off"))


def test_force_ocrs_pages_that_have_text():
    loaded = load_bytes(
        "lshort.pdf", pdf_pages(LSHORT, 15, 15), ocr=OcrOptions(mode="force", dpi=150)
    )
    (page,) = loaded.pages
    assert page.metadata["ocr"] is True
    assert "Knuth" in page.page_content and "1977" in page.page_content


def test_without_tesseract_the_upload_works_and_names_the_pages(tmp_path, embeddings, mixed_pdf):
    settings = settings_for(tmp_path / "data", tesseract_cmd=str(tmp_path / "no-tesseract"))
    kb = KnowledgeBase(settings, embeddings)
    result = kb.ingest_bytes("mixed.pdf", mixed_pdf)
    assert result.status == "indexed" and result.chunks > 0
    assert result.ocr_skipped == {2: "unavailable", 3: "unavailable"}
    assert "pages 2, 3: could not be OCR'd" in result.warning
    assert INSTALL_COMMAND in result.warning
    assert kb.documents()[0].empty_pages == "2,3"
    scan_only = kb.ingest_bytes("scan.pdf", scanned_copy(LSHORT_KO, [41], dpi=72))
    assert scan_only.status == "failed" and scan_only.error_code == "ocr_unavailable"
    assert INSTALL_COMMAND in scan_only.error and "page 1" in scan_only.error


def test_missing_language_names_its_package(tmp_path):
    assert tesseract_problem("tesseract", "kor+eng") == ""
    problem = tesseract_problem("tesseract", "kor+zzz")
    assert "apt-get install tesseract-ocr-zzz" in problem
    assert INSTALL_COMMAND in tesseract_problem(str(tmp_path / "none"), "kor+eng")


def test_huge_page_images_are_reported_not_decoded():
    """THREATS 27: a 50,000 x 50,000 pixel scan and a 200 x 200 inch page are bounded."""
    writer = PdfWriter()
    huge = writer.add_blank_page(14400, 14400)  # 200 inches: 3.7e9 pixels at 300 dpi
    stroke = DecodedStreamObject()  # with some ink: a page that draws nothing is blank
    stroke.set_data(b"10 w 100 100 m 14000 14000 l S")
    huge[NameObject("/Contents")] = writer._add_object(stroke)
    out = io.BytesIO()
    writer.write(out)
    pdf = join_pdfs(pdf_pages(LSHORT, 15, 15), huge_image_pdf(50_000), out.getvalue())
    loaded = load_bytes("huge.pdf", pdf, ocr=OcrOptions(page_timeout_s=30))
    assert [p.metadata["page"] for p in loaded.pages] == [1]
    with PageStreamResult(pdf) as stream:
        assert stream.ocr_skipped == {2: "too_large", 3: "too_large"}
        details = stream.ocr_details
    # named with their size and the limit, not "OCR could not read them" (issue 21, item 8)
    image = {"what": "image", "width": 50_000, "height": 50_000, "limit": 178_956_970}
    page = {"what": "page", "width": 20_000, "height": 20_000, "dpi": 100, "limit": 40_000_000}
    assert details == {2: image, 3: page}
    result = IngestResult("huge.pdf", "", "indexed", ocr_skipped=stream.ocr_skipped)
    result.ocr_details = details
    assert result.warning == (
        "page 2: not OCR'd, it holds a 50000 x 50000 pixel image, over the 179 MP limit for "
        "one image (decoding it would not fit in memory). page 3: not OCR'd, even at 100 dpi "
        "(the lowest OCR resolution) it is 20000 x 20000 pixels, over the 40 MP OCR limit."
    )


def test_a_file_whose_only_page_is_over_the_pixel_limit_says_so(tmp_path, embeddings):
    kb = KnowledgeBase(settings_for(tmp_path / "data"), embeddings)
    result = kb.ingest_bytes("huge.pdf", huge_image_pdf(50_000))
    assert result.status == "failed" and result.error_code == "ocr_too_large"
    assert result.error == (
        "huge.pdf: no page has extractable text and page 1 could not be OCR'd: over the OCR "
        "pixel limit (page 1 holds a 50000 x 50000 pixel image, over 179 MP)"
    )
    assert result.error_params == {"page": 1, "width": 50_000, "height": 50_000, "limit_mp": 179}


def test_a_page_timeout_names_its_seconds():
    result = IngestResult("slow.pdf", "", "indexed", ocr_skipped={4: "timeout", 7: "timeout"})
    result.ocr_details = {4: {"seconds": 60.0}, 7: {"seconds": 60.0}}
    assert result.warning == "pages 4, 7: not OCR'd, it took longer than the 60 s limit."


class PageStreamResult:
    """Read a PDF through a PageStream (OCR on) and keep the stream for its attributes."""

    def __init__(self, data: bytes) -> None:
        from rag_core.ingestion.loaders import PageStream

        self.stream = PageStream("huge.pdf", data, ocr=OcrOptions(page_timeout_s=30))

    def __enter__(self):
        list(self.stream)
        return self.stream

    def __exit__(self, *exc: object) -> None:
        self.stream.close()


@pytest.mark.parametrize(
    ("text", "garbage"),
    [
        ("", True),
        ("   \n ", True),
        ("(cid:12)(cid:7)(cid:42) " * 20, True),
        ("Hello (cid:3) world, this is mostly fine text here.", False),
        ("\ufffd\ufffd\ufffd abc \ufffd\ufffd", True),
        ("\ue001\ue002\ue003\ue004 text", True),
        ("■□▲△◆◇○●" * 10 + " ab", True),
        ("각주 . . . . . . . . . . . . . . . . . . . .30\n강조 . . . . . . . . . .30", False),
        ("LaTeX은 교차참조를 위하여 다음과 같은 명령을 마련하고 있다.", False),
        ("x = y + 2, (a+b)^2 = a^2 + 2ab + b^2", False),
        ("Chapter 3", False),
    ],
)
def test_garbage_rule(text, garbage):
    assert is_garbage(text) is garbage
    assert needs_ocr(text, "off") is False
    assert needs_ocr(text, "force") is True
    assert needs_ocr(text, "auto") is garbage


@pytest.mark.parametrize("source", [LSHORT, LSHORT_KO])
def test_no_real_page_counts_as_garbage(source: Path):
    texts = [page.extract_text() or "" for page in PdfReader(source).pages]
    assert [i + 1 for i, t in enumerate(texts) if t.strip() and is_garbage(t)] == []


def test_ocr_syllables_are_rejoined_without_changing_characters():
    raw = "교 차 참 조 29\n여기서 marker는 문 서 작 성 자 가 지 시 하는 식 별 자 이다."
    text = ocr_text(raw)
    assert "".join(text.split()) == "".join(raw.split())
    assert "교차" in text and "식별자이다" in text and "marker는" in text
    assert ocr_text("plain English text stays as it is") == "plain English text stays as it is"


def test_blank_page_stays_an_empty_page():
    """lshort.pdf p. 12 is blank: OCR finds nothing (Tesseract is not even run on it)."""
    loaded = load_bytes("blank.pdf", pdf_pages(LSHORT, 11, 12), ocr=OcrOptions())
    assert [p.metadata["page"] for p in loaded.pages] == [1]
    assert loaded.empty_pages == [2]
    assert not loaded.pages[0].metadata.get("ocr")


def read_scan(pages: list[list[str]], options: OcrOptions) -> list[str]:
    """Pages typeset from known text, scanned at 200 dpi, read through the app's OCR path."""
    texts = [""] * len(pages)
    for outcome in iter_ocr(text_scan(pages), list(range(1, len(pages) + 1)), options):
        assert isinstance(outcome, OcrPage), outcome
        texts[outcome.number - 1] = ocr_text(outcome.text)
    return texts


def test_default_settings_read_hangul_only_pages_with_the_korean_model():
    """Tesseract's own psm 3 took this page of dense Hangul for pictures (CER 0.83), and
    "kor+eng" misreads Hangul words as Latin (CER 0.085); psm 4, then "kor": 0.024."""
    reference = "\n".join(HANGUL_PAGES[0])
    both = OcrOptions(mode="force", hangul_only_share=2.0, reread_latin=False)  # "kor+eng" only
    [without_rule] = read_scan(HANGUL_PAGES, both)
    [default] = read_scan(HANGUL_PAGES, OcrOptions(mode="force"))
    assert character_error_rate(default, reference) < 0.05
    assert character_error_rate(default, reference) < character_error_rate(without_rule, reference)
    assert "주어서는" in default and "주어서는" not in without_rule  # "OME ot" with both


def test_default_settings_read_latin_words_among_korean_and_english_pages():
    """psm 4 at 400 dpi: 0.22 on this page, where psm 3 at 300 dpi lost its heading and
    reordered lines (0.59); the English page stays as good (0.002)."""
    korean, english = read_scan([KOREAN_PAGES[3], ENGLISH_PAGES[0]], OcrOptions(mode="force"))
    assert character_error_rate(korean, "\n".join(KOREAN_PAGES[3])) < 0.35
    assert korean.startswith("그림과 수식 넣기")  # the heading, first
    assert character_error_rate(english, "\n".join(ENGLISH_PAGES[0])) < 0.01


def test_hangul_share_and_the_psm_setting(tmp_path: Path):
    assert hangul_share("비밀번호 12자") == 1.0
    assert hangul_share("CTAN에") == pytest.approx(1 / 5)
    assert hangul_share("1234 !?") == 0.0
    assert OcrOptions.from_settings(settings_for(tmp_path, ocr_psm=3)).psm == 3
    assert (OcrOptions().psm, OcrOptions().dpi) == (4, 400)


def test_character_error_rate():
    assert levenshtein("kitten", "sitting") == 3
    assert character_error_rate("CTANGH 등재되었다", "CTAN에 등재되었다") == pytest.approx(2 / 10)
    assert character_error_rate("a b", "ab") == 0.0
