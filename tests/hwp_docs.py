"""HWPX / HWP test documents built with python-hwpx, and hostile variants of them.

``regulation_hwpx()`` is a small Korean regulation (여비 규정): chapters (장), articles (조)
with titles, a footnote and two tables, written by python-hwpx's authoring API; the facts
below (ARTICLES, ALLOWANCES) are what the tests look for. Nothing is a binary fixture
except the two hwplib samples in tests/data (see tests/data/README.md).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

DATA = Path(__file__).parent / "data"
HWPLIB_TABLE = DATA / "hwplib-table.hwp"
"""A table saved by Hancom Office (hwplib's sample_hwp/basic/표.hwp)."""
HWPLIB_DISTRIBUTION = DATA / "hwplib-distribution.hwp"
"""A distribution-only (배포용, encrypted body) document (hwplib's sample_hwp/distribution.hwp)."""

TITLE = "여비 규정"
CHAPTERS = {1: "제1장 총칙", 3: "제2장 국내 출장", 6: "제3장 국외 출장", 9: "부칙"}
"""Chapter headings, by the number of the article that follows them."""
ARTICLES = [
    ("제1조(목적)", "이 규정은 임직원의 출장 여비 지급에 관한 사항을 정함을 목적으로 한다."),
    ("제2조(정의)", "이 규정에서 여비란 운임, 일비, 숙박비와 식비를 말한다."),
    ("제3조(일비)", "국내 출장의 일비는 별표 1에 따라 정액으로 지급한다."),
    ("제4조(숙박비)", "숙박비는 영수증을 첨부하여 실비로 정산하되 별표 1의 상한을 넘지 못한다."),
    ("제5조(운임)", "철도 운임은 일반실 기준으로 지급하고 항공 운임은 별표 2에 따른다."),
    ("제6조(국외 여비)", "국외 출장의 여비는 출장 국가의 물가 수준을 고려하여 사장이 정한다."),
    ("제7조(여비)", "출장 여비는 출장 명령서에 적힌 기간에 대하여 지급한다."),
    ("제8조(정산)", "출장자는 귀임 후 7일 이내에 여비를 정산하여야 한다."),
    ("제9조(시행일)", "이 규정은 2026년 1월 1일부터 시행한다."),
]
FOOTNOTE = "별표 1의 금액은 매년 1월 물가 상승률을 반영하여 개정한다."
"""Footnote of article 3."""
ALLOWANCE_CAPTION = "<별표 1> 직급별 여비(일액)"
ALLOWANCE_HEADER = ["직급", "일비(원)", "숙박비(원)", "식비(원)"]
ALLOWANCES = [
    ["임원", "80,000", "150,000", "45,000"],
    ["부장", "60,000", "120,000", "40,000"],
    ["과장", "50,000", "110,000", "35,000"],
    ["대리", "45,000", "100,000", "30,000"],
    ["사원", "40,000", "90,000", "25,000"],
]
"""별표 1 (after article 3): one row per rank."""
FARE_CAPTION = "<별표 2> 구간별 운임"
FARE_HEADER = ["구간", "철도(원)", "항공(원)"]
FARES = [["서울-부산", "59,800", "98,000"], ["서울-광주", "47,000", "89,000"]]
"""별표 2 (after article 5)."""


def regulation_hwpx() -> bytes:
    """The 여비 규정 as HWPX bytes (python-hwpx ``HwpxDocument.new()`` and its editing API)."""
    from hwpx import HwpxDocument

    doc = HwpxDocument.new()
    doc.paragraphs[0].text = TITLE
    for number, (title, body) in enumerate(ARTICLES, start=1):
        if number in CHAPTERS:
            doc.add_heading(CHAPTERS[number], level=1)
        paragraph = doc.add_paragraph(f"{title} {body}", style="바탕글")
        if number == 3:
            doc.notes.add_footnote(FOOTNOTE, paragraph=paragraph)
            _table(doc, ALLOWANCE_CAPTION, ALLOWANCE_HEADER, ALLOWANCES)
        if number == 5:
            _table(doc, FARE_CAPTION, FARE_HEADER, FARES)
    return doc.to_bytes()


def _table(doc: object, caption: str, header: list[str], rows: list[list[str]]) -> None:
    doc.add_paragraph(caption, style="바탕글")  # type: ignore[attr-defined]
    table = doc.add_table(len(rows) + 1, len(header))  # type: ignore[attr-defined]
    for r, row in enumerate([header, *rows]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value


def regulation_hwp() -> bytes:
    """The same document as HWP 5 binary (python-hwpx's HWP 5 writer)."""
    from hwpx import HwpxDocument

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return HwpxDocument.open(regulation_hwpx()).to_bytes(format="hwp")


def rezip(data: bytes, extra: dict[str, bytes] | None = None, **options: object) -> bytes:
    """Copy an HWPX zip, adding or replacing members (``extra``: name -> bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if extra is None or info.filename not in extra:
                target.writestr(info, source.read(info.filename))
        for name, payload in (extra or {}).items():
            target.writestr(name, payload, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def zip_bomb_hwpx(megabytes: int = 300) -> bytes:
    """The regulation with a member that inflates to ``megabytes`` MiB of zeros (~1000:1)."""
    return rezip(regulation_hwpx(), {"Contents/section1.xml": bytes(megabytes << 20)})


def traversal_hwpx() -> bytes:
    """The regulation with a member named ``../../evil.xml``."""
    return rezip(regulation_hwpx(), {"../../evil.xml": b"<x/>"})


def encrypted_hwpx() -> bytes:
    """The regulation whose manifest declares OWPML encryption (``encryption-data``)."""
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?><odf:manifest '
        b'xmlns:odf="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<odf:file-entry odf:full-path="Contents/section0.xml" odf:media-type="text/xml">'
        b'<odf:encryption-data odf:checksum-type="SHA1"/></odf:file-entry></odf:manifest>'
    )
    return rezip(regulation_hwpx(), {"META-INF/manifest.xml": manifest})


def password_hwp(data: bytes) -> bytes:
    """An HWP 5 file with the password bit of its FileHeader set (body unreadable)."""
    signature = b"HWP Document File"
    at = data.index(signature) + 36  # 32-byte signature, 4-byte version, then the flags
    flags = int.from_bytes(data[at : at + 4], "little") | 0b10
    return data[:at] + flags.to_bytes(4, "little") + data[at + 4 :]


def long_hwpx(copies: int = 3000) -> bytes:
    """The regulation with its last article repeated ``copies`` times (a long document)."""
    data = regulation_hwpx()
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        section = source.read("Contents/section0.xml").decode()
    at = section.index(ARTICLES[-1][0])
    start = section.rindex("<hp:p ", 0, at)
    end = section.index("</hp:p>", at) + len("</hp:p>")
    section = section[:end] + section[start:end] * copies + section[end:]
    return rezip(data, {"Contents/section0.xml": section.encode()})
