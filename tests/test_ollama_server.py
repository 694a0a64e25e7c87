"""Tests for the fake Ollama server, driven by the real ollama and LangChain clients."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import ollama
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_ollama import ChatOllama

from tests.ollama_server import (
    BUSY_ERROR,
    NOT_FOUND_ANSWER,
    FakeOllamaServer,
    closed_port_url,
    default_responder,
    estimate_tokens,
    extract_passages,
    normalize_model_name,
    split_tokens,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

CONTEXT = (
    "Answer only from the numbered passages and cite them like [1].\n\n"
    "[1] (manual.pdf, p. 3) The pump must be serviced every six months by a "
    "certified technician to keep the warranty valid.\n"
    "[2] (faq.pdf, p. 1) Replacement filters are sold separately.\n"
)
QUESTION = "How often must the pump be serviced?"
EXPECTED_ANSWER = (
    "According to the documents [1], (manual.pdf, p. 3) The pump must be "
    "serviced every six months by."
)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure httpx never routes the 127.0.0.1 traffic through a proxy."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server() -> Iterator[FakeOllamaServer]:
    """A running fake Ollama server with the default settings."""
    with FakeOllamaServer() as srv:
        yield srv


def _threads_left_after(before: set[threading.Thread]) -> list[str]:
    """Names of threads started since ``before`` still alive after up to 3 s."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
        if not left:
            return []
        time.sleep(0.01)
    return left


def _messages() -> list[dict[str, str]]:
    return [
        {"role": "system", "content": CONTEXT},
        {"role": "user", "content": QUESTION},
    ]


# --------------------------------------------------------------------------- #
# Pure helpers
# --------------------------------------------------------------------------- #
def test_default_responder_quotes_first_passage() -> None:
    """The answer cites the lowest-numbered passage and its first 12 words."""
    assert default_responder({"messages": _messages()}) == EXPECTED_ANSWER


def test_default_responder_prefers_latest_user_message() -> None:
    """Passages in the last user message win over the system prompt's."""
    body = {
        "messages": [
            {"role": "system", "content": "[1] System passage text."},
            {"role": "user", "content": "[2] User passage.\n[3] Another one."},
        ]
    }
    assert default_responder(body) == "According to the documents [2], User passage."


def test_default_responder_without_passages() -> None:
    """Without numbered passages the model says it found nothing."""
    body = {"messages": [{"role": "user", "content": "Hello there"}]}
    assert default_responder(body) == NOT_FOUND_ANSWER


def test_extract_passages_inline_and_split_tokens_roundtrip() -> None:
    """Inline passages are found, and tokens concatenate back to the text."""
    assert extract_passages("ctx: [1] alpha beta [2] gamma") == {
        1: "alpha beta",
        2: "gamma",
    }
    text = "  Hello,  world!\nNext line "
    tokens = split_tokens(text)
    assert "".join(tokens) == text
    assert tokens[1] == "world!\n"


def test_model_names_get_implicit_latest_tag() -> None:
    """``llama3.2`` means ``llama3.2:latest``, but other tags do not match."""
    assert normalize_model_name("llama3.2") == "llama3.2:latest"
    assert normalize_model_name("host:5000/ns/model") == "host:5000/ns/model:latest"
    srv = FakeOllamaServer(models=["llama3.2:latest", "qwen2.5:7b"])
    assert srv.resolve_model("llama3.2") == "llama3.2:latest"
    assert srv.resolve_model("qwen2.5:7b") == "qwen2.5:7b"
    assert srv.resolve_model("qwen2.5") is None
    assert srv.resolve_model("llama3.2:1b") is None


# --------------------------------------------------------------------------- #
# Plain HTTP endpoints
# --------------------------------------------------------------------------- #
def test_root_version_and_unknown_path(server: FakeOllamaServer) -> None:
    """``/`` answers like Ollama, ``/api/version`` reports a version, others 404."""
    with httpx.Client(base_url=server.url) as http:
        root = http.get("/")
        assert root.status_code == 200
        assert root.text == "Ollama is running"
        head = http.head("/")
        assert head.status_code == 200
        assert head.content == b""
        assert http.get("/api/version").json() == {"version": "0.12.0"}
        assert http.get("/nope").status_code == 404
    assert [(r["method"], r["path"]) for r in server.requests] == [
        ("GET", "/"),
        ("HEAD", "/"),
        ("GET", "/api/version"),
        ("GET", "/nope"),
    ]


