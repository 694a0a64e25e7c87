"""PDFs a scanner or a broken producer would make, built from real pages for OCR tests.

Used by the OCR tests and by ``benchmarks/ocr.py`` and ``benchmarks/ocr_cer.py`` (which
measure what the tests only check): image-only copies of pages (rendered with pypdfium2,
rotated, JPEG-compressed and written as a PDF by Pillow), scans of pages typeset from known
text (:func:`text_scan`), a page whose text layer is ``(cid:NN)`` garbage, and a page with
a huge image.
"""

from __future__ import annotations

import io
import math
import zlib
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
)


def scanned_copy(
    source: Path | bytes,
    pages: list[int],
    *,
    dpi: int = 200,
    angle: float = 1.0,
    quality: int = 75,
) -> bytes:
    """An image-only PDF of ``pages`` of ``source``, as a slightly crooked office scan.

    Args:
        source: a PDF file or its bytes.
        pages: 1-based pages to copy, in order.
        dpi: scan resolution in dots per inch.
        angle: rotation in degrees (counter-clockwise), as a sheet fed slightly askew.
        quality: JPEG quality (Pillow's scale, 1-95).

    Returns:
        The PDF's bytes: one page per image, no text layer, page size as the original.
    """
    pdf = pdfium.PdfDocument(source if isinstance(source, bytes) else str(source))
    images = []
    try:
        for number in pages:
            image = pdf[number - 1].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            images.append(_degrade(image, angle, quality))
    finally:
        pdf.close()
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return out.getvalue()


CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
"""Noto Sans CJK (Debian's ``fonts-noto-cjk``, which CI installs); face 1 is the Korean one."""
A4_POINTS = (595, 842)


