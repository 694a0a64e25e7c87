"""Tests for the fake Ollama server, driven by the real ollama and LangChain clients."""

from __future__ import annotations

import contextlib
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
    CHINESE_ANSWER,
    MODES,
    NOT_FOUND_ANSWER,
    REASONING,
    REASONING_2,
    REWRITE_REASONING,
    FakeOllamaServer,
    closed_port_url,
    default_responder,
    estimate_tokens,
    extract_passages,
    mode_reply,
    normalize_model_name,
    passage_sentences,
    split_fine_tokens,
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
@contextlib.contextmanager
def command_line_server(*args: str, stop_signal: int = signal.SIGTERM) -> Iterator[str]:
    """Run ``python tests/ollama_server.py --port 0 ARGS``; yield the URL it prints.

    On leaving, the server gets ``stop_signal`` and must exit with status 0.
    """
    script = Path(__file__).with_name("ollama_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.send_signal(stop_signal)
        try:
            returncode = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - cleanup only
            proc.kill()
            raise
    assert returncode == 0


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_command_line_prints_url_and_serves(stop_signal: signal.Signals) -> None:
    """``python tests/ollama_server.py`` prints its URL and serves until a signal."""
    with command_line_server("--answer", "Fixed answer.", stop_signal=stop_signal) as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url, timeout=5).text == "Ollama is running"
        reply = ollama.Client(host=url, timeout=5).chat(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.message.content == "Fixed answer."


# --------------------------------------------------------------------------- #
# Quirk modes
# --------------------------------------------------------------------------- #
CHAIN_SYSTEM = (
    "You answer questions about the user's documents. Cite passages like [1].\n"
    "Answer in the language of the question (for example Korean for a Korean question).\n\n"
    "<passages>\n"
    "[1] (manual.pdf, p. 3 (printed 1)) The pump must be serviced every six months by a "
    "certified technician. Otherwise the warranty of the pump ends early.\n\n"
    "[2] (faq.pdf, p. 1) Replacement filters are sold separately in every store. They "
    "cost ten dollars each and last a year.\n\n"
    "[3] (guide.pdf, p. 9) Drain the tank completely before the winter frost arrives. "
    "Frozen water can crack the housing.\n"
    "</passages>"
)
KO_SYSTEM = (
    "You answer questions about the user's documents. Cite passages like [1].\n"
    "Answer in the language of the question (for example Korean for a Korean question).\n\n"
    "<passages>\n"
    "[1] (manual.pdf, p. 3) The pump must be serviced every six months by a certified "
    "technician. Otherwise the warranty of the pump ends early.\n\n"
    "[2] (pump-ko.pdf, p. 2) 펌프는 여섯 달마다 공인 기술자가 점검해야 합니다. 그렇지 않으면 "
    "보증이 일찍 끝납니다.\n"
    "</passages>"
)
KO_QUESTION = "펌프는 얼마나 자주 점검해야 하나요?"
HONEST = "The pump must be serviced every six months by a certified technician [1]."
WRONG_CITATION = "Drain the tank completely before the winter frost arrives [1]."
KO_CORRECT = "펌프는 여섯 달마다 공인 기술자가 점검해야 합니다 [2]."
REWRITE_SYSTEM = (
    "Given the conversation and the user's latest question, write a standalone question "
    "that can be understood without the conversation. Reply with the standalone question only."
)
FOLLOW_UP = "And the filters?"
FIRST_QUESTION = "How often must the pump be serviced?"


def _chain_messages(system: str = CHAIN_SYSTEM, question: str = QUESTION) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def _rewrite_messages() -> list[dict[str, str]]:
    return [
        {"role": "system", "content": REWRITE_SYSTEM},
        {"role": "user", "content": FIRST_QUESTION},
        {"role": "assistant", "content": HONEST},
        {"role": "user", "content": FOLLOW_UP},
    ]


def _lc(messages: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Messages as LangChain (role, content) tuples."""
    roles = {"system": "system", "user": "human", "assistant": "ai"}
    return [(roles[m["role"]], m["content"]) for m in messages]


def _stream_texts(url: str, messages: list[dict[str, str]], **kwargs: Any) -> list[str]:
    """Content pieces of a streamed ``ollama`` chat, the final chunk checked."""
    parts = list(
        ollama.Client(host=url).chat(model="llama3.2", messages=messages, stream=True, **kwargs)
    )
    final = parts[-1]
    assert final.done is True
    assert final.done_reason in ("stop", "length")
    assert final.eval_count == len(parts) - 1
    assert final.prompt_eval_count
    assert final.total_duration
    assert final.load_duration
    assert all(p.done is False for p in parts[:-1])
    return [p.message.content or "" for p in parts[:-1]]


def _done_metadata(chunks: list[Any]) -> dict[str, Any]:
    """``response_metadata`` of the streamed chunk carrying Ollama's ``done`` line.

    langchain-core appends an empty chunk (``chunk_position="last"``) after it, so the
    stats are on the last chunk that has them, or on the sum of all chunks.
    """
    done = [c.response_metadata for c in chunks if c.response_metadata.get("done")]
    assert len(done) == 1
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.response_metadata["done_reason"] == done[0]["done_reason"]
    return done[0]


def test_modes_are_validated_and_switchable(server: FakeOllamaServer) -> None:
    """Unknown modes are refused; ``mode`` can change between requests."""
    assert MODES[0] == "default"
    with pytest.raises(ValueError, match="unknown mode"):
        FakeOllamaServer(mode="nope")
    with pytest.raises(ValueError, match="unknown mode"):
        server.mode = "nope"
    assert server.mode == "default"
    client = ollama.Client(host=server.url)
    server.mode = "honest"
    assert client.chat(model="llama3.2", messages=_chain_messages()).message.content == HONEST
    server.mode = "wrong-citation"
    reply = client.chat(model="llama3.2", messages=_chain_messages()).message.content
    assert reply == WRONG_CITATION
    server.mode = "default"
    assert client.chat(model="llama3.2", messages=_messages()).message.content == EXPECTED_ANSWER
    assert server.chat_count == 3
    assert [r["mode"] for r in server.replies] == ["honest", "wrong-citation", "default"]


def test_passage_sentences_drop_header_and_fence() -> None:
    """Sentences come without the ``(file, p. N)`` header or ``</passages>``."""
    passages = extract_passages(CHAIN_SYSTEM)
    assert passage_sentences(passages[1]) == [
        "The pump must be serviced every six months by a certified technician.",
        "Otherwise the warranty of the pump ends early.",
    ]
    assert passage_sentences(passages[3])[-1] == "Frozen water can crack the housing."


def test_honest_copies_a_sentence_of_passage_one(server: FakeOllamaServer) -> None:
    """``honest`` streams one verbatim sentence of [1], cited [1], with full stats."""
    server.mode = "honest"
    texts = _stream_texts(server.url, _chain_messages())
    assert texts == split_tokens(HONEST)
    assert "".join(texts) == HONEST
    assert server.replies[-1]["kind"] == "answer"
    assert server.replies[-1]["done_reason"] == "stop"


def test_wrong_citation_copies_the_last_passage(server: FakeOllamaServer) -> None:
    """``wrong-citation`` quotes the last passage but cites [1] (ChatOllama)."""
    server.mode = "wrong-citation"
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    chunks = list(llm.stream(_lc(_chain_messages())))
    assert "".join(c.text for c in chunks) == WRONG_CITATION
    assert _done_metadata(chunks)["done_reason"] == "stop"


def test_no_passages_means_not_found_in_every_mode(server: FakeOllamaServer) -> None:
    """Without numbered passages each mode says it found nothing."""
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "Hi"}]}
    for mode in ("honest", "wrong-citation", "odd-citations", "out-of-range", "no-citations"):
        assert mode_reply(mode, body).content == NOT_FOUND_ANSWER


def test_think_inline_splits_tags_across_chunks(server: FakeOllamaServer) -> None:
    """``think-inline``: a ``<think>`` block with [2]/[3], then the answer; tags split."""
    server.mode = "think-inline"
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    texts = [c.text for c in llm.stream(_lc(_chain_messages())) if c.text]
    full = "".join(texts)
    assert full == f"<think>\n{REASONING}\n</think>\n\n{HONEST}"
    assert "[2]" in REASONING
    assert "[3]" in REASONING
    assert texts[:3] == ["<th", "ink", ">\n"]
    assert not any("<think>" in t or "</think>" in t for t in texts)
    assert max(len(t) for t in texts) <= 3
    assert full.split("</think>")[-1].strip() == HONEST
    # Rewrites are wrapped too.
    rewrite = "".join(c.text for c in llm.stream(_lc(_rewrite_messages())))
    assert rewrite == f"<think>\n{REWRITE_REASONING}\n</think>\n\n{FOLLOW_UP}"
    assert [r["kind"] for r in server.replies] == ["answer", "rewrite"]


def test_think_inline_ignores_the_think_flag(server: FakeOllamaServer) -> None:
    """Even with ``think=True`` the reasoning stays inline (old Ollama / templates)."""
    server.mode = "think-inline"
    parts = list(
        ollama.Client(host=server.url).chat(
            model="llama3.2", messages=_chain_messages(), stream=True, think=True
        )
    )
    assert not any(p.message.thinking for p in parts)
    assert "".join(p.message.content or "" for p in parts).startswith("<think>\n")


def test_think_multi_sends_two_blocks(server: FakeOllamaServer) -> None:
    """``think-multi``: two think blocks, then the answer."""
    server.mode = "think-multi"
    full = "".join(_stream_texts(server.url, _chain_messages()))
    assert full == (f"<think>\n{REASONING}\n</think>\n<think>\n{REASONING_2}\n</think>\n\n{HONEST}")
    assert full.count("<think>") == 2
    assert full.count("</think>") == 2
    rewrite = "".join(_stream_texts(server.url, _rewrite_messages()))
    assert rewrite.count("<think>") == 2
    assert rewrite.endswith(f"</think>\n\n{FOLLOW_UP}")


def test_think_lone_close_has_no_opening_tag(server: FakeOllamaServer) -> None:
    """``think-lone-close``: reasoning, a lone ``</think>``, then the answer."""
    server.mode = "think-lone-close"
    texts = _stream_texts(server.url, _chain_messages())
    full = "".join(texts)
    assert full == f"{REASONING}\n</think>\n\n{HONEST}"
    assert "<think>" not in full
    assert "</think>" not in texts
    assert texts == split_fine_tokens(full)
    rewrite = "".join(_stream_texts(server.url, _rewrite_messages()))
    assert rewrite == f"{REWRITE_REASONING}\n</think>\n\n{FOLLOW_UP}"


def test_think_field_streams_thinking_first_with_ollama_client(
    server: FakeOllamaServer,
) -> None:
    """``think-field`` with ``think=True``: ``message.thinking`` chunks, then content."""
    server.mode = "think-field"
    client = ollama.Client(host=server.url)
    parts = list(client.chat(model="llama3.2", messages=_chain_messages(), stream=True, think=True))
    thinking = [p.message.thinking for p in parts if p.message.thinking]
    content = [p.message.content for p in parts if p.message.content]
    assert "".join(thinking) == REASONING
    assert "".join(content) == HONEST
    first_content = next(i for i, p in enumerate(parts) if p.message.content)
    assert all(p.message.thinking for p in parts[:first_content])
    assert not any(p.message.thinking for p in parts[first_content:])
    assert parts[-1].done is True
    assert parts[-1].eval_count == len(thinking) + len(content)
    assert server.chat_requests[-1]["think"] is True

    single = client.chat(model="llama3.2", messages=_chain_messages(), think=True)
    assert single.message.thinking == REASONING
    assert single.message.content == HONEST

    plain = client.chat(model="llama3.2", messages=_chain_messages(), think=False)
    assert not plain.message.thinking
    assert plain.message.content == HONEST
    absent = client.chat(model="llama3.2", messages=_chain_messages())
    assert not absent.message.thinking
    assert absent.message.content == HONEST

    rewrite = client.chat(model="llama3.2", messages=_rewrite_messages(), think=True)
    assert rewrite.message.thinking == REWRITE_REASONING
    assert rewrite.message.content == FOLLOW_UP

    generated = client.generate(model="llama3.2", prompt="[1] Short passage here now.", think=True)
    assert generated.thinking == REASONING
    assert generated.response == "Short passage here now [1]."
    shown = client.show("llama3.2")
    assert shown.capabilities is not None
    assert "thinking" in shown.capabilities


def test_think_field_through_chat_ollama_reasoning(server: FakeOllamaServer) -> None:
    """``ChatOllama(reasoning=True)`` gets ``reasoning_content``; ``None`` gets none."""
    server.mode = "think-field"
    llm = ChatOllama(model="llama3.2", base_url=server.url, reasoning=True)
    chunks = list(llm.stream(_lc(_chain_messages())))
    reasoning = "".join(c.additional_kwargs.get("reasoning_content", "") for c in chunks)
    assert reasoning == REASONING
    assert "".join(c.text for c in chunks) == HONEST
    assert server.chat_requests[-1]["think"] is True

    plain = ChatOllama(model="llama3.2", base_url=server.url, reasoning=None)
    chunks = list(plain.stream(_lc(_chain_messages())))
    assert not any(c.additional_kwargs.get("reasoning_content") for c in chunks)
    assert "".join(c.text for c in chunks) == HONEST
    assert "think" not in server.chat_requests[-1] or server.chat_requests[-1]["think"] is None


@pytest.mark.parametrize(
    ("mode", "preamble"),
    [
        ("rewrite-preamble-en", "Here is the standalone question:\n\n"),
        ("rewrite-preamble-ko", "다음은 독립적인 질문입니다:\n\n"),
    ],
)
def test_rewrite_preambles(server: FakeOllamaServer, mode: str, preamble: str) -> None:
    """Rewrites come with llama3.2's preamble and quotes; answers stay honest."""
    server.mode = mode
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    rewrite = "".join(c.text for c in llm.stream(_lc(_rewrite_messages())))
    assert rewrite == f'{preamble}"{FOLLOW_UP}"'
    server.rewrite_template = "{question} ({previous})"
    rewrite = llm.invoke(_lc(_rewrite_messages())).content
    assert rewrite == f'{preamble}"{FOLLOW_UP} ({FIRST_QUESTION})"'
    assert llm.invoke(_lc(_chain_messages())).content == HONEST
    assert [r["kind"] for r in server.replies] == ["rewrite", "rewrite", "answer"]


def test_length_cuts_after_eight_tokens(server: FakeOllamaServer) -> None:
    """``length``: 8 tokens then ``done_reason: length``; ``num_predict`` wins."""
    server.mode = "length"
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    chunks = list(llm.stream(_lc(_chain_messages())))
    texts = [c.text for c in chunks if c.text]
    assert texts == split_tokens(HONEST)[:8]
    assert _done_metadata(chunks)["done_reason"] == "length"
    assert _done_metadata(chunks)["eval_count"] == 8

    short = ChatOllama(model="llama3.2", base_url=server.url, num_predict=3)
    chunks = list(short.stream(_lc(_chain_messages())))
    assert "".join(c.text for c in chunks) == "".join(split_tokens(HONEST)[:3])
    assert _done_metadata(chunks)["done_reason"] == "length"

    server.length_limit = 2
    assert llm.invoke(_lc(_chain_messages())).content == "The pump "
    # A rewrite is not cut by the mode's own limit.
    rewrite = llm.invoke(_lc(_rewrite_messages()))
    assert rewrite.content == FOLLOW_UP
    assert rewrite.response_metadata["done_reason"] == "stop"


def test_odd_citation_forms(server: FakeOllamaServer) -> None:
    """``odd-citations``: ``[1-2]``, ``[1, 2]``, ``[^2]`` and ``【1】`` on copied sentences."""
    server.mode = "odd-citations"
    text = "".join(_stream_texts(server.url, _chain_messages()))
    assert text == (
        "The pump must be serviced every six months by a certified technician [1-2]. "
        "Replacement filters are sold separately in every store [1, 2]. "
        "They cost ten dollars each and last a year [^2]. "
        "Otherwise the warranty of the pump ends early 【1】."
    )


def test_out_of_range_citation(server: FakeOllamaServer) -> None:
    """``out-of-range`` cites [1] and [9] (beyond the three passages)."""
    server.mode = "out-of-range"
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    text = llm.invoke(_lc(_chain_messages())).content
    assert text == f"{HONEST} Replacement filters are sold separately in every store [9]."
    many = "\n".join(f"[{n}] Passage number {n} says something long enough." for n in range(1, 11))
    body = {"messages": [{"role": "system", "content": many}, {"role": "user", "content": "q"}]}
    assert mode_reply("out-of-range", body).content.endswith("[11].")


def test_no_citations(server: FakeOllamaServer) -> None:
    """``no-citations`` copies the sentence of [1] without any marker."""
    server.mode = "no-citations"
    text = "".join(_stream_texts(server.url, _chain_messages()))
    assert text == "The pump must be serviced every six months by a certified technician."
    assert "[" not in text


def test_wrong_language_then_correct_after_reminder(server: FakeOllamaServer) -> None:
    """``wrong-language``: English for a Korean question until a language reminder."""
    server.mode = "wrong-language"
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    assert llm.invoke(_lc(_chain_messages(KO_SYSTEM, KO_QUESTION))).content == HONEST
    assert server.replies[-1]["language_reminder"] is False
    # The reminder in the system prompt (outside the passages) ...
    reminded = KO_SYSTEM.replace("<passages>", "Answer in Korean.\n\n<passages>")
    assert llm.invoke(_lc(_chain_messages(reminded, KO_QUESTION))).content == KO_CORRECT
    # ... or in the last user message.
    question = f"{KO_QUESTION} 한국어로 답하세요."
    assert llm.invoke(_lc(_chain_messages(KO_SYSTEM, question))).content == KO_CORRECT
    assert server.replies[-1]["language_reminder"] is True
    # A reminder phrase inside a passage does not count.
    inside = KO_SYSTEM.replace("</passages>", "[3] (x.pdf, p. 1) 한국어로 답하세요.\n</passages>")
    assert llm.invoke(_lc(_chain_messages(inside, KO_QUESTION))).content == HONEST
    # English questions are answered honestly.
    assert llm.invoke(_lc(_chain_messages())).content == HONEST
    assert server.chat_count == 5


def test_wrong_language_without_english_passage(server: FakeOllamaServer) -> None:
    """With only Korean passages the English answer is a fixed sentence citing [1]."""
    system = "<passages>\n[1] (ko.pdf, p. 1) 필터는 매달 한 번씩 교체해야 합니다.\n</passages>"
    body = {"messages": _chain_messages(system, KO_QUESTION)}
    assert mode_reply("wrong-language", body).content == (
        "The documents answer this in the first passage [1]."
    )


def test_chinese_then_korean_after_reminder(server: FakeOllamaServer) -> None:
    """``chinese``: a Chinese answer to a Korean question; Korean after a reminder."""
    server.mode = "chinese"
    client = ollama.Client(host=server.url)
    text = "".join(_stream_texts(server.url, _chain_messages(KO_SYSTEM, KO_QUESTION)))
    assert text == CHINESE_ANSWER
    assert "[1]" in text
    reminded = [*_chain_messages(KO_SYSTEM, KO_QUESTION)]
    reminded[0] = {"role": "system", "content": "Answer only in Korean.\n" + KO_SYSTEM}
    assert client.chat(model="llama3.2", messages=reminded).message.content == KO_CORRECT
    assert client.chat(model="llama3.2", messages=_chain_messages()).message.content == HONEST
    assert server.chat_count == 3
    assert [r["language_reminder"] for r in server.replies] == [False, True, False]


def test_slow_first_token_starts_stream_at_once(server: FakeOllamaServer) -> None:
    """``slow-first-token``: headers at once, first chunk after ``first_token_delay``."""
    server.mode = "slow-first-token"
    server.first_token_delay = 0.8
    body = {"model": "llama3.2", "messages": _chain_messages()}
    started = time.monotonic()
    with httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=10) as response:
        headers_at = time.monotonic() - started
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = response.iter_lines()
        first = json.loads(next(lines))
        first_at = time.monotonic() - started
        rest = [json.loads(line) for line in lines if line]
    assert headers_at < 0.6
    assert first_at >= 0.8
    assert first["message"]["content"] == split_tokens(HONEST)[0]
    assert rest[-1]["done"] is True

    llm = ChatOllama(model="llama3.2", base_url=server.url)
    started = time.monotonic()
    stream = llm.stream(_lc(_chain_messages()))
    first_text = next(c.text for c in stream if c.text)
    assert time.monotonic() - started >= 0.8
    assert first_text + "".join(c.text for c in stream) == HONEST


def test_translate_uses_the_lookup_table(server: FakeOllamaServer) -> None:
    """``translate`` answers from ``translations``, unknown texts come back unchanged."""
    server.mode = "translate"
    server.translations = {KO_QUESTION: FIRST_QUESTION}
    system = "Translate the user's text into English. Reply with the translation only."
    llm = ChatOllama(model="llama3.2", base_url=server.url)
    messages = _lc(_chain_messages(system, KO_QUESTION))
    assert llm.invoke(messages).content == FIRST_QUESTION
    assert llm.invoke(_lc(_chain_messages(system, "모르는 문장"))).content == "모르는 문장"
    assert llm.invoke(_lc(_chain_messages())).content == HONEST
    assert [r["kind"] for r in server.replies] == ["translate", "translate", "answer"]
    # every mode translates (unknown texts come back unchanged)
    server.mode = "length"
    assert llm.invoke(messages).content == FIRST_QUESTION
    server.translations = {}
    assert llm.invoke(messages).content == KO_QUESTION
    server.mode = "default"
    assert llm.invoke(messages).content == KO_QUESTION


def test_constructor_arguments_set_the_mode() -> None:
    """Mode and its settings can be given to the constructor."""
    with FakeOllamaServer(mode="length", length_limit=4) as srv:
        reply = ollama.Client(host=srv.url).chat(model="llama3.2", messages=_chain_messages())
    assert reply.message.content == "".join(split_tokens(HONEST)[:4])
    assert reply.done_reason == "length"
    assert reply.eval_count == 4


def test_command_line_mode() -> None:
    """``--mode`` picks the quirk mode of the command-line server."""
    with command_line_server("--mode", "think-lone-close") as url:
        reply = ollama.Client(host=url, timeout=5).chat(
            model="llama3.2", messages=_chain_messages()
        )
        assert reply.message.content == f"{REASONING}\n</think>\n\n{HONEST}"
