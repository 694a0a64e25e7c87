"""The MCP door through the real ``mcp`` client: stdio (a subprocess) and streamable HTTP.

One server per transport per module: ``python -m rag_core --data-dir D mcp`` spawned by
the SDK's ``stdio_client`` (the test Ollama server answers), and the streamable HTTP app
under uvicorn in a thread, with sign-in on, API keys from the access store and an Ollama
host where nothing listens (the model is down). Plumbing only: the test server quotes and
cites passage [1]; no model runs.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import anyio
import httpx
import httpx2
import pytest
import uvicorn
import yaml
from anyio.from_thread import BlockingPortal, start_blocking_portal
from langchain_core.embeddings import Embeddings
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent

from rag_core.config import build_settings
from rag_core.doors.mcp_server import MCP_PATH, mcp_http_app
from rag_core.engine import Engine
from rag_core.errors import PermissionDeniedError
from tests.conftest import LSHORT, REPO, pdf_pages, text_pdf
from tests.ollama_server import FakeOllamaServer

QUESTION = "When did Knuth start writing TeX?"
CHAPTER = "chapter1.pdf"
PRIVATE_TEXT = "The quarterly budget for the observatory is forty thousand euros."
TOOLS = {"list_collections", "search_documents", "ask", "list_documents", "read_page"}


T = TypeVar("T")


def squash(text: str) -> str:
    """``text`` with every run of whitespace one space (page text keeps line breaks)."""
    return " ".join(text.split())


def text_of(result: CallToolResult) -> str:
    """The readable text of a tool result."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


@dataclass
class Client:
    """A connected ``mcp`` ClientSession, called from synchronous tests through a portal."""

    portal: BlockingPortal
    session: ClientSession

    def call(self, tool: str, **arguments: Any) -> CallToolResult:
        return self.portal.call(self.session.call_tool, tool, arguments)

    def structured(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = self.call(tool, **arguments)
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        return result.structured_content


def ingest_chapter(engine: Engine) -> None:
    """Pages 15-17 of lshort.pdf (Knuth and TeX's history) into the default collection."""
    result = engine.ingest(CHAPTER, pdf_pages(LSHORT, 15, 17))
    assert result.status == "indexed", result.error


# ------------------------------------------------------------------ stdio
@asynccontextmanager
async def stdio_session(
    params: StdioServerParameters, errlog: IO[str]
) -> AsyncIterator[ClientSession]:
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture(scope="module")
def stdio(
    tmp_path_factory: pytest.TempPathFactory,
    embeddings: Embeddings,
    module_ollama: FakeOllamaServer,
) -> Iterator[Client]:
    """``python -m rag_core --data-dir D mcp`` over a data directory holding one chapter."""
    base = tmp_path_factory.mktemp("mcp-stdio")
    ingest_chapter(Engine(build_settings(data_dir=base / "data"), embeddings))
    env = {k: v for k, v in os.environ.items() if k != "RAG_AUTH_CONFIG"}
    env |= {
        "HF_HUB_OFFLINE": "1",
        "RAG_OLLAMA_HOST": module_ollama.url,
        "OLLAMA_HOST": module_ollama.url,
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "rag_core", "--data-dir", str(base / "data"), "mcp"],
        env=env,
        cwd=str(REPO),
    )
    log = base / "server.log"
    with log.open("w") as errlog, start_blocking_portal() as portal:
        try:
            with portal.wrap_async_context_manager(stdio_session(params, errlog)) as session:
                yield Client(portal, session)
        finally:
            sys.stderr.write(log.read_text()[-3000:])


def test_stdio_lists_the_five_tools_with_descriptions_and_output_schemas(stdio: Client):
    tools = stdio.portal.call(stdio.session.list_tools).tools
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert len(tool.description or "") > 100, tool.name  # written for a model
        assert tool.output_schema is not None, tool.name
    search = next(t for t in tools if t.name == "search_documents")
    assert search.input_schema["required"] == ["query"]
    assert set(search.input_schema["properties"]) == {"query", "collection", "k"}


def test_stdio_search_returns_passages_with_file_page_and_section(stdio: Client):
    result = stdio.call("search_documents", query=QUESTION, k=3)
    found = result.structured_content
    assert found is not None and found["collection"] == "documents"
    passages = found["passages"]
    assert [p["number"] for p in passages] == [1, 2, 3]
    for p in passages:
        assert p["file"] == CHAPTER and 1 <= p["page"] <= 3
        assert p["page_label"] and p["text"] and "section" in p
        assert f"[{p['number']}] {CHAPTER}, p. {p['page']}" in text_of(result)
    assert any("Knuth" in p["text"] for p in passages)
    assert any(p["section"] for p in passages)  # the chapter's headings
    assert any(p["section"] in text_of(result) for p in passages if p["section"])


