"""The HTTP API (rag_core/doors/api.py) through a real uvicorn server on 127.0.0.1.

One server per module over a real Chroma store in a temporary directory, with 30 real
pages of lshort.pdf ingested once, answering with the test Ollama server
(tests/ollama_server.py: it proves plumbing, never answer quality). The OpenAI routes are
called with the real ``openai`` client, the REST routes with httpx.

API keys and roles are the real ``rag_core.access``: the module's server runs without
sign-in (one local user, a key still needed); the permission test signs three users in.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from langchain_core.embeddings import Embeddings

from rag_core.__main__ import main
from rag_core.access import AccessControl, Role
from rag_core.config import build_settings
from rag_core.doors.api import create_app
from rag_core.doors.listening import check_host
from rag_core.engine import Engine
from rag_core.errors import (
    RagError,
)
from tests.conftest import LSHORT, LSHORT_KO, REPO, pdf_pages
from tests.doors.serving import running
from tests.ollama_server import REASONING, FakeOllamaServer, closed_port_url

COLLECTION = "manuals"
QUESTION = "When did Knuth start writing the TeX typesetting program?"
FIELDS = {"number", "source", "page", "page_label", "section", "text", "document_id"}


@dataclass
class Api:
    url: str
    engine: Engine
    access: AccessControl
    ollama: FakeOllamaServer
    key: str

    def client(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key or self.key, max_retries=0)

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory,
    embeddings: Embeddings,
    module_ollama: FakeOllamaServer,
) -> Iterator[Api]:
    """The API over a store holding lshort.pdf pages 1-30, served by uvicorn."""
    settings = build_settings(
        data_dir=tmp_path_factory.mktemp("api-data"),
        collection=COLLECTION,
        ollama_host=module_ollama.url,
    )
    engine = Engine(settings, embeddings)  # no sign-in: one local user, keys still needed
    access = engine.access
    result = engine.ingest("lshort-1-30.pdf", pdf_pages(LSHORT, 1, 30))
    assert result.status == "indexed", result.error
    with running(create_app(engine)) as url:
        yield Api(url, engine, access, module_ollama, access.create_key("alice"))


@pytest.fixture
def ollama(api: Api) -> Iterator[FakeOllamaServer]:
    """The module's test Ollama server in mode honest, restored after the test."""
    server = api.ollama
    server.mode, server.models, server.status_override = "honest", ["llama3.2:latest"], None
    server.clear_requests()
    yield server
    server.mode, server.models, server.status_override = "honest", ["llama3.2:latest"], None
    server.token_delay, server.first_token_delay = 0.0, 2.0


def ask(messages: str | list[dict[str, str]]) -> list[dict[str, str]]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return messages


# ------------------------------------------------------------------ OpenAI-compatible
def test_models_are_the_collections_the_caller_may_read(api: Api) -> None:
    models = api.client().models.list()
    assert [(m.id, m.object) for m in models] == [(COLLECTION, "model")]
    assert models.data[0].owned_by


def test_chat_not_streamed_has_markers_and_citations(api: Api, ollama: FakeOllamaServer) -> None:
    response = api.client().chat.completions.create(model=COLLECTION, messages=ask(QUESTION))
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert "[1]" in choice.message.content
    assert "1977" in response.model_extra["citations"][0]["text"]
    citations = response.model_extra["citations"]
    assert set(citations[0]) == FIELDS | {"cited"}
    first = citations[0]
    assert (first["number"], first["source"], first["page"]) == (1, "lshort-1-30.pdf", 15)
    assert first["section"].endswith("1.1.1 TEX")
    assert first["cited"] is True
    assert [c["cited"] for c in citations[1:]] == [False] * (len(citations) - 1)
    assert (choice.message.model_extra or {}).get("reasoning_content") is None


def test_chat_streamed_ends_with_citations(api: Api, ollama: FakeOllamaServer) -> None:
    chunks = list(
        api.client().chat.completions.create(
            model=COLLECTION, messages=ask(QUESTION), stream=True, extra_body={"k": 2}
        )
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "[1]" in content
    assert len(chunks[-1].model_extra["citations"]) == 2  # top-k from the request
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["answer"] == content
    citations = last.model_extra["citations"]
    assert citations[0]["page"] == 15 and citations[0]["cited"] is True
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])
    assert len([c for c in chunks if (c.choices[0].delta.content or "")]) > 3  # streamed


