"""Command line: ``python -m rag_core [--data-dir D] COMMAND ...``.

Global options: ``--data-dir DIR``, ``--collection NAME`` (default "documents").

Commands:

* ``ingest FILE...``: index PDFs / text files, with a progress bar per file (tqdm), through
  the durable ingest queue (a killed run is taken up again by the next one).
* ``jobs [--json] [--collection NAME]``, ``jobs cancel JOB_ID``, ``jobs resume``: the ingest
  queue's jobs and their status (:mod:`rag_core.cli.jobs`).
* ``documents [--json]``: list the indexed documents.
* ``delete NAME``: remove a document (by file name or sha256).
* ``collections [--json]``: list the collections and their chunk counts.
* ``delete-collection NAME``: delete a collection's chunks, BM25 index and document list.
* ``reindex [--model NAME] [--grace S]``: re-embed every stored chunk with another embedding
  model (``--model``, downloaded first if need be) or the configured one, beside the old
  index, which answers until the new one is complete and swapped in
  (:mod:`rag_core.ingestion.model_switch`); an interrupted run resumes.
* ``retrieve QUESTION [--k 5] [--mode M] [--model M] [--json]``: show the top-k chunks
  (a question in a language the documents are not in is also searched in translation,
  by the Ollama model, as in the app; the queries go to stderr).
* ``ask QUESTION [--k 5] [--model M] [--judge M] [--json]``: stream an answer from Ollama
  (reasoning to stderr), then notices (no citation, invalid numbers, unsupported
  statements, cut off, wrong language) and the sources; ``--json`` prints one JSON object
  as the last line; ``--judge MODEL`` lets that Ollama model judge each cited sentence
  (one call per sentence; optional, its failures keep the word-based verdicts).
* ``chat [--judge M] [--json]``: questions from stdin, one per line, as one conversation
  (follow-ups are rewritten into standalone queries); one JSON object per answer with
  ``--json``.
* ``sync DIR [--dry-run] [--watch] [--collection C] [--json]``: keep the collection in
  step with a folder: new files ingested, changed ones replaced, files gone removed
  (:mod:`rag_core.cli.sync`).
* ``eval QA.jsonl [--k 5] [--mode M] [--model M] [--show-queries] [--json]``: recall@k,
  MRR@k, nDCG@k, overall and per document, through the app's search (translations
  included); ``--show-queries`` lists each question's rank and the queries searched; the
  last line of ``--json`` output is one JSON object (with ``per_question``).
* ``keys create|list|revoke``, ``share COLLECTION MEMBER --role R``, ``members
  COLLECTION``: API keys and who may do what (:mod:`rag_core.cli.access`).
* ``export COLLECTION FILE [--with-files]``, ``import FILE [--as NAME]``: snapshots of a
  collection, to back it up or move it (:mod:`rag_core.cli.snapshots`).
* ``serve [--host 127.0.0.1] [--port 8080]``: the HTTP API (docs/api.md).
* ``mcp [--http PORT [--host H]]``: serve the documents to MCP clients over stdio (as the
  local user) or streamable HTTP (an API key on every request); see docs/mcp.md.

Exit codes: 0 success, 1 a file failed / the model failed, 2 bad usage or a store error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from rag_core.cli.access import ACCESS_COMMANDS, add_access_commands
from rag_core.cli.answers import add_answer_arguments, answer_questions
from rag_core.cli.evaluate import print_search_notices, run_eval
from rag_core.cli.jobs import add_jobs_command, run_ingest, run_jobs
from rag_core.cli.output import err_line, out_line
from rag_core.cli.snapshots import SNAPSHOT_COMMANDS, add_snapshot_commands
from rag_core.cli.sync import add_sync_command, run_sync
from rag_core.config import Settings, build_settings
from rag_core.engine import Engine
from rag_core.errors import RagError
from rag_core.ingestion.progress import IngestProgress
from rag_core.retrieval.retrievers import RETRIEVAL_MODES

logger = logging.getLogger("rag_core.cli")


PASSWORD_ENV = "RAG_PDF_PASSWORD"
"""Environment variable holding the password of encrypted PDFs for ``ingest``; a password
is never a command-line argument (``ps`` and shell history would show it)."""


def pdf_password(args: argparse.Namespace) -> str | None:
    """The password for encrypted PDFs: prompted (``--ask-password``) or from the environment.

    Returns:
        The password, or None when neither gave one.
    """
    if getattr(args, "ask_password", False):
        return getpass.getpass("PDF password: ") or None
    return os.environ.get(PASSWORD_ENV) or None


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the CLI.

    It is longer than 60 lines because it declares every command's arguments in one place,
    where ``--help`` reads them.
    """
    parser = argparse.ArgumentParser(prog="python -m rag_core", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, help="data directory (default: RAG_DATA_DIR)")
    parser.add_argument("--collection", help="collection name (default: documents)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="index files")
    ingest.add_argument("files", nargs="+", type=Path)
    ingest.add_argument(
        "--ask-password",
        action="store_true",
        help=f"prompt for the password of encrypted PDFs (or set {PASSWORD_ENV})",
    )

    add_jobs_command(sub)

    docs = sub.add_parser("documents", help="list indexed documents")
    docs.add_argument("--json", action="store_true")

    delete = sub.add_parser("delete", help="delete a document by name or sha256")
    delete.add_argument("name")

    cols = sub.add_parser("collections", help="list collections and their chunk counts")
    cols.add_argument("--json", action="store_true")

    drop = sub.add_parser(
        "delete-collection", help="delete a collection (chunks, BM25 index, document list)"
    )
    drop.add_argument("name")

    reindex = sub.add_parser(
        "reindex",
        help="re-embed the stored chunks with another embedding model (--model) or the "
        "configured one, beside the old index, then swap",
    )
    reindex.add_argument(
        "--model",
        dest="embedding_model",
        metavar="NAME",
        help="embedding model: hub id or local folder (default: RAG_EMBEDDING_MODEL)",
    )
    reindex.add_argument(  # also after the command: `reindex --model M --collection C`
        "--collection", default=argparse.SUPPRESS, help="collection to switch"
    )
    reindex.add_argument(
        "--grace",
        type=float,
        metavar="S",
        help="seconds the old index is kept after the swap, for searches under way "
        "(default: 30 with --model, 0 without)",
    )

    retrieve = sub.add_parser("retrieve", help="the top-k passages for a question")
    retrieve.add_argument("question")
    retrieve.add_argument("--k", type=int, help="top-k chunks")
    retrieve.add_argument("--mode", choices=RETRIEVAL_MODES, help="retrieval mode")
    retrieve.add_argument("--model", help="Ollama model tag that translates questions")
    retrieve.add_argument("--json", action="store_true")
    ask = sub.add_parser("ask", help="answer a question from the documents (Ollama)")
    ask.add_argument("question")
    chat = sub.add_parser(
        "chat", help="answer questions read from stdin, one per line, as one conversation"
    )
    for cmd in (ask, chat):
        cmd.add_argument("--mode", choices=RETRIEVAL_MODES, help="retrieval mode")
        add_answer_arguments(cmd)

    ev = sub.add_parser("eval", help="evaluate retrieval on a JSONL question set")
    ev.add_argument("qa", type=Path)
    ev.add_argument("--k", type=int, default=5)
    ev.add_argument("--mode", choices=RETRIEVAL_MODES, help="retrieval mode")
    ev.add_argument(
        "--compare", action="store_true", help="run every retrieval mode and print a table"
    )
    ev.add_argument("--model", help="Ollama model tag that translates questions")
    ev.add_argument(
        "--show-queries",
        action="store_true",
        help="list each question's rank and the queries searched (its translations)",
    )
    ev.add_argument("--json", action="store_true")
    add_access_commands(sub)
    add_sync_command(sub)
    add_snapshot_commands(sub)

    serve = sub.add_parser("serve", help="run the HTTP API (docs/api.md)")
    serve.add_argument("--host", default="127.0.0.1", help="loopback unless sign-in is on")
    serve.add_argument("--port", type=int, default=8080)

    mcp = sub.add_parser("mcp", help="serve the documents to MCP clients (stdio; --http PORT)")
    mcp.add_argument("--http", type=int, metavar="PORT", help="streamable HTTP on this port")
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP interface (default 127.0.0.1)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return build_settings(
        data_dir=args.data_dir,
        collection=args.collection,
        top_k=getattr(args, "k", None),
        retrieval_mode=getattr(args, "mode", None),
        ollama_model=getattr(args, "model", None),
    )


def _cmd_ingest(engine: Engine, args: argparse.Namespace) -> int:
    return run_ingest(engine, args.files, pdf_password(args), PASSWORD_ENV)


def _cmd_documents(engine: Engine, args: argparse.Namespace) -> int:
    records = engine.documents()
    if args.json:
        out_line(json.dumps([r.to_dict() for r in records], ensure_ascii=False))
        return 0
    if not records:
        out_line("no documents indexed")
    for r in records:
        out_line(f"{r.name}\t{r.pages} pages\t{r.chunks} chunks\t{r.added_at}\t{r.sha256[:12]}")
    return 0


def _cmd_delete(engine: Engine, args: argparse.Namespace) -> int:
    removed = engine.delete_document(args.name)
    if not removed:
        err_line(f"no document named {args.name!r}")
        return 1
    for r in removed:
        out_line(f"deleted: {r.name} ({r.chunks} chunks)")
    return 0


def _cmd_collections(args: argparse.Namespace) -> int:
    from rag_core.index.collections import list_collections

    counts = list_collections(_settings(args))
    if args.json:
        rows = [{"name": name, "chunks": chunks} for name, chunks in counts.items()]
        out_line(json.dumps(rows, ensure_ascii=False))
    else:
        for name, chunks in counts.items():
            out_line(f"{name}\t{chunks} chunks")
    return 0


def _cmd_delete_collection(args: argparse.Namespace) -> int:
    from rag_core.access import AccessControl
    from rag_core.index.collections import delete_collection

    if not delete_collection(_settings(args), args.name):
        err_line(f"no collection named {args.name!r}")
        return 1
    AccessControl(_settings(args)).forget(args.name)  # its owner and members go with it
    out_line(f"deleted collection {args.name}")
    return 0


def _cmd_reindex(args: argparse.Namespace) -> int:
    from rag_core.ingestion.model_switch import DROP_GRACE_S

    settings = _settings(args)
    model = args.embedding_model or settings.embedding_model
    grace = args.grace
    if grace is None:  # without --model: the old index does not open with this model anyway
        grace = DROP_GRACE_S if args.embedding_model else 0.0
    bars: dict[str, tqdm] = {}

    def bar(name: str, unit: str, total: int, done: int) -> None:
        if name not in bars:
            bars[name] = tqdm(
                total=total, desc=name, unit=unit, unit_scale=True, position=0, file=sys.stderr
            )
        shown = bars[name]
        if shown.total != total and total > 0:
            shown.total = total
        shown.n = done
        shown.refresh()

    def on_progress(event: IngestProgress) -> None:
        if event.stage == "embed":
            bar("re-index", "chunk", event.total, event.done)
        elif event.stage == "swap":
            later = f"; the old index is dropped in {grace:.0f} s" if grace else ""
            err_line(f"swapped: the collection now answers with {model}{later}")

    chunks = Engine(settings).switch_model(
        model,
        progress=on_progress,
        download=lambda done, total: bar(f"download {model}", "B", total, done),
        drop_grace_s=grace,
    )
    for shown in bars.values():
        shown.close()
    out_line(f"re-indexed {chunks} chunks with {model}")
    return 0


def _cmd_retrieve(engine: Engine, args: argparse.Namespace) -> int:
    hits = engine.search(args.question, k=args.k, mode=args.mode, model=args.model)
    if len(hits.queries) > 1:
        err_line("(searched for: " + " | ".join(hits.queries) + ")")
    print_search_notices(dict(hits.notices))
    citations = hits.citations
    if args.json:
        out_line(json.dumps([c.to_dict() for c in citations], ensure_ascii=False))
        return 0
    for c in citations:
        out_line(f"[{c.number}] {c.source} {c.location} score={c.score:.4f}")
        out_line("    " + " ".join(c.text.split())[:300])
    return 0


def _cmd_serve(engine: Engine, args: argparse.Namespace) -> int:
    from rag_core.doors.api import serve

    return serve(engine, args.host, args.port)


def _cmd_ask(engine: Engine, args: argparse.Namespace) -> int:
    return answer_questions(
        engine,
        [args.question],
        k=args.k,
        model=args.model,
        as_json=args.json,
        keep_history=False,
        judge=args.judge,
    )


def _cmd_mcp(engine: Engine, args: argparse.Namespace) -> int:
    from rag_core.doors.mcp_server import serve

    def ready(url: str) -> None:
        err_line(f"MCP server at {url} (every request needs an API key; Ctrl-C stops it)")

    return serve(engine, http_port=args.http, host=args.host, on_ready=ready)


def _cmd_chat(engine: Engine, args: argparse.Namespace) -> int:
    return answer_questions(
        engine,
        sys.stdin,
        k=args.k,
        model=args.model,
        as_json=args.json,
        keep_history=True,
        judge=args.judge,
    )


STORE_COMMANDS = {
    "collections": _cmd_collections,
    "delete-collection": _cmd_delete_collection,
    **ACCESS_COMMANDS,
}
COMMANDS = {
    "ingest": _cmd_ingest,
    "jobs": lambda engine, args: run_jobs(engine, args, PASSWORD_ENV),
    "documents": _cmd_documents,
    "delete": _cmd_delete,
    "retrieve": _cmd_retrieve,
    "ask": _cmd_ask,
    "chat": _cmd_chat,
    "serve": _cmd_serve,
    "mcp": _cmd_mcp,
    "sync": run_sync,
    "eval": lambda engine, args: run_eval(engine.knowledge_base(), args),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "reindex":  # the store cannot be opened with the new model yet
            return _cmd_reindex(args)
        if args.command in STORE_COMMANDS:  # no embedding model needed
            return STORE_COMMANDS[args.command](args)
        engine = Engine(_settings(args))
        if args.command in SNAPSHOT_COMMANDS:  # an import needs no open collection
            return SNAPSHOT_COMMANDS[args.command](engine, args)
        if args.command != "jobs":  # the queue's records need no store
            engine.knowledge_base()  # open the store now: a store error is reported as one
        return COMMANDS[args.command](engine, args)
    except RagError as exc:
        err_line(f"error: {exc}")
        return 2
    except ValidationError as exc:  # a bad --collection, --k or RAG_* value
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err_line(f"error: invalid setting: {problems}")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
