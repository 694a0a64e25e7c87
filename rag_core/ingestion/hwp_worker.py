"""Parse untrusted HWPX / HWP 5 files in a separate process, with a time and memory limit.

The same protocol as the PDF worker (:mod:`rag_core.ingestion.worker`): the child
(``python -m rag_core.ingestion.hwp_worker MEMORY_LIMIT``) caps its address space, reads
the file's bytes from stdin and writes JSON lines; the parent kills it at the wall-clock
deadline. The archive is checked before it is decompressed
(:func:`rag_core.ingestion.hwp.check_archive`: zip bombs, path-traversal member names,
encryption; THREATS row 26).

Messages from the child: ``("meta", n_paragraphs, format)``,
``("block", first, last, label, text)``, ``("error", kind, detail)``, ``("done",)``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag_core.errors import DocumentError
from rag_core.ingestion.worker import (
    MEMORY_LIMIT_BYTES,
    limit_memory,
    run_child,
    warn_if_memory_unlimited,
)

logger = logging.getLogger(__name__)


_MESSAGES = {
    "encrypted": (
        "hwp_encrypted",
        "the document is protected (password, distribution-only 배포용 or DRM) and cannot "
        "be read: save an unprotected copy in Hancom Office ({detail})",
    ),
    "limit": (
        "hwp_limit",
        "the file exceeds the reader's safety limits (zip bomb?): {detail}",
    ),
    "unsafe": (
        "hwp_unsafe",
        "the HWPX archive has an unsafe member name (path traversal?): {detail}",
    ),
    "not_hwp": ("hwp_not_hwp", "this is not an HWP or HWPX file; was it renamed?"),
    "hwp3": ("hwp3", "HWP 3.0 files are not supported: save it as HWPX in Hancom Office"),
    "memory": ("hwp_too_large", "the document is too large to read within the memory limit"),
}


@dataclass(frozen=True)
class HwpMeta:
    """What the child reports before the blocks.

    Attributes:
        n_paragraphs: body paragraphs of the document (its "pages").
        format: "hwpx" or "hwp" (HWP 5 binary).
    """

    n_paragraphs: int
    format: str


def iter_hwp_blocks(
    name: str,
    data: bytes,
    *,
    timeout_s: float = 120.0,
    memory_limit: int = MEMORY_LIMIT_BYTES,
) -> Iterator[HwpMeta | tuple[int, int, str, str]]:
    """Yield an :class:`HwpMeta`, then ``(first, last, label, text)`` for every block.

    Args:
        name: display name, for messages only.
        data: the HWPX or HWP file's bytes (the format is sniffed, not taken from the name).
        timeout_s: wall-clock seconds the child may take; past it the child is killed.
        memory_limit: address-space cap of the child, in bytes.

    Yields:
        First the meta; then each block's first and last paragraph numbers (1-based),
        heading path label and text (see :class:`rag_core.ingestion.hwp.Block`).

    Raises:
        DocumentError: with code ``hwp_encrypted``, ``hwp_limit``, ``hwp_unsafe``,
            ``hwp_not_hwp``, ``hwp3``, ``hwp_damaged``, ``hwp_too_large`` or
            ``hwp_too_complex``.
    """
    warn_if_memory_unlimited()
    args = [str(memory_limit)]
    for message in run_child("rag_core.ingestion.hwp_worker", args, [data], timeout_s):
        kind = message[0]
        if kind == "meta":
            yield HwpMeta(n_paragraphs=message[1], format=message[2])
        elif kind == "block":
            yield (message[1], message[2], message[3], message[4])
        elif kind == "error":
            raise error_from_child(name, message[1], message[2])
        elif kind == "timeout":
            raise DocumentError(
                name,
                f"the document is too complex: reading it took longer than {timeout_s:.0f} s",
                "hwp_too_complex",
                {"seconds": round(timeout_s)},
            )
        elif kind == "eof":
            logger.warning("HWP worker for %s died with exit code %s", name, message[1])
            raise error_from_child(name, "memory", "")


def error_from_child(name: str, kind: str, detail: str) -> DocumentError:
    """The DocumentError for the child's error ``kind`` (see HwpParseError) and detail."""
    code, template = _MESSAGES.get(
        kind, ("hwp_damaged", "the document is damaged and cannot be read ({detail})")
    )
    return DocumentError(name, template.format(detail=detail), code)


def _child_main(memory_limit: int) -> None:
    """Entry point of the parsing process (never raises: reports errors as messages)."""
    limit_memory(memory_limit)
    logging.getLogger("hwpx").setLevel(logging.ERROR)

    def put(message: tuple[Any, ...]) -> None:
        sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    try:
        from rag_core.ingestion.hwp import HwpParseError, read_blocks, sniff

        data = sys.stdin.buffer.read()
        kind = sniff(data)
        n_paragraphs, blocks = read_blocks(data)
        put(("meta", n_paragraphs, kind))
        for block in blocks:
            put(("block", block.first, block.last, block.label, block.text))
        put(("done",))
    except MemoryError:
        put(("error", "memory", ""))
    except HwpParseError as exc:
        put(("error", exc.kind, exc.detail[:200]))
    except RecursionError:
        put(("error", "limit", "nested too deeply"))
    except Exception as exc:
        put(("error", "damaged", f"{type(exc).__name__}: {str(exc)[:160]}"))


if __name__ == "__main__":
    _child_main(int(sys.argv[1]) if len(sys.argv) > 1 else MEMORY_LIMIT_BYTES)


class HwpPages:
    """An HWP/HWPX document's blocks as the ``(page, text)`` items of a PageStream.

    Starts the worker and waits for its meta (so a bad file fails here). A block is a
    "page" numbered by its first paragraph; its heading path is kept in :attr:`labels`.

    Args:
        name: display name, for messages.
        data: the file's bytes.
        timeout_s: wall-clock limit of the worker, in seconds.

    Attributes:
        n_pages: body paragraphs of the document.
        kind: "hwpx" or "hwp" (the container, sniffed from the bytes).
        labels: heading path of each block read so far, by its first paragraph.

    Raises:
        DocumentError: see :func:`iter_hwp_blocks` (from the constructor, or from the
            iteration for problems met later).
    """

    def __init__(self, name: str, data: bytes, *, timeout_s: float = 120.0) -> None:
        """Start the worker and read the document's meta."""
        self._blocks = iter_hwp_blocks(name, data, timeout_s=timeout_s)
        meta = next(self._blocks)
        assert isinstance(meta, HwpMeta)
        self.n_pages, self.kind = meta.n_paragraphs, meta.format
        self.labels: dict[int, str] = {}

    def __iter__(self) -> Iterator[tuple[int, str]]:
        """Yield ``(first paragraph, text)`` of each block, in order."""
        for item in self._blocks:
            assert not isinstance(item, HwpMeta)
            first, _last, label, text = item
            self.labels[first] = label
            yield first, text

    def close(self) -> None:
        """Stop the worker if it is still running (idempotent)."""
        self._blocks.close()  # type: ignore[attr-defined]