def test_streamed_markers_are_rewritten_to_plain_numbers(
    api: Api, ollama: FakeOllamaServer
) -> None:
    ollama.mode = "odd-citations"  # [1-2], [1, 2], [^2], 【1】 in pieces
    stream = api.client().chat.completions.create(
        model=COLLECTION, messages=ask(QUESTION), stream=True
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    for odd in ("[1-2]", "[1, 2]", "[^2]", "【1】"):
        assert odd not in content
    assert "[1][2]" in content
    assert content == chunks[-1].model_extra["answer"]
    whole = api.client().chat.completions.create(model=COLLECTION, messages=ask(QUESTION))
    assert whole.choices[0].message.content == content


def test_question_not_in_the_documents(api: Api, ollama: FakeOllamaServer) -> None:
    question = "Which football club won the 1998 Korean league championship?"
    response = api.client().chat.completions.create(model=COLLECTION, messages=ask(question))
    content = response.choices[0].message.content
    assert content and "[" not in content
    assert response.choices[0].finish_reason == "stop"
    citations = response.model_extra["citations"]
    assert citations and not any(c["cited"] for c in citations)  # the closest passages
    assert ollama.answer_requests == []  # answered without the model


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_goes_to_reasoning_content(
    api: Api, ollama: FakeOllamaServer, stream: bool
) -> None:
    ollama.mode = "think-inline"
    create = api.client().chat.completions.create
    if stream:
        chunks = list(create(model=COLLECTION, messages=ask(QUESTION), stream=True))
        deltas = [c.choices[0].delta for c in chunks]
        content = "".join(d.content or "" for d in deltas)
        reasoning = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    else:
        message = create(model=COLLECTION, messages=ask(QUESTION)).choices[0].message
        content, reasoning = message.content, message.model_extra["reasoning_content"]
    assert "Okay, the user asks" in reasoning
    assert " ".join(reasoning.split()) == " ".join(REASONING.split())
    assert "think>" not in content and "Okay" not in content
    assert "[1]" in content


def test_retracted_reasoning_is_not_in_the_answer(api: Api, ollama: FakeOllamaServer) -> None:
    ollama.mode = "think-lone-close"  # reasoning streams as answer until a lone </think>
    create = api.client().chat.completions.create
    message = create(model=COLLECTION, messages=ask(QUESTION)).choices[0].message
    assert "Okay" not in message.content and "[1]" in message.content
    assert "Okay, the user asks" in message.model_extra["reasoning_content"]
    chunks = list(create(model=COLLECTION, messages=ask(QUESTION), stream=True))
    resets = [c.model_extra.get("answer_reset") for c in chunks if c.model_extra]
    assert "retracted" in resets
    assert chunks[-1].model_extra["answer"] == message.content


def test_cut_off_answer_finishes_with_length(api: Api, ollama: FakeOllamaServer) -> None:
    ollama.mode = "length"  # cuts at num_predict with done_reason "length"
    settings = api.engine.settings.model_copy(update={"num_predict": 16})
    short = Engine(settings, api.engine.embeddings, access=api.access)
    with running(create_app(short)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=api.key, max_retries=0)
        response = client.chat.completions.create(model=COLLECTION, messages=ask(QUESTION))
        chunks = list(
            client.chat.completions.create(model=COLLECTION, messages=ask(QUESTION), stream=True)
        )
    assert ollama.replies[-1]["done_reason"] == "length"
    assert response.choices[0].finish_reason == "length"
    assert chunks[-1].choices[0].finish_reason == "length"
    ollama.mode = "honest"
    whole = api.client().chat.completions.create(model=COLLECTION, messages=ask(QUESTION))
    assert whole.choices[0].finish_reason == "stop"


def test_earlier_messages_are_the_history(api: Api, ollama: FakeOllamaServer) -> None:
    messages = [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "What is TeX?"},
        {"role": "assistant", "content": "TeX is a typesetting program [1]."},
        {"role": "user", "content": QUESTION},
    ]
    api.client().chat.completions.create(model=COLLECTION, messages=messages)
    sent = [str(m.get("content")) for r in ollama.chat_requests for m in r["messages"]]
    assert any("What is TeX?" in text for text in sent)
    assert any("TeX is a typesetting program [1]." in text for text in sent)
    assert not any(text == "ignored" for text in sent)


