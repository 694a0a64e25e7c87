"""Safe rendering of untrusted text: the one escaping helper and the answer sanitiser.

What the browser really does with the results is checked in tests/browser/test_inert.py.
"""

from __future__ import annotations

import re

import pytest

from ui.text import WORD_JOINER, AnswerSanitizer, escape_markdown, sanitize_answer

LEAK = "http://127.0.0.1:9/leak"
LINK_SYNTAX = re.compile(r"(?<!\\)(!\[|\]\(|\]:|<)")
"""An unescaped image opener, inline link, reference definition or ``<``."""
AUTOLINK_LITERAL = re.compile(r"https?://|www\.|\w@\w", re.IGNORECASE)


def _visible(text: str) -> str:
    """What a reader sees: backslash escapes resolved, word joiners invisible."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace(WORD_JOINER, "")


def _streamed(text: str, size: int) -> str:
    sanitizer = AnswerSanitizer()
    return "".join(sanitizer.feed(text[i : i + size]) for i in range(0, len(text), size))


HOSTILE_ANSWER = (
    "Walruses eat clams [1]. See [2, 3].\n\n"
    f"![pixel]({LEAK}/img.png) [click]({LEAK}/link) [ref][1] <{LEAK}/auto> "
    f"{LEAK}/bare www.example.com admin@example.com <img src={LEAK}/html.png> "
    f'<a href="{LEAK}/a">a</a> \\<{LEAK}/escaped>\n\n'
    f"[1]: {LEAK}/refdef\n"
    f"  [2]:{LEAK}/refdef2\n"
)


def test_answer_keeps_citations_and_prose_but_no_link_syntax():
    safe = sanitize_answer(HOSTILE_ANSWER)
    assert safe.startswith("Walruses eat clams [1]. See [2, 3].\n\n")
    assert not LINK_SYNTAX.search(safe), safe
    assert not AUTOLINK_LITERAL.search(safe), safe
    assert "[1]\\: http:" in safe and "\\<img src=" in safe and "\\<a href=" in safe
    assert _visible(safe) == HOSTILE_ANSWER.replace("\\<", "<")


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_sanitizer_gives_the_same_result_whatever_the_token_boundaries(size: int):
    assert _streamed(HOSTILE_ANSWER, size) == sanitize_answer(HOSTILE_ANSWER)


def test_sanitizer_works_across_token_boundaries():
    sanitizer = AnswerSanitizer()
    pieces = [
        "Look ",
        "!",
        "[",
        "img",
        "]",
        "(",
        "http:/",
        "/x/y.png) ww",
        "w.",
        "x.y [3]",
        "]",
        ":",
    ]
    safe = "".join(sanitizer.feed(p) for p in pieces)
    assert safe == sanitize_answer("".join(pieces))
    assert not LINK_SYNTAX.search(safe) and not AUTOLINK_LITERAL.search(safe)
    assert "[3]" in safe


def test_the_model_cannot_cancel_an_inserted_backslash():
    # "\<" is already literal: no second backslash (which would escape the first one)
    assert sanitize_answer(f"\\<{LEAK}>") == f"\\<http:{WORD_JOINER}//127.0.0.1:9/leak>"
    assert sanitize_answer(f"\\\\<{LEAK}>").startswith("\\\\\\<")  # "\\" + "<": escaped


def test_normal_markdown_is_left_alone():
    prose = "**Bold** and *italic*:\n\n- one [1]\n- two [2, 3]\n\n1. first\n2. second\n\n`code`"
    assert sanitize_answer(prose) == prose


@pytest.mark.parametrize(
    "label",
    [
        f"![x]({LEAK}/i.png)[click]({LEAK}/l)<{LEAK}/auto>",
        f"{LEAK}/bare WWW.example.com a@example.com",
        "<img src=x onerror=alert(1)> &lt;b&gt; :red[x] $x$ # h\n===\n| a | b |",
        "**bold** `code` ~~gone~~ _it_ [1]: http://x",
    ],
)
def test_escape_markdown_leaves_no_syntax_and_shows_the_text(label: str):
    escaped = escape_markdown(label)
    unescaped = re.sub(r"\\[!-/:-@\[-`{-~]", "", escaped)  # drop every escaped pair
    assert not re.search(r"[!-/:-@\[-`{-~]", unescaped), escaped
    assert not AUTOLINK_LITERAL.search(escaped.replace("\\", "")), escaped
    assert _visible(escaped) == label


def test_file_names_show_literally():
    assert escape_markdown("**bold** <img src=x>.pdf") == (
        "\\*\\*bold\\*\\* \\<img src\\=x\\>\\.pdf"
    )
