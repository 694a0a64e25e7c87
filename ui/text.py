"""Rendering untrusted text (file names, passages, model output) safely."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def escape_markdown(text: str) -> str:
    """Escape Markdown and HTML-significant characters so ``text`` shows literally.

    Streamlit renders Markdown in labels and ``st.markdown``; a file name such as
    ``**x**.pdf`` or ``<img>.pdf`` must show as typed.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
