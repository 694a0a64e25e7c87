"""Latin words in Korean scans read again (``rag_core.ingestion.ocr_mixed``): real Tesseract.

Issue 21, item 7: "CTAN에 등재되었다" was read as "CTANGH 등재되었다". One Hangul-dominant
page typeset from known text (:data:`tests.scans.KOREAN_PAGES`, Latin words with particles
after them) and one English page are scanned and read through the app's OCR path at its
default settings, with and without the re-reading.
"""

from __future__ import annotations

import re

import pytest

from rag_core.evaluation.ocr import character_error_rate
from rag_core.ingestion.ocr import OcrOptions, OcrPage, iter_ocr, ocr_text
from rag_core.ingestion.ocr_mixed import (
    PARTICLES,
    _chars_by_band,
    _particle_start,
)
from tests.scans import ENGLISH_PAGES, KOREAN_PAGES, text_scan

LATIN_THEN_HANGUL = re.compile(r"[A-Za-z][A-Za-z0-9]*[\uac00-\ud7a3]+")


def read(pdf: bytes, count: int, **options: object) -> list[OcrPage]:
    pages = [
        p for p in iter_ocr(pdf, list(range(1, count + 1)), OcrOptions(mode="force", **options))
    ]
    assert all(isinstance(p, OcrPage) for p in pages)
    return pages  # type: ignore[return-value]


@pytest.fixture(scope="module")
def korean_reads() -> tuple[str, str, str, OcrPage]:
    """``(known text, read without re-reading, read with it (default), that page)``."""
    pdf = text_scan(KOREAN_PAGES[:1])
    (before,) = read(pdf, 1, reread_latin=False)
    (after,) = read(pdf, 1)
    return "\n".join(KOREAN_PAGES[0]), ocr_text(before.text), ocr_text(after.text), after


def found(text: str, reference: str) -> list[str]:
    flat = "".join(text.split())
    return [w for w in LATIN_THEN_HANGUL.findall(reference) if w in flat]


def test_particles_after_latin_words_are_read(korean_reads):
    reference, before, after, _ = korean_reads
    assert len(LATIN_THEN_HANGUL.findall(reference)) >= 8
    assert found(before, reference) == []  # "CTANS|", "pdfLaTexS": the particle as Latin
    assert len(found(after, reference)) >= 3, after
    assert character_error_rate(after, reference) < character_error_rate(before, reference)


def test_word_boxes_carry_the_repaired_words(korean_reads):
    reference, _, after, page = korean_reads
    assert [str(w[0]) for w in page.words] == page.text.split()  # the highlight's words
    assert set(found(after, reference)) <= set(found(" ".join(page.text.split()), reference))
    assert all(0 <= float(x) <= 1 for w in page.words for x in w[1:])


def test_an_english_page_reads_the_same_with_and_without():
    pdf = text_scan(ENGLISH_PAGES[:1])
    (before,) = read(pdf, 1, reread_latin=False)
    (after,) = read(pdf, 1)
    assert after.text == before.text and after.words == before.words


def test_a_particle_is_found_only_after_something_that_is_not_hangul():
    chars = [(c, x) for x, c in enumerate("106에")]
    assert _particle_start(chars) == 3
    assert _particle_start([(c, x) for x, c in enumerate("7/씨의")]) is None  # 씨의: no particle
    assert _particle_start([(c, x) for x, c in enumerate("XeLaTeX이나.")]) == 7
    assert _particle_start([(c, x) for x, c in enumerate("에")]) is None  # nothing before it
    assert _particle_start([(c, x) for x, c in enumerate("136비하")]) is None
    assert {"에", "으로", "이나", "를"} <= PARTICLES


def test_box_lines_are_sorted_into_bands_left_to_right():
    # Tesseract's box format: char left bottom right top page, origin bottom left
    boxes = "에 30 70 40 90 0\nA 10 72 20 88 0\nB 10 12 20 28 0\n"
    bands = [(10, 30), (70, 90)]  # top-origin bands in an image 100 pixels high
    assert _chars_by_band(boxes, 100, bands) == [[("A", 10), ("에", 30)], [("B", 10)]]
