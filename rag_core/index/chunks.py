"""What a stored chunk is made of: its metadata keys and the texts derived from it.

Ingestion writes chunks with these keys and texts; the index (BM25, the vector store) and
retrieval read them. Both import this one module, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.documents import Document

SECTION_KEY = "section"
"""Chunk metadata: the heading path, ``"Chapter > Section"`` (absent when unknown)."""
TITLE_KEY = "doc_title"
"""Chunk metadata: the document's title."""
STARTS_KEY = "section_starts"
"""Page metadata (removed by :func:`section_parts`): ``[[offset, path], ...]``."""
PATH_SEPARATOR = " > "
"""Between the headings of a heading path."""
TERMS_METADATA_KEY = "bm25_terms"
"""Chunk metadata key holding the chunk's BM25 terms, space-separated."""

ANALYZER_METADATA_KEY = "bm25_analyzer"
"""Chunk metadata key holding the :data:`~rag_core.index.analyzer.ANALYZER_VERSION` that
made its terms."""


def _prefix(metadata: Mapping[str, Any], *, title: bool) -> str:
    parts = (str(metadata.get(TITLE_KEY) or "") if title else "", metadata.get(SECTION_KEY))
    return PATH_SEPARATOR.join(str(p) for p in parts if p)


def embedded_text(chunk: Document) -> str:
    """The text of a chunk that is embedded: its heading path, then the passage.

    The document title is left out of the embedding: on the development set it lowered
    dense MRR@5 (0.493 -> 0.461 with the title alone, 0.492 with title and path; a title
    such as lshort.pdf's first bookmark "Thank you!" says little about a passage), while
    in the keyword text it helps BM25 (docs/retrieval.md).

    Args:
        chunk: the chunk; its metadata's :data:`SECTION_KEY` is used (chunks stored
            before sections existed have none and embed as they did).

    Returns:
        ``section``, a line break, then the passage; or the passage alone.
    """
    prefix = _prefix(chunk.metadata, title=False)
    return f"{prefix}\n{chunk.page_content}" if prefix else chunk.page_content


def keyword_text(chunk: Document) -> str:
    """The text of a chunk that is analysed for BM25: title and heading path, then passage.

    Args:
        chunk: the chunk; its metadata's :data:`TITLE_KEY` and :data:`SECTION_KEY` are
            used.

    Returns:
        ``title > section``, a line break, then the passage; or the passage alone.
    """
    prefix = _prefix(chunk.metadata, title=True)
    return f"{prefix}\n{chunk.page_content}" if prefix else chunk.page_content


__all__ = [
    "ANALYZER_METADATA_KEY",
    "PATH_SEPARATOR",
    "SECTION_KEY",
    "STARTS_KEY",
    "TERMS_METADATA_KEY",
    "TITLE_KEY",
    "embedded_text",
    "keyword_text",
]