def test_stdio_ask_answers_with_markers_and_its_citations(stdio: Client):
    result = stdio.call("ask", question=QUESTION)
    answer = result.structured_content
    assert answer is not None and not result.is_error
    assert answer["error"] == "" and "[1]" in answer["answer"]
    first = answer["citations"][0]
    assert first["number"] == 1 and first["cited"] is True
    assert first["file"] == CHAPTER and first["page"] >= 1 and first["passage"]
    assert {"section", "page_label"} <= set(first)
    assert not any(c["cited"] for c in answer["citations"][1:])  # the server cites [1] only
    text = text_of(result)
    assert text.startswith(answer["answer"]) and f"[1] {CHAPTER}, p. {first['page']}" in text


def test_stdio_lists_documents_with_id_name_pages_chunks(stdio: Client):
    listed = stdio.structured("list_documents")
    [doc] = listed["documents"]
    assert doc["name"] == CHAPTER and doc["pages"] == 3 and doc["chunks"] > 3
    assert len(doc["id"]) == 64


def test_stdio_read_page_holds_the_cited_passage(stdio: Client):
    first = stdio.structured("ask", question=QUESTION)["citations"][0]
    page = stdio.structured("read_page", document=CHAPTER, page=first["page"])
    assert page["file"] == CHAPTER and page["page"] == first["page"] and page["pages"] == 3
    assert squash(first["passage"]) in squash(page["text"])
    assert len(page["text"]) > len(first["passage"])  # the whole page, not the passage
    doc_id = stdio.structured("list_documents")["documents"][0]["id"]
    assert stdio.structured("read_page", document=doc_id, page=first["page"]) == page


def test_stdio_read_page_beyond_the_document_is_a_tool_error(stdio: Client):
    result = stdio.call("read_page", document=CHAPTER, page=4)
    assert result.is_error and "has no page 4 (it has 3)" in text_of(result)
    missing = stdio.call("read_page", document="nothing.pdf", page=1)
    assert missing.is_error and "no document 'nothing.pdf'" in text_of(missing)


def test_stdio_unknown_collection_is_not_found(stdio: Client):
    result = stdio.call("search_documents", query=QUESTION, collection="nope")
    assert result.is_error and "no collection named 'nope'" in text_of(result)


def test_stdio_lists_the_collections_with_the_default_one(stdio: Client):
    chunks = stdio.structured("list_documents")["documents"][0]["chunks"]
    listed = stdio.structured("list_collections")["collections"]
    assert listed == [{"name": "documents", "chunks": chunks, "default": True}]


# ------------------------------------------------------------------- HTTP
@dataclass
class HttpServer:
    url: str
    engine: Engine
    keys: dict[str, str]


def new_key(engine: Engine, user: str) -> tuple[str, str]:
    """A new API key of ``user`` and its id (two keys made in one second sort by random id)."""
    before = {info.id for info in engine.access.keys(user)}
    key = engine.access.create_key(user)
    [key_id] = {info.id for info in engine.access.keys(user)} - before
    return key, key_id


def run_in_own_thread(main: Callable[[], Awaitable[T]]) -> T:
    """``anyio.run(main)`` on a thread of its own: the browser tests' Playwright (sync API)
    keeps an event loop running on the main thread for the whole session, and a second
    loop cannot run there."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, main).result()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory, embeddings: Embeddings) -> Iterator[HttpServer]:
    """The streamable HTTP app with sign-in (alice, bob) and the model down.

    ``documents`` (written by the local user, no owner) is open to every signed-in user;
    ``private`` is alice's. Keys: alice's, bob's, and a revoked one of bob's.
    """
    base = tmp_path_factory.mktemp("mcp-http")
    config = base / "auth.yaml"
    users = {name: {"name": name.title(), "password": "x"} for name in ("alice", "bob")}
    config.write_text(yaml.safe_dump({"credentials": {"usernames": users}}), encoding="utf-8")
    settings = build_settings(
        data_dir=base / "data", auth_config=config, ollama_host="http://127.0.0.1:9"
    )
    engine = Engine(settings, embeddings)
    ingest_chapter(engine)
    alice = engine.access.caller_for("alice")
    done = engine.ingest("budget.pdf", text_pdf([PRIVATE_TEXT]), "private", caller=alice)
    assert done.status == "indexed", done.error
    keys = {user: engine.access.create_key(user) for user in ("alice", "bob")}
    keys["revoked"], revoked_id = new_key(engine, "bob")
    assert engine.access.revoke_key(revoked_id)
    port = free_port()
    app = mcp_http_app(engine, host="127.0.0.1", port=port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield HttpServer(f"http://127.0.0.1:{port}{MCP_PATH}", engine, keys)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@asynccontextmanager
async def http_session(url: str, key: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def call_as(
    server: HttpServer, user: str, calls: list[tuple[str, dict[str, Any]]]
) -> list[CallToolResult]:
    """Open one MCP session with ``user``'s key and make ``calls`` in order."""

    async def run() -> list[CallToolResult]:
        async with http_session(server.url, server.keys[user]) as session:
            return [await session.call_tool(tool, arguments) for tool, arguments in calls]

    return run_in_own_thread(run)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}


