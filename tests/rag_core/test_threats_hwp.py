"""THREATS.md row 26, engine side: hostile HWPX / HWP files on a real store.

Each bad file is ingested into a knowledge base that already holds a good document; it must
fail with a clear message of its own, store nothing, and leave the other files of the same
upload free to go in. The files are built in tests/hwp_docs.py (python-hwpx, zip edits),
except hwplib's distribution-only sample (tests/data/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from rag_core.knowledge_base import KnowledgeBase
from tests import hwp_docs
from tests.conftest import settings_for
from tests.rag_core.test_threats import GOOD_TEXT, assert_only_good

BAD_FILES = [
    ("bomb.hwpx", hwp_docs.zip_bomb_hwpx, "hwp_limit", "zip bomb"),
    ("traversal.hwpx", hwp_docs.traversal_hwpx, "hwp_unsafe", "path traversal"),
    ("locked.hwpx", hwp_docs.encrypted_hwpx, "hwp_encrypted", "protected"),
    ("cut.hwpx", lambda: hwp_docs.regulation_hwpx()[:4000], "hwp_damaged", "damaged"),
    ("cut.hwp", lambda: hwp_docs.regulation_hwp()[:6000], "hwp_damaged", "damaged"),
    (
        "password.hwp",
        lambda: hwp_docs.password_hwp(hwp_docs.regulation_hwp()),
        "hwp_encrypted",
        "password",
    ),
    (
        "배포용.hwp",
        hwp_docs.HWPLIB_DISTRIBUTION.read_bytes,
        "hwp_encrypted",
        "distribution-only",
    ),
    ("renamed.hwp", lambda: b"%PDF-1.7 not really", "hwp_not_hwp", "not an HWP"),
]


@pytest.fixture
def kb_with_good(tmp_path: Path, embeddings: Embeddings) -> KnowledgeBase:
    """A knowledge base holding one good document, ``good.txt``."""
    kb = KnowledgeBase(settings_for(tmp_path / "data"), embeddings, parse_timeout_s=30)
    assert kb.ingest_bytes("good.txt", GOOD_TEXT).status == "indexed"
    return kb


@pytest.mark.parametrize(
    ("name", "make", "code", "words"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_a_bad_hwp_file_gets_a_clear_message_and_stores_nothing(
    kb_with_good: KnowledgeBase, name, make, code, words
):
    result = kb_with_good.ingest_bytes(name, make())
    assert result.status == "failed"
    assert result.error_code == code
    assert result.error.startswith(f"{name}: ") and words in result.error
    assert_only_good(kb_with_good)


def test_the_other_files_of_the_upload_still_go_in(kb_with_good: KnowledgeBase):
    results = [
        kb_with_good.ingest_bytes("bomb.hwpx", hwp_docs.zip_bomb_hwpx()),
        kb_with_good.ingest_bytes("traversal.hwpx", hwp_docs.traversal_hwpx()),
        kb_with_good.ingest_bytes("규정.hwpx", hwp_docs.regulation_hwpx()),
        kb_with_good.ingest_bytes("배포용.hwp", hwp_docs.HWPLIB_DISTRIBUTION.read_bytes()),
        kb_with_good.ingest_bytes("규정.hwp", hwp_docs.regulation_hwp()),
    ]
    assert [r.status for r in results] == ["failed", "failed", "indexed", "failed", "indexed"]
    names = sorted(d.name for d in kb_with_good.documents())
    assert names == ["good.txt", "규정.hwp", "규정.hwpx"]
    hits = kb_with_good.retrieve("귀임 후 며칠 이내에 여비를 정산하는가", k=5)
    assert any("제8조(정산)" in d.page_content for d in hits)
