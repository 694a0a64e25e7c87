"""A page's text rebuilt from its stored chunks (what the MCP ``read_page`` tool returns)."""

from __future__ import annotations

import random

from rag_core.ingestion.loaders import load_bytes
from rag_core.ingestion.splitting import build_splitter, join_page_chunks, split_pages
from tests.conftest import LSHORT, pdf_pages


def squash(text: str) -> str:
    return " ".join(text.split())


def test_chunks_of_real_pages_join_back_into_each_page_once():
    loaded = load_bytes("lshort.pdf", pdf_pages(LSHORT, 15, 18))
    chunks = split_pages(loaded.pages, build_splitter(300, 60))  # overlapping chunks
    for page in loaded.pages:
        mine = [
            (c.page_content, c.metadata)
            for c in chunks
            if c.metadata["page"] == page.metadata["page"]
        ]
        assert len(mine) > 2
        random.Random(7).shuffle(mine)  # the store returns them in any order
        joined = join_page_chunks(mine)
        assert squash(joined) == squash(page.page_content)  # every character once, in order


def test_no_chunks_is_an_empty_page():
    assert join_page_chunks([]) == ""
