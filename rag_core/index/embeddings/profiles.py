"""Model profiles: what each embedding model people use with Korean needs and covers.

A profile records, from each model's card, the vector dimension, the text put before a
query and before a passage (the e5 family was trained with ``"query: "`` / ``"passage: "``
and loses recall without them), the maximum input length in tokens, whether the vectors
are L2-normalised, and the languages the model handles (these feed the hybrid weighting:
:func:`rag_core.language.embedding_covers`). The prefixes are applied in one place,
:class:`ProfiledEmbeddings`, around every runtime (torch, ONNX, OpenVINO), at
``embed_query`` / ``embed_documents``.

A model without a profile (a local path, another hub name) runs with
:data:`DEFAULT_PROFILE`: no prefixes, and the ``embedding_languages`` setting (or "en").
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.embeddings import Embeddings


@dataclass(frozen=True)
class ModelProfile:
    """What an embedding model needs and covers (from its model card).

    Attributes:
        name: the Hugging Face model id, e.g. "intfloat/multilingual-e5-small".
        dimension: length of its vectors (e.g. 384).
        query_prefix: text put before every query ("query: " for e5), "" for none.
        passage_prefix: text put before every passage ("passage: " for e5), "" for none.
        max_tokens: longest input in tokens; longer text is truncated by the model.
        normalized: True when the vectors are L2-normalised (cosine = dot product).
        languages: ISO 639-1 codes the model handles; "multilingual" for ~100 languages
            (the ``embedding_languages`` setting's format, joined by commas).
        source: the model card the facts come from.
    """

    name: str
    dimension: int | None = None
    query_prefix: str = ""
    passage_prefix: str = ""
    max_tokens: int | None = None
    normalized: bool = True
    languages: tuple[str, ...] = ("en",)
    source: str = ""

    @property
    def embedding_languages(self) -> str:
        """The languages as the ``embedding_languages`` setting writes them ("en,ko")."""
        return ",".join(self.languages)


_E5 = {"query_prefix": "query: ", "passage_prefix": "passage: ", "max_tokens": 512}
_MULTILINGUAL = ("multilingual", "ko", "en")

PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile(
            "sentence-transformers/all-MiniLM-L6-v2",
            dimension=384,
            max_tokens=256,
            languages=("en",),
            source="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
        ),
        ModelProfile(
            "intfloat/multilingual-e5-small",
            dimension=384,
            languages=_MULTILINGUAL,
            source="https://huggingface.co/intfloat/multilingual-e5-small",
            **_E5,  # type: ignore[arg-type]
        ),
        ModelProfile(
            "intfloat/multilingual-e5-base",
            dimension=768,
            languages=_MULTILINGUAL,
            source="https://huggingface.co/intfloat/multilingual-e5-base",
            **_E5,  # type: ignore[arg-type]
        ),
        ModelProfile(
            "intfloat/multilingual-e5-large",
            dimension=1024,
            languages=_MULTILINGUAL,
            source="https://huggingface.co/intfloat/multilingual-e5-large",
            **_E5,  # type: ignore[arg-type]
        ),
        ModelProfile(
            "nlpai-lab/KoE5",
            dimension=1024,
            languages=("ko", "en"),
            source="https://huggingface.co/nlpai-lab/KoE5",
            **_E5,  # type: ignore[arg-type]
        ),
        ModelProfile(
            "BAAI/bge-m3",
            dimension=1024,
            max_tokens=8192,
            languages=_MULTILINGUAL,
            source="https://huggingface.co/BAAI/bge-m3",
        ),
        ModelProfile(
            "nlpai-lab/KURE-v1",
            dimension=1024,
            max_tokens=8192,
            languages=("ko", "en"),
            source="https://huggingface.co/nlpai-lab/KURE-v1",
        ),
    )
}
"""The profiles by Hugging Face model id (facts from each model's card, see ``source``)."""

DEFAULT_PROFILE = ModelProfile("", languages=("en",))
"""The profile of a model we know nothing about: no prefixes, English."""


def profile_for(model_name: str) -> ModelProfile:
    """Return the profile of ``model_name``, or :data:`DEFAULT_PROFILE` for an unknown one.

    A name matches a profile by its full hub id or by its last part
    ("multilingual-e5-small", "all-MiniLM-L6-v2"), case-insensitively; an embedding
    identity's backend suffix ("...#onnx-int8") is ignored. A local directory matches by
    its folder name.

    Args:
        model_name: a hub id, a short name, a local path or an embedding identity.

    Returns:
        The profile (never None).
    """
    name = model_name.split("#", 1)[0].rstrip("/\\").lower()
    short = name.replace("\\", "/").rsplit("/", 1)[-1]
    for key, profile in PROFILES.items():
        if name == key.lower() or short == key.lower().rsplit("/", 1)[-1]:
            return profile
    return DEFAULT_PROFILE


class ProfiledEmbeddings(Embeddings):
    """An embedding model with its profile's query and passage prefixes applied.

    The one place the prefixes are added, whatever runtime computes the vectors.

    Args:
        inner: the model (any :class:`~langchain_core.embeddings.Embeddings`).
        profile: its profile (:func:`profile_for`).
    """

    def __init__(self, inner: Embeddings, profile: ModelProfile) -> None:
        """Wrap ``inner``."""
        self.inner = inner
        self.profile = profile

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed n passages (each prefixed with ``passage_prefix``) into n vectors."""
        prefix = self.profile.passage_prefix
        return self.inner.embed_documents([prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        """Embed one query, prefixed with ``query_prefix``."""
        return self.inner.embed_query(self.profile.query_prefix + text)


def with_profile(embeddings: Embeddings, model_name: str) -> Embeddings:
    """Return ``embeddings`` wrapped in :class:`ProfiledEmbeddings` when its profile has prefixes.

    Args:
        embeddings: the model as a runtime built it.
        model_name: its name (see :func:`profile_for`).

    Returns:
        ``embeddings`` itself for a model without prefixes, else the wrapper.
    """
    profile = profile_for(model_name)
    if not (profile.query_prefix or profile.passage_prefix):
        return embeddings
    return ProfiledEmbeddings(embeddings, profile)


__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "ModelProfile",
    "ProfiledEmbeddings",
    "profile_for",
    "with_profile",
]
