"""Files -> LangChain ``Document`` pages, with page numbers and the file's sha256.

PDFs are read with pypdf (https://pypdf.readthedocs.io); ``.txt`` and ``.md`` files are
one page each. File names are only ever metadata: nothing here opens a path built from an
uploaded name.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document

from rag_core.errors import DocumentError, NoTextError
from rag_core.pdf_worker import extract_pdf

logger = logging.getLogger(__name__)

PDF_SUFFIXES = frozenset({".pdf"})
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
SUPPORTED_SUFFIXES = PDF_SUFFIXES | TEXT_SUFFIXES
MIN_PAGE_CHARS = 1
"""A page with fewer non-space characters than this counts as having no text layer."""


@dataclass
class LoadedFile:
    """One file read into pages.

    Attributes:
        name: display name of the file (the upload's name), plain text.
        sha256: hex digest of the file's bytes; the document's identity.
        n_pages: pages in the file (1 for text files).
        pages: one Document per page that has text; metadata ``source``, ``page``
            (1-based physical page), ``page_label`` (printed label or the page number),
            ``sha256``.
        empty_pages: 1-based numbers of pages without extractable text.
    """

    name: str
    sha256: str
    n_pages: int
    pages: list[Document]
    empty_pages: list[int] = field(default_factory=list)


def sha256_hex(data: bytes) -> str:
    """Return the hex sha256 of ``data`` (64 characters)."""
    return hashlib.sha256(data).hexdigest()


def display_name(name: str) -> str:
    """Reduce an uploaded or given file name to a safe display name.

    Keeps only the last path component (so ``../../x.pdf`` shows as ``x.pdf``), removes
    control and bidirectional-override characters and caps the length at 200 characters.
    The result is still never used as a path.

    Args:
        name: the name as received.

    Returns:
        A non-empty display string.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(
        ch
        for ch in base
        if ch.isprintable() and ch not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    ).strip()
    if len(cleaned) > 200:
        stem, dot, suffix = cleaned.rpartition(".")
        cleaned = (stem[:190] + "…" + dot + suffix) if dot and len(suffix) <= 8 else cleaned[:200]
    return cleaned or "unnamed"


def suffix_of(name: str) -> str:
    """Return the lower-case suffix of a display name (``".pdf"``), or ``""``."""
    return Path(display_name(name)).suffix.lower()


def load_bytes(
    name: str,
    data: bytes,
    *,
    password: str | None = None,
    timeout_s: float = 120.0,
    on_page: Callable[[int, int], None] | None = None,
) -> LoadedFile:
    """Read a file's bytes into page Documents.

    Args:
        name: the file's name as uploaded; used for display and to pick the format.
        data: the file's content.
        password: password of an encrypted PDF, if the user gave one.
        timeout_s: wall-clock limit for parsing a PDF, in seconds.
        on_page: called with ``(pages_read, n_pages)`` as PDF pages arrive.

    Returns:
        The loaded file with its non-empty pages.

    Raises:
        DocumentError: empty file, unsupported type, not a PDF, damaged or too complex PDF.
        PasswordRequiredError: an encrypted PDF and no password.
        WrongPasswordError: the password does not open the PDF.
        NoTextError: no page has extractable text (scanned document).
    """
    shown = display_name(name)
    if not data:
        raise DocumentError(shown, "the file is empty (0 bytes)", "empty")
    suffix = suffix_of(shown)
    digest = sha256_hex(data)
    if suffix in PDF_SUFFIXES:
        texts, labels = extract_pdf(
            shown, data, password=password, timeout_s=timeout_s, on_page=on_page
        )
    elif suffix in TEXT_SUFFIXES:
        texts, labels = [_decode_text(shown, data)], ["1"]
    else:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise DocumentError(
            shown, f"unsupported file type {suffix or '(none)'}; use {allowed}", "unsupported"
        )
    pages: list[Document] = []
    empty: list[int] = []
    for number, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
        if len(text.strip()) < MIN_PAGE_CHARS:
            empty.append(number)
            continue
        pages.append(
            Document(
                page_content=text,
                metadata={"source": shown, "page": number, "page_label": label, "sha256": digest},
            )
        )
    if not pages:
        raise NoTextError(
            shown,
            "no page has extractable text: is it a scanned document? Run OCR first",
            "no_text",
        )
    if empty:
        logger.info("%s: %d of %d pages have no text", shown, len(empty), len(texts))
    return LoadedFile(name=shown, sha256=digest, n_pages=len(texts), pages=pages, empty_pages=empty)


def load_path(path: Path, *, password: str | None = None, timeout_s: float = 120.0) -> LoadedFile:
    """Read a file from disk; see :func:`load_bytes`.

    Raises:
        DocumentError: the file cannot be read, or any error of :func:`load_bytes`.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(
            display_name(path.name), f"cannot read the file ({exc.strerror})", "unreadable"
        ) from exc
    return load_bytes(path.name, data, password=password, timeout_s=timeout_s)


def _decode_text(name: str, data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError(name, "the text file is neither UTF-8 nor CP949 (EUC-KR)", "encoding")


def describe_empty_pages(pages: list[int], limit: int = 12) -> str:
    """Format page numbers for a message: ``"pages 3, 7"`` or ``"page 3"``.

    Args:
        pages: 1-based page numbers.
        limit: how many numbers to list before "and N more".
    """
    shown = ", ".join(str(p) for p in pages[:limit])
    more = f" and {len(pages) - limit} more" if len(pages) > limit else ""
    return f"{'page' if len(pages) == 1 else 'pages'} {shown}{more}"
