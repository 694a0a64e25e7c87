"""The original files, kept next to the store so cited pages can be shown and re-indexed.

Files are stored under their content hash (``files/<sha256>.pdf``), never under the name
they were uploaded with, so a hostile file name cannot choose a path. The word boxes of a
PDF's OCR'd pages lie beside it (``files/<sha256>.ocr.jsonl``, one JSON line per page:
``{"page": 3, "words": [[text, left, top, right, bottom], ...]}``, boxes as fractions of the
page), for the page view to highlight a passage on a page without a text layer.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PDF_SUFFIXES = frozenset({".pdf"})
"""File name suffixes read as PDFs."""
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
"""File name suffixes read as plain text."""
HWP_SUFFIXES = frozenset({".hwpx", ".hwp"})
"""File name suffixes read as Hangul (HWPX, HWP 5) documents."""
SUPPORTED_SUFFIXES = PDF_SUFFIXES | TEXT_SUFFIXES | HWP_SUFFIXES
"""Every file kind the app ingests (and keeps the original of, for the page view)."""

SHA256_HEX_CHARS = 64
WORDS_SUFFIX = ".ocr.jsonl"
"""Suffix of the OCR word boxes stored beside an original file."""


def words_path(stored: Path) -> Path:
    """Where the OCR word boxes of the stored file ``stored`` are (they may not exist)."""
    return stored.with_name(stored.name.split(".", 1)[0] + WORDS_SUFFIX)


def page_words(stored: Path, page: int) -> list[list[Any]] | None:
    """The OCR word boxes of one page of a stored file, or None when it was not OCR'd.

    Args:
        stored: the stored original (``files/<sha256>.pdf``).
        page: 1-based page number.

    Returns:
        ``[text, left, top, right, bottom]`` per word (fractions of the page), or None.
    """
    path = words_path(stored)
    if not path.is_file():
        return None
    prefix = f'{{"page": {page},'
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(prefix):
                words: list[list[Any]] = json.loads(line)["words"]
                return words
    return None


class SourceFiles:
    """A directory of original files keyed by sha256.

    Args:
        directory: where the files live (created if missing).
    """

    def __init__(self, directory: Path) -> None:
        """Remember (and create) the directory."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str, suffix: str) -> Path:
        if len(sha256) != SHA256_HEX_CHARS or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        clean = suffix.lower() if suffix.lower() in SUPPORTED_SUFFIXES else ""
        return self.directory / f"{sha256}{clean}"

    def save(self, sha256: str, suffix: str, data: bytes) -> Path:
        """Store ``data`` atomically (write to a temp file, then rename); return its path.

        Raises:
            ValueError: ``sha256`` is not a hex digest.
            OSError: the disk is full or not writable.
        """
        path = self._path(sha256, suffix)
        if path.exists():
            return path
        return self._write_atomically(path, data)

    def save_words(self, sha256: str, pages: Mapping[int, list[list[Any]]]) -> Path:
        """Store the OCR word boxes of a document's pages atomically; return the path.

        Args:
            sha256: the document.
            pages: page number -> ``[text, left, top, right, bottom]`` per word.

        Raises:
            ValueError: ``sha256`` is not a hex digest.
            OSError: the disk is full or not writable.
        """
        path = words_path(self._path(sha256, ""))
        lines = (
            json.dumps({"page": page, "words": words}, ensure_ascii=False) + "\n"
            for page, words in sorted(pages.items())
        )
        return self._write_atomically(path, "".join(lines).encode("utf-8"))

    def _write_atomically(self, path: Path, data: bytes) -> Path:
        """Write ``data`` to a temporary file beside ``path`` and rename it into place.

        A reader never sees half a file, and a failed write leaves no temporary behind.
        """
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def _stored(self, sha256: str) -> Iterator[Path]:
        """The document's files: the original and its word boxes."""
        for path in self.directory.glob(f"{sha256}*"):
            if path.name.startswith(sha256) and not path.name.startswith("."):
                yield path

    def find(self, sha256: str) -> Path | None:
        """Return the stored file of a document, or None."""
        for path in self._stored(sha256):
            if not path.name.endswith(WORDS_SUFFIX):
                return path
        return None

    def delete(self, sha256: str) -> None:
        """Remove a document's stored file and word boxes (no error if not there)."""
        for path in list(self._stored(sha256)):
            path.unlink(missing_ok=True)
            logger.info("removed stored file %s", path.name)


class SourceFileSet:
    """Several :class:`SourceFiles` directories searched in order (one per collection)."""

    def __init__(self, stores: list[SourceFiles]) -> None:
        """Search ``stores`` in this order."""
        self.stores = stores

    def find(self, sha256: str) -> Path | None:
        """Return the first stored file of a document, or None."""
        for store in self.stores:
            path = store.find(sha256)
            if path is not None:
                return path
        return None


__all__ = ["SourceFileSet", "SourceFiles", "page_words", "words_path"]