def test_url_requires_running_server() -> None:
    """The URL is only available while the server runs, on 127.0.0.1."""
    srv = FakeOllamaServer()
    with pytest.raises(RuntimeError):
        _ = srv.url
    with srv:
        assert srv.url.startswith("http://127.0.0.1:")
        assert srv.url.endswith(f":{srv.port}")
    with pytest.raises(RuntimeError):
        _ = srv.url


# --------------------------------------------------------------------------- #
# ollama client
# --------------------------------------------------------------------------- #
def test_list_returns_pulled_models() -> None:
    """``Client.list()`` parses the models configured on the server."""
    with FakeOllamaServer(models=["llama3.2:latest", "qwen2.5:7b"]) as srv:
        listed = ollama.Client(host=srv.url).list()
    assert [m.model for m in listed.models] == ["llama3.2:latest", "qwen2.5:7b"]
    first = listed.models[0]
    assert first.details is not None
    assert first.details.family == "llama"
    assert first.size is not None
    assert first.size > 0
    assert first.modified_at is not None
    assert srv.requests[-1] == {"method": "GET", "path": "/api/tags", "body": None}


def test_show_reports_model_info(server: FakeOllamaServer) -> None:
    """``Client.show()`` gets context length, capabilities and a Modelfile."""
    shown = ollama.Client(host=server.url).show("llama3.2")
    assert shown.modelinfo is not None
    assert shown.modelinfo["llama.context_length"] == 131072
    assert shown.capabilities is not None
    assert "completion" in shown.capabilities
    assert shown.modelfile is not None
    assert "FROM " in shown.modelfile
    assert shown.parameters is not None
    assert "stop" in shown.parameters
    assert shown.template
    assert shown.details is not None
    assert shown.details.format == "gguf"


def test_show_unknown_model_is_404(server: FakeOllamaServer) -> None:
    """An unknown model in ``/api/show`` is a 404 ``ResponseError``."""
    with pytest.raises(ollama.ResponseError) as excinfo:
        ollama.Client(host=server.url).show("mistral")
    assert excinfo.value.status_code == 404
    assert excinfo.value.error == "model 'mistral' not found"


def test_chat_streams_one_line_per_token(server: FakeOllamaServer) -> None:
    """Each token is its own NDJSON line, then a final ``done`` line with stats."""
    parts = list(
        ollama.Client(host=server.url).chat(model="llama3.2", messages=_messages(), stream=True)
    )
    tokens = split_tokens(EXPECTED_ANSWER)
    assert len(parts) == len(tokens) + 1
    assert [p.message.content for p in parts[:-1]] == tokens
    assert all(p.done is False for p in parts[:-1])
    assert all(p.model == "llama3.2" for p in parts)
    final = parts[-1]
    assert final.done is True
    assert final.done_reason == "stop"
    assert final.message.role == "assistant"
    assert final.message.content == ""
    assert final.eval_count == len(tokens)
    expected_prompt = CONTEXT + "\n" + QUESTION
    assert final.prompt_eval_count == estimate_tokens(expected_prompt)
    for field in ("total_duration", "load_duration", "prompt_eval_duration"):
        assert getattr(final, field) > 0
    assert final.eval_duration is not None


def test_chat_without_stream_returns_one_object(server: FakeOllamaServer) -> None:
    """``stream=False`` yields a single response holding the whole answer."""
    response = ollama.Client(host=server.url).chat(
        model="llama3.2", messages=_messages(), stream=False
    )
    assert response.message.content == EXPECTED_ANSWER
    assert response.done is True
    assert response.eval_count == len(split_tokens(EXPECTED_ANSWER))
    assert server.chat_requests[-1]["stream"] is False


