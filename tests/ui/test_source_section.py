"""The heading path beside the page in a source's title, escaped (ui/sources.py)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ui.text import escape_markdown

SECTION = "Formulae > ![x](http://127.0.0.1:9/leak) **3.3 Fractions**"


def _render_hostile_and_hwp() -> None:
    from rag_core.generation.citations import Citation
    from tests.ui.test_source_section import SECTION
    from ui.sources import render_source

    render_source(
        Citation(1, "lshort.pdf", 57, "43", "A fraction ...", section=SECTION),
        [],
        files=None,
        key="s",
    )
    hwp = "제3장 출장 > 제7조"  # an HWP page is labelled with its heading path
    render_source(
        Citation(2, "규정.hwpx", 3, hwp, "출장비 ...", section=hwp), [], files=None, key="h"
    )


def test_source_title_shows_the_heading_path_escaped_and_hwp_paths_once():
    app = AppTest.from_function(_render_hostile_and_hwp).run()
    assert not app.exception, app.exception
    first, second = (e.label for e in app.expander)
    shown = escape_markdown(SECTION)
    assert first == f"[1] {escape_markdown('lshort.pdf')}, p. 57 (printed 43) · {shown}"
    assert "](http" not in first and "**3.3" not in first  # link and bold syntax escaped
    assert second.count("제7조") == 1
