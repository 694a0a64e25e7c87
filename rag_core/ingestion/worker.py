"""Parse untrusted PDFs with pypdf in a separate process, with a time and memory limit.

pypdf is a parser of hostile input (crafted-PDF DoS advisories such as CVE-2023-36464), so
the parse runs in a child process (``python -m rag_core.ingestion.worker``, which needs no
guard in the caller's main module, unlike multiprocessing's spawn): its address space is capped with
``resource.setrlimit(RLIMIT_AS)`` and the parent kills it when the wall-clock deadline
passes. Pages stream back one message at a time, so the caller splits and embeds the
first pages while the child is still reading the rest (see
:class:`rag_core.ingestion.loaders.PageStream`), and can show page progress.

Messages from the child (JSON lines on its stdout):
``("meta", n_pages, labels, title, outline)``, ``("headings", number, headings)`` (PDFs
without bookmarks, before the page), ``("page", number, text, ink)`` (``ink``: "" for a page
with text, else what it draws: :func:`rag_core.ingestion.pdf_ink.ink_kind`),
``("error", kind, detail)``, ``("done",)``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rag_core.config import child_env
from rag_core.errors import DocumentError, PasswordRequiredError, WrongPasswordError
from rag_core.ingestion.pdf_headings import LineFonts, read_outline, read_title
from rag_core.ingestion.pdf_ink import ink_kind
from rag_core.ingestion.pdf_tables import PlumberPages, may_hold_table

logger = logging.getLogger(__name__)

MEMORY_LIMIT_BYTES = 2 * 1024**3
"""Address-space cap of the parsing process (2 GiB)."""

PDF_MAGIC = b"%PDF-"
LEADING_BYTES = b" \t\r\n\x00\xef\xbb\xbf"
"""Whitespace, NULs and a UTF-8 byte-order mark allowed before ``%PDF-``."""


@dataclass(frozen=True)
class PdfMeta:
    """What the child reports before the pages.

    Attributes:
        n_pages: pages in the PDF.
        labels: the printed page label of each page.
        title: the ``/Title`` of its document information ("" when it has none).
        outline: its bookmarks, ``[depth, title, page]`` (see
            :func:`rag_core.ingestion.pdf_headings.read_outline`).
    """

    n_pages: int
    labels: list[str]
    title: str = ""
    outline: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PdfInk:
    """What a page without text draws, sent just before the page.

    Attributes:
        number: the 1-based page number.
        kind: "blank", "image" or "drawing" (:func:`rag_core.ingestion.pdf_ink.ink_kind`).
    """

    number: int
    kind: str


@dataclass(frozen=True)
class PdfHeadings:
    """Heading candidates of a page of a PDF without bookmarks, sent just before the page.

    Attributes:
        number: the 1-based page number.
        headings: ``[size, bold, text]`` lists (see
            :meth:`rag_core.ingestion.pdf_headings.LineFonts.headings`).
    """

    number: int
    headings: list[list[Any]]


def check_pdf_magic(name: str, data: bytes) -> None:
    """Reject bytes that are not a PDF before any parser sees them.

    PDF 1.7 (ISO 32000-1, 7.5.2) puts the ``%PDF-`` header first. Some readers accept it
    anywhere in the first 1 KiB, but that also accepts containers with a PDF stored near
    their start (a ZIP holding an uncompressed ``.pdf`` parses as that PDF), so only
    whitespace, NULs and a byte-order mark may come before it here.

    Raises:
        DocumentError: when the bytes do not start with ``%PDF-``.
    """
    if not data.lstrip(LEADING_BYTES).startswith(PDF_MAGIC):
        raise DocumentError(
            name, "this is not a PDF file (no %PDF- header); was it renamed?", "not_pdf"
        )


def iter_pdf_pages(
    name: str,
    data: bytes,
    *,
    password: str | None = None,
    timeout_s: float = 120.0,
    memory_limit: int = MEMORY_LIMIT_BYTES,
) -> Iterator[PdfMeta | PdfHeadings | PdfInk | tuple[int, str]]:
    """Yield a :class:`PdfMeta`, then ``(page_number, text)`` for every page, in order.

    A PDF without bookmarks also gets a :class:`PdfHeadings` before each page that has
    lines set large or bold (heading candidates); a page without text gets a
    :class:`PdfInk` before it (blank, image or drawing).

    Args:
        name: display name, for messages only.
        data: the PDF's bytes.
        password: user or owner password of an encrypted PDF.
        timeout_s: wall-clock seconds the child may take to read the whole PDF; past it
            the child is killed. Pages it has already sent are not held against it,
            however slowly the caller consumes them.
        memory_limit: address-space cap of the child, in bytes.

    Yields:
        First a ``PdfMeta``; then 1-based page numbers with their extracted text, each
        preceded by its ``PdfHeadings`` when it has any and by its ``PdfInk`` when it
        has no text.

    Raises:
        DocumentError: not a PDF, damaged, too complex (timeout) or too large (memory).
        PasswordRequiredError: encrypted and no password given.
        WrongPasswordError: the password does not open it.
    """
    check_pdf_magic(name, data)
    warn_if_memory_unlimited()
    header = json.dumps(password).encode() + b"\n"
    args = [str(memory_limit)]
    for message in run_child("rag_core.ingestion.worker", args, [header, data], timeout_s):
        kind = message[0]
        if kind == "meta":
            yield PdfMeta(message[1], message[2], *message[3:5])
        elif kind == "headings":
            yield PdfHeadings(number=message[1], headings=message[2])
        elif kind == "page":
            if len(message) > 3 and message[3]:
                yield PdfInk(message[1], message[3])
            yield (message[1], message[2])
        elif kind == "error":
            raise _error_from_child(name, message[1], message[2])
        elif kind == "timeout":
            raise DocumentError(
                name,
                f"the PDF is too complex: reading it took longer than {timeout_s:.0f} s",
                "too_complex",
                {"seconds": round(timeout_s)},
            )
        elif kind == "eof":
            raise _crash_error(name, message[1])


def run_child(
    module: str,
    args: list[str],
    data: list[bytes],
    timeout_s: float,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Run ``python -m module *args`` on ``data`` (its stdin) and yield its JSON-line messages.

    The child's output is read on a thread into an unbounded queue, so it works at its own
    pace while the caller handles earlier messages; the deadline is on the child's work,
    not on the caller's.

    Args:
        module: the child's module (it reads stdin and writes JSON lines to stdout).
        args: its command-line arguments.
        data: written to its stdin one after the other (then it is closed).
        timeout_s: wall-clock seconds the child may run before it is killed.
        env: extra environment variables for the child.

    Yields:
        The child's messages as tuples; the generator ends after ``("done",)`` or
        ``("error", ...)``, or with ``("timeout",)`` (the child was killed) or
        ``("eof", exitcode)`` (it stopped without a last word).
    """
    child = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**child_env(), **(env or {})},
    )
    messages: queue.Queue[Any] = queue.Queue()
    finished = threading.Event()
    threading.Thread(target=_feed, args=(child, data), daemon=True).start()
    threading.Thread(target=_pump, args=(child, messages, finished), daemon=True).start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if not finished.is_set() and time.monotonic() >= deadline:
                yield ("timeout",)
                return
            try:
                message = messages.get(timeout=0.5)
            except queue.Empty:
                continue
            if message[0] == "eof":
                yield ("eof", child.wait(timeout=5))
                return
            yield message
            if message[0] in ("done", "error"):
                return
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=5)