def _degrade(image: Image.Image, angle: float, quality: int) -> Image.Image:
    """``image`` rotated by ``angle`` degrees and JPEG-compressed at ``quality``."""
    if angle:
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int
) -> list[str]:
    """``text`` broken into lines at spaces so that each is at most ``width`` pixels."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if line and draw.textlength(candidate, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


def text_scan(
    pages: list[list[str]],
    *,
    dpi: int = 200,
    point_size: float = 10.5,
    angle: float = 1.0,
    quality: int = 75,
    font: Path = CJK_FONT,
    columns: int = 1,
) -> bytes:
    """An image-only PDF of A4 pages typeset from known text, as an office scan of them.

    Each page's paragraphs are drawn in Noto Sans CJK KR at ``point_size`` (2.5 cm margins,
    line height 1.6, a blank line between paragraphs), then the page image is rotated and
    JPEG-compressed as :func:`scanned_copy` does, so OCR can be scored against the text.

    Args:
        pages: per page, its paragraphs (each one line of words; wrapped to the margins).
        dpi: scan resolution in dots per inch.
        point_size: type size in points.
        angle: rotation in degrees (counter-clockwise).
        quality: JPEG quality (Pillow's scale, 1-95).
        font: a TrueType/OpenType collection with Hangul (face 1 of Noto CJK is Korean).
        columns: text columns per page (1 cm apart), filled one after the other.

    Returns:
        The PDF's bytes, one image per page, no text layer.
    """
    scale = dpi / 72
    size = (round(A4_POINTS[0] * scale), round(A4_POINTS[1] * scale))
    face = ImageFont.truetype(str(font), round(point_size * scale), index=1)
    margin = round(72 / 2.54 * 2.5 * scale)
    step = round(point_size * 1.6 * scale)
    gap = round(72 / 2.54 * scale)
    width = (size[0] - 2 * margin - (columns - 1) * gap) // columns
    images = []
    for paragraphs in pages:
        image = Image.new("L", size, 255)
        draw = ImageDraw.Draw(image)
        lines: list[str] = []
        for paragraph in paragraphs:
            lines += [*_wrap(draw, paragraph, face, width), ""]
        per_column = math.ceil(len(lines) / columns)
        for i, line in enumerate(lines):
            column, row = divmod(i, per_column)
            draw.text(
                (margin + column * (width + gap), margin + row * step), line, font=face, fill=0
            )
        images.append(_degrade(image, angle, quality))
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return out.getvalue()


KOREAN_PAGES = [
    [
        "LaTeX 배포판과 패키지",
        "TeX Live는 대부분의 운영체제에서 쓸 수 있는 TeX 배포판이다. 새로 만든 패키지는 "
        "CTAN에 등재되었다가 다음 날 TeX Live에 들어온다. 한글 문서를 만들려면 kotex 패키지를 "
        "불러오고 XeLaTeX이나 LuaLaTeX으로 컴파일하는 것이 좋다. pdfLaTeX을 쓸 때에는 "
        "입력 인코딩을 UTF-8로 맞추어야 한다.",
        "패키지 설명서는 texdoc 명령으로 볼 수 있다. 예를 들어 texdoc graphicx를 실행하면 "
        "graphicx 패키지의 PDF 설명서가 열린다. 설명서가 없으면 CTAN의 패키지 페이지를 "
        "찾아보아야 한다.",
        "표를 그리려면 tabular 환경을 쓴다. 열 정렬은 l, c, r로 정하고, 세로줄은 | 기호로 "
        "넣는다. booktabs 패키지는 더 보기 좋은 가로줄을 제공한다.",
    ],
    [
        "비밀번호 정책",
        "OWASP ASVS는 웹 애플리케이션 보안 검증 표준이다. ASVS에 따르면 사용자가 정한 "
        "비밀번호는 최소 12자 이상이어야 하며, 64자 이상의 비밀번호도 허용해야 한다. "
        "비밀번호는 bcrypt나 Argon2id로 해시하여 저장한다.",
        "세션 토큰은 HTTPS로만 전송하고, 쿠키에는 Secure와 HttpOnly 속성을 붙인다. "
        "로그아웃하면 서버는 세션을 즉시 무효화해야 한다. JWT를 쓰는 경우에도 만료 시간을 "
        "짧게 정한다.",
        "다중 인증(MFA)은 TOTP나 WebAuthn으로 구현할 수 있다. SMS를 통한 인증 코드는 "
        "제한된 경우에만 허용된다.",
    ],
    [
        "로컬 문서 검색 도구 사용법",
        "이 앱은 Ollama에 연결하여 답변을 만든다. 먼저 ollama serve를 실행하고 모델을 "
        "내려받는다. 문서를 올리면 Chroma에 색인되고, 질문하면 관련 구절을 찾아 인용과 함께 "
        "답한다.",
        "PDF와 HWPX 파일을 올릴 수 있으며, 스캔한 PDF는 Tesseract로 글자를 읽는다. "
        "Streamlit 화면에서 파일을 끌어다 놓으면 된다. CLI에서는 python -m rag_core ingest "
        "명령을 쓴다.",
        "검색은 BM25와 임베딩을 함께 쓰는 하이브리드 방식이 기본이다. 결과는 RRF로 합친다.",
    ],
    [
        "그림과 수식 넣기",
        "그림을 넣으려면 graphicx 패키지를 불러오고 includegraphics 명령을 쓴다. EPS 파일은 "
        "latex으로, PNG와 JPEG 파일은 pdfLaTeX으로 처리한다. figure 환경은 그림이 놓일 "
        "자리를 LaTeX이 정하게 한다.",
        "수식은 amsmath 패키지가 제공하는 equation과 align 환경으로 쓴다. 번호가 필요 "
        "없으면 별표를 붙인 환경을 쓴다. 참고 문헌은 BibTeX이나 biblatex으로 만든다.",
        "문서가 길어지면 include 명령으로 장을 나누어 관리한다. 목차는 tableofcontents "
        "명령이 만든다.",
    ],
]
"""Hangul-dominant pages; Latin words followed by particles (CTAN에, TeX Live는)."""

HANGUL_PAGES = [
    [
        "제3조 (비밀번호의 관리)",
        "① 이용자는 비밀번호를 다른 사람에게 알려 주어서는 안 되며, 석 달에 한 번 이상 "
        "바꾸어야 한다. 비밀번호는 열두 자 이상으로 하고, 생일이나 전화번호처럼 쉽게 알 수 "
        "있는 것을 쓰지 않는다.",
        "② 관리자는 비밀번호를 암호화하여 보관하고, 다섯 번 이상 잘못 입력하면 계정을 잠근다. "
        "잠긴 계정은 본인 확인을 거친 뒤에 풀 수 있다.",
        "③ 퇴직하거나 다른 부서로 옮긴 사람의 계정은 그날 바로 없앤다. 다만 업무를 넘겨받을 "
        "사람이 정해지지 않은 경우에는 일주일 안에 없앤다.",
        "제4조 (기록의 보관) 접속 기록은 일 년 동안 보관하며, 보관 기간이 지나면 지체 없이 "
        "파기한다.",
    ],
]
"""A page with no Latin letters at all (where "kor" alone might win)."""

MIXED_PAGES = [
    [
        "Release notes / 변경 사항",
        "Version 2.4 adds OCR for scanned PDF files. 스캔한 PDF 파일도 이제 검색할 수 있다. "
        "The default language setting is kor+eng, and Tesseract 5 is required.",
        "Known issue: pages with very small type may be read poorly. 글자가 작은 페이지는 "
        "400 dpi로 다시 읽으면 나아질 수 있다. See the manual, section 3.2.",
    ],
]
"""A page with about as much English as Korean."""

ENGLISH_PAGES = [
    [
        "Getting started with LaTeX",
        "LaTeX is a document preparation system for high-quality typesetting. It is most "
        "often used for medium-to-large technical or scientific documents, but it can be "
        "used for almost any form of publishing.",
        "A LaTeX document starts with the documentclass command, followed by the preamble, "
        "where packages are loaded with usepackage. The body of the document is written "
        "between begin document and end document.",
        "To compile a document, run pdflatex twice so that cross-references and the table "
        "of contents are resolved. Errors are reported with the line number of the input "
        "file where they occurred.",
    ],
    [
        "Password requirements",
        "Verify that user set passwords are at least 12 characters in length, and that "
        "passwords of at least 64 characters are permitted. Passwords must be stored using "
        "an approved one-way key derivation function such as Argon2id or bcrypt.",
        "Session tokens must only be sent over HTTPS, and cookies must carry the Secure and "
        "HttpOnly attributes. When a user logs out, the server must invalidate the session "
        "immediately.",
    ],
]
"""English pages: a setting adopted for Korean must not make these worse."""


def garbage_text_pdf(scan: bytes, page_text: str = "(cid:12)(cid:7)(cid:42) " * 40) -> bytes:
    """``scan`` (an image-only PDF) with an invisible text layer of ``page_text`` on page 1.

    The text is drawn in render mode 3 (invisible), as OCR'd or broken PDFs carry it.
    """

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(scan)))
    page = writer.pages[0]
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    resources = page["/Resources"].get_object()
    fonts = DictionaryObject({NameObject("/FG"): writer._add_object(font)})
    resources[NameObject("/Font")] = fonts
    escaped = page_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = DecodedStreamObject()
    drawn = f"\nBT 3 Tr /FG 10 Tf 20 400 Td ({escaped}) Tj ET".encode()
    stream.set_data(page.get_contents().get_data() + drawn)  # type: ignore[union-attr]
    page.replace_contents(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def huge_image_pdf(side: int = 50_000) -> bytes:
    """A one-page PDF (A4) showing a ``side`` x ``side`` pixel 1-bit image (THREATS 27).

    The image is white, Flate-compressed (about 0.1% of its 300 MB of bits), so the file
    is small while decoding it would need ``side**2`` bytes of grey pixels.
    """
    row = b"\xff" * ((side + 7) // 8)
    squeezer = zlib.compressobj(9)
    packed = [squeezer.compress(row) for _ in range(side)]
    packed.append(squeezer.flush())
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    image = StreamObject()
    image._data = b"".join(packed)
    image.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(side),
            NameObject("/Height"): NumberObject(side),
            NameObject("/ColorSpace"): NameObject("/DeviceGray"),
            NameObject("/BitsPerComponent"): NumberObject(1),
            NameObject("/Filter"): NameObject("/FlateDecode"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): writer._add_object(image)})}
    )
    content = DecodedStreamObject()
    content.set_data(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def join_pdfs(*parts: bytes) -> bytes:
    """The pages of several PDFs, in order, as one PDF."""
    writer = PdfWriter()
    for part in parts:
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def drawing_pdf() -> bytes:
    """One page that strokes a few lines and has no text and no image."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    content = DecodedStreamObject()
    content.set_data(b"2 w 100 100 m 500 700 l S 100 700 m 500 100 l S")
    page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def specked_scan_pdf() -> bytes:
    """A scanned blank sheet: a white 100-dpi image with five specks of dust."""
    image = Image.new("L", (850, 1100), 255)
    for x, y in [(100, 100), (400, 530), (700, 900), (120, 1000), (800, 40)]:
        image.putpixel((x, y), 0)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=100.0)
    return out.getvalue()
