"""The Ollama side: chat model factory, server health check, model list, error mapping.

Talks to Ollama's REST API (https://github.com/ollama/ollama/blob/main/docs/api.md):
``/api/version`` for the health check, ``/api/tags`` for the pulled models, ``/api/chat``
(through ``langchain_ollama.ChatOllama``) for answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx
import ollama
from langchain_ollama import ChatOllama

from rag_core.config import Settings
from rag_core.errors import (
    OllamaBusyError,
    OllamaError,
    OllamaModelNotFoundError,
    OllamaTimeoutError,
    OllamaUnreachableError,
)

logger = logging.getLogger(__name__)

STATUS_TIMEOUT_S = 3.0
"""Seconds the health check waits; short so a page never hangs on a dead host."""


@dataclass
class OllamaStatus:
    """What the configured Ollama server says about itself.

    Attributes:
        host: base URL that was tried.
        reachable: True when ``/api/version`` answered.
        version: the server's version string ("" if unreachable).
        models: names of the pulled models from ``/api/tags`` (e.g. "llama3.2:latest").
        error: a message a person can act on when something is wrong ("" otherwise).
    """

    host: str
    reachable: bool
    version: str = ""
    models: list[str] = field(default_factory=list)
    error: str = ""

    def has_model(self, model: str) -> bool:
        """Return True when ``model`` is pulled (``"llama3.2"`` matches ``"llama3.2:latest"``)."""
        wanted = with_default_tag(model)
        return wanted in self.models or model in self.models


def with_default_tag(model: str) -> str:
    """Add Ollama's implicit ``:latest`` tag to a model name that has none.

    ``"llama3.2"`` -> ``"llama3.2:latest"``; ``"qwen3:8b"`` stays (Ollama's model naming,
    https://github.com/ollama/ollama/blob/main/docs/api.md#model-names).
    """
    return model if ":" in model else f"{model}:latest"


OLLAMA_MESSAGES = {
    "unreachable": 'Ollama is not reachable at {host}. Start it with "ollama serve" (or the '
    "Ollama app), or set OLLAMA_HOST / RAG_OLLAMA_HOST to the right address.",
    "missing_model": "The model '{model}' is not available on {host}. Run \"ollama pull {model}\".",
    "busy": "Ollama at {host} is busy ({status}: {detail}). Try again shortly.",
    "timeout": "Ollama at {host} did not answer in time. The model may still be loading or "
    "the machine is busy: try again, or raise RAG_OLLAMA_TIMEOUT.",
}
"""The English texts of the Ollama problems a user can fix; the UI translates them by key."""


def unreachable_message(host: str) -> str:
    """Explain what to do when nothing answers at ``host``."""
    return OLLAMA_MESSAGES["unreachable"].format(host=host)


def missing_model_message(model: str, host: str) -> str:
    """Explain what to do when ``model`` is not pulled on the server at ``host``."""
    return OLLAMA_MESSAGES["missing_model"].format(model=model, host=host)


def check_ollama(host: str, *, timeout_s: float = STATUS_TIMEOUT_S) -> OllamaStatus:
    """Ask the Ollama server at ``host`` for its version and pulled models.

    Never raises: an unreachable or misbehaving server gives ``reachable=False`` and a
    message in ``error``.

    Args:
        host: base URL, e.g. "http://127.0.0.1:11434".
        timeout_s: seconds to wait per request.

    Returns:
        The server's status.
    """
    try:
        response = httpx.get(f"{host}/api/version", timeout=timeout_s)
        response.raise_for_status()
        version = str(response.json().get("version", ""))
        listed = ollama.Client(host=host, timeout=timeout_s).list()
    except (httpx.HTTPError, ConnectionError, ValueError, ollama.ResponseError) as exc:
        logger.info("Ollama at %s not usable: %r", host, exc)
        return OllamaStatus(host=host, reachable=False, error=unreachable_message(host))
    models = sorted(str(m.model) for m in listed.models if m.model)
    return OllamaStatus(host=host, reachable=True, version=version, models=models)


THINK_MODES: dict[str, bool | None] = {"auto": None, "on": True, "off": False}
"""``RAG_OLLAMA_THINK`` -> ChatOllama's ``reasoning`` (Ollama's ``think`` request field)."""


def build_chat_model(settings: Settings, *, model: str | None = None) -> ChatOllama:
    """Build the chat model for the configured Ollama server.

    Nothing is sent to the server until the model is invoked.

    Args:
        settings: host, context window (``num_ctx`` tokens), ``num_predict`` and the HTTP
            timeout in seconds.
        model: model tag; ``settings.ollama_model`` if None.

    Returns:
        A ``langchain_ollama.ChatOllama`` (temperature 0.1 for grounded answers;
        ``reasoning`` from ``settings.ollama_think``, see :data:`THINK_MODES`).
    """
    return ChatOllama(
        model=model or settings.ollama_model,
        base_url=settings.ollama_host,
        num_ctx=settings.num_ctx,
        num_predict=settings.num_predict,
        temperature=0.1,
        reasoning=THINK_MODES[settings.ollama_think],
        client_kwargs={"timeout": settings.ollama_timeout},
    )


def _explained(kind: type[OllamaError], code: str, **params: object) -> OllamaError:
    """An :class:`OllamaError` of ``kind`` with the text of :data:`OLLAMA_MESSAGES` ``code``."""
    return kind(OLLAMA_MESSAGES[code].format(**params), code, params)


def explain_ollama_error(exc: BaseException, *, host: str, model: str) -> OllamaError:
    """Turn an error raised while talking to Ollama into an actionable :class:`OllamaError`.

    Args:
        exc: the exception raised by ``ollama`` / ``httpx`` / ``langchain_ollama``.
        host: the base URL that was tried.
        model: the model that was asked for.

    Returns:
        OllamaUnreachableError (connection refused / DNS), OllamaModelNotFoundError (404),
        OllamaBusyError (503 or 429), OllamaTimeoutError (read timeout), or OllamaError.
    """
    if isinstance(exc, OllamaError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return _explained(OllamaTimeoutError, "timeout", host=host)
    if isinstance(exc, ConnectionError | httpx.ConnectError | httpx.NetworkError):
        return _explained(OllamaUnreachableError, "unreachable", host=host)
    if isinstance(exc, ollama.ResponseError):
        if exc.status_code == 404:
            return _explained(OllamaModelNotFoundError, "missing_model", model=model, host=host)
        if exc.status_code in (429, 503):
            return _explained(
                OllamaBusyError, "busy", host=host, status=exc.status_code, detail=exc.error
            )
        return OllamaError(f"Ollama at {host} answered {exc.status_code}: {exc.error}")
    if isinstance(exc, httpx.HTTPError):
        return OllamaError(f"talking to Ollama at {host} failed: {exc}")
    return OllamaError(f"talking to Ollama at {host} failed: {exc!r}")


OLLAMA_EXCEPTIONS: tuple[type[BaseException], ...] = (
    ConnectionError,
    httpx.HTTPError,
    ollama.ResponseError,
    OllamaError,
)
"""Exceptions :func:`explain_ollama_error` knows how to explain."""

__all__ = [
    "OLLAMA_EXCEPTIONS",
    "OllamaStatus",
    "build_chat_model",
    "check_ollama",
    "explain_ollama_error",
    "missing_model_message",
    "unreachable_message",
]