def test_chat_streams_by_default_over_raw_http(server: FakeOllamaServer) -> None:
    """Without ``stream`` in the body the answer is NDJSON, as in Ollama."""
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(f"{server.url}/api/chat", json=body)
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert "".join(line["message"]["content"] for line in lines) == NOT_FOUND_ANSWER
    assert [line["done"] for line in lines].count(True) == 1
    assert lines[-1]["done"] is True


def test_chat_unknown_model_is_404(server: FakeOllamaServer) -> None:
    """A model that is not pulled fails like real Ollama does."""
    client = ollama.Client(host=server.url)
    with pytest.raises(ollama.ResponseError) as excinfo:
        list(client.chat(model="mistral", messages=_messages(), stream=True))
    assert excinfo.value.status_code == 404
    assert excinfo.value.error == 'model "mistral" not found, try pulling it first'


def test_chat_with_empty_messages_only_loads(server: FakeOllamaServer) -> None:
    """An empty conversation returns ``done_reason: load`` like real Ollama."""
    response = ollama.Client(host=server.url).chat(model="llama3.2", messages=[])
    assert response.done is True
    assert response.done_reason == "load"
    assert response.message.content == ""


def test_num_predict_truncates_answer(server: FakeOllamaServer) -> None:
    """``options.num_predict`` limits the tokens and reports ``length``."""
    response = ollama.Client(host=server.url).chat(
        model="llama3.2", messages=_messages(), options={"num_predict": 3}
    )
    assert response.message.content == "According to the "
    assert response.done_reason == "length"
    assert response.eval_count == 3


def test_generate_streams_response_tokens(server: FakeOllamaServer) -> None:
    """``/api/generate`` streams ``response`` fragments from the prompt."""
    parts = list(
        ollama.Client(host=server.url).generate(
            model="llama3.2", prompt="[1] Short passage.", stream=True
        )
    )
    assert "".join(p.response or "" for p in parts) == (
        "According to the documents [1], Short passage."
    )
    assert parts[-1].done is True
    assert parts[-1].context


def test_status_override_answers_busy(server: FakeOllamaServer) -> None:
    """With ``status_override=503`` every API call fails, and recovers after."""
    server.status_override = 503
    client = ollama.Client(host=server.url)
    with pytest.raises(ollama.ResponseError) as excinfo:
        client.list()
    assert excinfo.value.status_code == 503
    assert excinfo.value.error == BUSY_ERROR
    with pytest.raises(ollama.ResponseError) as excinfo:
        list(client.chat(model="llama3.2", messages=_messages(), stream=True))
    assert excinfo.value.status_code == 503
    server.status_override = None
    assert client.list().models


def test_closed_port_url_refuses_connections() -> None:
    """Nothing listens on ``closed_port_url()``: the client reports Ollama down."""
    url = closed_port_url()
    assert url.startswith("http://127.0.0.1:")
    with pytest.raises(ConnectionError):
        ollama.Client(host=url).list()


# --------------------------------------------------------------------------- #
# LangChain ChatOllama
# --------------------------------------------------------------------------- #
def test_chat_ollama_streams_tokens_and_records_messages(
    server: FakeOllamaServer,
) -> None:
    """``ChatOllama.stream`` yields the tokens, and the request is recorded."""
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    chunks = list(llm.stream([SystemMessage(CONTEXT), HumanMessage(QUESTION)]))
    texts = [chunk.text for chunk in chunks if chunk.text]
    assert texts == split_tokens(EXPECTED_ANSWER)
    assert "".join(texts) == EXPECTED_ANSWER

    assert len(server.chat_requests) == 1
    sent = server.chat_requests[0]
    assert sent["model"] == "llama3.2"
    assert sent["stream"] is True
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [
        ("system", CONTEXT),
        ("user", QUESTION),
    ]
    assert default_responder(sent) == EXPECTED_ANSWER


def test_chat_ollama_invoke_reports_usage(server: FakeOllamaServer) -> None:
    """``invoke`` aggregates the stream and exposes Ollama's final stats."""
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    message = llm.invoke(QUESTION)
    assert message.content == NOT_FOUND_ANSWER
    assert message.response_metadata["done_reason"] == "stop"
    assert message.response_metadata["model_name"] == "llama3.2"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == len(split_tokens(NOT_FOUND_ANSWER))
    assert message.usage_metadata["input_tokens"] == estimate_tokens(QUESTION)


