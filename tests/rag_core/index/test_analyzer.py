"""BM25 analyzer: Kiwi morphemes for Korean, one stemmed term per English word."""

from __future__ import annotations

import pytest

from rag_core.index.analyzer import shared_analyzer


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("You need the package.", "packag"),
        ("Then restart Windows.", "window"),
        ("Run pdflatex. Then run bibtex!", "pdflatex"),
        ("Version 1.2. Use LaTeX.", "latex"),
        ("pdfLaTeX로 컴파일합니다.", "pdflatex"),
        ("Save it as file.txt.", "file.txt"),  # inner dots kept, as Kiwi reads names
    ],
)
def test_a_latin_word_before_punctuation_stays_one_term(text: str, term: str):
    """Kiwi alone splits a Latin word before a period ("pack" + "age.")."""
    terms = shared_analyzer().analyze([text])[0]
    assert term in terms
    assert not [t for t in terms if t.endswith(".")], terms


def test_korean_morphemes_and_english_words_in_one_text():
    [terms] = shared_analyzer().analyze(["검색팀을 만들었다. The commands work."])
    assert {"검색", "팀", "만들", "command", "work"} <= set(terms)
    assert "을" not in terms and "the" not in terms  # particles and stop words dropped
