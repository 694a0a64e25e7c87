"""Refresh the README's screenshots: ``python -m tests.browser.screenshots``.

Starts the app the way the browser tests do (``streamlit run app.py`` on a free port with
a fresh data directory in a temporary folder, the test Ollama server, headless Chromium),
uploads a few pages of tests/data/lshort.pdf, asks a question (the test server in its
``honest`` mode: it quotes a sentence of passage [1] and cites it), opens the cited source
on its page (the supporting sentence highlighted), and writes docs/documents.png,
docs/chat.png and docs/cited-page.png. The tests never write into the repository; this command is the only thing that does.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.conftest import launch_chromium, serve_app
from tests.conftest import LSHORT, REPO, pdf_pages
from tests.ollama_server import FakeOllamaServer

QUESTION = "What is WYSIWYG?"
"""Its best passage opens with a whole sentence, which the honest test model quotes."""
VIEWPORT = {"width": 1400, "height": 1000}


def _wait_until_idle(page: Page) -> None:
    """Wait until the script run has finished (no "Running..." / "Stop" status widget)."""
    page.wait_for_timeout(300)
    expect(page.locator("[data-testid='stStatusWidget']")).to_have_count(0)
    page.wait_for_timeout(300)


def take_screenshots(out_dir: Path) -> list[Path]:
    """Run the app once and save the three screenshots into ``out_dir``; return their paths.

    Raises:
        RuntimeError: the app did not start.
        playwright.sync_api.Error: Chromium cannot be started or a step timed out.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in ("documents.png", "chat.png", "cited-page.png")]
    with (
        tempfile.TemporaryDirectory(prefix="rag-screenshots-") as data_dir,
        FakeOllamaServer(token_delay=0.01, mode="honest") as ollama,
        serve_app(Path(data_dir), ollama) as url,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.set_default_timeout(180_000)
        expect.set_options(timeout=180_000)

        page.goto(f"{url}/documents")
        page.locator("input[type=file]").first.set_input_files(
            [{"name": "lshort-ch1.pdf", "mimeType": "application/pdf",
              "buffer": pdf_pages(LSHORT, 13, 20)}]
        )  # fmt: skip
        expect(page.get_by_text(re.compile(r"lshort-ch1\.pdf: 8 pages"))).to_be_visible()
        expect(page.locator("[data-testid='stDataFrame']")).to_be_visible()
        _wait_until_idle(page)
        page.screenshot(path=str(paths[0]), full_page=True)

        page.goto(url)
        box = page.get_by_placeholder("Ask a question about your documents")
        box.fill(QUESTION)
        box.press("Enter")
        answer = page.locator("[data-testid='stChatMessage']").nth(1)
        expect(answer).to_contain_text("Cited (1)")
        first = answer.locator("[data-testid='stExpander']").first
        expect(page.get_by_text("Export chat as Markdown")).to_be_visible()  # the run's end
        _wait_until_idle(page)
        first.locator("summary").click()
        _wait_until_idle(page)
        # the question at the top of the view (the main area scrolls, not the page)
        page.locator("[data-testid='stChatMessage']").first.evaluate("e => e.scrollIntoView()")
        page.wait_for_timeout(300)
        page.screenshot(path=str(paths[1]))

        first.get_by_text("Show on the page").click()
        image = first.locator("[data-testid='stImage'] img")
        expect(image).to_be_visible()
        _wait_until_idle(page)
        image.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=str(paths[2]), full_page=True)
        browser.close()
    return paths


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m tests.browser.screenshots [--out DIR]`` (default docs/)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where to write")
    args = parser.parse_args(argv)
    for path in take_screenshots(args.out):
        print(path)


if __name__ == "__main__":
    main()
