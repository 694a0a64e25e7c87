"""A fake Ollama server that speaks enough of Ollama's REST API for real clients.

The server is a real HTTP server (stdlib ``ThreadingHTTPServer``) bound to
127.0.0.1 on a free port and run in a daemon thread. The real ``ollama`` Python
client and ``langchain_ollama.ChatOllama`` can talk to it end to end, so tests
exercise the actual HTTP, NDJSON streaming and error handling paths without a
running Ollama or any model weights.

Typical use in a test::

    with FakeOllamaServer() as server:
        llm = ChatOllama(model="llama3.2", base_url=server.url)
        text = "".join(chunk.text for chunk in llm.stream("hi"))
        assert server.chat_requests[0]["messages"][0]["content"] == "hi"

It can also be run by hand (for browser tests or manual runs of the app)::

    python tests/ollama_server.py --port 11435

which prints the server URL on one line and serves until Ctrl-C or SIGTERM.

This module deliberately imports only the standard library (no pytest).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from types import FrameType, TracebackType

logger = logging.getLogger(__name__)

Responder = Callable[[dict[str, Any]], str]
"""Receives the parsed request body and returns the full answer text."""

OLLAMA_VERSION = "0.12.0"
DEFAULT_MODELS: tuple[str, ...] = ("llama3.2:latest",)
BUSY_ERROR = "server busy, please try again"
NOT_FOUND_ANSWER = "I could not find this in the documents."
SNIPPET_WORDS = 12

_MODIFIED_AT = "2025-09-18T10:21:33.123456789+00:00"
_LLAMA32_DIGEST = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"
_TEMPLATE = (
    "<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
    "{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_PARAMETERS = (
    'stop                           "<|start_header_id|>"\n'
    'stop                           "<|end_header_id|>"\n'
    'stop                           "<|eot_id|>"'
)
_LINE_PASSAGE_RE = re.compile(
    r"^[ \t]*\[(\d+)\][ \t]*(.*?)(?=^[ \t]*\[\d+\]|\Z)", re.DOTALL | re.MULTILINE
)
_INLINE_PASSAGE_RE = re.compile(r"\[(\d+)\]\s*(.*?)(?=\[\d+\]|\Z)", re.DOTALL)
_TOKEN_RE = re.compile(r"\s*\S+\s*")


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def normalize_model_name(name: str) -> str:
    """Add Ollama's implicit ``:latest`` tag to a model name without a tag.

    Args:
        name: A model name such as ``"llama3.2"`` or ``"qwen2.5:7b"``.

    Returns:
        The name with a tag, e.g. ``"llama3.2:latest"``.
    """
    name = name.strip()
    last_part = name.rsplit("/", 1)[-1]
    return name if ":" in last_part else f"{name}:latest"


def split_tokens(text: str) -> list[str]:
    """Split an answer into stream tokens: words with their trailing whitespace.

    Args:
        text: The full answer text.

    Returns:
        Tokens whose concatenation equals ``text`` exactly.
    """
    tokens = _TOKEN_RE.findall(text)
    if not tokens and text:
        return [text]  # whitespace only
    return tokens


def estimate_tokens(text: str) -> int:
    """Roughly count tokens the way a tokenizer might (4 characters a token).

    Args:
        text: Any text.

    Returns:
        ``ceil(len(text) / 4)``: 0 only for empty text.
    """
    return (len(text) + 3) // 4


def extract_passages(text: str) -> dict[int, str]:
    """Find passages numbered ``[1] ...``, ``[2] ...`` in a prompt.

    Passages starting at the beginning of a line are preferred; if there are
    none, inline markers (``"[1] foo [2] bar"``) are used.

    Args:
        text: Prompt text (a message content, a prompt or a system prompt).

    Returns:
        Passage number to passage text (stripped); empty passages are dropped.
    """
    matches = _LINE_PASSAGE_RE.findall(text) or _INLINE_PASSAGE_RE.findall(text)
    passages: dict[int, str] = {}
    for number, raw in matches:
        passage = raw.strip()
        if passage and int(number) not in passages:
            passages[int(number)] = passage
    return passages


def _prompt_texts(body: dict[str, Any]) -> list[str]:
    """Texts to search for passages, most relevant first.

    For ``/api/chat`` these are the user and system messages, latest first; for
    ``/api/generate`` the prompt and then the system prompt.
    """
    texts: list[str] = []
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if not isinstance(message, dict):
                continue
            if message.get("role") in ("user", "system"):
                texts.append(str(message.get("content") or ""))
    texts.extend(body[key] for key in ("prompt", "system") if isinstance(body.get(key), str))
    return texts


def default_responder(body: dict[str, Any]) -> str:
    """Build a deterministic answer from the passages found in the prompt.

    A follow-up rewriting request gets the latest question back unchanged. Otherwise the
    lowest-numbered passage of the latest user/system message that has any passages is
    quoted: ``"According to the documents [1], <first ~12 words>."``.

    Args:
        body: The parsed ``/api/chat`` or ``/api/generate`` request body.

    Returns:
        The answer text, or ``NOT_FOUND_ANSWER`` if no passage was found.
    """
    rewrite = _rewrite_request_question(body)
    if rewrite is not None:
        return rewrite
    for text in _prompt_texts(body):
        passages = extract_passages(text)
        if passages:
            number = min(passages)
            words = passages[number].split()[:SNIPPET_WORDS]
            snippet = " ".join(words).rstrip(".,;:!?")
            return f"According to the documents [{number}], {snippet}."
    return NOT_FOUND_ANSWER


def _rewrite_request_question(body: dict[str, Any]) -> str | None:
    """For a follow-up rewriting request ("standalone question" in the system prompt),
    return the latest user question unchanged (a model that needs no rewrite); else None.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    first = messages[0] if isinstance(messages[0], dict) else {}
    if first.get("role") != "system" or "standalone question" not in str(first.get("content")):
        return None
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def closed_port_url() -> str:
    """Return a 127.0.0.1 URL on which nothing listens (the "Ollama down" case).

    Returns:
        A URL such as ``"http://127.0.0.1:54321"``; connecting to it is refused.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _now() -> str:
    """Current time in Ollama's RFC 3339 format (UTC, trailing ``Z``)."""
    stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


