"""Model profiles: prefixes applied in one place, languages feeding the hybrid weighting."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from pydantic import Field

from rag_core.index.embeddings import build_embeddings, resolve_model_path
from rag_core.index.embeddings.profiles import (
    DEFAULT_PROFILE,
    PROFILES,
    ProfiledEmbeddings,
    profile_for,
    with_profile,
)
from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import settings_for


class RecordingEmbeddings(DeterministicFakeEmbedding):
    """LangChain's deterministic fake model, remembering the texts it was given."""

    texts: list[str] = Field(default_factory=list)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.texts.append(text)
        return super().embed_query(text)


def test_every_profile_names_its_source_and_the_e5_family_has_prefixes():
    wanted = {
        "intfloat/multilingual-e5-small": 384,
        "intfloat/multilingual-e5-base": 768,
        "intfloat/multilingual-e5-large": 1024,
        "nlpai-lab/KoE5": 1024,
        "BAAI/bge-m3": 1024,
        "nlpai-lab/KURE-v1": 1024,
        "sentence-transformers/all-MiniLM-L6-v2": 384,
    }
    assert {name: p.dimension for name, p in PROFILES.items()} == wanted
    for name, profile in PROFILES.items():
        assert profile.source == f"https://huggingface.co/{name}"
        assert profile.max_tokens and profile.normalized
        e5 = "e5" in name.lower()
        assert (profile.query_prefix, profile.passage_prefix) == (
            ("query: ", "passage: ") if e5 else ("", "")
        )
        assert ("ko" in profile.languages) == ("MiniLM" not in name)
    assert profile_for("all-MiniLM-L6-v2").languages == ("en",)


def test_profiles_match_short_names_paths_and_identities_unknown_models_get_defaults():
    assert profile_for("multilingual-e5-small") is PROFILES["intfloat/multilingual-e5-small"]
    assert profile_for("/models/KoE5/") is PROFILES["nlpai-lab/KoE5"]
    assert profile_for("BAAI/bge-m3#onnx-int8") is PROFILES["BAAI/bge-m3"]
    assert profile_for("/models/my-own-model") is DEFAULT_PROFILE
    assert profile_for("someone/else") is DEFAULT_PROFILE
    plain = DeterministicFakeEmbedding(size=8)
    assert with_profile(plain, "someone/else") is plain  # unknown: left as it is


def test_e5_prefixes_reach_the_encoder_for_queries_and_passages():
    inner = RecordingEmbeddings(size=8)
    model = with_profile(inner, "intfloat/multilingual-e5-small")
    assert isinstance(model, ProfiledEmbeddings)
    model.embed_documents(["Sea otters hold hands.", "수달은 손을 잡는다."])
    model.embed_query("do otters hold hands?")
    assert inner.texts == [
        "passage: Sea otters hold hands.",
        "passage: 수달은 손을 잡는다.",
        "query: do otters hold hands?",
    ]
    same = with_profile(RecordingEmbeddings(size=8), "BAAI/bge-m3")  # no prefixes
    assert not isinstance(same, ProfiledEmbeddings)


@pytest.fixture(scope="module")
def e5_named_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged MiniLM files in a folder named like an e5 model (a local model path)."""
    target = tmp_path_factory.mktemp("models") / "multilingual-e5-small"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), target)
    return target


def test_build_embeddings_applies_the_profile_for_the_torch_runtime(e5_named_copy: Path):
    model = build_embeddings(str(e5_named_copy), backend="torch")
    plain = build_embeddings("all-MiniLM-L6-v2", backend="torch")
    assert isinstance(model, ProfiledEmbeddings)
    got = np.array(model.embed_query("walruses on the ice"))
    assert np.dot(got, plain.embed_query("query: walruses on the ice")) > 0.9999
    assert np.dot(got, plain.embed_query("walruses on the ice")) < 0.999
    [passage] = model.embed_documents(["Walruses haul out on ice."])
    assert (
        np.dot(passage, plain.embed_documents(["passage: Walruses haul out on ice."])[0]) > 0.9999
    )


def test_the_profile_languages_feed_the_hybrid_weighting_unless_set(
    tmp_path: Path, e5_named_copy: Path, embeddings: Embeddings
):
    data = tmp_path / "data"
    e5 = KnowledgeBase(
        settings_for(data, embedding_model=str(e5_named_copy), embedding_backend="torch"),
        DeterministicFakeEmbedding(size=384),
    )
    assert e5.retriever().embedding_languages == "multilingual,ko,en"
    minilm = KnowledgeBase(settings_for(data, collection="english"), embeddings)
    assert minilm.retriever().embedding_languages == "en"
    chosen = KnowledgeBase(
        settings_for(data, collection="chosen", embedding_languages="en,ko"), embeddings
    )
    assert chosen.retriever().embedding_languages == "en,ko"  # the user's setting wins
