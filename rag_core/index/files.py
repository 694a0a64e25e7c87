"""The original files, kept next to the store so cited pages can be shown and re-indexed.

Files are stored under their content hash (``files/<sha256>.pdf``), never under the name
they were uploaded with, so a hostile file name cannot choose a path.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from rag_core.ingestion.loaders import SUPPORTED_SUFFIXES

logger = logging.getLogger(__name__)

SHA256_HEX_CHARS = 64


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
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def find(self, sha256: str) -> Path | None:
        """Return the stored file of a document, or None."""
        for path in self.directory.glob(f"{sha256}*"):
            if path.name.startswith(sha256) and not path.name.startswith("."):
                return path
        return None

    def delete(self, sha256: str) -> None:
        """Remove a document's stored file (no error if it is not there)."""
        path = self.find(sha256)
        if path is not None:
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


__all__ = ["SourceFileSet", "SourceFiles"]
