"""PDFs a scanner or a broken producer would make, built from real pages for OCR tests.

Used by the OCR tests and by ``benchmarks/ocr.py`` (which measures what the tests only
check): image-only copies of pages (rendered with pypdfium2, rotated, JPEG-compressed and
written as a PDF by Pillow), a page whose text layer is ``(cid:NN)`` garbage, and a page
with a huge image.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image
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
            if angle:
                image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=quality)
            images.append(Image.open(io.BytesIO(buffer.getvalue())))
    finally:
        pdf.close()
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return out.getvalue()


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
