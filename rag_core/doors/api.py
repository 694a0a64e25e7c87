"""The HTTP API: OpenAI-compatible chat completions over a collection, and a small REST API.

``python -m rag_core serve [--host 127.0.0.1] [--port 8080]`` runs it with uvicorn;
:func:`create_app` builds the FastAPI application around an :class:`~rag_core.engine.Engine`
(no global state: tests and benchmarks build as many as they like). The door only
translates HTTP to engine calls; every answer, search, listing and upload goes through
the engine with the :class:`~rag_core.access.Caller` of the request's API key
(``Authorization: Bearer <key>``, checked by ``engine.access.authenticate``).

Routes (details, examples and error codes: docs/api.md):

* ``GET /v1/models``: the collections the caller may read, as OpenAI models;
* ``POST /v1/chat/completions``: an answer from the collection named by ``model``,
  streamed (server-sent events, ``stream: true``) or not; ``[n]`` markers in the
  content, reasoning in ``reasoning_content``, a top-level ``citations`` list (on the
  last chunk when streamed);
* ``POST /v1/collections/{name}/search``: the top-k passages for a query;
* ``GET /v1/collections/{name}/documents``: the documents, each with its ``id`` (sha256);
* ``POST /v1/collections/{name}/documents``: multipart upload of one or several files
  (202, one background ingest job per file); ``GET /v1/collections/{name}/jobs/{id}``
  polls a job;
* ``DELETE /v1/collections/{name}/documents/{id}``: removes a document (204 / 404).

Every error is JSON ``{"error": {"code": "...", "message": "..."}}``; everything that
came from a caller, a document or a model is returned as JSON-encoded text, never HTML.

The engine's answer stream is synchronous (blocking HTTP calls to Ollama), so each
streamed answer is iterated in the thread pool
(:func:`starlette.concurrency.run_in_threadpool`, one event at a time): concurrent
streams do not block each other or the event loop.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations, which
# name objects local to create_app (the caller dependency).
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Request, Security
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive

from rag_core.access import Caller
from rag_core.config import COLLECTION_NAME_PATTERN
from rag_core.doors.listening import check_host
from rag_core.engine import AskOptions, Engine
from rag_core.errors import (
    AuthenticationError,
    CollectionNotFoundError,
    DocumentError,
    EmbeddingModelMismatchError,
    OllamaBusyError,
    OllamaError,
    OllamaModelNotFoundError,
    OllamaTimeoutError,
    OllamaUnreachableError,
    PermissionDeniedError,
    RagError,
    StoreBusyError,
    StoreUnavailableError,
)
from rag_core.generation.citations import Citation
from rag_core.generation.claims import canonical_citations
from rag_core.generation.types import (
    AnswerDelta,
    AnswerEvent,
    AnswerFold,
    AnswerRetracted,
    ChatTurn,
    RagAnswer,
    Retrying,
    ThinkingDelta,
)
from rag_core.ingest_queue import IngestJob
from rag_core.ingestion.loaders import display_name

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
"""Largest upload request body, in bytes (200 MiB, the app's ``maxUploadSize``); larger
requests are answered 413 before the rest of the body is read."""
MAX_UPLOAD_FILES = 20
"""Most files in one upload request (413 beyond)."""
DELETE_LOCK_WAIT_S = 30.0
"""Seconds a DELETE waits for the store's write lock (an ingest in progress) before 503."""
COLLECTION_NAME = COLLECTION_NAME_PATTERN
"""A collection name as Chroma allows it (the ``collection`` setting's rule)."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

OLLAMA_STATUS: dict[str, tuple[int, str]] = {
    "unreachable": (503, "model_unreachable"),
    "missing_model": (503, "model_missing"),
    "busy": (503, "model_busy"),
    "timeout": (504, "model_timeout"),
}
"""The engine's Ollama error codes (:class:`~rag_core.errors.OllamaError`) -> HTTP
status and the API's error code."""

CollectionName = Annotated[
    str, PathParam(pattern=COLLECTION_NAME, description="the collection's name")
]


class ApiError(Exception):
    """An error the API answers as ``{"error": {"code", "message"}}``.

    Args:
        status: the HTTP status.
        code: the stable error code (docs/api.md lists them).
        message: what a person can do about it (English).
        headers: extra response headers.
    """

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        """Keep the status, code, message and headers."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_status(exc: RagError) -> tuple[int, str]:
    """The HTTP status and the API error code for one of the engine's errors.

    Args:
        exc: the error.

    Returns:
        ``(status, code)``, e.g. ``(404, "collection_not_found")``.
    """
    mapping: list[tuple[type[RagError], int, str]] = [
        (AuthenticationError, 401, "unauthorized"),
        (PermissionDeniedError, 403, "forbidden"),
        (CollectionNotFoundError, 404, "collection_not_found"),
        (DocumentError, 400, "bad_file"),
        (StoreBusyError, 503, "busy"),
        (StoreUnavailableError, 503, "store_unavailable"),
        (EmbeddingModelMismatchError, 409, "reindex_needed"),
        (OllamaUnreachableError, *OLLAMA_STATUS["unreachable"]),
        (OllamaModelNotFoundError, *OLLAMA_STATUS["missing_model"]),
        (OllamaBusyError, *OLLAMA_STATUS["busy"]),
        (OllamaTimeoutError, *OLLAMA_STATUS["timeout"]),
        (OllamaError, 502, "model_error"),
    ]
    for kind, status, code in mapping:
        if isinstance(exc, kind):
            if isinstance(exc, DocumentError) and exc.code == "unsupported":
                return 415, "bad_file"
            return status, code
    return 500, "internal_error"


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of an error: ``{"error": {"code", "message"}, **extra}``."""
    return {"error": {"code": code, "message": message}, **extra}


def _json_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


# --------------------------------------------------------------------------- JSON shapes
def citation_json(citation: Citation, cited: Collection[int] | None = None) -> dict[str, Any]:
    """One passage as the API returns it.

    Args:
        citation: the numbered passage.
        cited: the numbers the answer cites (adds ``cited``); None for a search result
            (adds ``score``, the retriever's score, see :mod:`rag_core.retrieval`).

    Returns:
        ``number, source, page, page_label, section, text, document_id`` and ``cited``
        or ``score``.
    """
    out: dict[str, Any] = {
        "number": citation.number,
        "source": citation.source,
        "page": citation.page,
        "page_label": citation.page_label,
        "section": citation.section,
        "text": citation.text,
        "document_id": citation.sha256,
    }
    if cited is None:
        out["score"] = citation.score
    else:
        out["cited"] = citation.number in cited
    return out


def answer_citations(answer: RagAnswer) -> list[dict[str, Any]]:
    """The answer's sources with ``cited`` (the numbers its check found cited)."""
    cited = set(answer.check.cited)
    return [citation_json(c, cited) for c in answer.citations]


def finish_reason(answer: RagAnswer) -> str:
    """OpenAI's ``finish_reason``: "length" when the model was cut off, else "stop"."""
    return "length" if answer.check.truncated else "stop"


def answer_error(answer: RagAnswer) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of an answer whose model (or store) failed.

    The body keeps the sources that were retrieved (``citations``, none cited): a
    client can still show the passages when the model is down.

    Args:
        answer: a folded answer with ``error`` set.

    Returns:
        ``(status, body)``: 503 model_unreachable / model_missing / model_busy, 504
        model_timeout, 502 model_error for another Ollama error, 500 answer_failed for a
        store failure.
    """
    if answer.error_code in OLLAMA_STATUS:
        status, code = OLLAMA_STATUS[answer.error_code]
    elif answer.error_code:
        status, code = 502, "model_error"
    else:
        status, code = 500, "answer_failed"
    return status, error_body(code, answer.error, citations=answer_citations(answer))


def document_json(record: Any) -> dict[str, Any]:
    """A :class:`~rag_core.index.registry.DocumentRecord` as the API lists it."""
    return {
        "id": record.sha256,
        "name": record.name,
        "pages": record.pages,
        "chunks": record.chunks,
        "added_at": record.added_at,
        "languages": [code for code in record.languages.split(",") if code],
        "status": record.status,
    }


def job_json(job: IngestJob, collection: str) -> dict[str, Any]:
    """A background ingest job as the API reports it.

    Args:
        job: the queue's snapshot of the job.
        collection: the collection it ingests into.

    Returns:
        ``id, name, collection, state`` ("queued", "running", "finished"), ``progress``
        (stage, done, total) once started, ``result`` (status "indexed" / "unchanged" /
        "failed", document_id, pages, chunks, warning) once finished, and ``error``
        (code, message) when the file failed.
    """
    out: dict[str, Any] = {
        "id": job.key,
        "name": job.name,
        "collection": collection,
        "state": job.state,
        "progress": None,
        "result": None,
        "error": None,
    }
    if job.progress is not None:
        event = job.progress
        out["progress"] = {"stage": event.stage, "done": event.done, "total": event.total}
    if job.result is not None:
        result = job.result
        out["result"] = {
            "status": result.status,
            "document_id": result.sha256,
            "pages": result.pages,
            "chunks": result.chunks,
            "warning": result.warning,
        }
        if result.status == "failed":
            out["error"] = {
                "code": "bad_file",
                "message": result.error,
                "reason": result.error_code,
            }
    if job.error is not None:
        _, code = error_status(job.error)
        out["error"] = {
            "code": code,
            "message": str(job.error),
            "reason": job.error.code if isinstance(job.error, DocumentError) else "",
        }
    return out


# ------------------------------------------------------------------------- chat requests
class ContentPart(BaseModel):
    """One part of a message's content (only ``text`` parts are read)."""

    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str | None = None


class ChatMessageIn(BaseModel):
    """One message of an OpenAI chat request."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined; other parts ignored)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content or [] if part.type == "text")


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat completion request; parameters this API does not use are ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description="the collection to answer from (see GET /v1/models)")
    messages: list[ChatMessageIn] = Field(
        min_length=1,
        description="the conversation; the last message is the user's question, earlier "
        "user/assistant pairs are its history (system messages are ignored)",
    )
    stream: bool = False
    k: int | None = Field(default=None, ge=1, le=50, description="top-k passages")


class SearchRequest(BaseModel):
    """A search of one collection."""

    query: str = Field(min_length=1, max_length=4000)
    k: int | None = Field(default=None, ge=1, le=50, description="top-k passages")


def conversation(messages: Sequence[ChatMessageIn]) -> tuple[str, list[ChatTurn]]:
    """Split an OpenAI message list into the question and the earlier exchanges.

    Args:
        messages: the request's messages, oldest first.

    Returns:
        ``(question, history)``: the last message's text and each earlier user message
        with the assistant message that follows it ("" when none does).

    Raises:
        ApiError: 422 when the last message is not a user message with text.
    """
    *earlier, last = messages
    question = last.text().strip()
    if last.role != "user" or not question:
        raise ApiError(422, "invalid_request", "the last message must be a user message")
    history: list[ChatTurn] = []
    pending: str | None = None
    for message in earlier:
        if message.role == "user":
            if pending is not None:
                history.append(ChatTurn(pending, ""))
            pending = message.text()
        elif message.role == "assistant" and pending is not None:
            history.append(ChatTurn(pending, message.text()))
            pending = None
    if pending is not None:
        history.append(ChatTurn(pending, ""))
    return question, history


# --------------------------------------------------------------------------- chat stream
class _MarkerBuffer:
    """Rewrites citation markers to ``[n]`` in streamed text (best effort).

    Text after an opening ``[`` or ``【`` with no closing bracket yet is held back (at most
    :attr:`HOLD` characters) so a marker is rewritten whole by
    :func:`~rag_core.generation.claims.canonical_citations`; the last characters already
    sent are given as context so code spans and LaTeX arguments stay as they are.
    """

    HOLD = 32
    CONTEXT = 64

    def __init__(self) -> None:
        self._pending = ""
        self._sent = ""

    def feed(self, text: str) -> str:
        self._pending += text
        cut = max(self._pending.rfind("["), self._pending.rfind("【"))
        open_marker = cut >= 0 and not re.search(r"[\]】]", self._pending[cut:])
        if open_marker and len(self._pending) - cut <= self.HOLD:
            ready, self._pending = self._pending[:cut], self._pending[cut:]
            return self._emit(ready)
        ready, self._pending = self._pending, ""
        return self._emit(ready)

    def flush(self) -> str:
        ready, self._pending = self._pending, ""
        return self._emit(ready)

    def reset(self) -> None:
        self._pending = self._sent = ""

    def _emit(self, raw: str) -> str:
        if not raw:
            return ""
        context = self._sent[-self.CONTEXT :]
        before, after = canonical_citations(context), canonical_citations(context + raw)
        out = after[len(before) :] if after.startswith(before) else canonical_citations(raw)
        self._sent += raw
        return out


class ChatStream:
    """Turns an answer's events into OpenAI ``chat.completion.chunk`` objects.

    The answer is folded as it streams (:class:`~rag_core.generation.types.AnswerFold`,
    the one fold every door uses); the last chunk carries ``finish_reason``, the
    top-level ``citations`` and ``answer``, the folded answer text (what a non-streamed
    request returns as ``content``: authoritative when a model's reasoning was first
    streamed as answer and then retracted). A retraction or a language retry is a chunk
    with an empty delta and a top-level ``answer_reset`` ("retracted" / "retrying"):
    the content streamed so far is void.

    Args:
        question: the question (for the fold).
        model: the collection name, echoed as ``model``.
    """

    def __init__(self, question: str, model: str) -> None:
        """Start the fold; name the completion."""
        self.fold = AnswerFold(question)
        self.model = model
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self._markers = _MarkerBuffer()

    def chunk(
        self, delta: dict[str, Any], finish: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """One ``chat.completion.chunk`` with ``delta`` (and top-level ``extra`` fields)."""
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }

    def start(self) -> dict[str, Any]:
        """The first chunk: the assistant's role."""
        return self.chunk({"role": "assistant", "content": ""})

    def add(self, event: AnswerEvent) -> list[dict[str, Any]]:
        """Fold ``event`` in and return the chunks it makes (often none)."""
        self.fold.add(event)
        if isinstance(event, AnswerDelta):
            text = self._markers.feed(event.text)
            return [self.chunk({"content": text})] if text else []
        if isinstance(event, ThinkingDelta):
            return [self.chunk({"reasoning_content": event.text})] if event.text else []
        if isinstance(event, AnswerRetracted | Retrying):
            self._markers.reset()
            reset = "retracted" if isinstance(event, AnswerRetracted) else "retrying"
            return [self.chunk({}, answer_reset=reset)]
        return []

    def finish(self) -> list[dict[str, Any]]:
        """The last chunks: held-back text, then citations and finish_reason, or an error.

        A failed answer ends with ``{"error": {"code", "message"}, "citations": [...]}``
        (the OpenAI client raises ``openai.APIError`` for it).
        """
        chunks = []
        rest = self._markers.flush()
        if rest:
            chunks.append(self.chunk({"content": rest}))
        answer = self.fold.result()
        if answer.error:
            _, body = answer_error(answer)
            chunks.append(body)
            return chunks
        chunks.append(
            self.chunk(
                {},
                finish_reason(answer),
                citations=answer_citations(answer),
                answer=canonical_citations(answer.answer),
            )
        )
        return chunks


def completion_json(answer: RagAnswer, model: str) -> dict[str, Any]:
    """A finished answer as an OpenAI ``chat.completion`` with ``citations``.

    Args:
        answer: the folded answer (no error).
        model: the collection name.

    Returns:
        The response body: ``choices[0].message`` has ``content`` (``[n]`` markers, no
        reasoning) and ``reasoning_content`` (None when the model gave none).
    """
    message: dict[str, Any] = {
        "role": "assistant",
        "content": canonical_citations(answer.answer),
        "reasoning_content": answer.thinking or None,
    }
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(answer)}],
        "citations": answer_citations(answer),
    }


