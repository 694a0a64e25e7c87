"""Streamlit's own texts replaced by stylesheets (``ui.streamlit_texts``): strings stay strings."""

from __future__ import annotations

import re

import pytest

from ui import streamlit_texts
from ui.streamlit_texts import css_string, page_css, uploader_css


@pytest.mark.parametrize(
    "text",
    ['a"b', "a\\b", "</style><script>alert(1)</script>", "line\nbreak", "a'b", "}; body{}"],
)
def test_a_css_string_cannot_end_early_or_open_a_tag(text: str):
    literal = css_string(text)
    inner = literal[1:-1]
    assert literal[0] == literal[-1] == '"'
    assert not re.search(r"[\"'<>\n{};\\](?![0-9a-f]+ )", inner.replace("\\\\", ""))
    # the escapes decode back to the text (CSS Syntax 3: "\" hex digits, one space)
    decoded = re.sub(r"\\([0-9a-f]+) ", lambda m: chr(int(m.group(1), 16)), inner)
    assert decoded == text


def test_hangul_stays_as_it_is():
    assert css_string("파일당 최대 200MB • PDF") == '"파일당 최대 200MB • PDF"'


def test_the_stylesheet_is_scoped_to_one_uploader_and_names_the_limit(monkeypatch):
    texts = {
        "upload.limit": "파일당 최대 {size}MB",
        "upload.button": "파일 선택",
        "upload.drop_here": "여기에 놓으세요",
        "upload.too_large": "{size}MB보다 커서 올리지 않았습니다",
        "upload.refused": "올리지 않았습니다: {types} 파일만, 파일당 최대 {size}MB",
    }
    monkeypatch.setattr(streamlit_texts, "t", lambda key, **v: texts[key].format(**v))
    css = uploader_css("snapshot_file", ["zip"], 50, check_types=True)
    assert css.startswith("<style>") and css.endswith("</style>")
    assert css.count("<") == 2  # the element's own tags only
    rules = [line for line in css.splitlines()[1:-1] if "stTooltipErrorContent" not in line]
    assert all(line.startswith(".st-key-snapshot_file ") for line in rules)
    assert '"파일당 최대 50MB • ZIP"' in css
    assert '"올리지 않았습니다: ZIP 파일만, 파일당 최대 50MB"' in css
    unchecked = uploader_css("uploader", ["pdf", "txt"], 200, check_types=False)
    assert '"200MB보다 커서 올리지 않았습니다"' in unchecked  # only the size can refuse


def test_the_page_stylesheet_replaces_stop_and_the_skip_link(monkeypatch):
    texts = {"streamlit.stop": "중지", "streamlit.skip_link": "본문으로 건너뛰기"}
    monkeypatch.setattr(streamlit_texts, "t", lambda key, **v: texts[key])
    css = page_css()
    assert '[data-testid="stStatusWidget"] button::after { content: "중지";' in css
    assert '[data-testid="stSkipToContent"]::after { content: "본문으로 건너뛰기";' in css
