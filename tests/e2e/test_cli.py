"""End to end through the command line: ingest, documents, ask (fake Ollama), eval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rag_core.knowledge_base import KnowledgeBase
from tests.conftest import LSHORT, QA_SAMPLE, REPO, pdf_pages
from tests.ollama_server import FakeOllamaServer


def run_cli(
    *args: str, data_dir: Path, ollama: str = "http://127.0.0.1:9"
) -> subprocess.CompletedProcess:
    env = dict(os.environ, RAG_OLLAMA_HOST=ollama, HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "rag_core", "--data-dir", str(data_dir), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ingest_then_list_then_delete(tmp_path: Path):
    pdf = tmp_path / "chapter1.pdf"
    pdf.write_bytes(pdf_pages(LSHORT, 15, 17))
    bad = tmp_path / "fake.pdf"
    bad.write_text("not a pdf")
    data = tmp_path / "data"
    done = run_cli("ingest", str(pdf), str(bad), data_dir=data)
    assert done.returncode == 1  # one file failed
    assert "indexed: chapter1.pdf (3 pages" in done.stdout
    assert "fake.pdf: this is not a PDF" in done.stderr
    listed = run_cli("documents", "--json", data_dir=data)
    [doc] = json.loads(listed.stdout.strip().splitlines()[-1])
    assert doc["name"] == "chapter1.pdf" and doc["pages"] == 3 and doc["chunks"] > 0
    again = run_cli("ingest", str(pdf), data_dir=data)
    assert "unchanged: chapter1.pdf" in again.stdout and "0 embedded" in again.stdout


def test_ask_json_streams_the_servers_echo_and_lists_the_answer_page(
    corpus_kb: KnowledgeBase, fake_ollama: FakeOllamaServer
):
    """Plumbing only: the test server quotes passage [1] and cites it; no model runs."""
    question = "When did Knuth start working on TeX, and when was the TeX we use today released?"
    done = run_cli(
        "ask", question, "--json", data_dir=corpus_kb.settings.data_dir, ollama=fake_ollama.url
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] == "" and "[1]" in result["answer"]
    pages = [(c["source"], c["page"]) for c in result["citations"]]
    assert ("lshort.pdf", 15) in pages
    assert fake_ollama.chat_requests[-1]["stream"] is True


def test_ask_without_ollama_prints_sources_and_advice(corpus_kb: KnowledgeBase):
    # a question the gate clearly lets through (a borderline one may be answered "not in
    # the documents" without asking the model, which prints no advice)
    question = "When did Knuth start writing the TeX typesetting program?"
    done = run_cli("ask", question, data_dir=corpus_kb.settings.data_dir)
    assert done.returncode == 1
    assert "ollama serve" in done.stderr
    assert "Sources:" in done.stdout and "[1] lshort" in done.stdout


def test_eval_prints_metrics_as_json(corpus_kb: KnowledgeBase):
    done = run_cli(
        "eval", str(QA_SAMPLE), "--k", "5", "--json", data_dir=corpus_kb.settings.data_dir
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["mode"] == "hybrid"
    assert set(report["overall"]) == {"recall@5", "mrr@5", "ndcg@5", "questions"}
    assert report["overall"]["questions"] == 10
    assert set(report["per_doc"]) == {"lshort.pdf", "lshort-ko.pdf"}
    assert 0.0 < report["overall"]["ndcg@5"] <= report["overall"]["recall@5"] <= 1.0


def test_eval_compare_runs_every_mode(corpus_kb: KnowledgeBase):
    done = run_cli("eval", str(QA_SAMPLE), "--compare", data_dir=corpus_kb.settings.data_dir)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert list(report["modes"]) == ["dense", "mmr", "bm25", "hybrid"]
    assert report["default_mode"] == "hybrid"
    table = "\n".join(lines[:-1])
    for mode in ("dense", "mmr", "bm25", "hybrid"):
        assert f"{mode} " in table
    assert "(default)" in table


AUDIT_CONNECTIONS = """
import json, os, socket, sys
LOG = os.environ["AUDIT_LOG"]

def hook(event, args):
    # written to a file, so that forked child processes (which keep the hook) report too
    if event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        seen = list(args[1][:2])
    elif event == "socket.getaddrinfo":
        seen = [str(args[0]), args[1]]
    else:
        return
    with open(LOG, "a") as log:
        log.write(json.dumps(seen) + "\\n")

