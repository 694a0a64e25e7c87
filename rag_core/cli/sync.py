"""Command line for folder sync: ``sync DIR [--dry-run] [--watch] [--json]``.

Keeps the collection in step with a folder through :meth:`rag_core.engine.Engine.sync_folder`
(new files ingested, changed ones replaced, files gone removed; see
:mod:`rag_core.folder_sync`). Human lines go to stdout, one per file that is not
unchanged, then a summary; ``--json`` prints one JSON object per sync (the report) as a
line. ``--watch`` syncs again whenever files change (``watchfiles``, debounced) until
Ctrl-C. Exit codes: 0, 1 when a file failed or was skipped as bad, 2 for a store error.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from tqdm import tqdm

from rag_core.cli.output import err_line, out_line
from rag_core.engine import Engine
from rag_core.errors import RagError
from rag_core.folder_sync import SyncItem, SyncReport, watch_folders

DONE_WORDS = {
    "indexed": "indexed",
    "unchanged": "unchanged",
    "duplicate": "same content as",
    "removed": "removed",
    "failed": "failed",
}


def add_sync_command(sub: argparse._SubParsersAction) -> None:
    """Add the ``sync`` command to the CLI's subparsers."""
    sync = sub.add_parser(
        "sync", help="keep the collection in step with a folder (add, replace, remove)"
    )
    sync.add_argument("directory", type=Path, metavar="DIR")
    sync.add_argument(
        "--dry-run", action="store_true", help="list what would happen, change nothing"
    )
    sync.add_argument("--watch", action="store_true", help="sync again on changes until Ctrl-C")
    sync.add_argument(
        "--collection", dest="sync_collection", help="collection (default: the global one)"
    )
    sync.add_argument("--json", action="store_true", help="one JSON object per sync")


def item_line(item: SyncItem, dry_run: bool) -> str:
    """One human line about a file, e.g. ``"replace: docs/a.pdf (indexed, 4 chunks)"``."""
    would = dry_run and item.action in ("add", "replace", "remove")
    line = f"{'would ' if would else ''}{item.action}: {item.name}"
    if item.status in ("indexed", "unchanged") and item.chunks:
        chunks = f"{item.chunks} chunk{'s' if item.chunks != 1 else ''}"
        line += f" ({DONE_WORDS[item.status]}, {chunks})"
    elif item.status == "duplicate":
        line += f" ({DONE_WORDS['duplicate']} {item.indexed_as}, not indexed again)"
    elif item.status == "failed":
        line += f" (failed: {item.error})"
    elif item.reason:
        line += f" ({item.reason})"
    return line


def print_report(report: SyncReport, *, as_json: bool) -> None:
    """Print a report: JSON on one line, or a line per file that is not unchanged."""
    if as_json:
        out_line(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    for item in report.items:
        if item.action != "unchanged":
            out_line(item_line(item, report.dry_run))
    counts = ", ".join(f"{n} {action}" for action, n in report.counts.items() if n)
    verb = "would sync" if report.dry_run else "synced"
    out_line(
        f"{verb} {report.folder} -> {report.collection}: {counts or 'no files'} "
        f"({report.seconds:.1f} s)"
    )


def run_sync(engine: Engine, args: argparse.Namespace) -> int:
    """Run ``sync`` (once, or watching); return the exit code.

    Raises:
        RagError: the folder cannot be listed, another sync runs, the store failed.
    """
    collection = args.sync_collection or None
    try:
        report = _sync_once(engine, args.directory, collection, args)
    except KeyboardInterrupt:  # what is done is recorded; the next sync goes on from there
        err_line("stopped")
        return 130
    if not args.watch or args.dry_run:
        return 1 if report.failed else 0
    folder = Path(report.folder)
    err_line(f"watching {folder} (Ctrl-C stops)")
    stop = threading.Event()

    def again(_: str) -> None:
        try:
            _sync_once(engine, folder, collection, args)
        except RagError as exc:  # e.g. the folder went away: say so, keep watching
            err_line(f"error: {exc}")

    try:
        watch_folders(lambda: {"folder": folder}, again, stop)
    except KeyboardInterrupt:
        stop.set()
        err_line("stopped")
    return 0


def _sync_once(
    engine: Engine, directory: Path, collection: str | None, args: argparse.Namespace
) -> SyncReport:
    bar: tqdm | None = None

    def on_progress(item: SyncItem, done: int, total: int) -> None:
        nonlocal bar
        if args.json:
            return
        if bar is None:
            bar = tqdm(total=total, desc="sync", unit="file", file=sys.stderr, leave=False)
        bar.n = done
        bar.set_postfix_str(item.name[-40:])
        bar.refresh()

    try:
        report = engine.sync_folder(
            directory, collection, dry_run=args.dry_run, progress=on_progress, lock_timeout_s=60
        )
    finally:
        if bar is not None:
            bar.close()
    print_report(report, as_json=args.json)
    return report
