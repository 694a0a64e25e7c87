"""The MCP door: the documents as tools for MCP clients (desktop and IDE assistants).

Built on the official MCP Python SDK (``mcp`` 2.x, :class:`mcp.server.mcpserver.MCPServer`;
https://py.sdk.modelcontextprotocol.io/v2/). Five tools, each one
:class:`~rag_core.engine.Engine` call: ``list_collections``, ``search_documents``,
``ask``, ``list_documents`` and ``read_page``. Every result carries structured content
(the pydantic models below, published as the tool's output schema) and the same result as
readable text, with the file, page and section of every passage.

Two transports (``python -m rag_core mcp``, see docs/mcp.md):

* **stdio** (the default): the client starts the server as a subprocess of the local
  user, who owns the data directory, so every call runs as the local user (``caller`` None,
  trusted, like the CLI). stdout is the protocol: logging goes to stderr.
* **streamable HTTP** (``--http PORT [--host H]``): every request needs
  ``Authorization: Bearer <api key>``, resolved by
  :meth:`rag_core.access.AccessControl.authenticate` through the SDK's bearer-token hook
  (:class:`ApiKeyVerifier`); a missing, unknown or revoked key is answered 401 before any
  MCP message is read. The key's :class:`~rag_core.access.Caller` goes to every engine
  call: a collection it may not read does not exist for it. Without sign-in configured the
  server listens on a loopback address only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from starlette.applications import Starlette

from rag_core.access import AccessControl, Caller
from rag_core.doors.listening import check_host
from rag_core.engine import AskOptions, Engine
from rag_core.errors import (
    AuthenticationError,
    CollectionNotFoundError,
    RagError,
)
from rag_core.generation.citations import Citation

logger = logging.getLogger(__name__)

SERVER_NAME = "rag-documents"
MCP_PATH = "/mcp"
"""Where the streamable HTTP endpoint is served."""
MAX_K = 20
"""Most passages one ``search_documents`` call returns."""
INSTRUCTIONS = (
    "Search and question the user's own indexed documents (PDF, HWP, text), kept in named "
    "collections. Start with list_collections if you do not know the collection; omit "
    "'collection' for the default one. Use search_documents to find passages (you write "
    "the answer yourself and cite file and page), ask to get an answer written by the "
    "user's local model with [n] citations, list_documents to see what is indexed, and "
    "read_page to read the full text of a page a passage came from."
)

T = TypeVar("T")

CallerResolver = Callable[[Context], Caller | None]
"""Who is calling, from a tool call's context (None = the trusted local user)."""


# ------------------------------------------------------------------ results
class CollectionInfo(BaseModel):
    """One collection the caller may read."""

    name: str = Field(description="the collection's name (pass it as 'collection')")
    chunks: int = Field(description="indexed passages (chunks) in it")
    default: bool = Field(description="the collection used when 'collection' is omitted")


class CollectionList(BaseModel):
    """The collections the caller may read."""

    collections: list[CollectionInfo]


class Source(BaseModel):
    """Where a passage comes from: its number, file, page and section."""

    number: int = Field(description="the passage's number, from 1 (best first)")
    file: str = Field(description="the document's file name")
    page: int = Field(description="1-based page number in the file (paragraph for HWP)")
    page_label: str = Field(description="the page's printed label (e.g. 'xii'), or the page")
    section: str = Field(description="heading path 'Chapter > Section', '' when unknown")

    @staticmethod
    def fields(citation: Citation) -> dict[str, Any]:
        """The fields of a citation's source, by name."""
        return {
            "number": citation.number,
            "file": citation.source,
            "page": citation.page,
            "page_label": citation.page_label,
            "section": citation.section,
        }


class Passage(Source):
    """One passage found by a search."""

    text: str = Field(description="the passage's text")
    score: float = Field(description="the retriever's score (higher is better)")


class SearchResult(BaseModel):
    """The passages found for a query."""

    collection: str
    query: str
    passages: list[Passage]
    relevant: bool = Field(
        description="False when no passage is relevant enough: they are only the closest"
    )
    notices: list[str] = Field(description="what the search could not do, e.g. translate")


class AnswerCitation(Source):
    """One numbered source of an answer (the number the answer's [n] markers use)."""

    passage: str = Field(description="the passage's text the model was given")
    cited: bool = Field(description="the answer cites it with its [n] marker")


