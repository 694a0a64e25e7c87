"""Getting an embedding model onto this machine: from the Hugging Face hub, with progress.

A model that is a local directory, ships in a package (all-MiniLM-L6-v2) or is already in
the Hugging Face cache is used as it is. Any other is downloaded with
``huggingface_hub.snapshot_download`` (https://huggingface.co/docs/huggingface_hub/guides/download),
whose ``tqdm_class`` reports the bytes as they arrive; ``HF_ENDPOINT`` picks the hub (a
mirror, or a test server) and ``HF_HOME`` the cache. Offline (``HF_HUB_OFFLINE=1``) or
with no hub reachable, :class:`~rag_core.errors.ModelUnavailableError` says what to do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rag_core.errors import ModelUnavailableError
from rag_core.index.embeddings import PACKAGED_MODELS, resolve_model_path

logger = logging.getLogger(__name__)

DownloadProgress = Callable[[int, int], None]
"""Called with (bytes downloaded, bytes in all) while a model downloads."""

SKIPPED_FILES = [
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "*.onnx_data",
    "onnx/*",
    "openvino/*",
    "flax_model*",
    "tf_model*",
    "rust_model*",
    "coreml/*",
]
"""Weights of other frameworks that sentence-transformers does not read (bge-m3 alone
ships 2 GB of ONNX next to its PyTorch weights)."""


def model_on_disk(name: str) -> bool:
    """True when ``name`` loads without a network: a directory, packaged, or in the HF cache.

    Args:
        name: a hub id, a packaged alias or a local directory.
    """
    if name in PACKAGED_MODELS or Path(resolve_model_path(name)).is_dir():
        return True
    from huggingface_hub import try_to_load_from_cache

    for probe in ("modules.json", "config.json"):
        try:
            found = try_to_load_from_cache(name, probe)
        except ValueError:  # not a valid hub id
            return False
        if isinstance(found, str):
            return True
    return False


def offline_message(name: str, reason: str) -> str:
    """The message for a model that is not here and cannot be downloaded (``reason``: why)."""
    folder = name.rsplit("/", 1)[-1]
    return (
        f"the embedding model {name} is not on this machine and cannot be downloaded "
        f"({reason}). Download it on a machine with internet "
        f"(`hf download {name} --local-dir {folder}`), copy the folder here, and set "
        f"RAG_EMBEDDING_MODEL to its path (e.g. /models/{folder}), or give that path to "
        "`python -m rag_core reindex --model`"
    )


def _progress_class(progress: DownloadProgress) -> type[tqdm]:
    """A tqdm class that passes the bytes bar's counts to ``progress`` (and shows nothing)."""

    class _Reporting(tqdm):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = False
            kwargs["file"] = open(os.devnull, "w")  # noqa: SIM115 - closed in close()
            super().__init__(*args, **kwargs)
            # the bytes written to disk ("Reconstructing ..."); the transfer bar
            # ("Downloading bytes") counts the same bytes again, as they arrive
            desc = str(kwargs.get("desc") or "")
            self._bytes = kwargs.get("unit") == "B" and not desc.startswith("Downloading")

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            if self._bytes:
                progress(int(self.n), int(self.total or 0))
            return shown

        def close(self) -> None:
            stream = self.fp
            super().close()
            if stream is not None and not stream.closed:
                stream.close()

    return _Reporting


def ensure_model(name: str, progress: DownloadProgress | None = None) -> str:
    """Make sure the embedding model ``name`` is on this machine; download it if need be.

    Args:
        name: a hub id ("intfloat/multilingual-e5-small"), a packaged alias or a directory.
        progress: called with (bytes done, bytes in all) during a download.

    Returns:
        A local directory for a local or packaged model, else ``name`` (now in the
        Hugging Face cache, where sentence-transformers finds it).

    Raises:
        ModelUnavailableError: the model is not here and no hub can be reached (offline
            mode, connection refused), or the hub does not have it.
    """
    if model_on_disk(name):
        return resolve_model_path(name)
    if Path(name).expanduser().is_absolute() or name.startswith((".", "~")):
        raise ModelUnavailableError(offline_message(name, f"no folder at {name}"))
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if constants.HF_HUB_OFFLINE:
        raise ModelUnavailableError(offline_message(name, "HF_HUB_OFFLINE is set"))
    logger.info("downloading embedding model %s from %s", name, constants.ENDPOINT)
    try:
        snapshot_download(
            name,
            ignore_patterns=SKIPPED_FILES,
            tqdm_class=_progress_class(progress) if progress else None,
        )
    except LocalEntryNotFoundError as exc:  # the hub did not answer, nothing cached
        raise ModelUnavailableError(
            offline_message(name, f"no hub answers at {constants.ENDPOINT}")
        ) from exc
    except HfHubHTTPError as exc:
        raise ModelUnavailableError(
            f"the hub at {constants.ENDPOINT} has no model {name} ({exc}): check the name"
        ) from exc
    except OSError as exc:  # connection refused, disk full
        raise ModelUnavailableError(offline_message(name, str(exc))) from exc
    return name


__all__ = ["DownloadProgress", "ensure_model", "model_on_disk", "offline_message"]
