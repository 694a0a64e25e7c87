"""Untrusted text reaches the browser as inert text (THREATS.md rows 9, 10, 11, 23, 24).

One upload of crafted files, one question, one answer, then every vector is checked in
headless Chromium: the listener on 127.0.0.1 gets no request, no link or image points to
it, and no rendered Markdown holds a link or an image at all.

Vectors: (a) a page label prefix (/PageLabels /P), shown in the source's title and the
cited page's caption; (b) the outline title, shown as the passage's section in the source's
title, and the document info (/Title, /Author), which the UI does not show (checked
anyway); (c) a hostile file name (the upload keeps only the
last path component, so its payloads carry no "/"); (d) passage text; (e) the model's
answer with an image, an inline link, a reference definition, an autolink, bare URLs and
raw HTML; (f) the chat title in the sidebar list (the question as typed).
"""

from __future__ import annotations

import io
import re

from playwright.sync_api import Page, expect
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from rag_core.ingestion.loaders import page_label
from tests.browser.conftest import Listener, RunningApp, switch_on
from tests.conftest import text_pdf

ASK = "Ask a question about your documents"
WJ = "\u2060"


def _payload(leak: str, tag: str) -> str:
    """Markdown that fetches ``leak`` or links to it when rendered, tagged by vector."""
    return (
        f"![{tag}]({leak}/{tag}.png)[{tag}-link]({leak}/{tag}-link)<{leak}/{tag}-auto> "
        f"{leak}/{tag}-bare www.{tag}.example {tag}@mail.example "
    )