_END = object()


def _close(events: Iterator[AnswerEvent]) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # a generator still running in another thread
            logger.debug("could not close an answer stream", exc_info=True)


async def sse_chunks(events: Iterator[AnswerEvent], stream: ChatStream) -> AsyncIterator[str]:
    """The server-sent events of a streamed answer: JSON chunks, then ``[DONE]``.

    Each event is taken from the engine's (blocking) iterator in the thread pool; the
    iterator is closed when the client goes away (its Ollama request is then dropped).

    Args:
        events: from :meth:`Engine.ask`.
        stream: the chunk builder.

    Yields:
        The ``data`` of each event.
    """
    try:
        yield json.dumps(stream.start(), ensure_ascii=False)
        while True:
            try:
                event = await run_in_threadpool(next, events, _END)
            except Exception:
                logger.exception("answer stream failed")
                body = error_body("internal_error", "unexpected error (see the server log)")
                yield json.dumps(body)
                break
            if event is _END:
                for chunk in stream.finish():
                    yield json.dumps(chunk, ensure_ascii=False)
                break
            for chunk in stream.add(event):  # type: ignore[arg-type]
                yield json.dumps(chunk, ensure_ascii=False)
        yield "[DONE]"
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_close, events)


# --------------------------------------------------------------------------- uploads
class _UploadTooLargeError(Exception):
    """The upload body grew past the limit while it was read."""


