"""A cancel raised from the progress callback stops the pipeline and leaves nothing."""

from __future__ import annotations

import pytest

from rag_core.errors import IngestCancelled
from rag_core.ingestion.progress import IngestProgress
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT, pdf_pages


@pytest.mark.parametrize("stage", ["parse", "embed", "store"])
def test_a_cancel_at_any_stage_keeps_only_the_earlier_version(empty_kb: KnowledgeBase, stage):
    kb = empty_kb
    old = kb.ingest_bytes("guide.pdf", pdf_pages(LSHORT, 13, 14))
    new = pdf_pages(LSHORT, 13, 40)
    seen: list[str] = []

    def cancel(event: IngestProgress) -> None:
        seen.append(event.stage)
        if event.stage == stage and event.done > 0:
            raise IngestCancelled("guide.pdf: cancelled")

    with pytest.raises(IngestCancelled):
        kb.ingest_bytes("guide.pdf", new, progress=cancel)
    assert stage in seen and "done" not in seen
    [doc] = kb.documents(include_incomplete=True)
    assert doc.sha256 == old.sha256 and doc.status == "complete"
    assert kb.store.count() == old.chunks
    assert set(kb.keyword_index.document_chunk_ids(old.sha256)) == kb.store.chunk_ids(old.sha256)
    assert sorted(p.name for p in kb.files.directory.iterdir()) == [f"{old.sha256}.pdf"]
    assert kb.retrieve("What is LaTeX?", k=1)[0].metadata["sha256"] == old.sha256
    again = kb.ingest_bytes("guide.pdf", new)  # nothing of the cancelled run is in the way
    assert again.status == "indexed" and again.embedded == again.chunks