def _content(text: str, *, chat: bool) -> dict[str, Any]:
    """The answer part of a chat (``message``) or generate (``response``) line."""
    if chat:
        return {"message": {"role": "assistant", "content": text}}
    return {"response": text}


def _family(model: str) -> str:
    """Guess a model family from its name (``"qwen2.5:7b"`` -> ``"qwen2"``)."""
    base = model.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    match = re.match(r"[a-z]+\d*", base)
    family = match.group(0) if match else "llama"
    return "llama" if family.startswith("llama") else family


def _digest(model: str) -> str:
    """Stable fake sha256 digest of a model (the real one for llama3.2)."""
    if model == "llama3.2:latest":
        return _LLAMA32_DIGEST
    return hashlib.sha256(model.encode()).hexdigest()


def _details(model: str) -> dict[str, Any]:
    """The ``details`` object Ollama reports for a model."""
    family = _family(model)
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    }


# --------------------------------------------------------------------------- #
# HTTP plumbing
# --------------------------------------------------------------------------- #
class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its owner and skips the slow FQDN lookup."""

    daemon_threads = True
    owner: FakeOllamaServer

    def server_bind(self) -> None:
        """Bind without ``socket.getfqdn`` (a reverse DNS lookup can be slow)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _ClientGoneError(Exception):
    """The client closed the connection or the server is stopping."""