class AskResult(BaseModel):
    """An answer from the user's local model, with its sources."""

    collection: str
    question: str
    answer: str = Field(description="the answer with [n] markers; '' when the model failed")
    citations: list[AnswerCitation]
    relevant: bool = Field(
        description="False when the documents hold nothing relevant (the answer says so)"
    )
    error: str = Field(description="why the model could not answer ('' when it did)")
    error_code: str = Field(description="e.g. 'unreachable', 'missing_model'; '' if none")


class DocumentInfo(BaseModel):
    """One indexed document."""

    id: str = Field(description="the document's id (sha256 of its bytes)")
    name: str = Field(description="its file name")
    pages: int = Field(description="pages (paragraphs for HWP/HWPX)")
    chunks: int = Field(description="indexed passages")
    added_at: str = Field(description="when it was indexed (ISO 8601, UTC)")


class DocumentList(BaseModel):
    """The documents of a collection, newest first."""

    collection: str
    documents: list[DocumentInfo]


class PageText(BaseModel):
    """The text of one page of a document, as it was indexed."""

    collection: str
    id: str
    file: str
    page: int
    pages: int = Field(description="pages in the document")
    text: str = Field(description="the page's text ('' for a page without text)")


# ------------------------------------------------------------------ callers
class ApiKeyToken(AccessToken):
    """The SDK's access token of a valid API key, with the key's caller."""

    caller: Caller


class ApiKeyVerifier:
    """The SDK's bearer-token hook (``TokenVerifier``) for this project's API keys.

    Args:
        access: resolves a key to its caller (:meth:`AccessControl.authenticate`).
    """

    def __init__(self, access: AccessControl) -> None:
        """Keep the access control."""
        self.access = access

    async def verify_token(self, token: str) -> AccessToken | None:
        """The key's token, or None (the SDK then answers 401) for an unknown or revoked key.

        Args:
            token: the bearer token of the request's ``Authorization`` header.

        Returns:
            An :class:`ApiKeyToken` naming the key's user, or None.
        """
        try:
            caller = await anyio.to_thread.run_sync(self.access.authenticate, token)
        except AuthenticationError as exc:
            logger.info("MCP request refused: %s", exc)
            return None
        return ApiKeyToken(
            token=token, client_id=caller.user, subject=caller.user, scopes=[], caller=caller
        )


def local_caller(ctx: Context) -> Caller | None:
    """The stdio caller: the local user who started the server (None, trusted)."""
    return None


def api_key_caller(ctx: Context) -> Caller:
    """The HTTP caller: the one whose API key the request carried (see :class:`ApiKeyVerifier`).

    Raises:
        AuthenticationError: the request carried no valid key (cannot happen behind the
            SDK's bearer check, which answers 401 first).
    """
    request = ctx.request_context.request
    user = getattr(request, "scope", {}).get("user") if request is not None else None
    token = getattr(user, "access_token", None)
    if not isinstance(token, ApiKeyToken):
        raise AuthenticationError("this request carries no valid API key")
    return token.caller


# ------------------------------------------------------------------ views
def _passage(citation: Citation) -> Passage:
    return Passage(**Source.fields(citation), text=citation.text, score=citation.score)


def _where(citation: Citation) -> str:
    return f"{citation.source}, {citation.location}"


def _result(text: str, model: BaseModel) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


def _search_text(result: SearchResult, citations: list[Citation]) -> str:
    if not citations:
        return f"No passages found in collection '{result.collection}'."
    head = f"{len(citations)} passages from collection '{result.collection}'"
    if not result.relevant:
        head += " (none is clearly relevant; these are only the closest)"
    blocks = [head + ":"]
    for c in citations:
        blocks.append(f"[{c.number}] {_where(c)} (score {c.score:.3f})\n{c.text}")
    return "\n\n".join(blocks)


def _ask_text(result: AskResult, citations: list[Citation]) -> str:
    parts = []
    if result.error:
        parts.append(f"The model could not answer: {result.error}")
        if citations:
            parts.append("The passages found for the question (read them yourself):")
    else:
        parts.append(result.answer)
        if citations:
            parts.append("Sources:")
    cited = {c.number for c in result.citations if c.cited}
    for c in citations:
        mark = " (cited)" if c.number in cited else ""
        parts.append(f"[{c.number}] {_where(c)}{mark}\n{c.text}")
    return "\n\n".join(parts)