def test_custom_responder_receives_body(server: FakeOllamaServer) -> None:
    """A custom responder's text is what the client streams."""
    seen: list[dict[str, Any]] = []

    def responder(body: dict[str, Any]) -> str:
        seen.append(body)
        return "Custom reply, streamed word by word."

    server.responder = responder
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    assert llm.invoke("question?").content == "Custom reply, streamed word by word."
    assert seen[0]["messages"][-1]["content"] == "question?"


def test_chat_ollama_unknown_model_raises_404(server: FakeOllamaServer) -> None:
    """The 404 for an unpulled model surfaces through LangChain unchanged."""
    llm = ChatOllama(model="mistral", base_url=server.url)
    with pytest.raises(ollama.ResponseError) as excinfo:
        llm.invoke("hi")
    assert excinfo.value.status_code == 404


def test_chat_ollama_validates_model_against_tags(server: FakeOllamaServer) -> None:
    """``validate_model_on_init`` passes for pulled models and fails otherwise."""
    ChatOllama(model="llama3.2", base_url=server.url, validate_model_on_init=True)
    with pytest.raises(ValueError, match="not found in Ollama"):
        ChatOllama(model="phi3", base_url=server.url, validate_model_on_init=True)


def test_token_delay_spreads_tokens_over_time(server: FakeOllamaServer) -> None:
    """With ``token_delay`` tokens arrive one by one, not in a single burst."""
    server.token_delay = 0.1
    server.responder = lambda _body: "one two three four five"
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    arrivals: list[float] = []
    texts: list[str] = []
    for chunk in llm.stream("hi"):
        if chunk.text:
            arrivals.append(time.monotonic())
            texts.append(chunk.text)
    assert texts == ["one ", "two ", "three ", "four ", "five"]
    assert arrivals[-1] - arrivals[0] >= 0.3


def test_hang_makes_client_time_out_and_stop_stays_fast() -> None:
    """A hanging server trips the client timeout; ``stop()`` still returns fast."""
    srv = FakeOllamaServer(hang=True).start()
    try:
        llm = ChatOllama(model="llama3.2", base_url=srv.url, client_kwargs={"timeout": 1})
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            llm.invoke("anyone there?")
        assert time.monotonic() - started < 10
        assert srv.chat_requests[-1]["messages"][-1]["content"] == "anyone there?"
    finally:
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 5


def test_stop_releases_a_client_still_waiting() -> None:
    """``stop()`` returns fast and the waiting client gets an error, not a hang."""
    threads_before = set(threading.enumerate())
    srv = FakeOllamaServer(hang=True).start()
    url = srv.url
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}]}
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.post(f"{url}/api/chat", json=body, timeout=30)
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    deadline = time.monotonic() + 5
    while not srv.chat_requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.chat_requests, "the request never reached the server"
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 5
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert len(errors) == 1
    assert not isinstance(errors[0], httpx.TimeoutException)
    # The handler thread that was hanging has finished too (no leaked thread).
    assert _threads_left_after(threads_before) == []


def test_stop_closes_idle_keep_alive_connections() -> None:
    """Handler threads waiting on an idle keep-alive connection end on stop()."""
    threads_before = set(threading.enumerate())
    srv = FakeOllamaServer().start()
    with httpx.Client(base_url=srv.url) as http:
        assert http.get("/api/version").status_code == 200
        srv.stop()
        assert _threads_left_after(threads_before) == []


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_command_line_prints_url_and_serves(stop_signal: signal.Signals) -> None:
    """``python tests/ollama_server.py`` prints its URL and serves until a signal."""
    script = Path(__file__).with_name("ollama_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--answer", "Fixed answer."],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url, timeout=5).text == "Ollama is running"
        reply = ollama.Client(host=url, timeout=5).chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.message.content == "Fixed answer."
    finally:
        proc.send_signal(stop_signal)
        try:
            returncode = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - cleanup only
            proc.kill()
            raise
    assert returncode == 0
