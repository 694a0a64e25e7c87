"""Loading real PDFs and text into pages, splitting into chunks with stable ids."""

from __future__ import annotations

import pytest

from rag_core.errors import DocumentError, NoTextError
from rag_core.ingestion.loaders import load_bytes
from rag_core.ingestion.splitting import build_splitter, chunk_id, split_pages
from tests.conftest import LSHORT, pdf_pages


@pytest.fixture(scope="module")
def lshort_pages():
    return load_bytes("lshort.pdf", pdf_pages(LSHORT, 13, 20))


def test_pdf_pages_are_one_based_with_printed_labels(lshort_pages):
    loaded = lshort_pages
    assert loaded.n_pages == 8
    numbers = [p.metadata["page"] for p in loaded.pages]
    assert numbers == sorted(numbers) and numbers[0] >= 1 and numbers[-1] <= 8
    page3 = next(p for p in loaded.pages if p.metadata["page"] == 3)
    assert "Knuth started writing" in " ".join(page3.page_content.split())
    assert all(p.metadata["source"] == "lshort.pdf" for p in loaded.pages)
    assert all(len(p.metadata["sha256"]) == 64 for p in loaded.pages)


def test_printed_page_labels_of_the_full_document():
    loaded = load_bytes("lshort.pdf", LSHORT.read_bytes())
    by_page = {p.metadata["page"]: p.metadata["page_label"] for p in loaded.pages}
    assert loaded.n_pages == 153
    assert by_page[15] == "1"  # chapter 1 starts on physical page 15, printed "1"
    assert by_page[3] == "iii" or by_page[3].isalpha()


def test_text_file_is_one_page():
    loaded = load_bytes("notes.md", b"# Notes\n\nThe secret word is walrus.\n")
    assert loaded.n_pages == 1
    assert "walrus" in loaded.pages[0].page_content


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.pdf", b"", "empty"),
        ("image.pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "not a PDF"),
        ("archive.zip", b"PK\x03\x04", "unsupported file type"),
        ("truncated.pdf", LSHORT.read_bytes()[:3000], "damaged"),
    ],
)
def test_bad_files_raise_a_clear_error(name, data, message):
    with pytest.raises(DocumentError) as info:
        load_bytes(name, data)
    assert message in str(info.value)
    assert info.value.filename == name


def test_whitespace_only_text_has_no_text():
    with pytest.raises(NoTextError):
        load_bytes("blank.txt", b"   \n\n ")


def test_chunks_have_stable_ids_and_offsets(lshort_pages):
    splitter = build_splitter(500, 50)
    first = split_pages(lshort_pages.pages, splitter)
    second = split_pages(lshort_pages.pages, splitter)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    pages = {p.metadata["page"]: p.page_content for p in lshort_pages.pages}
    for chunk in first:
        meta = chunk.metadata
        assert len(chunk.page_content) <= 500
        text = pages[meta["page"]]
        assert text[meta["start_index"] : meta["end_index"]] == chunk.page_content
        assert chunk.id == chunk_id(meta["sha256"], meta["page"], meta["chunk_index"])


def test_parse_worker_goes_on_without_a_memory_cap_and_says_so_once(monkeypatch, caplog):
    import subprocess
    import sys

    from rag_core.ingestion import worker

    capped = subprocess.run(  # in a child: the cap must not bind the test process
        [sys.executable, "-c", "from rag_core.ingestion.worker import limit_memory;"
         "import resource; print(limit_memory(3 << 30), resource.getrlimit(resource.RLIMIT_AS)[0])"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert capped.stdout.split() == ["True", str(3 << 30)]  # Linux: the cap is set
    monkeypatch.setitem(sys.modules, "resource", None)  # as on Windows: import fails
    assert worker.limit_memory(8 * 1024**3) is False
    worker.warn_if_memory_unlimited.cache_clear()
    with caplog.at_level("WARNING", logger="rag_core.ingestion.worker"):
        assert worker.warn_if_memory_unlimited() is False
        assert worker.warn_if_memory_unlimited() is False
    warnings = [r for r in caplog.records if "cannot cap" in r.getMessage()]
    assert len(warnings) == 1
    worker.warn_if_memory_unlimited.cache_clear()


def test_page_labels_are_made_printable_and_short():
    from rag_core.ingestion.loaders import MAX_PAGE_LABEL_CHARS, page_label

    assert page_label("xii", 12) == "xii"
    assert page_label("A\u202e-3\x00", 5) == "A-3"  # bidi override and NUL removed
    assert len(page_label("![x](http://h/i.png)" * 50, 1)) == MAX_PAGE_LABEL_CHARS
    assert page_label("\u2066\x07", 7) == "7"  # nothing printable left: the page number


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("a.pdf", b"", "empty"),
        ("a.pdf", b"just notes\n", "not_pdf"),
        ("a.hwpx", b"just notes\n", "hwp_not_hwp"),
        ("a.docx", b"PK\x03\x04", "unsupported"),
        ("a.txt", b"\xff\xfe\x00\xd8", "encoding"),
    ],
)
def test_precheck_refuses_what_no_parser_can_read(name: str, data: bytes, code: str):
    from rag_core.errors import DocumentError
    from rag_core.ingestion.loaders import precheck

    with pytest.raises(DocumentError) as refused:
        precheck(name, data)
    assert refused.value.code == code


def test_precheck_lets_readable_files_through():
    from rag_core.ingestion.loaders import precheck
    from tests.conftest import LSHORT

    precheck("lshort.pdf", LSHORT.read_bytes()[:4096])
    precheck("notes.txt", "한글 메모".encode("cp949"))
    precheck("doc.hwpx", b"PK\x03\x04rest")
