"""The first hour of a new user, in a real browser, in Korean and in English (issue 21).

One app per browser locale (``ko-KR``, ``en-US``), fresh data directory each; the tests of
one locale run in this file's order and share its state: a big PDF dropped with two bad
files (item 2) while the Chat page is open (item 6), an HWPX document and the language
picker (item 3), questions with odd citation forms, the export and a stopped model
(item 4), the chat list, rename, delete and a chat whose document was deleted (item 5).
Every text asserted is the UI's own, from ``ui/locales/messages.json``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests import hwp_docs
from tests.browser.conftest import serve_app
from tests.conftest import LSHORT, LSHORT_KO, pdf_pages
from tests.ollama_server import FakeOllamaServer
from ui.i18n import load_messages

MESSAGES = load_messages()


@dataclass(frozen=True)
class Locale:
    """A browser locale, its UI language and what its user drops and asks."""

    locale: str
    language: str
    source: Path
    question: str
    other_language: str
    timezone: str


LOCALES = {
    "ko-KR": Locale(
        "ko-KR",
        "ko",
        LSHORT_KO,
        "한국어 윈도우에서 .tex 파일을 저장할 때 어떤 인코딩으로 저장해야 하나요?",
        "en",
        "Asia/Seoul",
    ),
    "en-US": Locale(
        "en-US", "en", LSHORT, "When did Knuth start writing TeX?", "ko", "America/New_York"
    ),
}
SECOND_QUESTION = {
    "ko": "kotex 패키지에 [hangul] 옵션을 주면 무엇이 달라지나요?",
    "en": "Which page style does LaTeX use by default?",
}
RENAMED = "Renamed: 인코딩 question"
BIG = "lshort-13-90.pdf"  # 78 pages: several seconds of indexing; a "-" and "." to escape
HWPX = "여비규정-2025.hwpx"
LANGUAGE_NAMES = {"en": "English", "ko": "한국어"}


PAGE_STATE = """([big, empty, renamed, done]) => {
  const main = document.querySelector("[data-testid=stMainBlockContainer]");
  const text = main.innerText;
  const bars = [...main.querySelectorAll("[data-testid=stProgress]")]
    .map((bar) => bar.innerText).filter((bar) => bar.includes(big));
  const finished = new RegExp(done).test(text);
  const reported = text.includes(empty) && text.includes(renamed);
  return reported && (bars.length > 0 || finished) && {bars, done: finished, text};
}"""
"""The main area once it shows both errors and the big PDF's bar or "indexed" message."""


@dataclass
class FirstHour:
    """The running app of one locale, its Ollama, and the browser tab on it."""

    page: Page
    url: str
    ollama: FakeOllamaServer
    data_dir: Path
    user: Locale

    def t(self, key: str, language: str | None = None, **values: object) -> str:
        """The UI text ``key`` in this locale's language (or ``language``)."""
        text = MESSAGES[key][language or self.user.language]
        return text.format(**values) if values else text

    def pattern(self, key: str, **values: str) -> re.Pattern[str]:
        """The text of ``key`` as a regex: ``values`` filled in, other placeholders any text."""
        parts = []
        for literal, field, _, _ in string.Formatter().parse(self.t(key)):
            parts.append(re.escape(literal))
            if field is not None:
                parts.append(re.escape(values[field]) if field in values else ".+?")
        return re.compile("".join(parts))

    @property
    def sidebar(self) -> Locator:
        return self.page.locator("[data-testid='stSidebar']")

    @property
    def main(self) -> Locator:
        return self.page.locator("[data-testid='stMainBlockContainer']")

    def alerts(self, text: str | re.Pattern[str] | None = None) -> Locator:
        """The main area's alert boxes (info, success, error...), those with ``text`` if given."""
        boxes = self.main.locator("[data-testid='stAlert']")
        return boxes if text is None else boxes.filter(has_text=text)

    def drop(self, files: list[dict]) -> None:
        """Drop ``files`` on the uploader once the page is idle (no rerun under way)."""
        expect(self.page.locator("[data-testid='stStatusWidget']")).to_have_count(0)
        self.page.locator("input[type=file]").first.set_input_files(files)
        for file in files:  # the uploader lists what it took
            expect(self.main.get_by_label(f"Remove {file['name']}")).to_have_count(1)

    def go(self, nav_key: str) -> None:
        """Change page with the sidebar's navigation, in the same session."""
        nav = self.page.locator("[data-testid='stSidebarNav']")
        nav.get_by_text(self.t(nav_key), exact=True).click()

    def ask(self, question: str) -> Locator:
        """Ask ``question`` in a new chat; the answer's chat message (maybe still streaming)."""
        self.page.goto(self.url)
        box = self.page.get_by_placeholder(self.t("chat.input"))
        box.fill(question)
        box.press("Enter")
        return self.page.locator("[data-testid='stChatMessage']").nth(1)


