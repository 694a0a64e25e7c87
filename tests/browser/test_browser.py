"""The app in a real browser: upload, progress, streamed answer, sources, the cited page,
refresh, export. Rendering attacks: test_inert.py. README screenshots:
``python -m tests.browser.screenshots`` (the tests write nothing into the repository)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import RunningApp, switch_on
from tests.conftest import LSHORT, pdf_pages

QUESTION = "When did Knuth start writing TeX?"
ASK = "Ask a question about your documents"


def _upload(page: Page, app: RunningApp, files: list[dict]) -> None:
    page.goto(f"{app.url}/documents")
    page.locator("input[type=file]").first.set_input_files(files)


def test_upload_ask_open_the_page_refresh_and_export(page: Page, running_app: RunningApp):
    _upload(page, running_app, [
        {"name": "lshort-ch1.pdf", "mimeType": "application/pdf",
         "buffer": pdf_pages(LSHORT, 13, 20)},
    ])  # fmt: skip
    expect(
        page.get_by_text(re.compile(r"lshort-ch1\.pdf: 8 pages, \d+ chunks indexed"))
    ).to_be_visible()
    # the first visit went straight to /documents: still routed through app.py
    nav = page.locator("[data-testid='stSidebarNav']")
    expect(nav).to_contain_text("Documents")
    expect(nav.get_by_text("app", exact=True)).to_have_count(0)
    table = page.locator("[data-testid='stDataFrame']")
    expect(table).to_be_visible()

    page.goto(running_app.url)
    box = page.get_by_placeholder(ASK)
    box.fill(QUESTION)
    box.press("Enter")
    answer = page.locator("[data-testid='stChatMessage']").nth(1)
    expect(answer).to_contain_text("According to the documents [1]")
    expect(answer).to_contain_text("Also retrieved (4)")
    expect(answer).to_contain_text("Cited (1)")
    first = answer.locator("[data-testid='stExpander']").first
    expect(first).to_contain_text("lshort-ch1.pdf, p. 3")
    first.locator("summary").click()
    expect(first).to_contain_text("Knuth started writing")

    switch_on(first, "Show on the page")
    image = first.locator("[data-testid='stImage'] img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") > 500

    # a refresh keeps the chat (its id is in the URL)
    assert "chat=" in page.url
    page.reload()
    expect(page.locator("[data-testid='stChatMessage']").nth(1)).to_contain_text("Cited (1)")

    with page.expect_download() as download:
        page.get_by_text("Export chat as Markdown").click()
    markdown = download.value.path().read_text(encoding="utf-8")
    assert "## Q: When did Knuth start writing TeX?" in markdown  # plain text, no escapes
    assert "**Cited**" in markdown and "**Also retrieved**" in markdown
    assert "- [1] lshort-ch1.pdf, p. 3:\n\n  ```\n" in markdown  # the passage in a code block
    assert "\u2060" not in markdown  # no invisible word joiners
