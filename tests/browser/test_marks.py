"""What a person sees of an answer in a real browser: the live status while a model is
silent, the collapsed Thinking expander, Cited / Also retrieved, the unsupported notice.

The session's app is shared: test_browser.py uploads lshort-ch1.pdf first and expects a
fresh upload, so this file runs after it (pytest takes the files in name order); alone,
it uploads the chapter itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import RunningApp
from tests.conftest import LSHORT, pdf_pages
from tests.ollama_server import REASONING

QUESTION = "When did Knuth start writing TeX?"
ASK = "Ask a question about your documents"


@pytest.fixture
def app(page: Page, running_app: RunningApp) -> Iterator[RunningApp]:
    """The session's app with lshort-ch1.pdf indexed; the Ollama mode reset afterwards."""
    page.goto(f"{running_app.url}/documents")
    page.locator("input[type=file]").first.set_input_files(
        [{"name": "lshort-ch1.pdf", "mimeType": "application/pdf",
          "buffer": pdf_pages(LSHORT, 13, 20)}]
    )  # fmt: skip
    done = re.compile(r"lshort-ch1\.pdf(: 8 pages, \d+ chunks indexed| is already indexed)")
    expect(page.get_by_text(done)).to_be_visible()
    ollama = running_app.ollama
    mode, delay = ollama.mode, ollama.first_token_delay
    try:
        yield running_app
    finally:
        ollama.mode, ollama.first_token_delay = mode, delay


def _ask(page: Page, url: str, question: str = QUESTION) -> Locator:
    page.goto(url)  # a new chat
    box = page.get_by_placeholder(ASK)
    box.fill(question)
    box.press("Enter")
    return page.locator("[data-testid='stChatMessage']").nth(1)


def test_thinking_is_collapsed_and_sources_are_split(page: Page, app: RunningApp):
    app.ollama.mode = "think-inline"
    answer = _ask(page, app.url)
    expect(answer).to_contain_text("Also retrieved (4)")
    expect(answer).to_contain_text("Cited (1)")
    thinking = answer.locator("[data-testid='stExpander']").filter(has_text="Thinking").first
    expect(thinking.locator("details")).not_to_have_attribute("open", re.compile(".*"))
    reasoning = thinking.get_by_text(REASONING[:40])
    expect(reasoning).to_be_hidden()
    body = answer.locator("[data-testid='stMarkdownContainer']").filter(has_text="[1]").first
    assert "think>" not in body.inner_text() and REASONING[:20] not in body.inner_text()
    thinking.locator("summary").click()
    expect(reasoning).to_be_visible()

    # the replayed chat keeps both
    page.reload()
    again = page.locator("[data-testid='stChatMessage']").nth(1)
    expect(again).to_contain_text("Cited (1)")
    expect(again.locator("[data-testid='stExpander']").filter(has_text="Thinking")).to_have_count(1)


def test_the_status_counts_while_the_model_is_silent(page: Page, app: RunningApp):
    app.ollama.mode = "slow-first-token"
    app.ollama.first_token_delay = 4.0
    answer = _ask(page, app.url)
    expect(answer.get_by_text(re.compile(r"Reading 5 passages… \(0 s\)"))).to_be_visible()
    expect(answer.get_by_text(re.compile(r"Reading 5 passages… \([2-9] s\)"))).to_be_visible()
    expect(answer).to_contain_text("Cited (1)")
    expect(answer.get_by_text(re.compile("Reading 5 passages"))).to_have_count(0)


def test_an_unsupported_citation_is_marked(page: Page, app: RunningApp):
    app.ollama.mode = "wrong-citation"
    answer = _ask(page, app.url)
    expect(answer).to_contain_text("are not supported by the passage they cite")
    expect(answer).to_contain_text("Not supported by [1]:")
