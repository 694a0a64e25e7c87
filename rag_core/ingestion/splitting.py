"""Pages -> chunks with stable, content-derived ids and character offsets.

Uses LangChain's ``RecursiveCharacterTextSplitter`` with ``add_start_index=True``
(https://python.langchain.com/docs/how_to/recursive_text_splitter/). A chunk's id is the
sha256 of ``"<file sha256>:<page>:<chunk index on the page>"``, so ingesting the same
content twice writes the same ids (an upsert, never a duplicate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag_core.ingestion.sections import section_parts
from rag_core.ingestion.spacing import RESPACED_KEY, Respaced
from rag_core.ingestion.tables import has_table, split_page_with_tables

SEPARATORS = ["\n\n", "\n", ". ", "다. ", "? ", "! ", " ", ""]
"""Paragraphs, lines, sentence ends (English and the Korean declarative ending), words."""


def build_splitter(
    chunk_size: int = 500, chunk_overlap: int = 50
) -> RecursiveCharacterTextSplitter:
    """Build the text splitter.

    Args:
        chunk_size: maximum characters per chunk.
        chunk_overlap: characters shared by consecutive chunks of a page.

    Returns:
        A splitter that records ``start_index`` (character offset in the page) in metadata.

    Raises:
        ValueError: when ``chunk_overlap >= chunk_size``.
    """
    if chunk_overlap >= chunk_size:
        raise ValueError(
            f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})"
        )
    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=SEPARATORS,
        keep_separator="end",
        add_start_index=True,
    )


def chunk_id(sha256: str, page: int, index: int) -> str:
    """Return the stable id of chunk ``index`` of ``page`` in the file with ``sha256``."""
    return hashlib.sha256(f"{sha256}:{page}:{index}".encode()).hexdigest()


def iter_chunks(
    pages: Iterable[Document], splitter: RecursiveCharacterTextSplitter
) -> Iterator[Document]:
    """Split page Documents into chunks, one page at a time, as the pages arrive.

    A page on which a section starts (see :func:`rag_core.ingestion.sections.section_parts`)
    is first cut at each section start, so no chunk spans one; the parts are then split
    as pages are, and chunk indexes and offsets stay those of the page.

    Args:
        pages: Documents with metadata ``sha256`` and ``page`` (from
            :mod:`rag_core.ingestion.loaders`).
        splitter: from :func:`build_splitter`.

    Yields:
        Chunks in page order. Each has ``id`` set and metadata copied from its page plus
        ``chunk_index`` (0-based, per page), ``start_index`` and ``end_index`` (character
        offsets of the chunk in its page's text) and ``section`` (its heading path, when
        known). A respaced page (its metadata holds a
        :class:`~rag_core.ingestion.spacing.Respaced` under ``RESPACED_KEY``, which is
        removed) is cut from the respaced text; its chunks also get ``respaced: True`` and
        ``source_start_index`` / ``source_end_index``, the same span in the extractor's text.
    """
    for page in pages:
        respaced = page.metadata.pop(RESPACED_KEY, None)
        index = -1
        for offset, part in section_parts(page):
            if has_table(part.page_content):  # rows kept whole, the header in every chunk
                pieces = split_page_with_tables(part, splitter)
            else:
                pieces = splitter.split_documents([part])
            for piece in pieces:
                index += 1
                if not piece.page_content.strip():
                    continue
                meta = _chunk_metadata(piece, offset, index, respaced)
                yield Document(
                    id=chunk_id(meta["sha256"], int(meta["page"]), index),
                    page_content=piece.page_content,
                    metadata=meta,
                )


def _chunk_metadata(
    piece: Document, offset: int, index: int, respaced: object
) -> dict[str, object]:
    """A chunk's metadata: its piece's, with its index and offsets in the page's text.

    Args:
        piece: the chunk as the splitter made it, offsets relative to its part.
        offset: where the part starts in the page's text (characters).
        index: the chunk's 0-based index on its page.
        respaced: the page's :class:`Respaced` record, if its spacing was restored.
    """
    meta = dict(piece.metadata)
    meta["chunk_index"] = index
    start = int(meta.get("start_index", -1))
    if "end_index" in meta and start >= 0:  # a table chunk has it: its header is repeated
        meta["end_index"] = int(meta["end_index"]) + offset
    start = start + offset if start >= 0 else -1
    meta["start_index"] = start
    if "end_index" not in meta:
        meta["end_index"] = start + len(piece.page_content) if start >= 0 else -1
    if isinstance(respaced, Respaced) and start >= 0:
        meta["respaced"] = True
        meta["source_start_index"] = respaced.to_original(start)
        meta["source_end_index"] = respaced.to_original(int(meta["end_index"]))
    return meta


def split_pages(
    pages: Iterable[Document], splitter: RecursiveCharacterTextSplitter
) -> list[Document]:
    """Split page Documents into chunks; the list of :func:`iter_chunks`."""
    return list(iter_chunks(pages, splitter))


def join_page_chunks(chunks: Iterable[tuple[str, Mapping[str, object]]]) -> str:
    """Rebuild a page's text from its stored chunks (the inverse of :func:`iter_chunks`).

    Chunks are laid at their ``start_index`` in page order; the overlap a chunk shares with
    the one before (``chunk_overlap``) is written once, and the whitespace the splitter
    dropped between two chunks becomes one line break. A table chunk (its header repeated,
    so its text is longer than its span) is kept whole.

    Args:
        chunks: ``(text, metadata)`` of the chunks of one page, in any order; metadata
            with ``start_index`` and ``end_index`` (character offsets in the page's text)
            as :func:`iter_chunks` writes them (-1 or missing: placed after the others).

    Returns:
        The page's text as it was indexed ("" for no chunks).
    """

    def start_of(chunk: tuple[str, Mapping[str, object]]) -> tuple[int, int]:
        start = int(str(chunk[1].get("start_index", -1)))
        index = int(str(chunk[1].get("chunk_index", 0)))
        return (start if start >= 0 else 1 << 62, index)

    parts: list[str] = []
    cursor = 0
    for text, meta in sorted(chunks, key=start_of):
        start = int(str(meta.get("start_index", -1)))
        end = int(str(meta.get("end_index", -1)))
        if start < 0 or end < 0:
            parts.append(("\n" if parts else "") + text)
            continue
        if end <= cursor:
            continue  # wholly inside what is already written
        if start < cursor and len(text) == end - start:
            parts.append(text[cursor - start :])
        else:
            parts.append(("\n" if parts and start > cursor else "") + text)
        cursor = end
    return "".join(parts)