def _feed(child: subprocess.Popen[bytes], data: list[bytes]) -> None:
    """Write the byte strings of ``data`` to the child's stdin and close it."""
    assert child.stdin is not None
    try:
        for part in data:
            child.stdin.write(part)
        child.stdin.close()
    except (BrokenPipeError, OSError):
        pass


def _pump(child: subprocess.Popen[bytes], out: queue.Queue[Any], finished: threading.Event) -> None:
    """Move the child's JSON-lines messages into ``out``; ``("eof",)`` when it stops.

    Sets ``finished`` before queueing the child's last word (done, error or end of output).
    """
    assert child.stdout is not None
    for line in child.stdout:
        try:
            message = tuple(json.loads(line))
        except ValueError:
            break
        if message and message[0] in ("done", "error"):
            finished.set()
        out.put(message)
    finished.set()
    out.put(("eof",))


def _crash_error(name: str, exitcode: int | None) -> DocumentError:
    logger.warning("PDF worker for %s died with exit code %s", name, exitcode)
    return DocumentError(
        name,
        "the PDF could not be read: the reader ran out of memory or crashed (too large?)",
        "too_large",
    )


def _error_from_child(name: str, kind: str, detail: str) -> DocumentError:
    errors: dict[str, Callable[[], DocumentError]] = {
        "password": lambda: PasswordRequiredError(
            name, "the PDF is encrypted: enter its password", "password_required"
        ),
        "wrong_password": lambda: WrongPasswordError(name, "wrong password", "wrong_password"),
        "limit": lambda: DocumentError(
            name,
            f"the PDF exceeds the reader's safety limits (decompression bomb?): {detail}",
            "limit",
        ),
        "dependency": lambda: DocumentError(
            name, f"the PDF needs a missing decoder: {detail}", "dependency"
        ),
        "memory": lambda: DocumentError(
            name, "the PDF is too large to read within the memory limit", "too_large"
        ),
    }
    factory = errors.get(kind)
    if factory is not None:
        return factory()
    return DocumentError(
        name, f"the PDF is damaged or truncated and cannot be read ({detail})", "damaged"
    )


