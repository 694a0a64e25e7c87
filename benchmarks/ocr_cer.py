"""OCR character error rate: scans of pages with known text, read with several settings.

Run from the repository root::

    python benchmarks/ocr_cer.py [--scan-dpi 200] [--psm 3 4 6] [--dpi 300 400] \\
        [--languages kor+eng kor rule-only rule] [--json]

Two kinds of scans with known text, all at ``--scan-dpi``, rotated 1 degree, JPEG quality
75. Pages typeset from the texts of :mod:`tests.scans` (:func:`tests.scans.text_scan`:
Noto Sans CJK KR, 10.5 pt, A4): four Hangul-dominant pages with Latin words followed by
Korean particles ("CTAN에 등재되었다", the words issue 21 saw misread as "CTANGH"), a
page of Hangul only, two of them again in two columns, a mixed page and two English
pages. And scans of real pages (:func:`tests.scans.scanned_copy`) scored against their
text layer: three of ``lshort-ko.pdf`` and three of ``lshort.pdf`` (English). Each
setting reads every page through the app's OCR path (:func:`rag_core.ingestion.ocr.
iter_ocr` in "force" mode, then :func:`~rag_core.ingestion.ocr.ocr_text`), varying the
render resolution (``--dpi``), Tesseract's page segmentation mode (``--psm``) and the
languages (``--languages``): "kor+eng" for every page, "kor" for every page, "rule-only":
"kor+eng", and "kor" again for a page where at least
:data:`~rag_core.ingestion.ocr.HANGUL_ONLY_SHARE` of the letters read are Hangul, and
"rule", the app's: that, and on the other pages with Hangul the words with Latin letters
read again (:mod:`rag_core.ingestion.ocr_mixed`). A second table counts the Latin words
with a Korean particle right after them ("CTAN에", "XeLaTeX이나") read exactly.

CER (:func:`rag_core.evaluation.ocr.character_error_rate`) is the Levenshtein distance
between the recognised and the known text divided by the known text's length, both with
all whitespace removed: word spacing is restored afterwards by Kiwi
(:mod:`rag_core.ingestion.spacing`) and is not what is measured. Prints, per
setting, the mean CER of each group of pages and the seconds per page (times are only
comparable within a run: the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag_core.evaluation.ocr import character_error_rate  # noqa: E402
from rag_core.ingestion.ocr import (  # noqa: E402
    HANGUL_ONLY_SHARE,
    OcrOptions,
    OcrPage,
    iter_ocr,
    ocr_text,
)
from tests.scans import (  # noqa: E402
    ENGLISH_PAGES,
    HANGUL_PAGES,
    KOREAN_PAGES,
    MIXED_PAGES,
    scanned_copy,
    text_scan,
)

LSHORT = REPO / "tests" / "data" / "lshort.pdf"
LSHORT_KO = REPO / "tests" / "data" / "lshort-ko.pdf"
LSHORT_KO_PAGES = [19, 41, 57]
LSHORT_PAGES = [15, 30, 45]

logger = logging.getLogger("benchmarks.ocr_cer")


def read_pages(pdf: bytes, count: int, options: OcrOptions) -> list[str]:
    """Every page of ``pdf`` read through the app's OCR path, in page order."""
    texts = [""] * count
    for outcome in iter_ocr(pdf, list(range(1, count + 1)), options):
        if isinstance(outcome, OcrPage):
            texts[outcome.number - 1] = ocr_text(outcome.text)
        else:
            logger.warning("page %s not read: %s", outcome[0], outcome[1])
    return texts


def text_layer(source: Path, pages: list[int]) -> list[str]:
    """The text layer of ``pages`` of a PDF (pypdfium2), NFKC-normalised (ligatures)."""
    pdf = pdfium.PdfDocument(str(source))
    try:
        return [
            unicodedata.normalize("NFKC", pdf[n - 1].get_textpage().get_text_range()) for n in pages
        ]
    finally:
        pdf.close()


def page_sets(scan_dpi: int) -> list[tuple[str, bytes, list[str]]]:
    """``(group, image-only PDF, known text per page)`` for every group of pages."""
    sets = []
    for group, pages, columns in (
        ("korean", KOREAN_PAGES, 1),
        ("hangul", HANGUL_PAGES, 1),
        ("2-column", KOREAN_PAGES[:2], 2),
        ("mixed", MIXED_PAGES, 1),
        ("english", ENGLISH_PAGES, 1),
    ):
        pdf = text_scan(pages, dpi=scan_dpi, columns=columns)
        sets.append((group, pdf, ["\n".join(page) for page in pages]))
    for group, source, pages in (
        ("lshort-ko", LSHORT_KO, LSHORT_KO_PAGES),
        ("lshort", LSHORT, LSHORT_PAGES),
    ):
        pdf = scanned_copy(source, pages, dpi=scan_dpi)
        sets.append((group, pdf, text_layer(source, pages)))
    return sets


