"""A changed file replacing its old version: one version is searchable at every moment."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from rag_core.engine import Engine
from rag_core.ingestion.loaders import relative_name
from tests.conftest import settings_for

OLD = b"Walrus tusks: the old version says walrus tusks are short and grey."
NEW = b"Walrus tusks: the new version says walrus tusks are long and ivory white."
WRITES = {
    "store": ("upsert", "delete_document"),
    "registry": ("upsert", "swap", "remove"),
    "keyword_index": ("add_terms", "delete_document", "rebuild"),
}
"""Every method that writes what a search reads, by knowledge-base attribute."""


def test_search_during_a_replace_finds_the_old_version_then_the_new_never_both_or_neither(
    tmp_path: Path, embeddings: Embeddings
):
    engine = Engine(settings_for(tmp_path / "data"), embeddings)
    name = relative_name(["docs", "walrus.txt"])
    old = engine.ingest(name, OLD)
    assert old.status == "indexed"
    kb = engine.knowledge_base()
    seen: list[tuple[str, frozenset[str]]] = []
    searching = False

    def visible() -> frozenset[str]:
        hits = engine.search("walrus tusks version", translate=False, k=5).citations
        return frozenset(h.text for h in hits if "version says" in h.text)

    def after_each_write(label: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            nonlocal searching
            result = method(*args, **kwargs)
            if not searching:  # a search may bring the keyword index up to date itself
                searching = True
                try:
                    seen.append((label, visible()))
                finally:
                    searching = False
            return result

        return wrapped

    for part, methods in WRITES.items():
        target = getattr(kb, part)
        for method in methods:
            setattr(target, method, after_each_write(f"{part}.{method}", getattr(target, method)))

    new = engine.ingest(name, NEW)
    assert new.status == "indexed" and new.replaced == [old.sha256]
    for label, texts in seen:
        assert len(texts) == 1, f"after {label}: {sorted(texts)}"  # never both or neither
    labels = [label for label, _ in seen]
    assert "registry.swap" in labels and "store.delete_document" in labels
    versions = ["old" if "old version" in next(iter(t)) else "new" for _, t in seen]
    switch = labels.index("registry.swap")
    assert set(versions[:switch]) == {"old"} and set(versions[switch:]) == {"new"}
    assert [d.name for d in engine.documents()] == ["docs/walrus.txt"]
