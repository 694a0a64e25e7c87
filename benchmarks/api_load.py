"""HTTP API under load: concurrent streamed OpenAI clients while a 300-page PDF ingests.

Run from the repository root::

    python benchmarks/api_load.py [--clients 8] [--pages 300] [--token-delay 0.02] [--json]

It builds a store in a temporary directory with ``tests/data/lshort.pdf`` (the questions
of ``tests/data/qa_sample.jsonl`` are about it), starts the API (:mod:`rag_core.doors.api`,
real uvicorn on 127.0.0.1) over it and answers with the repository's test Ollama server
(``tests/ollama_server.py``, mode ``honest``, ``--token-delay`` seconds before each
streamed token to stand in for a model's generation speed): it measures the door, the
engine's retrieval and the store under load, not a model. Each client is the real
``openai`` client asking with ``stream=True``, one question after another.

Two phases:

* ``idle``: every client asks ``--questions`` questions, nothing else runs;
* ``ingest``: a PDF of ``--pages`` pages (the first pages of
  ``benchmarks/data/gnuplot.pdf``, then of ``tests/data/hard/R-intro.pdf`` when more are
  asked for, concatenated with pypdf) is uploaded through ``POST
  /v1/collections/{name}/documents`` and polled until its job finishes, while every client
  keeps asking (at least ``--questions`` each).

Per phase: answers, errors (any exception, an error chunk, a stream without its last
chunk), answers complete with citations (a ``finish_reason`` and a ``citations`` list
with at least one cited passage), time to first token (request sent -> first content
delta) and to citations (request sent -> the last chunk, which carries them), p50 and
p95, and the ingest's duration (upload sent -> job finished). The machine is shared, so
compare rows of one run, not numbers across runs. The last line of ``--json`` output is
one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import httpx  # noqa: E402
import openai  # noqa: E402
from pypdf import PdfReader, PdfWriter  # noqa: E402

from rag_core.config import build_settings  # noqa: E402
from rag_core.doors.api import create_app  # noqa: E402
from rag_core.engine import Engine  # noqa: E402
from tests.doors.serving import running  # noqa: E402
from tests.ollama_server import FakeOllamaServer  # noqa: E402

COLLECTION = "manuals"
BASE_PDF = REPO / "tests" / "data" / "lshort.pdf"
QUESTIONS = REPO / "tests" / "data" / "qa_sample.jsonl"
LOAD_PDFS = (REPO / "benchmarks" / "data" / "gnuplot.pdf", REPO / "tests/data/hard/R-intro.pdf")


def concatenated_pdf(pages: int) -> bytes:
    """A real PDF of ``pages`` pages: the first pages of :data:`LOAD_PDFS`, in order."""
    writer = PdfWriter()
    for path in LOAD_PDFS:
        for page in PdfReader(path).pages:
            if len(writer.pages) == pages:
                break
            writer.add_page(page)
    if len(writer.pages) < pages:
        raise SystemExit(f"the load PDFs have only {len(writer.pages)} pages")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class Answer:
    """One streamed answer as a client saw it (seconds from the request)."""

    phase: str
    ttft_s: float | None = None
    citations_s: float | None = None
    complete: bool = False
    error: str = ""


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    answers: list[Answer] = field(default_factory=list)
    ingest_s: float | None = None
    ingest_status: str = ""

    def summary(self) -> dict[str, Any]:
        """The phase's figures (percentiles over the answers that reached that point)."""

        def pct(values: list[float], q: float) -> float | None:
            return round(float(np.percentile(values, q)), 3) if values else None

        ttft = [a.ttft_s for a in self.answers if a.ttft_s is not None]
        cites = [a.citations_s for a in self.answers if a.citations_s is not None]
        return {
            "phase": self.name,
            "answers": len(self.answers),
            "errors": sum(1 for a in self.answers if a.error),
            "complete_with_citations": sum(1 for a in self.answers if a.complete),
            "ttft_p50_s": pct(ttft, 50),
            "ttft_p95_s": pct(ttft, 95),
            "citations_p50_s": pct(cites, 50),
            "citations_p95_s": pct(cites, 95),
            "ingest_s": None if self.ingest_s is None else round(self.ingest_s, 1),
            "ingest_status": self.ingest_status,
            "error_samples": sorted({a.error for a in self.answers if a.error})[:3],
        }