# ------------------------------------------------------------------ server
def build_mcp_server(
    engine: Engine,
    caller_resolver: CallerResolver = local_caller,
    *,
    token_verifier: ApiKeyVerifier | None = None,
    server_url: str = "http://127.0.0.1",
) -> MCPServer:
    """Build the MCP server: five tools, each one engine call as the resolved caller.

    It is longer than 60 lines because each tool's description, written for a model, is
    part of its definition.

    Args:
        engine: the engine every tool calls.
        caller_resolver: who calls, from a tool call's context (:func:`local_caller` for
            stdio, :func:`api_key_caller` for HTTP).
        token_verifier: checks the bearer key of every HTTP request (None: no check, for
            stdio); requests without a valid key are answered 401 by the SDK.
        server_url: this server's base URL (the SDK's auth settings require an issuer
            URL; no OAuth route is served, so it is never advertised).

    Returns:
        The server: :func:`serve` runs it over stdio; :func:`mcp_http_app` wraps it for
        streamable HTTP.
    """
    auth = (
        AuthSettings(issuer_url=server_url, resource_server_url=None)
        if token_verifier is not None
        else None
    )
    server: MCPServer = MCPServer(
        SERVER_NAME,
        title="Chat with your documents",
        instructions=INSTRUCTIONS,
        token_verifier=token_verifier,
        auth=auth,
        log_level="WARNING",
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    def call(ctx: Context, what: Callable[[Caller | None], T]) -> T:
        """Run an engine call as the caller, its errors as tool errors a model can read."""
        try:
            return what(caller_resolver(ctx))
        except RagError as exc:
            raise ToolError(str(exc)) from exc

    def collection_name(collection: str | None, caller: Caller | None) -> str:
        """The collection to use; one the caller cannot read is not found."""
        if not collection:
            return engine.settings.collection
        if collection not in engine.collections(caller=caller):
            raise CollectionNotFoundError(f"no collection named '{collection}'")
        return collection

    @server.tool(
        description=(
            "List the document collections you can search, with how many passages each "
            "holds and which one is the default. Use it first when you do not know which "
            "collection holds the documents you need."
        ),
        annotations=read_only,
    )
    def list_collections(ctx: Context) -> Annotated[CallToolResult, CollectionList]:
        def run(caller: Caller | None) -> CallToolResult:
            counts = engine.collections(caller=caller)
            default = engine.settings.collection
            result = CollectionList(
                collections=[
                    CollectionInfo(name=name, chunks=chunks, default=name == default)
                    for name, chunks in counts.items()
                ]
            )
            lines = [
                f"{c.name}: {c.chunks} passages" + (" (default)" if c.default else "")
                for c in result.collections
            ]
            return _result("\n".join(lines) or "No collections.", result)

        return call(ctx, run)

    @server.tool(
        description=(
            "Search the user's documents and return the best-matching passages, each with "
            "its file, page (and printed page label), section heading path, text and score. "
            "Use it when you want to read the evidence and write the answer yourself; cite "
            "file and page. Any language works (the query is also searched in translation). "
            "'k' is how many passages (1-20, default 5). Omit 'collection' for the default "
            "collection. Follow up with read_page for a page's full text."
        ),
        annotations=read_only,
    )
    def search_documents(
        query: str, ctx: Context, collection: str | None = None, k: int = 5
    ) -> Annotated[CallToolResult, SearchResult]:
        def run(caller: Caller | None) -> CallToolResult:
            name = collection_name(collection, caller)
            hits = engine.search(query, name, k=max(1, min(k, MAX_K)), caller=caller)
            result = SearchResult(
                collection=name,
                query=query,
                passages=[_passage(c) for c in hits.citations],
                relevant=hits.relevant,
                notices=[code for code, _ in hits.notices],
            )
            return _result(_search_text(result, hits.citations), result)

        return call(ctx, run)

    @server.tool(
        description=(
            "Ask a question and get an answer written by the user's local model from their "
            "documents only, with [n] markers that point at the numbered citations returned "
            "with it (file, page, section, passage text, and whether the answer cites it). "
            "Use it when the user wants the documents' own answer; use search_documents to "
            "gather passages yourself. If the local model is down, 'error' says why and the "
            "passages found are still returned. Omit 'collection' for the default one."
        ),
        annotations=read_only,
    )
    def ask(
        question: str, ctx: Context, collection: str | None = None
    ) -> Annotated[CallToolResult, AskResult]:
        def run(caller: Caller | None) -> CallToolResult:
            name = collection_name(collection, caller)
            answer = engine.answer(question, name, options=AskOptions(), caller=caller)
            cited = set(answer.check.cited)
            result = AskResult(
                collection=name,
                question=question,
                answer=answer.answer,
                citations=[
                    AnswerCitation(**Source.fields(c), passage=c.text, cited=c.number in cited)
                    for c in answer.citations
                ],
                relevant=answer.relevant,
                error=answer.error,
                error_code=answer.error_code,
            )
            return _result(_ask_text(result, answer.citations), result)

        return call(ctx, run)

    @server.tool(
        description=(
            "List the documents indexed in a collection, newest first: id, file name, pages "
            "and indexed passages. Use it to see what the user's documents are, or to find "
            "a document's id or name for read_page. Omit 'collection' for the default one."
        ),
        annotations=read_only,
    )
    def list_documents(
        ctx: Context, collection: str | None = None
    ) -> Annotated[CallToolResult, DocumentList]:
        def run(caller: Caller | None) -> CallToolResult:
            name = collection_name(collection, caller)
            records = engine.documents(name, caller=caller)
            result = DocumentList(
                collection=name,
                documents=[
                    DocumentInfo(
                        id=r.sha256,
                        name=r.name,
                        pages=r.pages,
                        chunks=r.chunks,
                        added_at=r.added_at,
                    )
                    for r in records
                ],
            )
            lines = [
                f"{r.name} ({r.pages} pages, {r.chunks} passages; id {r.sha256})" for r in records
            ]
            return _result("\n".join(lines) or f"No documents in '{name}'.", result)

        return call(ctx, run)

    @server.tool(
        description=(
            "Read the full text of one page of a document, as it was indexed: use it to "
            "see the context around a passage that search_documents or ask returned (pass "
            "that passage's file and page). 'document' is the file name or the id from "
            "list_documents; 'page' is the 1-based page number (a paragraph number for HWP "
            "files, as in their citations). Omit 'collection' for the default one."
        ),
        annotations=read_only,
    )
    def read_page(
        document: str, page: int, ctx: Context, collection: str | None = None
    ) -> Annotated[CallToolResult, PageText]:
        def run(caller: Caller | None) -> CallToolResult:
            name = collection_name(collection, caller)
            record = engine.document(document, name, caller=caller)
            text = engine.page_text(record.sha256, page, name, caller=caller)
            result = PageText(
                collection=name,
                id=record.sha256,
                file=record.name,
                page=page,
                pages=record.pages,
                text=text,
            )
            head = f"{record.name}, page {page} of {record.pages}:"
            return _result(f"{head}\n\n{text or '(no text on this page)'}", result)

        return call(ctx, run)

    return server


def base_url(host: str, port: int) -> str:
    """``http://host:port`` (an IPv6 address in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def mcp_http_app(engine: Engine, *, host: str = "127.0.0.1", port: int = 8765) -> Starlette:
    """The streamable HTTP app: the MCP endpoint at ``/mcp``, every request with an API key.

    Args:
        engine: the engine every tool calls.
        host: the interface it will listen on.
        port: the port it will listen on.

    Returns:
        A Starlette (ASGI) app to serve with uvicorn.

    Raises:
        PermissionDeniedError: ``host`` is not a loopback address and sign-in is not
            configured (without users, the documents stay on this machine).
    """
    check_host(engine, host, door="MCP server", docs="docs/mcp.md")
    server = build_mcp_server(
        engine,
        api_key_caller,
        token_verifier=ApiKeyVerifier(engine.access),
        server_url=base_url(host, port),
    )
    return server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)


def serve(
    engine: Engine,
    *,
    http_port: int | None = None,
    host: str = "127.0.0.1",
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Serve MCP until the client disconnects (stdio) or the process is stopped (HTTP).

    Args:
        engine: the engine every tool calls.
        http_port: serve streamable HTTP on this port; None: stdio.
        host: the interface HTTP listens on.
        on_ready: called with the endpoint's URL once the HTTP app is built (the CLI
            tells the person where it listens); not called for stdio.

    Returns:
        The exit code (0).

    Raises:
        PermissionDeniedError: see :func:`mcp_http_app`.
    """
    if http_port is None:
        logger.info("MCP server on stdio, as the local user")
        build_mcp_server(engine, local_caller).run("stdio")
        return 0
    import uvicorn

    app = mcp_http_app(engine, host=host, port=http_port)
    url = base_url(host, http_port) + MCP_PATH
    logger.info("MCP server on %s", url)
    if on_ready is not None:
        on_ready(url)
    uvicorn.run(app, host=host, port=http_port, log_level="warning")
    return 0


__all__ = [
    "ApiKeyVerifier",
    "api_key_caller",
    "base_url",
    "build_mcp_server",
    "local_caller",
    "mcp_http_app",
    "serve",
]
