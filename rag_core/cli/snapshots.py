"""Command line for snapshots of a collection (:mod:`rag_core.index.snapshot`).

* ``export COLLECTION FILE [--with-files]``: write one archive of the collection (chunks,
  vectors, keyword terms, document list, the embedding model's identity, checksums;
  ``--with-files`` adds the original files for the page view).
* ``import FILE [--as NAME]``: restore an archive as a new collection (the archive's
  own name, or NAME); refused for another embedding model, a damaged archive, or a
  collection of that name that holds documents.

Both go through the engine (:meth:`rag_core.engine.Engine.export_collection`,
:meth:`~rag_core.engine.Engine.import_collection`) as the owner of the data directory.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from rag_core.cli.output import out_line
from rag_core.engine import Engine
from rag_core.index.snapshot import SnapshotInfo


def add_snapshot_commands(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` and ``import`` commands to the CLI's subparsers."""
    export = sub.add_parser("export", help="write a snapshot archive of a collection")
    export.add_argument("export_collection", metavar="COLLECTION")
    export.add_argument("file", type=Path, metavar="FILE", help="the archive to write (.zip)")
    export.add_argument(
        "--with-files", action="store_true", help="include the original files (page view)"
    )
    restore = sub.add_parser("import", help="restore a snapshot archive as a new collection")
    restore.add_argument("file", type=Path, metavar="FILE", help="the archive to read")
    restore.add_argument(
        "--as", dest="as_name", metavar="NAME", help="collection name (default: the archive's)"
    )


def _summary(info: SnapshotInfo) -> str:
    files = f", {info.files} files" if info.files else ""
    return (
        f"{info.documents} documents, {info.chunks} chunks{files} "
        f"({info.embedding_model}, {info.embedding_dim} dimensions)"
    )


def _cmd_export(engine: Engine, args: argparse.Namespace) -> int:
    info = engine.export_collection(
        args.export_collection, args.file, include_files=args.with_files
    )
    out_line(f"exported {info.collection}: {_summary(info)} to {args.file}")
    return 0


def _cmd_import(engine: Engine, args: argparse.Namespace) -> int:
    info = engine.import_collection(args.file, name=args.as_name)
    out_line(f"imported {info.collection}: {_summary(info)}")
    return 0


SNAPSHOT_COMMANDS: dict[str, Callable[[Engine, argparse.Namespace], int]] = {
    "export": _cmd_export,
    "import": _cmd_import,
}
"""The commands by name; they run before the default collection is opened (an import
needs none, and may be the way to fill it)."""