def test_a_waiting_stream_blocks_no_other_request(api: Api, ollama: FakeOllamaServer) -> None:
    ollama.mode, ollama.first_token_delay = "slow-first-token", 2.0
    events: list[str] = []

    def stream() -> None:
        for chunk in api.client().chat.completions.create(
            model=COLLECTION, messages=ask(QUESTION), stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                events.append("token")
        events.append("done")

    thread = threading.Thread(target=stream)
    thread.start()
    deadline = time.monotonic() + 60
    while not ollama.answer_requests and time.monotonic() < deadline:
        time.sleep(0.01)  # the stream now waits for the model's first token
    assert [m.id for m in api.client().models.list()] == [COLLECTION]
    events.append("models")
    thread.join(timeout=60)
    assert events[0] == "models" and events[-1] == "done"


def test_streams_interleave(api: Api, ollama: FakeOllamaServer) -> None:
    ollama.token_delay = 0.05  # each answer takes a second or more
    events: list[str] = []

    def stream(name: str) -> None:
        for chunk in api.client().chat.completions.create(
            model=COLLECTION, messages=ask(QUESTION), stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                events.append(name)
        events.append("done")

    threads = [threading.Thread(target=stream, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # both answers were streaming before either finished
    assert set(events[: events.index("done")]) == {"a", "b"}


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        ({"models": []}, 503, "model_missing"),
        ({"status_override": 503}, 503, "model_busy"),
    ],
)
def test_model_failure_is_a_json_error_with_the_citations(
    api: Api, ollama: FakeOllamaServer, setup: dict[str, object], status: int, code: str
) -> None:
    for name, value in setup.items():
        setattr(ollama, name, value)
    with api.http() as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": COLLECTION, "messages": ask(QUESTION)},
        )
    assert response.status_code == status
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert body["citations"] and body["citations"][0]["page"] == 15
    with pytest.raises(openai.APIError) as raised:
        list(
            api.client().chat.completions.create(
                model=COLLECTION, messages=ask(QUESTION), stream=True
            )
        )
    assert raised.value.body["code"] == code


def test_model_unreachable(api: Api) -> None:
    settings = api.engine.settings.model_copy(update={"ollama_host": closed_port_url()})
    down = Engine(settings, api.engine.embeddings, access=api.access)
    with running(create_app(down)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=api.key, max_retries=0)
        with pytest.raises(openai.APIStatusError) as raised:
            client.chat.completions.create(model=COLLECTION, messages=ask(QUESTION))
        assert raised.value.status_code == 503
        assert raised.value.body["code"] == "model_unreachable"
        assert "ollama serve" in raised.value.body["message"]


def test_chat_request_errors_are_json(api: Api, ollama: FakeOllamaServer) -> None:
    with api.http() as http:
        empty = http.post("/v1/chat/completions", json={"model": COLLECTION, "messages": []})
        last = http.post(
            "/v1/chat/completions",
            json={"model": COLLECTION, "messages": [{"role": "assistant", "content": "x"}]},
        )
        missing = http.post(
            "/v1/chat/completions", json={"model": "no-such", "messages": ask(QUESTION)}
        )
        route = http.get("/v1/nothing-here")
    assert (empty.status_code, empty.json()["error"]["code"]) == (422, "invalid_request")
    assert "messages" in empty.json()["error"]["message"]
    assert (last.status_code, last.json()["error"]["code"]) == (422, "invalid_request")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "collection_not_found")
    assert (route.status_code, route.json()["error"]["code"]) == (404, "not_found")
    assert ollama.chat_count == 0
    assert "no-such" not in api.engine.collections()  # nothing was created


# ------------------------------------------------------------------------------ REST
def test_search_returns_passages_with_scores(api: Api) -> None:
    with api.http() as http:
        response = http.post(
            f"/v1/collections/{COLLECTION}/search", json={"query": QUESTION, "k": 3}
        )
        missing = http.post("/v1/collections/no-such/search", json={"query": QUESTION})
        bad = http.post(f"/v1/collections/{COLLECTION}/search", json={"k": 3})
    body = response.json()
    passages = body["passages"]
    assert len(passages) == 3 and body["relevant"] is True
    assert set(passages[0]) == FIELDS | {"score"}
    assert passages[0]["page"] == 15 and "1977" in passages[0]["text"]
    assert [p["number"] for p in passages] == [1, 2, 3]
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "collection_not_found")
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request")
    assert "no-such" not in api.engine.collections()


