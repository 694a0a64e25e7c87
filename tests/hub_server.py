"""A fake Hugging Face hub that serves one folder as a model repository, on 127.0.0.1.

It speaks the part of the hub's HTTP API that ``huggingface_hub.snapshot_download``
(1.x) uses, read from its source (``_snapshot_download.py``, ``hf_api.py``,
``file_download.py``):

* ``GET /api/models/{repo}/revision/{rev}``: the repo info, whose ``sha`` is the commit;
* ``GET /api/models/{repo}/tree/{commit}?recursive=True``: the file list (``type``,
  ``path``, ``size``, ``oid``), one page (no ``Link`` header);
* ``HEAD`` and ``GET /{repo}/resolve/{commit}/{path}``: a file, with the headers
  ``get_hf_file_metadata`` reads: ``X-Repo-Commit``, ``ETag`` (the content's sha256, quoted)
  and ``Content-Length``. ``Range: bytes=N-`` is answered with 206 (resumed downloads).

Any other repository is a 404 with ``X-Error-Code: RepoNotFound``, a missing file of the
repository one with ``EntryNotFound`` (transformers asks for optional files such as
``adapter_config.json``). Use it with
``HF_ENDPOINT=server.url`` in a subprocess (huggingface_hub reads its constants at import).
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serve the files under ``folder`` as the model repository ``repo`` (a context manager).

    Attributes:
        url: the endpoint, e.g. "http://127.0.0.1:40123".
        downloads: the repository paths whose content was sent (GET), in order.
    """

    def __init__(self, repo: str, folder: Path) -> None:
        self.repo = repo
        self.files = {
            p.relative_to(folder).as_posix(): p
            for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }
        self.downloads: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _json(self, data: object) -> None:
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _missing(self, code: str = "RepoNotFound") -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", f"{code} (fake hub)")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _serve(self, *, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                api = f"/api/models/{hub.repo}/"
                resolve = f"/{hub.repo}/resolve/"
                if path.startswith(api + "revision/"):
                    siblings = [{"rfilename": name} for name in hub.files]
                    self._json({"id": hub.repo, "sha": COMMIT, "siblings": siblings})
                elif path.startswith(api + "tree/"):
                    self._json(
                        [
                            {"type": "file", "path": name, "size": p.stat().st_size, "oid": name}
                            for name, p in hub.files.items()
                        ]
                    )
                elif path.startswith(resolve):
                    name = path[len(resolve) :].split("/", 1)[-1]
                    if name not in hub.files:
                        self._missing("EntryNotFound")
                        return
                    self._file(name, body=body)
                else:
                    self._missing()

            def _file(self, name: str, *, body: bool) -> None:
                data = hub.files[name].read_bytes()
                start = 0
                ranged = self.headers.get("Range", "")
                if ranged.startswith("bytes=") and ranged.endswith("-"):
                    start = int(ranged[6:-1])
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    hub.downloads.append(name)
                    self.wfile.write(data[start:])

        return Handler