@pytest.fixture(scope="module", params=list(LOCALES))
def hour(request: pytest.FixtureRequest, browser: Browser, tmp_path_factory) -> Iterator[FirstHour]:
    """A fresh app and a browser tab in the parametrized locale, for the whole module."""
    user = LOCALES[request.param]
    data_dir = Path(tmp_path_factory.mktemp(f"first-hour-{user.locale}"))
    with FakeOllamaServer() as ollama, serve_app(data_dir, ollama) as url:
        context = browser.new_context(
            locale=user.locale,
            viewport={"width": 1400, "height": 1000},
            accept_downloads=True,
            timezone_id=user.timezone,
        )
        page = context.new_page()
        page.set_default_timeout(120_000)
        try:
            yield FirstHour(page, url, ollama, data_dir, user)
        finally:
            context.close()


def test_bad_files_are_reported_while_a_big_pdf_is_still_indexed(hour: FirstHour):
    """Item 2: the empty and the renamed file are reported before the big PDF is done."""
    page = hour.page
    page.goto(f"{hour.url}/documents")
    expect(hour.main.get_by_text(hour.t("docs.empty"))).to_be_visible()
    # the embedding model is ready (its notice reruns the page when it is): files dropped
    # now are indexed at once, so the big PDF's time is its own
    expect(hour.main.get_by_text(hour.t("docs.model_preparing"))).to_have_count(0)
    hour.drop(
        [
            {"name": BIG, "mimeType": "application/pdf",
             "buffer": pdf_pages(hour.user.source, 13, 90)},
            {"name": "empty.txt", "mimeType": "text/plain", "buffer": b""},
            {"name": "report.pdf", "mimeType": "application/pdf",
             "buffer": b"Quarterly notes, typed in a text editor.\n" * 40},
        ]
    )  # fmt: skip
    alerts = hour.main.locator("[data-testid='stAlert']")
    empty = hour.t("docs.err.empty", name="empty.txt")
    renamed = hour.t("docs.err.not_pdf", name="report.pdf")
    expect(alerts.filter(has_text=empty)).to_have_count(1)
    expect(alerts.filter(has_text=renamed)).to_have_count(1)
    # at that moment the big PDF is still being indexed: its progress bar is up, no
    # "indexed" message for it. One read of the page, taken once the page shows both errors
    # and either the big PDF's bar or its message (a rerun redraws the page piecewise).
    state = page.wait_for_function(
        PAGE_STATE, arg=[BIG, empty, renamed, hour.pattern("docs.done", name=BIG).pattern]
    ).json_value()
    assert state["bars"] and not state["done"], state["text"]


def test_the_chat_page_says_once_that_the_first_files_are_indexed(hour: FirstHour):
    """Item 6: while the big PDF is indexed the Chat page does not also say "no documents"."""
    hour.go("nav.chat")
    main = hour.main
    notices = main.locator("[data-testid='stAlert']")
    expect(notices.filter(has_text=hour.t("chat.first_documents_indexing"))).to_be_visible()
    expect(main.get_by_text(hour.t("docs.indexing_notice", names=BIG))).to_be_visible()
    expect(notices).to_have_count(1)  # not also "no documents indexed yet"
    expect(main.get_by_text(hour.t("chat.no_documents"))).to_have_count(0)
    expect(main.get_by_text(hour.t("chat.go_documents"))).to_have_count(0)

    hour.go("nav.documents")  # same session: its reports are listed
    expect(hour.alerts(hour.pattern("docs.done", name=BIG))).to_be_visible()
    hour.go("nav.chat")
    expect(hour.page.get_by_placeholder(hour.t("chat.input"))).to_be_visible()
    expect(main.get_by_text(hour.t("chat.first_documents_indexing"))).to_have_count(0)
    expect(main.get_by_text(hour.t("chat.no_documents"))).to_have_count(0)


