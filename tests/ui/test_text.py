"""Safe rendering of untrusted text."""

from __future__ import annotations

from ui.text import AnswerSanitizer, escape_markdown, sanitize_answer


def test_images_and_links_are_defused_but_citations_stay():
    answer = "See [1] and [2]. ![x](http://127.0.0.1:9/steal?d=1) [click](javascript:alert(1))"
    safe = sanitize_answer(answer)
    assert "[1]" in safe and "[2]" in safe
    assert "![" not in safe and "](" not in safe
    assert "!\\[x]\\(http" in safe


def test_sanitizer_works_across_token_boundaries():
    sanitizer = AnswerSanitizer()
    pieces = ["Look ", "!", "[", "img", "]", "(", "http://x/y.png) done [3]"]
    safe = "".join(sanitizer.feed(p) for p in pieces)
    assert safe == sanitize_answer("".join(pieces))
    assert "![" not in safe and "](" not in safe and "[3]" in safe


def test_file_names_show_literally():
    assert escape_markdown("**bold** <img src=x>.pdf") == "\\*\\*bold\\*\\* \\<img src=x\\>\\.pdf"
