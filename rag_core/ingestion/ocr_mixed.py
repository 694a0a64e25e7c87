"""Latin words in Korean text, read again: the particle after them, and Hangul read as Latin.

Tesseract's "kor+eng" reads a Latin word followed by a Korean particle ("CTAN에",
"TeX Live는") as one word, and its English model turns the particle into Latin junk
("CTANGH", "Livedll", "XeLaTeXO|Lt"); on Hangul-dominant pages it also reads whole Hangul
words as Latin ("문서를" as "SMS", "명령을" as "SSS"). Read with "kor" alone the same word
images give the Hangul right and the Latin wrong ("106에" for "Live에"). So on a page with
Hangul, every word read with a Latin letter is read again, all at once: each word's image
(its box, padded) is stacked into one image read by "kor", and

- a word that "kor" reads as two or more Hangul syllables and no other letter or digit
  is taken as "kor" read it;
- a word that "kor" reads ending in a common particle (:data:`PARTICLES`) keeps the Latin
  part, read again by "eng" from the image left of the particle, and gets the particle.

Anything else stays as "kor+eng" read it. Measured with ``benchmarks/ocr_cer.py`` (the
app's settings, 400 dpi, psm 4; see docs/formats.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag_core.language import hangul_share

LATIN = re.compile(r"[A-Za-z]")
LATIN_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+#\-]*$")
MIN_PAGE_HANGUL_SHARE = 0.2
"""Pages whose letters read with "kor+eng" are at least this share Hangul syllables get
their Latin words read again; English pages (0.0) cost nothing more."""
PARTICLES = frozenset(
    {"은", "는", "이", "가", "을", "를", "의", "에", "와", "과", "로", "도", "만", "나"}
    | {"란", "들", "인", "께", "으로", "에서", "에게", "까지", "부터", "처럼", "보다"}
    | {"이나", "이다", "이며", "이고", "이면", "이란", "라는", "에는", "에도", "로는"}
    | {"로도", "와는", "과는", "과의", "와의", "만을", "만의", "들을", "들이", "들은"}
    | {"들의", "이라", "이라는", "으로는", "으로도", "에서는", "에서도", "에게는"}
    | {"까지는", "부터는", "이라고", "이라면"}
)
"""Korean particles (josa) and copula forms that follow a noun, as in "CTAN에",
"LaTeX으로", "Argon2id로": a hand-picked list of the common ones, single and combined. A
"kor" reading that ends otherwise is not trusted to split a Latin word."""


def _is_syllable(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3"


@dataclass
class Word:
    """One word Tesseract read, with its box in pixels of the page image.

    Attributes:
        text: what was read.
        left, top, right, bottom: the box, pixels, origin top-left.
    """

    text: str
    left: int
    top: int
    right: int
    bottom: int


def _stack(image: Any, boxes: list[tuple[int, int, int, int]]) -> tuple[Any, list[tuple[int, int]]]:
    """Paste each box of ``image`` on its own line of a white image; return it and the bands.

    Returns:
        ``(stacked PIL image, [(top, bottom) of each box's line in it]``.
    """
    from PIL import Image

    margin = 16
    heights = [b - t for _, t, _, b in boxes]
    gap = max(8, max(heights) // 2)
    width = max(r - left for left, _, r, _ in boxes) + 2 * margin
    height = sum(heights) + gap * (len(boxes) + 1)
    stacked = Image.new("L", (width, height), 255)
    bands = []
    y = gap
    for (left, top, right, bottom), h in zip(boxes, heights, strict=True):
        stacked.paste(image.crop((left, top, right, bottom)), (margin, y))
        bands.append((y, y + h))
        y += h + gap
    return stacked, bands


def _chars_by_band(
    boxes_text: str, image_height: int, bands: list[tuple[int, int]]
) -> list[list[tuple[str, int]]]:
    """Tesseract's ``image_to_boxes`` output as ``(char, left x)`` per band, left to right.

    ``image_to_boxes`` gives one line per character: ``char left bottom right top page``
    with the origin at the bottom left (Tesseract's box format).
    """
    found: list[list[tuple[str, int]]] = [[] for _ in bands]
    for line in boxes_text.splitlines():
        parts = line.rsplit(" ", 5)
        if len(parts) != 6 or not parts[0]:
            continue
        char, left, bottom, _, top = parts[0], int(parts[1]), int(parts[2]), parts[3], int(parts[4])
        middle = image_height - (bottom + top) / 2
        for i, (band_top, band_bottom) in enumerate(bands):
            if band_top <= middle <= band_bottom:
                found[i].append((char, left))
                break
    return [sorted(chars, key=lambda c: c[1]) for chars in found]


def _particle_start(chars: list[tuple[str, int]]) -> int | None:
    """Index where a trailing particle starts in ``chars``, if the reading ends in one."""
    end = len(chars)
    while end > 0 and not chars[end - 1][0].isalnum():
        end -= 1  # trailing punctuation read with the word
    for length in (3, 2, 1):
        start = end - length
        if start < 1:  # a particle after something
            continue
        tail = "".join(c for c, _ in chars[start:end])
        if tail in PARTICLES and not _is_syllable(chars[start - 1][0]):
            return start
    return None


def reread_latin_words(
    image: Any,
    words: list[Word],
    boxes: Callable[[Any, str], str],
) -> list[Word]:
    """Read again the words with Latin letters on a page with Hangul (see the module doc).

    Args:
        image: the page, a PIL image in mode "L".
        words: the words "kor+eng" read, in reading order.
        boxes: ``(image, languages) -> Tesseract box text`` (``pytesseract.image_to_boxes``
            with the page segmentation mode 6, one block of lines).

    Returns:
        ``words`` with the repaired texts (same boxes, same order); unchanged when the page
        has less than :data:`MIN_PAGE_HANGUL_SHARE` Hangul or no word with a Latin letter.
    """
    if hangul_share(" ".join(w.text for w in words)) < MIN_PAGE_HANGUL_SHARE:
        return words
    targets = [i for i, w in enumerate(words) if LATIN.search(w.text) and w.right > w.left]
    if not targets:
        return words
    crops = []
    for i in targets:
        w = words[i]
        pad = max(2, (w.bottom - w.top) // 4)
        crops.append(
            (
                max(0, w.left - pad),
                max(0, w.top - pad),
                min(image.width, w.right + pad),
                min(image.height, w.bottom + pad),
            )
        )
    stacked, bands = _stack(image, crops)
    korean = _chars_by_band(boxes(stacked, "kor"), stacked.height, bands)
    out = list(words)
    splits: list[tuple[int, tuple[int, int, int, int], str]] = []
    for i, crop, chars in zip(targets, crops, korean, strict=True):
        read = [c for c, _ in chars if c.isalnum()]
        if len(read) >= 2 and all(_is_syllable(c) for c in read):
            w = words[i]
            out[i] = Word("".join(c for c, _ in chars), w.left, w.top, w.right, w.bottom)
            continue
        start = _particle_start(chars)
        if start is None:
            continue
        cut = crop[0] + chars[start][1] - 16 - 1  # stacked x -> page x (the margin)
        if cut - crop[0] < 4:
            continue
        particle = "".join(c for c, _ in chars[start:] if c.isalnum())
        splits.append((i, (crop[0], crop[1], cut, crop[3]), particle))
    if splits:
        stacked, bands = _stack(image, [box for _, box, _ in splits])
        latin = _chars_by_band(boxes(stacked, "eng"), stacked.height, bands)
        for (i, _, particle), chars in zip(splits, latin, strict=True):
            stem = "".join(c for c, _ in chars).rstrip(".,:;-_'")
            if LATIN_WORD.match(stem) and LATIN.search(stem):
                w = words[i]
                out[i] = Word(stem + particle, w.left, w.top, w.right, w.bottom)
    return out