def test_an_hwpx_document_counts_paragraphs_not_pages(hour: FirstHour):
    """Item 3: the HWPX document's indexed message counts paragraphs ("문단 18개").

    (Its table row is drawn on a canvas; tests/ui/test_documents_page.py checks the row.)
    """
    hour.go("nav.documents")
    hour.drop(
        [{"name": HWPX, "mimeType": "application/octet-stream",
          "buffer": hwp_docs.regulation_hwpx()}]
    )  # fmt: skip
    done = hour.alerts(hour.pattern("docs.done", name=HWPX))
    expect(done).to_be_visible()
    paragraphs = hour.pattern("docs.count.paragraphs")
    pages = hour.pattern("docs.count.pages")
    assert paragraphs.search(done.inner_text()), done.inner_text()
    assert not pages.search(done.inner_text()), done.inner_text()


def _pick_language(hour: FirstHour, current: str, name: str) -> None:
    picker = hour.sidebar.locator("[data-testid='stSelectbox']").filter(
        has_text=hour.t("sidebar.language", current)
    )
    picker.click()
    hour.page.get_by_role("option", name=name, exact=True).click()


def test_the_chosen_language_survives_a_reload(hour: FirstHour):
    """Item 3: the language picked in the sidebar is still the UI's after a reload."""
    page = hour.page
    own, other = hour.user.language, hour.user.other_language
    heading = hour.main.locator("h1")
    expect(heading).to_have_text(hour.t("docs.title"))
    _pick_language(hour, own, LANGUAGE_NAMES[other])
    expect(heading).to_have_text(hour.t("docs.title", other))
    page.reload()
    expect(heading).to_have_text(hour.t("docs.title", other))
    nav = page.locator("[data-testid='stSidebarNav']")
    expect(nav).to_contain_text(hour.t("nav.chat", other))
    _pick_language(hour, other, LANGUAGE_NAMES[own])  # back: that choice is kept too
    expect(heading).to_have_text(hour.t("docs.title"))
    page.reload()
    expect(heading).to_have_text(hour.t("docs.title"))
    expect(nav).to_contain_text(hour.t("nav.chat"))


def _chat_in_list(hour: FirstHour, title: str) -> Locator:
    return hour.sidebar.locator("[data-testid='stButton']").filter(has_text=title)


def test_a_first_question_is_listed_at_once_with_its_time(hour: FirstHour):
    """Item 5: the new chat is in the sidebar list after the answer, with a date and time."""
    hour.ask(hour.user.question)
    entry = _chat_in_list(hour, hour.user.question[:20])
    expect(entry).to_have_count(1)  # no other click
    shown = re.search(r"(\d\d)-(\d\d) (\d\d):(\d\d)", entry.inner_text())
    assert shown, entry.inner_text()
    now = datetime.now(ZoneInfo(hour.user.timezone))  # the browser's zone, not the server's
    listed = now.replace(
        month=int(shown[1]), day=int(shown[2]), hour=int(shown[3]), minute=int(shown[4])
    )
    assert abs((now - listed).total_seconds()) < 180, (entry.inner_text(), now)


def test_a_chat_can_be_renamed_and_deleted(hour: FirstHour):
    """Item 5: the open chat is renamed in the list, then deleted from it."""
    manage = hour.sidebar.locator("[data-testid='stExpander']").filter(
        has_text=hour.t("chat.manage")
    )
    manage.locator("summary").click()
    title = manage.get_by_label(hour.t("chat.rename_label"))
    title.fill(RENAMED)
    title.press("Enter")
    manage.get_by_role("button", name=hour.t("chat.rename"), exact=True).click()
    expect(_chat_in_list(hour, RENAMED)).to_have_count(1)
    expect(_chat_in_list(hour, hour.user.question[:20])).to_have_count(0)

    manage.get_by_role("button", name=hour.t("chat.delete")).click()
    expect(manage.get_by_text(hour.t("chat.delete_confirm"))).to_be_visible()
    manage.get_by_role("button", name=hour.t("chat.delete_yes")).click()
    expect(_chat_in_list(hour, RENAMED)).to_have_count(0)
    expect(hour.page.get_by_placeholder(hour.t("chat.input"))).to_be_visible()
    assert "chat=" not in hour.page.url