def ask_streamed(client: openai.OpenAI, question: str, phase: str) -> Answer:
    """Ask one question with ``stream=True`` and time it."""
    answer = Answer(phase)
    started = time.monotonic()
    last = None
    try:
        stream = client.chat.completions.create(
            model=COLLECTION, messages=[{"role": "user", "content": question}], stream=True
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content and answer.ttft_s is None:
                answer.ttft_s = time.monotonic() - started
            last = chunk
    except openai.OpenAIError as exc:
        answer.error = f"{type(exc).__name__}: {exc}"[:200]
        return answer
    extra = (last.model_extra or {}) if last is not None else {}
    citations = extra.get("citations")
    if last is None or not last.choices or citations is None:
        answer.error = "the stream ended without its last chunk"
        return answer
    answer.citations_s = time.monotonic() - started
    answer.complete = bool(last.choices[0].finish_reason) and any(c["cited"] for c in citations)
    return answer


def run_clients(
    url: str,
    key: str,
    questions: list[str],
    *,
    clients: int,
    at_least: int,
    phase: Phase,
    until: threading.Event | None = None,
) -> None:
    """``clients`` threads, each asking questions in turn until it asked ``at_least`` and
    ``until`` (if given) is set."""
    lock = threading.Lock()

    def work(index: int) -> None:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=600)
        asked = 0
        while asked < at_least or (until is not None and not until.is_set()):
            question = questions[(index + asked) % len(questions)]
            result = ask_streamed(client, question, phase.name)
            with lock:
                phase.answers.append(result)
            asked += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def upload_and_wait(url: str, key: str, pdf: bytes, phase: Phase, done: threading.Event) -> None:
    """Upload ``pdf`` through the API, poll its job until it finishes, then set ``done``."""
    headers = {"Authorization": f"Bearer {key}"}
    started = time.monotonic()
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
            response = http.post(
                f"/v1/collections/{COLLECTION}/documents",
                files=[("files", (f"load-{len(pdf)}.pdf", pdf, "application/pdf"))],
            )
            response.raise_for_status()
            job_id = response.json()["jobs"][0]["id"]
            while True:
                job = http.get(f"/v1/collections/{COLLECTION}/jobs/{job_id}").json()
                if job["state"] == "finished":
                    break
                time.sleep(0.5)
        phase.ingest_s = time.monotonic() - started
        result = job.get("result") or {}
        error = job.get("error") or {}
        phase.ingest_status = (
            f"{result.get('status')} ({result.get('pages')} pages, {result.get('chunks')} chunks)"
            if not error
            else f"failed: {error.get('message')}"
        )
    finally:
        done.set()


def fmt(value: object) -> str:
    """A table cell."""
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def print_table(rows: list[dict[str, Any]], clients: int, token_delay: float) -> None:
    """The results as a Markdown table."""
    print(f"\n{clients} streamed openai clients; test Ollama server, {token_delay} s per token\n")
    heads = [
        "phase", "answers", "errors", "complete with citations", "TTFT p50 s", "TTFT p95 s",
        "citations p50 s", "citations p95 s", "ingest s",
    ]  # fmt: skip
    keys = [
        "phase", "answers", "errors", "complete_with_citations", "ttft_p50_s", "ttft_p95_s",
        "citations_p50_s", "citations_p95_s", "ingest_s",
    ]  # fmt: skip
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for row in rows:
        print("| " + " | ".join(fmt(row[k]) for k in keys) + " |")
    for row in rows:
        if row["ingest_status"]:
            print(f"\ningest ({row['phase']}): {row['ingest_status']}")
        for sample in row["error_samples"]:
            print(f"error ({row['phase']}): {sample}")


def main(argv: list[str] | None = None) -> int:
    """Run both phases and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--questions", type=int, default=3, help="questions per client, at least")
    parser.add_argument("--pages", type=int, default=300, help="pages of the PDF ingested")
    parser.add_argument("--token-delay", type=float, default=0.02, help="seconds per token")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    questions = [row["question"] for row in rows if row["doc"] == BASE_PDF.name]
    pdf = concatenated_pdf(args.pages)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOllamaServer(mode="honest", token_delay=args.token_delay) as ollama,
    ):
        settings = build_settings(data_dir=Path(tmp), collection=COLLECTION, ollama_host=ollama.url)
        engine = Engine(settings)  # the embedding model as configured; no sign-in
        access = engine.access
        base = engine.ingest_path(BASE_PDF)
        if base.status != "indexed":
            raise SystemExit(f"could not ingest {BASE_PDF.name}: {base.error}")
        key = access.create_key("bench")
        with running(create_app(engine)) as url:
            idle = Phase("idle")
            run_clients(
                url, key, questions, clients=args.clients, at_least=args.questions, phase=idle
            )
            load = Phase(f"{args.pages}-page ingest")
            done = threading.Event()
            uploader = threading.Thread(target=upload_and_wait, args=(url, key, pdf, load, done))
            uploader.start()
            run_clients(
                url,
                key,
                questions,
                clients=args.clients,
                at_least=args.questions,
                phase=load,
                until=done,
            )
            uploader.join()
    rows = [idle.summary(), load.summary()]
    print_table(rows, args.clients, args.token_delay)
    if args.json:
        print(
            json.dumps({"clients": args.clients, "token_delay_s": args.token_delay, "phases": rows})
        )
    failed = any(row["errors"] or row["complete_with_citations"] < row["answers"] for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
