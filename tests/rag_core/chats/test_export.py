"""The Markdown export rendered by a real Markdown renderer: inert, yet plain text.

markdown-it-py (https://markdown-it-py.readthedocs.io) with its "gfm-like" preset: raw
HTML on, tables, strikethrough and linkify (linkify-it-py, with fuzzy links: ``example.com``
becomes a link, as in VS Code's preview). Whatever comes from a document, a model or a
person must render as no link, no image and no HTML element, and ordinary prose must be in
the file as it is: no backslash escapes, no invisible characters (issue 21, item 4).
"""

from __future__ import annotations

import unicodedata
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from rag_core.chats.export import (
    ExportLabels,
    chat_to_markdown,
    code_span,
    inert_prose,
    plain_inline,
)
from rag_core.chats.history import ChatMessage
from rag_core.generation.citations import Citation
from rag_core.generation.types import AnswerCheck, ClaimCheck

pytest.importorskip("linkify_it", reason="pip install linkify-it-py (requirements-dev.txt)")

RENDERER = MarkdownIt("gfm-like")
"""CommonMark + GFM tables and strikethrough + linkify, raw HTML passed through."""
MARKUP_TAGS = {"h1", "h2", "p", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote",
               "br", "hr", "s", "table", "thead", "tbody", "tr", "th", "td"}  # fmt: skip
"""The elements the export's own Markdown makes; anything else came from untrusted text."""

HOSTILE = [
    "![x](http://127.0.0.1:9/i.png)",
    "[a](javascript:alert(1))",
    "<http://127.0.0.1:9/auto>",
    '<img src="http://127.0.0.1:9/p.png" onerror="alert(1)">',
    "<a href=http://x.test>x</a>",
    "http://127.0.0.1:9/bare",
    "www.evil.test/path",
    "someone@evil.test",
    "evil.com/steal",
    "//evil.test/x",
    "&lt;script&gt;",
]
"""Every way text was seen to become active in a viewer (THREATS.md rows 10, 23, 24)."""
HIDDEN = "\u200b\u2060\u202e\ufeff\u00ad"
"""Zero-width space, word joiner, right-to-left override, BOM, soft hyphen."""