sys.addaudithook(hook)
from rag_core.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_offline_run_contacts_only_the_configured_ollama_host(
    tmp_path: Path, fake_ollama: FakeOllamaServer
):
    """THREATS row 18: ingest and ask open no connection but the one to Ollama.

    ``HF_HUB_OFFLINE`` is removed from the child's environment: the app must set it itself.
    The child is not under pytest, where NNCF would turn its telemetry off by itself.
    """
    pdf = tmp_path / "chapter1.pdf"
    pdf.write_bytes(pdf_pages(LSHORT, 15, 16))
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env["RAG_OLLAMA_HOST"] = fake_ollama.url
    # an empty user cache: the first ingest exports and quantises the embedding model
    # (NNCF, whose usage reports to Google Analytics must stay off) in the audited process
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    log = tmp_path / "connections.jsonl"
    env["AUDIT_LOG"] = str(log)
    port = int(fake_ollama.url.rsplit(":", 1)[1])
    for args in (["ingest", str(pdf)], ["ask", "When did Knuth start writing TeX?"]):
        done = subprocess.run(
            [sys.executable, "-c", AUDIT_CONNECTIONS, "--data-dir", str(tmp_path / "d"), *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        time.sleep(2)  # a forked sender would still be resolving its host
        seen = (
            {tuple(json.loads(x)) for x in log.read_text().splitlines()} if log.exists() else set()
        )
        log.unlink(missing_ok=True)
        assert seen <= {("127.0.0.1", port)}, seen
        if args[0] == "ingest":
            assert list((tmp_path / "cache").rglob("model-ov-int8.xml"))  # quantised here
        if args[0] == "ask":
            assert ("127.0.0.1", port) in seen  # the audit hook does see connections


def test_collections_are_listed_used_and_deleted(tmp_path: Path):
    data = tmp_path / "data"
    note = tmp_path / "walrus.txt"
    note.write_text("Walruses live in the Arctic.")
    other = tmp_path / "penguin.txt"
    other.write_text("Penguins live in Antarctica.")
    assert run_cli("--collection", "papers", "ingest", str(note), data_dir=data).returncode == 0
    assert run_cli("ingest", str(other), data_dir=data).returncode == 0
    listed = run_cli("collections", "--json", data_dir=data)
    assert json.loads(listed.stdout.strip().splitlines()[-1]) == [
        {"name": "documents", "chunks": 1},
        {"name": "papers", "chunks": 1},
    ]
    found = run_cli("--collection", "papers", "retrieve", "walruses", "--json", data_dir=data)
    assert [c["source"] for c in json.loads(found.stdout.strip().splitlines()[-1])] == [
        "walrus.txt"
    ]

    dropped = run_cli("delete-collection", "papers", data_dir=data)
    assert dropped.returncode == 0 and "deleted collection papers" in dropped.stdout
    assert not (data / "collections" / "papers").exists()
    assert not (data / "bm25" / "papers").exists()
    listed = run_cli("collections", "--json", data_dir=data)
    assert json.loads(listed.stdout.strip().splitlines()[-1]) == [
        {"name": "documents", "chunks": 1}
    ]
    docs = run_cli("--collection", "papers", "documents", "--json", data_dir=data)
    assert json.loads(docs.stdout.strip().splitlines()[-1]) == []
    bad = run_cli("--collection", "../x", "documents", data_dir=data)
    assert bad.returncode == 2 and "invalid setting: collection" in bad.stderr


def test_pdf_password_comes_from_the_environment_or_a_prompt_never_an_argument(
    tmp_path: Path, embeddings, monkeypatch, capsys
):
    import pytest

    from rag_core.__main__ import PASSWORD_ENV, main
    from tests.conftest import text_pdf

    monkeypatch.setattr("rag_core.knowledge_base.build_embeddings", lambda *a, **k: embeddings)
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(text_pdf(["The walrus password page."], user_password="s3cret-pw"))
    base = ["--data-dir", str(tmp_path / "data")]
    with pytest.raises(SystemExit):  # no --password option: ps and shell history show it
        main([*base, "ingest", str(locked), "--password", "s3cret-pw"])
    capsys.readouterr()
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert main([*base, "ingest", str(locked)]) == 1
    assert PASSWORD_ENV in capsys.readouterr().err
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": prompts.append(prompt) or "s3cret-pw")
    assert main([*base, "ingest", str(locked), "--ask-password"]) == 0
    assert prompts == ["PDF password: "]
    assert "indexed: locked.pdf" in capsys.readouterr().out
    monkeypatch.setenv(PASSWORD_ENV, "s3cret-pw")
    other = tmp_path / "other.pdf"
    other.write_bytes(text_pdf(["Another locked page."], user_password="s3cret-pw"))
    assert main([*base, "ingest", str(other)]) == 0
    assert "indexed: other.pdf" in capsys.readouterr().out


def test_unchanged_file_and_listing_load_no_embedding_model(
    tmp_path: Path, embeddings, monkeypatch, capsys
):
    from rag_core.__main__ import main
    from tests.conftest import settings_for

    pdf = tmp_path / "chapter.pdf"
    pdf.write_bytes(pdf_pages(LSHORT, 15, 16))
    data = tmp_path / "data"
    KnowledgeBase(settings_for(data), embeddings).ingest_path(pdf)

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedding model was loaded")

    monkeypatch.setattr("rag_core.knowledge_base.build_embeddings", no_model)
    base = ["--data-dir", str(data)]
    assert main([*base, "ingest", str(pdf)]) == 0
    assert "unchanged: chapter.pdf" in capsys.readouterr().out
    assert main([*base, "documents", "--json"]) == 0
    assert '"chapter.pdf"' in capsys.readouterr().out


ASK_KEYS = {
    "question", "query", "answer", "thinking", "error", "truncated", "citations", "cited",
    "invalid_citations", "claims", "answer_language", "language_match",
}  # fmt: skip


def test_ask_json_separates_reasoning_and_reports_citations(corpus_kb: KnowledgeBase):
    """Plumbing: the test server sends an inline <think> block that names [2] and [3]."""
    with FakeOllamaServer(mode="think-inline", token_delay=0.0) as server:
        done = run_cli(
            "ask", "When did Knuth start writing TeX?", "--json",
            data_dir=corpus_kb.settings.data_dir, ollama=server.url,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) >= ASK_KEYS
    assert "<think>" not in result["answer"] and result["thinking"].startswith("Okay")
    assert result["cited"] == [1] and result["invalid_citations"] == []
    assert result["truncated"] is False and result["language_match"] is True
    assert [c["cited"] for c in result["citations"]][:2] == [True, False]
    assert {"number", "source", "page", "page_label", "text"} <= set(result["citations"][0])
    assert result["claims"][0]["citations"] == [1] and result["claims"][0]["supported"] is True


def test_chat_keeps_the_conversation_and_rewrites_follow_ups(corpus_kb: KnowledgeBase):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    with FakeOllamaServer(mode="rewrite-preamble-en", token_delay=0.0) as server:
        server.rewrite_template = "{question} ({previous})"
        env["RAG_OLLAMA_HOST"] = server.url
        done = subprocess.run(
            [sys.executable, "-m", "rag_core", "--data-dir", str(corpus_kb.settings.data_dir),
             "chat", "--json"],
            input="When did Knuth start writing TeX?\n\nAnd when was it released?\n",
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        requests = server.chat_requests
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert first["query"] == first["question"]
    assert second["query"] == "And when was it released? (When did Knuth start writing TeX?)"
    assert any(m["role"] == "assistant" for m in requests[-1]["messages"])


def test_ask_prints_notices_for_a_wrong_citation(corpus_kb: KnowledgeBase):
    with FakeOllamaServer(mode="out-of-range", token_delay=0.0) as server:
        done = run_cli(
            "ask", "When did Knuth start writing TeX?",
            data_dir=corpus_kb.settings.data_dir, ollama=server.url,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "note: The answer cites [9], which are not among the sources shown." in done.stdout
    assert "(cited)" in done.stdout


def test_ask_json_with_a_judge_rejects_a_wrong_citation(corpus_kb: KnowledgeBase):
    """Plumbing: the test server's judge says "no" when the sentence is not in the passage."""
    with FakeOllamaServer(mode="wrong-citation", token_delay=0.0) as server:
        done = run_cli(
            "ask", "When did Knuth start writing TeX?", "--json", "--judge", "llama3.2",
            data_dir=corpus_kb.settings.data_dir, ollama=server.url,
        )  # fmt: skip
        kinds = [r["kind"] for r in server.replies]
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) >= ASK_KEYS | {"judge"}
    [claim] = [c for c in result["claims"] if c["supported"] is not None]
    assert (claim["judge"], claim["supported"]) == (False, False)
    assert result["judge"]["model"] == "llama3.2" and result["judge"]["judged"] == 1
    assert kinds[-1] == "judge" and kinds.count("judge") == 1  # one call per cited sentence


def test_chat_with_a_judge_that_answers_neither_yes_nor_no_prints_a_notice(
    corpus_kb: KnowledgeBase,
):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    with FakeOllamaServer(mode="judge-garbage", token_delay=0.0) as server:
        env["RAG_OLLAMA_HOST"] = server.url
        done = subprocess.run(
            [sys.executable, "-m", "rag_core", "--data-dir", str(corpus_kb.settings.data_dir),
             "chat", "--judge", "llama3.2"],
            input="When did Knuth start writing TeX?\n",
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "note: The judge model llama3.2 answered neither yes nor no for 1 cited" in done.stdout
    assert "not supported by" not in done.stdout  # the word-based verdict (supported) is kept
    assert "(judge llama3.2: 0 of 1 cited statement(s) judged" in done.stderr