class _Handler(BaseHTTPRequestHandler):
    """Request handler implementing the subset of Ollama's API we need."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama/" + OLLAMA_VERSION
    server: _HTTPServer

    # -- connection bookkeeping ------------------------------------------- #
    def setup(self) -> None:
        """Register the connection so ``stop()`` can close it."""
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, fmt: str, *args: object) -> None:
        """Route the access log to ``logging`` instead of stderr."""
        logger.debug("%s - %s", self.address_string(), fmt % args)

    # -- HTTP verbs --------------------------------------------------------- #
    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        """Handle HEAD."""
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._dispatch("DELETE")

    # -- low-level responses ------------------------------------------------ #
    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self._send_bytes(status, data, "application/json; charset=utf-8")

    def _send_text(self, status: int, text: str) -> None:
        self._send_bytes(status, text.encode(), "text/plain; charset=utf-8")

    def _send_error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message})

    def _start_stream(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _write_line(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()  # blank line after the last chunk
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- routing ------------------------------------------------------------ #
    def _dispatch(self, method: str) -> None:
        owner = self.server.owner
        path = urlsplit(self.path).path
        try:
            raw = self._read_body()
            body: object = None
            bad_json: str | None = None
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    bad_json = str(exc)
            owner._record(method, path, body)

            if path.startswith("/api/") and owner.status_override is not None:
                self._send_error(owner.status_override, BUSY_ERROR)
                return
            if bad_json is not None:
                self._send_error(HTTPStatus.BAD_REQUEST, f"invalid JSON: {bad_json}")
                return
            self._route(method, path, body)
        except _ClientGoneError:
            logger.debug("connection for %s %s ended early", method, path)
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            logger.debug("client disconnected during %s %s", method, path)
            self.close_connection = True

    def _route(self, method: str, path: str, body: object) -> None:
        read = method in ("GET", "HEAD")
        if read and path in ("/", ""):
            self._send_text(HTTPStatus.OK, "Ollama is running")
        elif read and path == "/api/version":
            self._send_json(HTTPStatus.OK, {"version": OLLAMA_VERSION})
        elif read and path == "/api/tags":
            self._send_json(HTTPStatus.OK, self.server.owner._tags())
        elif read and path == "/api/ps":
            self._send_json(HTTPStatus.OK, {"models": []})
        elif method == "POST" and path in ("/api/show", "/api/chat", "/api/generate"):
            if not isinstance(body, dict):
                self._send_error(HTTPStatus.BAD_REQUEST, "missing request body")
            elif path == "/api/show":
                self._show(body)
            else:
                self._complete(body, chat=path == "/api/chat")
        else:
            self._send_text(HTTPStatus.NOT_FOUND, "404 page not found")

    def _show(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or body.get("name") or "")
        model = self.server.owner.resolve_model(name)
        if model is None:
            self._send_error(HTTPStatus.NOT_FOUND, f"model '{name}' not found")
            return
        self._send_json(HTTPStatus.OK, self.server.owner._show(model))

    def _complete(self, body: dict[str, Any], *, chat: bool) -> None:
        """Serve ``/api/chat`` (``chat=True``) or ``/api/generate``."""
        owner = self.server.owner
        name = str(body.get("model") or "")
        if not name:
            self._send_error(HTTPStatus.BAD_REQUEST, "model is required")
            return
        if owner.hang:
            logger.debug("hanging on %s until the server stops", self.path)
            owner._stop_event.wait()
            raise _ClientGoneError
        if owner.resolve_model(name) is None:
            self._send_error(
                HTTPStatus.NOT_FOUND,
                f'model "{name}" not found, try pulling it first',
            )
            return

        stream = body.get("stream")
        stream = True if stream is None else bool(stream)
        # An empty conversation only loads the model, like real Ollama.
        if not body.get("messages" if chat else "prompt"):
            loaded = {
                "model": name,
                "created_at": _now(),
                **_content("", chat=chat),
                "done_reason": "load",
                "done": True,
            }
            self._send_single(loaded, stream=stream)
            return

        try:
            answer = owner.responder(body)
        except Exception as exc:  # report any responder bug as a 500
            logger.exception("responder failed")
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))
            return
        self._emit_answer(body, answer, chat=chat, stream=stream)

    def _send_single(self, payload: dict[str, Any], *, stream: bool) -> None:
        """Send one response object, as a one-line NDJSON stream or plain JSON."""
        if stream:
            self._start_stream()
            self._write_line(payload)
            self._end_stream()
        else:
            self._send_json(HTTPStatus.OK, payload)

    def _emit_answer(self, body: dict[str, Any], answer: str, *, chat: bool, stream: bool) -> None:
        """Send ``answer`` token by token (or at once) plus the final stats."""
        owner = self.server.owner
        started = time.monotonic_ns()
        base = {"model": str(body["model"]), "created_at": _now()}
        tokens = split_tokens(answer)
        done_reason = "stop"
        options = body.get("options")
        num_predict = options.get("num_predict") if isinstance(options, dict) else None
        if isinstance(num_predict, int) and 0 < num_predict < len(tokens):
            tokens = tokens[:num_predict]
            done_reason = "length"

        delay = owner.token_delay
        if stream:
            self._start_stream()
            for token in tokens:
                if delay > 0 and owner._stop_event.wait(delay):
                    raise _ClientGoneError
                self._write_line({**base, **_content(token, chat=chat), "done": False})
        elif delay > 0 and owner._stop_event.wait(delay * len(tokens)):
            raise _ClientGoneError
        eval_duration = max(time.monotonic_ns() - started, 1)

        prompt_eval_count = estimate_tokens(owner._prompt_text(body))
        load_duration = 1_234_567
        final: dict[str, Any] = {
            **base,
            "created_at": _now(),
            **_content("" if stream else "".join(tokens), chat=chat),
            "done_reason": done_reason,
            "done": True,
            "total_duration": time.monotonic_ns() - started + load_duration,
            "load_duration": load_duration,
            "prompt_eval_count": prompt_eval_count,
            "prompt_eval_duration": 100_000 * max(prompt_eval_count, 1),
            "eval_count": len(tokens),
            "eval_duration": eval_duration,
        }
        if not chat:
            final["context"] = list(range(1, prompt_eval_count + len(tokens) + 1))
        if stream:
            self._write_line(final)
            self._end_stream()
        else:
            self._send_json(HTTPStatus.OK, final)


# --------------------------------------------------------------------------- #
# Public server object
# --------------------------------------------------------------------------- #
class FakeOllamaServer:
    """An in-process HTTP server imitating Ollama, for tests and manual runs.

    All switches are plain attributes that may be changed while it runs; each
    request reads them afresh.

    Attributes:
        host: Interface to bind (always 127.0.0.1 in tests).
        models: Names of the "pulled" models; ``"llama3.2"`` matches
            ``"llama3.2:latest"``.
        responder: Callable receiving the parsed request body of
            ``/api/chat`` or ``/api/generate`` and returning the full answer.
        status_override: If set (e.g. 503), every ``/api/*`` request answers
            that status with ``{"error": "server busy, please try again"}``.
        token_delay: Seconds to wait before each streamed token.
        hang: If true, ``/api/chat`` and ``/api/generate`` accept the request
            and never answer until the server is stopped.
        requests: Every request received, as ``{"method", "path", "body"}``
            (``body`` is the parsed JSON or None).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] | None = None,
        responder: Responder | None = None,
        token_delay: float = 0.0,
        status_override: int | None = None,
        hang: bool = False,
    ) -> None:
        """Create the server (call ``start()`` or use ``with`` to run it).

        Args:
            host: Interface to bind.
            port: Port to bind; 0 picks a free one.
            models: Pulled model names (default ``["llama3.2:latest"]``).
            responder: Answer builder (default ``default_responder``).
            token_delay: Seconds to wait before each streamed token.
            status_override: HTTP status to answer every ``/api/*`` request with.
            hang: Never answer ``/api/chat`` / ``/api/generate``.
        """
        self.host = host
        self._port = port
        self.models: list[str] = list(DEFAULT_MODELS if models is None else models)
        self.responder: Responder = responder or default_responder
        self.token_delay = token_delay
        self.status_override = status_override
        self.hang = hang
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------- #
    def start(self) -> Self:
        """Bind and serve in a daemon thread.

        Returns:
            The server itself, for chaining.

        Raises:
            RuntimeError: If the server was already started.
        """
        if self._httpd is not None:
            msg = "server already started"
            raise RuntimeError(msg)
        self._stop_event.clear()
        httpd = _HTTPServer((self.host, self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._port = httpd.server_port
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-ollama-{self._port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("fake Ollama listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, release hanging handlers and close open connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop_event.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        logger.info("fake Ollama on port %s stopped", self._port)

    def __enter__(self) -> Self:
        """Start the server.

        Returns:
            The started server.
        """
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    # -- properties ------------------------------------------------------------ #
    @property
    def port(self) -> int:
        """The bound port (0 before ``start()`` if none was given)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL such as ``"http://127.0.0.1:54321"``.

        Raises:
            RuntimeError: If the server is not running.
        """
        if self._httpd is None:
            msg = "server is not running"
            raise RuntimeError(msg)
        return f"http://{self.host}:{self._port}"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the ``/api/chat`` requests received, oldest first."""
        with self._lock:
            return [r["body"] for r in self.requests if r["path"] == "/api/chat"]

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    def resolve_model(self, name: str) -> str | None:
        """Map a requested model name to a pulled model.

        Args:
            name: Requested name, with or without tag.

        Returns:
            The pulled model's full name, or None if it is not pulled.
        """
        if not name:
            return None
        wanted = normalize_model_name(name).lower()
        for model in list(self.models):
            if normalize_model_name(model).lower() == wanted:
                return normalize_model_name(model)
        return None

    # -- used by the handler ------------------------------------------------- #
    def _record(self, method: str, path: str, body: object) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "body": body})

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _tags(self) -> dict[str, Any]:
        models = []
        for raw in list(self.models):
            name = normalize_model_name(raw)
            models.append(
                {
                    "name": name,
                    "model": name,
                    "modified_at": _MODIFIED_AT,
                    "size": 2_019_393_189,
                    "digest": _digest(name),
                    "details": _details(name),
                }
            )
        return {"models": models}

    def _show(self, model: str) -> dict[str, Any]:
        family = _family(model)
        digest = _digest(model)
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this, replace FROM with:\n"
            f"# FROM {model}\n\n"
            f"FROM /root/.ollama/models/blobs/sha256-{digest}\n"
            f'TEMPLATE """{_TEMPLATE}"""\n'
            + "".join(f"PARAMETER {line}\n" for line in _PARAMETERS.split("\n"))
        )
        return {
            "license": "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
            "modelfile": modelfile,
            "parameters": _PARAMETERS,
            "template": _TEMPLATE,
            "details": _details(model),
            "model_info": {
                "general.architecture": family,
                "general.basename": model.split(":", 1)[0],
                "general.file_type": 15,
                "general.parameter_count": 3_212_749_888,
                "general.quantization_version": 2,
                f"{family}.attention.head_count": 24,
                f"{family}.attention.head_count_kv": 8,
                f"{family}.block_count": 28,
                f"{family}.context_length": 131_072,
                f"{family}.embedding_length": 3072,
                f"{family}.feed_forward_length": 8192,
                f"{family}.rope.freq_base": 500_000,
                f"{family}.vocab_size": 128_256,
            },
            "capabilities": ["completion", "tools"],
            "modified_at": _MODIFIED_AT,
        }

    @staticmethod
    def _prompt_text(body: dict[str, Any]) -> str:
        parts = [
            str(m.get("content") or "") for m in body.get("messages") or [] if isinstance(m, dict)
        ]
        parts += [body[k] for k in ("system", "prompt") if isinstance(body.get(k), str)]
        return "\n".join(parts)


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake server from the command line until Ctrl-C or SIGTERM.

    Args:
        argv: Command line arguments (default ``sys.argv[1:]``).

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(description="Serve a fake Ollama API.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free)")
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        help="a pulled model name (repeatable; default llama3.2:latest)",
    )
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds before each token")
    parser.add_argument("--answer", help="always answer this text")
    parser.add_argument("--status", type=int, help="answer every /api/* request with this status")
    parser.add_argument("--log-level", default="INFO", help="logging level")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )

    fixed_answer: str | None = args.answer
    server = FakeOllamaServer(
        host=args.host,
        port=args.port,
        models=args.models,
        responder=(lambda _body: fixed_answer) if fixed_answer is not None else None,
        token_delay=args.token_delay,
        status_override=args.status,
    )
    done = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    # Handle SIGINT explicitly too: it is ignored in background jobs of shells.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    server.start()
    # The one line of output that scripts read to find the server.
    sys.stdout.write(f"{server.url}\n")
    sys.stdout.flush()
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