def test_documents_are_listed_with_their_id(api: Api) -> None:
    with api.http() as http:
        documents = http.get(f"/v1/collections/{COLLECTION}/documents").json()["documents"]
    lshort = next(d for d in documents if d["name"] == "lshort-1-30.pdf")
    assert len(lshort["id"]) == 64 and int(lshort["id"], 16) >= 0
    assert (lshort["pages"], lshort["languages"], lshort["status"]) == (30, ["en"], "complete")
    assert lshort["chunks"] > 30 and lshort["added_at"]


def poll(http: httpx.Client, job_id: str, timeout_s: float = 300.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = http.get(f"/v1/collections/{COLLECTION}/jobs/{job_id}").json()
        if job["state"] == "finished":
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_upload_poll_and_delete(api: Api) -> None:
    hostile = "<img src=x onerror=alert(1)>.pdf"
    files = [
        ("files", ("lshort-ko-40-42.pdf", pdf_pages(LSHORT_KO, 40, 42), "application/pdf")),
        ("files", ("empty.pdf", b"", "application/pdf")),
        ("files", (hostile, b"not a pdf at all", "application/pdf")),
    ]
    with api.http() as http:
        response = http.post(f"/v1/collections/{COLLECTION}/documents", files=files)
        assert response.status_code == 202
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-content-type-options"] == "nosniff"
        good, empty, fake = response.json()["jobs"]
        assert empty["state"] == "finished" and empty["error"]["code"] == "bad_file"
        assert empty["error"]["reason"] == "empty"
        assert fake["error"]["code"] == "bad_file" and fake["name"] == hostile
        done = poll(http, good["id"])
        assert done["error"] is None, done
        assert done["result"]["status"] == "indexed" and done["result"]["pages"] == 3
        document_id = done["result"]["document_id"]
        listed = http.get(f"/v1/collections/{COLLECTION}/documents").json()["documents"]
        assert document_id in {d["id"] for d in listed}

        assert (
            http.delete(f"/v1/collections/{COLLECTION}/documents/{document_id}").status_code == 204
        )
        listed = http.get(f"/v1/collections/{COLLECTION}/documents").json()["documents"]
        assert document_id not in {d["id"] for d in listed}
        again = http.delete(f"/v1/collections/{COLLECTION}/documents/{document_id}")
        assert (again.status_code, again.json()["error"]["code"]) == (404, "document_not_found")
        traversal = http.delete(f"/v1/collections/{COLLECTION}/documents/..%2F..%2Fetc%2Fpasswd")
        assert traversal.status_code == 404
        by_name = http.delete(f"/v1/collections/{COLLECTION}/documents/lshort-1-30.pdf")
        assert by_name.status_code == 404  # ids only: a name never deletes
        unknown_job = http.get(f"/v1/collections/{COLLECTION}/jobs/nope")
        assert (unknown_job.status_code, unknown_job.json()["error"]["code"]) == (
            404,
            "job_not_found",
        )
    assert any(d.name == "lshort-1-30.pdf" for d in api.engine.documents(COLLECTION))


def test_upload_limits(api: Api) -> None:
    small = create_app(api.engine, max_upload_bytes=4096)
    with (
        running(small) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api.key}"}) as http,
    ):
        big = http.post(
            f"/v1/collections/{COLLECTION}/documents",
            files=[("files", ("big.pdf", b"%PDF-" + b"x" * 10_000, "application/pdf"))],
        )
        chunked = http.post(  # no Content-Length: the limit is counted while reading
            f"/v1/collections/{COLLECTION}/documents",
            content=iter([b"x" * 3000, b"y" * 3000]),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        many = http.post(
            f"/v1/collections/{COLLECTION}/documents",
            files=[("files", (f"{i}.txt", b"t", "text/plain")) for i in range(21)],
        )
        none = http.post(f"/v1/collections/{COLLECTION}/documents", data={"x": "1"})
    assert (big.status_code, big.json()["error"]["code"]) == (413, "too_large")
    assert (chunked.status_code, chunked.json()["error"]["code"]) == (413, "too_large")
    assert (many.status_code, many.json()["error"]["code"]) == (413, "too_many_files")
    assert (none.status_code, none.json()["error"]["code"]) == (422, "invalid_request")
    assert not [j for j in api.engine.queue(COLLECTION).jobs() if j.name in ("big.pdf", "0.txt")]


# --------------------------------------------------------------------- keys and roles
def test_requests_need_a_known_key(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    with caplog.at_level(logging.WARNING, logger="rag_core.doors.api"):
        anonymous = httpx.get(f"{api.url}/v1/models")
        unknown = httpx.post(
            f"{api.url}/v1/collections/{COLLECTION}/search",
            json={"query": "x"},
            headers={"Authorization": f"Bearer {wrong}"},
        )
    for response in (anonymous, unknown):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    assert "keys create" in anonymous.json()["error"]["message"]
    assert "refused" in caplog.text and wrong not in caplog.text
    with pytest.raises(openai.AuthenticationError):
        api.client(key=wrong).models.list()


def test_reader_cannot_upload_or_delete_and_outsiders_see_nothing(
    tmp_path: Path, embeddings: Embeddings, module_ollama: FakeOllamaServer
) -> None:
    """Sign-in on: olga owns the collection, rita reads it, otto is no member."""
    config = tmp_path / "auth.yaml"
    users = {name: {"name": name.title(), "password": "x"} for name in ("olga", "rita", "otto")}
    config.write_text(yaml.safe_dump({"credentials": {"usernames": users}}), encoding="utf-8")
    settings = build_settings(
        data_dir=tmp_path / "data",
        collection=COLLECTION,
        auth_config=config,
        ollama_host=module_ollama.url,
    )
    engine = Engine(settings, embeddings)
    access = engine.access
    owner, reader, outsider = (access.create_key(u) for u in ("olga", "rita", "otto"))
    result = engine.ingest("a.pdf", pdf_pages(LSHORT, 15, 15), caller=access.authenticate(owner))
    assert result.status == "indexed" and access.owner(COLLECTION) == "olga"
    access.share(COLLECTION, "rita", Role.READER)
    document_id = engine.documents(COLLECTION)[0].sha256
    pdf = [("files", ("x.pdf", pdf_pages(LSHORT, 31, 31), "application/pdf"))]
    with running(create_app(engine)) as url:

        def http(key: str) -> httpx.Client:
            return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})

        with http(reader) as client:
            search = client.post(f"/v1/collections/{COLLECTION}/search", json={"query": "TeX"})
            assert search.is_success
            upload = client.post(f"/v1/collections/{COLLECTION}/documents", files=pdf)
            delete = client.delete(f"/v1/collections/{COLLECTION}/documents/{document_id}")
        for response in (upload, delete):
            assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
        models = openai.OpenAI(base_url=f"{url}/v1", api_key=outsider, max_retries=0)
        assert [m.id for m in models.models.list()] == []
        with http(outsider) as client:
            for response in (
                client.get(f"/v1/collections/{COLLECTION}/documents"),
                client.post(f"/v1/collections/{COLLECTION}/search", json={"query": "TeX"}),
                client.post(
                    "/v1/chat/completions", json={"model": COLLECTION, "messages": ask("x")}
                ),
            ):
                assert (response.status_code, response.json()["error"]["code"]) == (
                    404,
                    "collection_not_found",
                )
        with http(owner) as client:  # the owner may write
            gone = client.delete(f"/v1/collections/{COLLECTION}/documents/{document_id}")
            assert gone.status_code == 204
    assert engine.documents(COLLECTION) == []
    assert "x.pdf" not in {j.name for j in engine.queue(COLLECTION).jobs()}


# ------------------------------------------------------------------------ serving
def test_serve_refuses_other_interfaces_without_sign_in(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not api.engine.access.enabled
    with pytest.raises(RagError, match=r"127\.0\.0\.1 only"):
        check_host(api.engine, "0.0.0.0")
    check_host(api.engine, "127.0.0.1")
    check_host(api.engine, "localhost")
    check_host(api.engine, "::1")
    code = main(["--data-dir", str(tmp_path / "d"), "serve", "--host", "192.168.1.20"])
    assert code == 2
    assert "refusing to listen on 192.168.1.20" in capsys.readouterr().err


def test_serve_command_starts_the_api(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, RAG_OLLAMA_HOST=closed_port_url(), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-m", "rag_core", "--data-dir", str(tmp_path / "d")]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                schema = httpx.get(f"{url}/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert "/v1/models" in schema.json()["paths"]
        anonymous = httpx.get(f"{url}/v1/models")
        assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthorized")
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_docs_are_served(api: Api) -> None:
    schema = httpx.get(f"{api.url}/openapi.json").json()
    assert "/v1/chat/completions" in schema["paths"]
    upload = schema["paths"]["/v1/collections/{name}/documents"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert httpx.get(f"{api.url}/docs").status_code == 200
