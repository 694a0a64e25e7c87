"""HWPX / HWP 5 parsing: headings, articles, footnotes and tables; the limited worker.

Documents are built by python-hwpx in tests/hwp_docs.py; two small files saved by Hancom
Office come from hwplib (tests/data/README.md).
"""

from __future__ import annotations

import pytest

from rag_core.errors import DocumentError
from rag_core.ingestion.hwp import (
    ARTICLE_RANK,
    HwpParseError,
    Paragraph,
    check_archive,
    group_blocks,
    heading_of,
    read_blocks,
)
from rag_core.ingestion.hwp_worker import HwpMeta, iter_hwp_blocks
from tests import hwp_docs
from tests.hwp_docs import ALLOWANCE_HEADER, ALLOWANCES, ARTICLES, FOOTNOTE


@pytest.mark.parametrize(
    ("text", "outline", "expected"),
    [
        ("제7조(여비) 출장 여비는 지급한다.", None, (ARTICLE_RANK, "제7조(여비)")),
        ("제 12 조의 2 (특례) 본문", None, (ARTICLE_RANK, "제12조의2(특례)")),
        ("제3장 출장", None, (2, "제3장 출장")),
        ("제2절  국내", 0, (3, "제2절 국내")),
        ("부칙", None, (2, "부칙")),
        ("1. 추진 배경", 1, (2, "1. 추진 배경")),
        ("긴 " * 40, 0, None),
        ("보통 문단입니다.", None, None),
    ],
)
def test_headings_are_recognised(text, outline, expected):
    assert heading_of(text, outline) == expected


def test_blocks_follow_the_heading_path_and_number_paragraphs():
    paragraphs = [
        Paragraph(1, "여비 규정"),
        Paragraph(2, "제3장 출장", 2, "제3장 출장"),
        Paragraph(3, "제7조(여비) 여비는 지급한다.", ARTICLE_RANK, "제7조(여비)"),
        Paragraph(4, "① 일비는 정액으로 한다."),
        Paragraph(5, "제4장 보칙", 2, "제4장 보칙"),
        Paragraph(6, "제5장 벌칙", 2, "제5장 벌칙"),
        Paragraph(7, "본문 " * 400),
    ]
    blocks = list(group_blocks(paragraphs))
    assert [(b.first, b.last, b.label) for b in blocks] == [
        (1, 1, ""),
        (2, 4, "제3장 출장 > 제7조(여비)"),
        (5, 5, "제4장 보칙"),  # a chapter does not swallow the next chapter
        (6, 6, "제5장 벌칙"),
        (7, 7, "제5장 벌칙"),  # too long to join: a block of its own, same path
    ]
    assert blocks[1].text == "제3장 출장\n\n제7조(여비) 여비는 지급한다.\n\n① 일비는 정액으로 한다."


@pytest.mark.parametrize("make", [hwp_docs.regulation_hwpx, hwp_docs.regulation_hwp])
def test_the_regulation_keeps_articles_footnote_and_tables(make):
    n_paragraphs, blocks = read_blocks(make())
    assert n_paragraphs == 18
    text = "\n".join(b.text for b in blocks)
    for title, body in ARTICLES:
        (block,) = [b for b in blocks if f"{title} {body}" in b.text]
        assert block.path and block.path[-1] == title
    article3 = next(b for b in blocks if b.path[-1:] == ["제3조(일비)"])
    assert article3.label == "제2장 국내 출장 > 제3조(일비)"
    assert f"[^1]: {FOOTNOTE}" in article3.text
    assert "| " + " | ".join(ALLOWANCE_HEADER) + " |" in article3.text
    for row in ALLOWANCES:
        assert "| " + " | ".join(row) + " |" in text
    firsts = [b.first for b in blocks]
    assert firsts == sorted(set(firsts)) and blocks[-1].last == n_paragraphs


def test_a_table_saved_by_hancom_office_is_read():
    n_paragraphs, blocks = read_blocks(hwp_docs.HWPLIB_TABLE.read_bytes())
    assert n_paragraphs == 1
    assert blocks[0].text.startswith("| ABC 123 | DEF | GHI |\n| --- | --- | --- |\n| LMN |")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (hwp_docs.traversal_hwpx(), "unsafe"),
        (hwp_docs.zip_bomb_hwpx(300), "limit"),
        (hwp_docs.encrypted_hwpx(), "encrypted"),
        (b"PK\x03\x04" + bytes(100), "damaged"),
    ],
    ids=["traversal", "zip-bomb", "encrypted", "damaged"],
)
def test_the_archive_is_refused_before_anything_is_decompressed(data, kind):
    with pytest.raises(HwpParseError) as caught:
        check_archive(data)
    assert caught.value.kind == kind


def test_the_worker_streams_meta_then_blocks():
    items = list(iter_hwp_blocks("규정.hwpx", hwp_docs.regulation_hwpx(), timeout_s=60))
    assert items[0] == HwpMeta(n_paragraphs=18, format="hwpx")
    first, last, label, text = items[2]
    assert (first, last, label) == (2, 3, "제1장 총칙 > 제1조(목적)")
    assert text.startswith("제1장 총칙\n\n제1조(목적)")


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (hwp_docs.traversal_hwpx(), "hwp_unsafe", "path traversal"),
        (hwp_docs.zip_bomb_hwpx(300), "hwp_limit", "zip bomb"),
        (hwp_docs.encrypted_hwpx(), "hwp_encrypted", "protected"),
        (hwp_docs.regulation_hwpx()[:3000], "hwp_damaged", "damaged"),
        (hwp_docs.HWPLIB_DISTRIBUTION.read_bytes(), "hwp_encrypted", "distribution"),
        (hwp_docs.password_hwp(hwp_docs.regulation_hwp()), "hwp_encrypted", "password"),
        (hwp_docs.regulation_hwp()[:5000], "hwp_damaged", "damaged"),
        (b"HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05" + bytes(64), "hwp3", "HWP 3.0"),
        (b"just text", "hwp_not_hwp", "not an HWP"),
    ],
    ids=[
        "traversal",
        "zip-bomb",
        "encrypted-hwpx",
        "truncated-hwpx",
        "distribution-hwp",
        "password-hwp",
        "truncated-hwp",
        "hwp3",
        "not-hwp",
    ],
)
def test_bad_files_get_a_clear_message_from_the_worker(data, code, words):
    with pytest.raises(DocumentError) as caught:
        list(iter_hwp_blocks("bad.hwp", data, timeout_s=60))
    assert caught.value.code == code
    assert str(caught.value).startswith("bad.hwp: ") and words in str(caught.value)


def test_the_worker_is_killed_at_the_timeout():
    with pytest.raises(DocumentError) as caught:
        list(iter_hwp_blocks("slow.hwpx", hwp_docs.long_hwpx(), timeout_s=0.5))
    assert caught.value.code == "hwp_too_complex"
