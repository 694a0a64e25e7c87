"""The project's own exception types: each carries a message a person can act on.

Boundaries (a file, an Ollama call, a store write) catch the library errors and raise one
of these, so the CLI and the pages can show ``str(exc)`` as it is.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error this package raises on purpose."""


class DocumentError(RagError):
    """A file could not be ingested; nothing of it was stored.

    Attributes:
        filename: the file's display name (never used as a path).
        reason: the English message without the file name.
        code: a stable identifier of the problem ("empty", "not_pdf", "damaged",
            "no_text", "too_complex", ...) so a UI can show it in its own language.
        params: the values the message names (e.g. ``seconds`` of a time limit), for
            that translation.
    """

    def __init__(
        self,
        filename: str,
        message: str,
        code: str = "unreadable",
        params: dict[str, object] | None = None,
    ) -> None:
        """Store the display name and build ``"<filename>: <message>"``."""
        super().__init__(f"{filename}: {message}")
        self.filename = filename
        self.reason = message
        self.code = code
        self.params = dict(params or {})


class PasswordRequiredError(DocumentError):
    """The PDF is encrypted and no password was given."""


class WrongPasswordError(DocumentError):
    """The password given for an encrypted PDF is wrong."""


class NoTextError(DocumentError):
    """No page of the file has extractable text (e.g. a scanned PDF without OCR)."""


class IngestCancelled(RagError):
    """An ingest was cancelled (by its user, from any process); nothing of the file stays."""


class StoreBusyError(RagError):
    """Another process holds the store's write lock."""


class StoreUnavailableError(RagError):
    """The configured Chroma server cannot be reached (or its URL is malformed)."""


class CollectionDeletedError(RagError):
    """The collection was deleted (by another user, app instance or process) while open."""


class EmbeddingModelMismatchError(RagError):
    """The store was built with another embedding model or dimension."""


class OllamaError(RagError):
    """Base class of errors talking to the Ollama server.

    Attributes:
        code: the kind of problem ("unreachable", "missing_model", "busy", "timeout", or
            "" for others), so a UI can show it in its own language.
        params: the values the message names (host, model, status ...).
    """

    def __init__(self, message: str, code: str = "", params: dict[str, object] | None = None):
        """Keep the English ``message``, its ``code`` and ``params``."""
        super().__init__(message)
        self.code = code
        self.params = dict(params or {})


class OllamaUnreachableError(OllamaError):
    """Nothing answers at the configured Ollama host."""


class OllamaModelNotFoundError(OllamaError):
    """The Ollama server answers but the model is not pulled."""


class OllamaBusyError(OllamaError):
    """The Ollama server answered 503 (overloaded)."""


class OllamaTimeoutError(OllamaError):
    """The Ollama server accepted the request but did not answer in time."""


class CollectionNotFoundError(RagError):
    """The collection does not exist, or the caller is not a member of it (HTTP 404)."""


class PermissionDeniedError(RagError):
    """The caller may read the collection but not do this (e.g. a reader uploading; HTTP 403)."""


class AuthenticationError(RagError):
    """No API key, or an unknown or revoked one (HTTP 401)."""


class ModelUnavailableError(RagError):
    """An embedding model is not on this machine and cannot be downloaded."""


class SnapshotError(RagError):
    """A collection snapshot cannot be written or imported; nothing was changed.

    Attributes:
        code: the kind of problem ("not_archive", "damaged", "version", "model",
            "exists", "bad_name", "no_model"), so a UI can show it in its own language.
        params: the values the message names (file, collection, models ...).
    """

    def __init__(self, message: str, code: str, params: dict[str, object] | None = None):
        """Keep the English ``message``, its ``code`` and ``params``."""
        super().__init__(message)
        self.code = code
        self.params = dict(params or {})