def test_odd_citation_forms_show_as_citation_marks(hour: FirstHour):
    """Item 4: ``[1-2]``, ``[1, 2]``, ``[^2]``, ``【1】`` are shown as ``[1][2]`` marks."""
    hour.ollama.mode = "odd-citations"
    try:
        answer = hour.ask(hour.user.question)
        cited = re.compile(re.escape(hour.t("chat.cited")) + r" \(2\)")  # [1] and [2]
        expect(answer.get_by_text(cited)).to_be_visible()
    finally:
        hour.ollama.mode = "default"
    for shown in ("live", "replayed"):  # as streamed, then from the history after a reload
        body = answer.locator("[data-testid='stMarkdownContainer']").filter(has_text="[1][2]")
        expect(body.first).to_be_visible()
        text = body.first.inner_text()
        for raw in ("[1-2]", "[1, 2]", "[^2]", "【1】"):
            assert raw not in text, (shown, text)
        if shown == "live":
            hour.page.reload()
            expect(answer.get_by_text(cited)).to_be_visible()


def test_the_exported_chat_reads_as_plain_text(hour: FirstHour):
    """Item 4: the Markdown export has no backslash escapes in prose, no word joiners."""
    page = hour.page  # the chat of the odd citations, open
    with page.expect_download() as download:
        hour.main.get_by_role("button", name=hour.t("chat.export")).click()
    markdown = download.value.path().read_text(encoding="utf-8")
    assert hour.t("chat.export_question", question=hour.user.question) in markdown
    assert f"{BIG}, " in markdown  # the file name as it is: "lshort-13-60.pdf"
    assert "[1][2]" in markdown
    prose = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)  # passages: code blocks
    escapes = re.findall(r".{0,20}\\[!-/:-@\[-`{-~].{0,20}", prose)
    assert escapes == [], escapes
    assert "\u2060" not in markdown


def test_the_ollama_down_message_shows_no_backticks(hour: FirstHour):
    """Item 4: with Ollama stopped, its message reads "ollama serve" in quotes, no markup."""
    page = hour.page
    unreachable = hour.pattern("ollama.unreachable")  # the host: with a word joiner, unlinked
    hour.ollama.stop()
    try:
        page.goto(hour.url)
        hour.sidebar.get_by_role("button", name=hour.t("sidebar.recheck")).click()
        sidebar_error = hour.sidebar.locator("[data-testid='stAlert']").filter(has_text=unreachable)
        expect(sidebar_error).to_be_visible()
        answer = hour.ask(SECOND_QUESTION[hour.user.language])
        warning = answer.locator("[data-testid='stAlert']").filter(has_text=unreachable)
        expect(warning).to_contain_text(hour.t("chat.meanwhile").strip())
        for alert in (sidebar_error, warning):
            text = alert.inner_text()
            assert '"ollama serve"' in text and "`" not in text, text
            expect(alert.locator("code")).to_have_count(0)
    finally:
        hour.ollama.start()
    hour.sidebar.get_by_role("button", name=hour.t("sidebar.recheck")).click()
    expect(hour.sidebar.get_by_text(hour.pattern("sidebar.connected"))).to_be_visible()


def _open_first_source(hour: FirstHour) -> Locator:
    """Open the chat of the user's question from the list and its first source."""
    _chat_in_list(hour, hour.user.question[:20]).click()
    answer = hour.page.locator("[data-testid='stChatMessage']").nth(1)
    source = answer.locator("[data-testid='stExpander']").first
    source.locator("summary").click()
    return source


def test_a_chat_whose_document_was_deleted_says_why_it_has_no_page(hour: FirstHour):
    """Item 5: the source of a deleted document says why its page toggle is gone."""
    page = hour.page
    page.goto(hour.url)
    source = _open_first_source(hour)  # of the odd citations' chat
    expect(source.get_by_text(hour.t("chat.show_page"))).to_be_visible()  # before

    hour.go("nav.documents")
    picker = hour.main.locator("[data-testid='stMultiSelect']")
    picker.click()
    page.get_by_role("option", name=BIG).click()
    page.keyboard.press("Escape")  # the drop-down closed
    delete = hour.main.locator(".st-key-delete_button button")
    expect(delete).to_have_text(hour.t("docs.delete"))
    delete.click()
    expect(hour.alerts(hour.t("docs.delete_confirm", names=BIG))).to_be_visible()
    hour.main.locator(".st-key-delete_confirm button").click()
    expect(hour.alerts(hour.t("docs.deleted", names=BIG))).to_be_visible()

    hour.go("nav.chat")
    source = _open_first_source(hour)
    expect(source.get_by_text(hour.t("chat.source_gone"))).to_be_visible()
    expect(source.get_by_text(hour.t("chat.show_page"))).to_have_count(0)