class Elements(HTMLParser):
    """The tags and attributes of rendered HTML."""

    def __init__(self) -> None:
        """Start with none seen."""
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a start tag and its attributes."""
        self.tags.append(tag)
        self.attributes += attrs


def render(markdown: str) -> Elements:
    """``markdown`` rendered, its elements parsed."""
    elements = Elements()
    elements.feed(RENDERER.render(markdown))
    return elements


def hostile_chat() -> tuple[str, list[ChatMessage]]:
    """A chat where every untrusted field carries every hostile form and hidden characters."""
    payload = " ".join(HOSTILE) + HIDDEN
    citation = Citation(
        number=1,
        source=f"{HOSTILE[0]}.pdf",
        page=3,
        page_label=HOSTILE[3],
        text=f"Passage line one {payload}\n```\n[1]: http://127.0.0.1:9/def\n````x",
    )
    check = AnswerCheck(
        cited=[1],
        claims=[ClaimCheck(f"Claim {payload} [1].", [1], False, 1, [], lexical=False)],
        answer_language="en",
        language_match=True,
    )
    answer = ChatMessage(
        "assistant",
        f"Answer [1]. {payload}\n\n[1]: http://127.0.0.1:9/ref\n\n- [2]: http://x.test\n\n"
        f"> [3]: http://x.test\n\nSee [click][1] and [1].",
        citations=[citation],
        query=f"query {payload}",
        error=f"Ollama failed {payload}",
        check=check,
    )
    return f"title {payload}", [ChatMessage("user", f"question {payload}"), answer]


def test_nothing_untrusted_renders_as_a_link_an_image_or_html():
    title, messages = hostile_chat()
    markdown = chat_to_markdown(title, messages)
    elements = render(markdown)
    assert set(elements.tags) <= MARKUP_TAGS, set(elements.tags) - MARKUP_TAGS
    assert "a" not in elements.tags and "img" not in elements.tags
    assert not [name for name, _ in elements.attributes if name in ("href", "src", "onerror")]
    # the hostile texts are all there, shown as text
    html = RENDERER.render(markdown)
    assert html.count("127.0.0.1:9/i.png") >= 5 and "evil.com/steal" in html


@pytest.mark.parametrize("hostile", HOSTILE)
def test_each_form_alone_stays_inert_everywhere(hostile: str):
    citation = Citation(number=1, source=hostile, page=1, page_label=hostile, text=hostile)
    messages = [
        ChatMessage("user", hostile),
        ChatMessage("assistant", f"{hostile} [1]", citations=[citation], query=hostile),
    ]
    elements = render(chat_to_markdown(hostile, messages))
    assert set(elements.tags) <= MARKUP_TAGS - {"a"}, elements.tags


def test_no_invisible_characters_anywhere():
    title, messages = hostile_chat()
    markdown = chat_to_markdown(title, messages)
    assert [c for c in markdown if unicodedata.category(c) == "Cf"] == []


KOREAN = ChatMessage("user", "비밀번호는 최소 몇 자 이상이어야 하나요?")
PASSAGE = "V2.1.1 사용자가 설정한 비밀번호는 최소 12자 이상이어야 한다.\n(예: correct-horse)"
KOREAN_ANSWER = ChatMessage(
    "assistant",
    "비밀번호는 **최소 12자** 이상이어야 합니다 [1]. 64자까지 허용해야 합니다 (asvs5-ko.pdf 참고).",
    citations=[Citation(number=1, source="asvs5-ko.pdf", page=12, page_label="10", text=PASSAGE)],
    query="비밀번호 최소 길이는?",
)
KOREAN_LABELS = ExportLabels(
    question="질문: {question}", cited="인용한 출처", page="{page}쪽",
    page_printed="{page}쪽 (인쇄 {label})", searched_for="검색어: {query}",
)  # fmt: skip


def test_ordinary_prose_is_written_as_it_is_and_renders_the_same():
    markdown = chat_to_markdown("비밀번호는 최소 몇 자", [KOREAN, KOREAN_ANSWER],
                                labels=KOREAN_LABELS)  # fmt: skip
    assert "\\" not in markdown  # no backslash escapes at all
    assert "## 질문: 비밀번호는 최소 몇 자 이상이어야 하나요?\n" in markdown
    assert "_검색어: 비밀번호 최소 길이는?_" in markdown
    assert "(asvs5-ko.pdf 참고)." in markdown
    assert "- [1] asvs5-ko.pdf, 12쪽 (인쇄 10):" in markdown
    assert (
        "  V2.1.1 사용자가 설정한 비밀번호는 최소 12자 이상이어야 한다.\n  (예: correct-horse)\n"
        in (markdown)
    )
    html = RENDERER.render(markdown)
    assert "<h2>질문: 비밀번호는 최소 몇 자 이상이어야 하나요?</h2>" in html
    assert "<strong>최소 12자</strong>" in html  # the answer's own Markdown still renders
    assert f"<pre><code>{PASSAGE}\n</code></pre>" in html  # the passage exactly
    assert "<a" not in html


def test_a_passage_with_backtick_fences_stays_in_its_block():
    text = "before\n```\n<img src=x>\n````\nafter ``` tail"
    citation = Citation(number=1, source="a.pdf", page=1, page_label="", text=text)
    markdown = chat_to_markdown("t", [ChatMessage("assistant", "x [1]", citations=[citation])])
    assert "  `````\n  before\n" in markdown  # one longer than the longest run inside
    html = RENDERER.render(markdown)
    assert "<pre><code>before\n```\n&lt;img src=x&gt;\n````\nafter ``` tail\n</code></pre>" in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("asvs5-ko.pdf", "asvs5-ko.pdf"),
        ("하나요?", "하나요?"),
        ("snake_case_name.pdf", "snake_case_name.pdf"),  # intraword underscores are text
        ("a < b & c", "a < b & c"),
        ("p.  12\n", "p. 12"),
        ("report.md", "`report.md`"),  # linkify-it links .md (Moldova)
        ("<b>x</b>", "`<b>x</b>`"),
        ("*bold*", "`*bold*`"),
        ("`tick` x", "`` `tick` x ``"),
    ],
)
def test_plain_inline(text: str, expected: str):
    assert plain_inline(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://owasp.org/asvs에서 확인.", "see `https://owasp.org/asvs`에서 확인."),
        ("(https://x.test/a).", "(`https://x.test/a`)."),
        ("![a](u) [b](c)", "!\\[a]\\(u) [b]\\(c)"),
        ("<b>bold</b> and a < b", "\\<b>bold\\</b> and a < b"),
        ("`http://kept` in code", "`http://kept` in code"),
        ("[1]: http://x", "[1]\\: `http://x`"),
        ("근거 [2]: 이렇다.", "근거 [2]: 이렇다."),
        ("**굵게** [1], [2]", "**굵게** [1], [2]"),
    ],
)
def test_inert_prose(text: str, expected: str):
    assert inert_prose(text) == expected


def test_code_span_is_longer_than_any_backtick_run():
    assert code_span("a``b") == "```a``b```"
    assert RENDERER.renderInline(code_span("a``b")) == "<code>a``b</code>"