@pytest.mark.parametrize("key", [None, "revoked", "rag_not-a-key"])
def test_http_refuses_a_request_without_a_valid_key_with_401(http: HttpServer, key: str | None):
    headers = {"Accept": "application/json, text/event-stream"}
    if key is not None:
        headers["Authorization"] = f"Bearer {http.keys.get(key, key)}"
    response = httpx.post(http.url, json=INITIALIZE, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_http_valid_key_opens_a_session_and_searches(http: HttpServer):
    [found, listed] = call_as(
        http, "bob", [("search_documents", {"query": QUESTION, "k": 2}), ("list_documents", {})]
    )
    passages = found.structured_content["passages"]  # type: ignore[index]
    assert len(passages) == 2 and passages[0]["file"] == CHAPTER
    assert [d["name"] for d in listed.structured_content["documents"]] == [CHAPTER]  # type: ignore[index]


def test_http_a_collection_the_key_may_not_read_is_not_found(http: HttpServer):
    calls = [
        ("list_collections", {}),
        ("search_documents", {"query": "budget", "collection": "private"}),
        ("list_documents", {"collection": "private"}),
        ("read_page", {"document": "budget.pdf", "page": 1, "collection": "private"}),
        ("search_documents", {"query": "budget", "collection": "missing"}),
    ]
    collections, search, documents, page, missing = call_as(http, "bob", calls)
    names = [c["name"] for c in collections.structured_content["collections"]]  # type: ignore[index]
    assert names == ["documents"]
    for result in (search, documents, page):
        assert result.is_error and "no collection named 'private'" in text_of(result)
    assert text_of(search).replace("private", "missing") == text_of(missing)
    # alice owns it
    [mine, read] = call_as(
        http,
        "alice",
        [
            ("search_documents", {"query": "observatory budget", "collection": "private"}),
            ("read_page", {"document": "budget.pdf", "page": 1, "collection": "private"}),
        ],
    )
    assert mine.structured_content["passages"][0]["file"] == "budget.pdf"  # type: ignore[index]
    assert squash(read.structured_content["text"]) == PRIVATE_TEXT  # type: ignore[index]


def test_http_ask_with_the_model_down_says_why_and_keeps_the_passages(http: HttpServer):
    [result] = call_as(http, "alice", [("ask", {"question": QUESTION})])
    answer = result.structured_content
    assert answer is not None and not result.is_error
    assert answer["answer"] == "" and answer["error_code"] == "unreachable"
    assert "127.0.0.1:9" in answer["error"]
    assert answer["citations"] and answer["citations"][0]["file"] == CHAPTER
    assert text_of(result).startswith("The model could not answer: ")
    assert answer["citations"][0]["passage"] in text_of(result)


def test_http_without_sign_in_listens_on_loopback_only(tmp_path: Path, embeddings: Embeddings):
    engine = Engine(build_settings(data_dir=tmp_path / "data"), embeddings)
    with pytest.raises(PermissionDeniedError, match="sign-in is not configured"):
        mcp_http_app(engine, host="0.0.0.0", port=8765)
    assert mcp_http_app(engine, host="127.0.0.1", port=8765) is not None


def test_http_caller_reaches_the_engine(http: HttpServer):
    """The key's user is the caller: alice sees her collection, bob does not (list only)."""
    [alice] = call_as(http, "alice", [("list_collections", {})])
    names = {c["name"] for c in alice.structured_content["collections"]}  # type: ignore[index]
    assert names == {"documents", "private"}


def test_http_a_key_revoked_mid_session_is_refused_at_its_next_call(http: HttpServer):
    """The key is checked on every request, not only when the session opens."""
    key, key_id = new_key(http.engine, "bob")

    async def run() -> tuple[CallToolResult, BaseException | None]:
        async with http_session(http.url, key) as session:
            first = await session.call_tool("list_collections", {})
            http.engine.access.revoke_key(key_id)
            try:
                with anyio.fail_after(30):
                    await session.call_tool("list_collections", {})
            except Exception as exc:
                return first, exc
            return first, None

    first, refused = run_in_own_thread(run)
    assert not first.is_error
    assert isinstance(refused, MCPError) and refused.message == "Server returned an error response"
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {key}"}
    assert httpx.post(http.url, json=INITIALIZE, headers=headers, timeout=30).status_code == 401