def labelled_pdf(text: str, label_prefix: str, title: str) -> bytes:
    """A one-page PDF whose page label is ``label_prefix`` + "1", with a hostile outline
    title and document info."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([text]))))
    style = DictionaryObject(
        {
            NameObject("/S"): NameObject("/D"),
            NameObject("/P"): TextStringObject(label_prefix),
        }
    )
    writer._root_object[NameObject("/PageLabels")] = DictionaryObject(
        {NameObject("/Nums"): ArrayObject([NumberObject(0), style])}
    )
    writer.add_outline_item(title, 0)
    writer.add_metadata({"/Title": title, "/Author": title, "/Subject": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def hostile_answer(leak: str) -> str:
    return (
        "Walruses eat clams [1] and narwhals eat fish [2, 3].\n\n"
        "- first point [1]\n- second point [2]\n\n"
        f"![pixel]({leak}/answer.png) [click]({leak}/answer-link) [ref][1] "
        f"<{leak}/answer-auto> {leak}/answer-bare www.answer.example me@answer.example "
        f'<img src="{leak}/answer-html.png"> <a href="{leak}/answer-a">a</a>\n\n'
        f"[1]: {leak}/answer-refdef\n"
    )


def _markdown_links_and_images(page: Page) -> list[str]:
    """Links and images in rendered Markdown (headings' own "#anchor" links left out)."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
            "[data-testid='stMarkdownContainer'] a:not([href^='#']), "
            + "[data-testid='stMarkdownContainer'] img")]
            .map(e => e.outerHTML)"""
    )


def _assert_inert(page: Page, listener: Listener, where: str) -> None:
    page.wait_for_timeout(1000)  # give a would-be image fetch the time to arrive
    port = f"127.0.0.1:{listener.port}"
    pointing = page.locator(f"a[href*='{port}'], img[src*='{port}'], a[href^='javascript:']")
    assert pointing.count() == 0, (where, pointing.evaluate_all("es => es.map(e => e.outerHTML)"))
    assert _markdown_links_and_images(page) == [], where
    assert page.locator("a[href*='.example']").count() == 0, where
    assert listener.hits == [], (where, listener.hits)


def test_every_untrusted_text_renders_inert(
    page: Page, running_app: RunningApp, listener: Listener
):
    leak = f"{listener.url}/leak"
    label = _payload(leak, "label")
    hostile_passage = (
        f"Walrus facts: walruses eat clams. {_payload(leak, 'passage')}"
        f"<img src={leak}/passage-html onerror=alert(1)> [click](javascript:alert(2))"
    )
    # the upload keeps the last path component only: these payloads carry no "/"
    hostile_name = (
        "![name](http:127.0.0.1) [name-link](javascript:alert(3)) <name@mail.example> "
        "www.name.example name@mail.example :red[name] **name**.pdf"
    )
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{running_app.url}/documents")
    page.locator("input[type=file]").first.set_input_files(
        [
            {
                "name": "labels.pdf",
                "mimeType": "application/pdf",
                "buffer": labelled_pdf(
                    "Narwhals eat fish and walruses eat clams.", label, _payload(leak, "outline")
                ),
            },
            {
                "name": hostile_name,
                "mimeType": "application/pdf",
                "buffer": text_pdf(["Walruses and narwhals live in the Arctic."]),
            },
            {
                "name": "passage.pdf",
                "mimeType": "application/pdf",
                "buffer": text_pdf([hostile_passage]),
            },
        ]
    )
    main = page.locator("[data-testid='stMain']")
    for name in ("labels.pdf", "passage.pdf", "**name**.pdf"):  # (word joiners in the rest)
        # .first: while the page reruns, the fragment's old copy of a report may still show
        expect(main.get_by_text(f"{name}: 1 page", exact=False).first).to_be_visible()
    assert hostile_name in main.inner_text().replace(WJ, "")
    _assert_inert(page, listener, "documents page after the upload")

    question = f"What do walruses eat? {_payload(leak, 'question')}"
    previous = running_app.ollama.responder
    running_app.ollama.responder = lambda body: hostile_answer(leak)
    try:
        page.goto(running_app.url)
        box = page.get_by_placeholder(ASK)
        box.fill(question)
        box.press("Enter")
        answer = page.locator("[data-testid='stChatMessage']").nth(1)
        expect(page.get_by_text("Export chat as Markdown")).to_be_visible()  # the run's end
        # the model wrote [2, 3]: shown as the plain markers the sources are numbered by
        expect(answer).to_contain_text("Walruses eat clams [1] and narwhals eat fish [2][3].")
    finally:
        running_app.ollama.responder = previous
    # (e) the answer: citations and lists as written, every link shown as text
    body = answer.locator("[data-testid='stMarkdownContainer']").first
    expect(body.locator("li")).to_have_count(2)
    shown = body.inner_text().replace(WJ, "")
    for text in ("![pixel](", "[click](", f"<{leak}/answer-auto>", '<img src="', "[1]: http"):
        assert text in shown, (text, shown)

    # (a), (c), (d): open every source; the label and the name show as typed
    sources = answer.locator("[data-testid='stExpander']")
    titles = sources.locator("summary").all_inner_texts()
    joined = " ".join(titles).replace(WJ, "")
    printed = " ".join(f"p. 1 (printed {page_label(label + '1', 1)})".split())
    assert printed in " ".join(joined.split()), titles
    assert hostile_name in joined, titles
    assert "/leak/outline-auto> http://" in joined, titles  # (b) the section, as text
    for index in range(sources.count()):
        sources.nth(index).locator("summary").click()
    expect(answer).to_contain_text("<img src=")  # the passage, as text
    labelled = sources.filter(has_text="labels.pdf").first
    switch_on(labelled, "Show on the page")
    caption = labelled.locator("[data-testid='stImageCaption'], [data-testid='caption']")
    expect(labelled.locator("[data-testid='stImage'] img")).to_be_visible()
    expect(caption.first).to_contain_text("printed")

    # (f) the chat title in the sidebar list
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar.get_by_role("button", name=re.compile("What do walruses eat"))).to_be_visible()
    _assert_inert(page, listener, "chat page with the answer and its sources")
    assert dialogs == []

    # the same after a refresh, where everything is replayed from the history
    page.reload()
    expect(page.locator("[data-testid='stChatMessage']").nth(1)).to_contain_text("[2][3]")
    _assert_inert(page, listener, "chat page replayed")