LANGUAGES = {
    "kor+eng": {"languages": "kor+eng", "hangul_only_share": 2.0, "reread_latin": False},
    "kor": {"languages": "kor", "hangul_only_share": 2.0},
    "rule-only": {
        "languages": "kor+eng",
        "hangul_only_share": HANGUL_ONLY_SHARE,
        "reread_latin": False,
    },
    "rule": {"languages": "kor+eng", "hangul_only_share": HANGUL_ONLY_SHARE},
}
"""The language settings compared: both models, Korean alone, the page rule alone (both,
then Korean alone for a page whose letters are mostly Hangul) and the app's default: the
page rule and, on pages with Hangul, the words with Latin letters read again
(:mod:`rag_core.ingestion.ocr_mixed`)."""
LATIN_THEN_HANGUL = re.compile(r"[A-Za-z][A-Za-z0-9]*[\uac00-\ud7a3]+")
"""A Latin word with a Korean particle (or word) right after it: "CTAN에", "LaTeX으로"."""


def latin_particles(recognised: str, reference: str) -> tuple[int, int]:
    """``(found, total)``: the reference's Latin-then-Hangul words read exactly.

    Both texts with whitespace removed (as for the CER); a word counts as found when it
    occurs in the recognised text.
    """
    text = "".join(recognised.split())
    words = LATIN_THEN_HANGUL.findall(reference)
    return sum(w in text for w in words), len(words)


def main() -> None:
    """Scan the pages, read them with each setting, print the CER table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scan-dpi", type=int, default=200, help="resolution of the scan")
    parser.add_argument("--dpi", type=int, nargs="+", default=[300, 400], help="OCR render")
    parser.add_argument("--psm", type=int, nargs="+", default=[3, 4, 6], help="Tesseract psm")
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=list(LANGUAGES))
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sets = page_sets(args.scan_dpi)
    groups = [group for group, _, _ in sets]
    rows: list[dict[str, Any]] = []
    for dpi in args.dpi:
        for psm in args.psm:
            for name in args.languages:
                options = OcrOptions(mode="force", dpi=dpi, psm=psm, **LANGUAGES[name])
                cers: dict[str, float] = {}
                particles: dict[str, list[int]] = {}
                pages, started = 0, time.monotonic()
                for group, pdf, references in sets:
                    texts = read_pages(pdf, len(references), options)
                    pairs = list(zip(texts, references, strict=True))
                    scores = [character_error_rate(t, r) for t, r in pairs]
                    cers[group] = round(sum(scores) / len(scores), 4)
                    counts = [latin_particles(t, r) for t, r in pairs]
                    particles[group] = [sum(c[0] for c in counts), sum(c[1] for c in counts)]
                    pages += len(references)
                seconds = (time.monotonic() - started) / pages  # includes the scoring
                rows.append(
                    {"dpi": dpi, "psm": psm, "languages": name, "cer": cers,
                     "latin_particles": particles, "s_per_page": round(seconds, 2)}
                )  # fmt: skip
                logger.info("%s", rows[-1])
    report = {"scan_dpi": args.scan_dpi, "groups": groups, "rows": rows}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"CER (whitespace removed), pages scanned at {args.scan_dpi} dpi")
    head = " ".join(f"{g:>9}" for g in groups)
    print(f"{'dpi':>4} {'psm':>4} {'languages':<9} {head} {'s/page':>7}")
    for row in rows:
        cells = " ".join(f"{row['cer'][g]:>9.4f}" for g in groups)
        setting = f"{row['dpi']:>4} {row['psm']:>4} {row['languages']:<9}"
        print(f"{setting} {cells} {row['s_per_page']:>7.2f}")
    print("\nLatin words with a Korean particle after them read exactly (found/total)")
    with_particles = [g for g in groups if rows and rows[0]["latin_particles"][g][1]]
    print(f"{'dpi':>4} {'psm':>4} {'languages':<9} " + " ".join(f"{g:>9}" for g in with_particles))
    for row in rows:
        cells = " ".join(
            f"{'/'.join(map(str, row['latin_particles'][g])):>9}" for g in with_particles
        )
        print(f"{row['dpi']:>4} {row['psm']:>4} {row['languages']:<9} {cells}")


if __name__ == "__main__":
    main()