def limit_memory(limit: int) -> bool:
    """Cap this process's address space at ``limit`` bytes (``resource.RLIMIT_AS``).

    Args:
        limit: the cap, in bytes.

    Returns:
        True when the cap is set; False on a platform without ``resource`` (Windows) or
        without ``RLIMIT_AS`` (then only the wall-clock limit protects the parse).
    """
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, AttributeError, ValueError, OSError):
        return False
    return True


@functools.cache
def warn_if_memory_unlimited() -> bool:
    """Log once per process when the parse worker's memory cap cannot be set here.

    Returns:
        True when the platform supports the cap (``resource.RLIMIT_AS``).
    """
    try:
        import resource

        supported = hasattr(resource, "RLIMIT_AS")
    except ImportError:
        supported = False
    if not supported:
        logger.warning(
            "this platform cannot cap the PDF parser's memory (no resource.RLIMIT_AS): "
            "PDFs are parsed with the time limit only"
        )
    return supported


def _table_finder(data: bytes, password: str | None) -> PlumberPages | None:
    """The table finder when ``RAG_PDF_TABLES=auto`` (default ``off``), else None.

    Off by default: on PDFs full of ruled boxes pdfplumber's pass costs more than the
    whole pypdf parse (docs/formats.md). Read here, in the worker, from the
    environment it inherits from the app or the CLI.
    """
    if os.environ.get("RAG_PDF_TABLES", "off").strip().lower() not in ("auto", "on", "1", "true"):
        return None
    return PlumberPages(data, password)


def _child_main(memory_limit: int) -> None:
    """Entry point of the parsing process (never raises: reports errors as messages).

    Reads a JSON password line and then the PDF bytes from stdin; writes JSON-lines
    messages to stdout.
    """
    import io

    limit_memory(memory_limit)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    stream = sys.stdout

    def put(message: tuple[Any, ...]) -> None:
        stream.write(json.dumps(message, ensure_ascii=False) + "\n")
        stream.flush()

    try:
        password = json.loads(sys.stdin.buffer.readline() or b"null")
        data = sys.stdin.buffer.read()
        from pypdf import PasswordType, PdfReader
        from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            result = reader.decrypt(password if password is not None else "")
            if result == PasswordType.NOT_DECRYPTED:
                put(("error", "password" if password is None else "wrong_password", ""))
                return
        n_pages = len(reader.pages)
        try:
            labels = list(reader.page_labels)
        except Exception:
            labels = []
        if len(labels) != n_pages:
            labels = [str(i) for i in range(1, n_pages + 1)]
        outline = read_outline(reader)
        put(("meta", n_pages, labels, read_title(reader), outline))
        tables = _table_finder(data, password)
        fonts = None if outline else LineFonts()  # no bookmarks: headings by font size
        for index, page in enumerate(reader.pages):
            text = page.extract_text(visitor_text=fonts.visit if fonts else None) or ""
            if fonts is not None and (headings := fonts.headings()):
                put(("headings", index + 1, headings))
            if tables is not None and may_hold_table(page):
                text = tables.page_text(index) or text
            ink = "" if text.strip() else ink_kind(page)
            put(("page", index + 1, text, ink))
        put(("done",))
    except MemoryError:
        put(("error", "memory", ""))
    except FileNotDecryptedError:
        put(("error", "password", ""))
    except LimitReachedError as exc:
        put(("error", "limit", str(exc)[:200]))
    except DependencyError as exc:
        put(("error", "dependency", str(exc)[:200]))
    except Exception as exc:
        put(("error", "damaged", f"{type(exc).__name__}: {str(exc)[:160]}"))


if __name__ == "__main__":
    _child_main(int(sys.argv[1]) if len(sys.argv) > 1 else MEMORY_LIMIT_BYTES)