def _limited(receive: Receive, limit: int) -> Callable[[], Awaitable[Message]]:
    """``receive`` that raises :class:`_UploadTooLargeError` once ``limit`` bytes came."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _UploadTooLargeError
        return message

    return wrapped


UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": f"one or several files (at most {MAX_UPLOAD_FILES})",
                        },
                        "password": {"type": "string", "description": "for encrypted PDFs"},
                    },
                }
            }
        },
    }
}


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the upload is larger than {limit // (1024 * 1024)} MiB")


# --------------------------------------------------------------------------- the app
def create_app(engine: Engine, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """Build the HTTP API around ``engine`` (see the module docstring).

    Args:
        engine: the engine every route calls; ``engine.access.authenticate(key)`` turns an
            API key into the request's :class:`~rag_core.access.Caller`.
        max_upload_bytes: the largest upload request body (413 beyond).

    Returns:
        The FastAPI application (serve it with uvicorn; OpenAPI docs at ``/docs``).
    """
    app = FastAPI(
        title="rag_core API",
        summary="Chat with your documents: OpenAI-compatible answers with citations.",
        version="1",
    )
    bearer = HTTPBearer(auto_error=False, description="an API key from `keys create`")

    def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Caller:
        where = f"{request.method} {request.url.path}"
        if credentials is None or not credentials.credentials.strip():
            logger.warning("%s refused: no API key", where)
            raise AuthenticationError(
                "send an API key: 'Authorization: Bearer <key>' "
                "(create one with: python -m rag_core keys create --user NAME)"
            )
        try:
            return engine.access.authenticate(credentials.credentials.strip())
        except AuthenticationError:
            logger.warning("%s refused: unknown or revoked API key", where)  # never the key
            raise

    Who = Annotated[Caller, Depends(caller)]

    def readable(name: str, who: Caller) -> str:
        """``name`` if it is a collection ``who`` may read, else 404 (nothing is created)."""
        if name not in engine.collections(caller=who):
            raise CollectionNotFoundError(f"no collection named '{name}'")
        return name

    # ---------------------------------------------------------------- errors
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json_error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RagError)
    async def _rag_error(request: Request, exc: RagError) -> JSONResponse:
        status, code = error_status(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if status == 503:
            headers = {"Retry-After": "5"}
        if status >= 500:
            logger.warning("%s %s failed: %s", request.method, request.url.path, exc)
        return _json_error(status, code, str(exc), headers)

    @app.exception_handler(_UploadTooLargeError)
    async def _upload_too_large(_: Request, __: _UploadTooLargeError) -> JSONResponse:
        exc = _too_large(max_upload_bytes)
        return _json_error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}"
            for error in exc.errors()
        )
        return _json_error(422, "invalid_request", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        code = codes.get(exc.status_code, "invalid_request" if exc.status_code < 500 else "error")
        return _json_error(exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _json_error(500, "internal_error", "unexpected error (see the server log)")

    @app.middleware("http")
    async def _inert(request: Request, call_next: Callable[[Request], Awaitable[Response]]):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    # ---------------------------------------------------------------- OpenAI
    @app.get("/v1/models", tags=["OpenAI"])
    def list_models(who: Who) -> dict[str, Any]:
        """The collections the caller may read, as OpenAI models (id = collection name)."""
        names = engine.collections(caller=who)
        data = [
            {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": engine.access.owner(name) or "rag_core",
            }
            for name in names
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", tags=["OpenAI"], response_model=None)
    async def chat_completions(body: ChatCompletionRequest, who: Who) -> Any:
        """Answer the last user message from the collection named by ``model``.

        Not streamed: a ``chat.completion`` with a top-level ``citations`` list, or a
        JSON error (503 when the model is down) that still carries the citations.
        Streamed: server-sent ``chat.completion.chunk`` s, the last one with
        ``citations``; a failure is an error chunk, then ``[DONE]``.
        """
        question, history = conversation(body.messages)
        options = AskOptions(k=body.k)
        await run_in_threadpool(readable, body.model, who)
        if not body.stream:
            answer = await run_in_threadpool(
                engine.answer,
                question,
                body.model,
                history=history,
                options=options,
                caller=who,
            )
            if answer.error:
                status, payload = answer_error(answer)
                return JSONResponse(payload, status_code=status)
            return JSONResponse(completion_json(answer, body.model))
        events = await run_in_threadpool(
            lambda: engine.ask(question, body.model, history=history, options=options, caller=who)
        )
        stream = ChatStream(question, body.model)
        return EventSourceResponse(
            sse_chunks(events, stream), ping=15, headers={"Cache-Control": "no-cache"}
        )

    # ---------------------------------------------------------------- REST
    @app.post("/v1/collections/{name}/search", tags=["collections"])
    def search(name: CollectionName, body: SearchRequest, who: Who) -> dict[str, Any]:
        """The top-k passages for ``query`` (hybrid retrieval, as the Chat page searches)."""
        readable(name, who)
        hits = engine.search(body.query, name, k=body.k, caller=who)
        return {
            "query": hits.query,
            "queries": hits.queries,
            "relevant": hits.relevant,
            "notices": [{"code": code, "params": params} for code, params in hits.notices],
            "passages": [citation_json(c) for c in hits.citations],
        }

    @app.get("/v1/collections/{name}/documents", tags=["collections"])
    def list_documents(name: CollectionName, who: Who) -> dict[str, Any]:
        """The collection's documents, newest first; ``id`` is the file's sha256."""
        readable(name, who)
        return {"documents": [document_json(r) for r in engine.documents(name, caller=who)]}

    @app.post(
        "/v1/collections/{name}/documents",
        tags=["collections"],
        status_code=202,
        openapi_extra=UPLOAD_OPENAPI,
    )
    async def upload(name: CollectionName, request: Request, who: Who) -> dict[str, Any]:
        """Queue one or several files (multipart field ``files``) for ingest: one job each.

        A file that cannot be read at all (empty, unsupported type, not what its name
        says) is a job finished at once with its error; the other files still go in.
        """
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_upload_bytes:
            raise _too_large(max_upload_bytes)
        limited = Request(request.scope, receive=_limited(request.receive, max_upload_bytes))
        try:
            form = await limited.form(max_files=MAX_UPLOAD_FILES, max_fields=10)
        except StarletteHTTPException as exc:
            if "Too many files" in str(exc.detail):
                raise ApiError(
                    413, "too_many_files", f"at most {MAX_UPLOAD_FILES} files per upload"
                ) from exc
            raise ApiError(400, "invalid_request", str(exc.detail)) from exc
        try:
            files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
            if not files:
                raise ApiError(422, "invalid_request", "no file in the form field 'files'")
            password = form.get("password")
            secret = password if isinstance(password, str) and password else None
            jobs = []
            for upload_file in files:
                data = await upload_file.read()
                job = await run_in_threadpool(
                    lambda f=upload_file, data=data: engine.submit(
                        uuid.uuid4().hex,
                        display_name(f.filename or "unnamed"),
                        data,
                        name,
                        password=secret,
                        caller=who,
                    )
                )
                jobs.append(job_json(job, name))
        finally:
            await form.close()
        return {"jobs": jobs}

    @app.get("/v1/collections/{name}/jobs/{job_id}", tags=["collections"])
    def job(
        name: CollectionName,
        job_id: Annotated[str, PathParam(max_length=64)],
        who: Who,
    ) -> dict[str, Any]:
        """A background ingest job: state, progress, result or error."""
        readable(name, who)
        found = engine.job(job_id, name, caller=who)
        if found is None:
            raise ApiError(404, "job_not_found", f"no job '{job_id}' in this collection")
        return job_json(found, name)

    @app.delete(
        "/v1/collections/{name}/documents/{document_id}", tags=["collections"], status_code=204
    )
    def delete_document(
        name: CollectionName,
        document_id: Annotated[str, PathParam(max_length=128)],
        who: Who,
    ) -> Response:
        """Delete a document (its chunks, keyword terms and stored file) by its id."""
        readable(name, who)
        if not _SHA256.match(document_id):
            raise ApiError(404, "document_not_found", "a document id is a sha256 (64 hex digits)")
        removed = engine.delete_document(
            document_id, name, lock_timeout_s=DELETE_LOCK_WAIT_S, caller=who
        )
        if not removed:
            raise ApiError(404, "document_not_found", f"no document '{document_id}' here")
        return Response(status_code=204)

    return app


# --------------------------------------------------------------------------- serving
def serve(engine: Engine, host: str = "127.0.0.1", port: int = 8080) -> int:
    """Run the API with uvicorn until interrupted (``python -m rag_core serve``).

    Args:
        engine: the engine to serve.
        host: the interface to listen on (loopback unless sign-in is configured).
        port: the TCP port.

    Returns:
        0 once uvicorn stopped.

    Raises:
        PermissionDeniedError: see :func:`rag_core.doors.listening.check_host`.
    """
    import uvicorn

    check_host(engine, host)
    logger.info("API on http://%s:%d (docs at /docs)", host, port)
    uvicorn.run(create_app(engine), host=host, port=port, log_level="info")
    return 0


__all__ = [
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_FILES",
    "ChatStream",
    "create_app",
    "serve",
]
