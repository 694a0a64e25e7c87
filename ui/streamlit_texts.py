"""Streamlit's own texts in the UI language: the file uploader's, the page's "Stop".

Streamlit 1.67 writes some texts itself, in English and with no parameter or locale
setting for them (streamlit/streamlit#13500). In the file uploader's drop zone: the
"Upload" button, "200MB per file • PDF, ...", "Drag and drop files here" while a file is
dragged over it, and the English reason of a refused file (its chip's hover tooltip). On
every page: the "Stop" button shown at the top while the page runs, and the keyboard's
"Skip to main content" link. In any other UI language :func:`file_uploader` adds a
stylesheet scoped to that one uploader (its ``st-key-<key>`` class), and
:func:`render_page_texts` one for the page, that take those texts out of the page
(``display: none``) and show ours in their place as generated content (CSS
``content``). Only our own fixed
texts and numbers reach the stylesheet, written as CSS strings with every character that
could end one escaped; no HTML is rendered and no script runs (``st.html`` with a style
element only, which Streamlit puts in its event container without taking space).

Types are not checked by Streamlit (no ``type=``) when ``check_types=False``: its refusal
of another type is an English message naming a MIME type, while the ingest queue's
check (:func:`rag_core.ingestion.loaders.precheck`) reports such a file at once, in the
UI language, with the types it takes.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ui.i18n import t, ui_language

DROPZONE = '[data-testid="stFileUploaderDropzone"]'
STATUS_STOP = '[data-testid="stStatusWidget"] button'
SKIP_LINK = '[data-testid="stSkipToContent"]'
INSTRUCTIONS = '[data-testid="stFileUploaderDropzoneInstructions"]'
CHIP = '[data-testid="stFileChip"]'


def css_string(text: str) -> str:
    r"""Return ``text`` as a double-quoted CSS string that cannot end early or open a tag.

    Every character outside letters, digits, spaces and the ASCII punctuation that is
    harmless in a CSS string is written as a CSS escape (``\`` + hex code point + space,
    CSS Syntax Level 3, section 4.3.7), so quotes, backslashes, newlines and ``<`` never
    appear as themselves; Hangul and other non-ASCII letters stay as they are.

    Args:
        text: the text to show.

    Returns:
        The CSS string literal, quotes included.
    """
    safe = []
    for char in text:
        if char.isalnum() or char in " .,:!?()%+-/•·":
            safe.append(char)
        else:
            safe.append(f"\\{ord(char):x} ")
    return '"' + "".join(safe) + '"'


def uploader_css(key: str, types: list[str] | None, max_mb: int, *, check_types: bool) -> str:
    """The stylesheet that replaces Streamlit's English texts in the uploader ``key``.

    Args:
        key: the uploader's widget key (Streamlit puts ``st-key-<key>`` on its container).
        types: the file types listed under the button (e.g. ``["pdf", "txt"]``), or None.
        max_mb: the upload limit per file in megabytes (``server.maxUploadSize``).
        check_types: Streamlit refuses other types too (the chip's reason names them).

    Returns:
        A ``<style>`` element.
    """
    scope = f".st-key-{key}"
    limit = t("upload.limit", size=max_mb)
    refused = t("upload.too_large", size=max_mb)
    if types:
        listed = ", ".join(sorted({s.upper() for s in types}))
        limit += " • " + listed
        if check_types:
            refused = t("upload.refused", size=max_mb, types=listed)
    rules = [
        # the button's label ("Upload"): its text goes, ours is drawn after its container
        f"{scope} {DROPZONE} button p {{ display: none; }}",
        f"{scope} {DROPZONE} button [data-testid='stMarkdownContainer']::after"
        f" {{ content: {css_string(t('upload.button'))}; }}",
        # "200MB per file • ..." under the button
        f"{scope} {INSTRUCTIONS} span {{ display: none; }}",
        f"{scope} {INSTRUCTIONS} > div::after {{ content: {css_string(limit)};"
        " font-size: 0.875rem; line-height: 1.6; opacity: 0.7; }",
        # "Drag and drop files here", shown only while a file is dragged over the zone
        f"{scope} {DROPZONE} > div:not([data-testid]) > span:only-child {{ display: none; }}",
        f"{scope} {DROPZONE} > div:not([data-testid]):has(> span:only-child)::after"
        f" {{ content: {css_string(t('upload.drop_here'))}; }}",
        # a refused file's chip: the English reason goes, ours is shown on the chip
        f"{scope} {CHIP}[aria-invalid='true'] [role='alert'] {{ display: none; }}",
        f"{scope} {CHIP}[aria-invalid='true']::after {{ content: {css_string(refused)};"
        " font-size: 0.875rem; margin-left: 0.5rem; }",
        # and the same English reason in the tooltip shown on hover (a portal outside
        # the uploader: only file chips have error tooltips)
        "[role='tooltip']:has([data-testid='stTooltipErrorContent']) { display: none; }",
    ]
    return "<style>\n" + "\n".join(rules) + "\n</style>"


def file_uploader(
    label: str,
    *,
    key: str,
    types: list[str] | None = None,
    check_types: bool = True,
    multiple: bool = False,
    help: str | None = None,
) -> UploadedFile | list[UploadedFile] | None:
    """``st.file_uploader`` whose drop zone speaks the UI language.

    Args:
        label: the label above the drop zone (already in the UI language).
        key: the widget key (scopes the stylesheet).
        types: file types the uploader is for, listed under its button.
        check_types: let Streamlit refuse other types (False: the caller reports them).
        multiple: accept several files.
        help: the tooltip text.

    Returns:
        What ``st.file_uploader`` returns: the uploaded file(s), or None / [].
    """
    if ui_language() != "en":
        max_mb = int(st.get_option("server.maxUploadSize"))
        st.html(uploader_css(key, types, max_mb, check_types=check_types))
    return st.file_uploader(
        label,
        type=types if check_types else None,
        accept_multiple_files=multiple,
        key=key,
        help=help,
    )


def page_css() -> str:
    """The stylesheet that replaces the page's own English texts ("Stop", the skip link).

    Returns:
        A ``<style>`` element.
    """
    rules = [
        f"{STATUS_STOP} {{ font-size: 0; }}",  # the label is the button's own text node
        f"{STATUS_STOP}::after {{ content: {css_string(t('streamlit.stop'))};"
        " font-size: 0.875rem; }",
        f"{SKIP_LINK} {{ font-size: 0; }}",
        f"{SKIP_LINK}::after {{ content: {css_string(t('streamlit.skip_link'))};"
        " font-size: 1rem; }",
    ]
    return "<style>\n" + "\n".join(rules) + "\n</style>"


def render_page_texts() -> None:
    """Draw :func:`page_css` when the UI language is not English (call once per page run)."""
    if ui_language() != "en":
        st.html(page_css())
