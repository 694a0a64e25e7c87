"""Evaluate page components: run the retrieval metrics per mode and show them."""

from __future__ import annotations

from typing import Any

import streamlit as st

from rag_core.errors import RagError
from rag_core.evaluation import evaluate, metric_rows, parse_qa_lines
from rag_core.knowledge_base import KnowledgeBase
from rag_core.retrieval.retrievers import RETRIEVAL_MODES
from ui.i18n import t

RESULTS_KEY = "evaluation_rows"


def read_question_set(upload: Any) -> list:
    """Parse an uploaded JSON Lines question set.

    Raises:
        RagError: the file is not UTF-8 JSON Lines with ``question``, ``doc``, ``pages``.
    """
    try:
        text = upload.getvalue().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RagError(f"{upload.name}: not UTF-8 text") from exc
    return parse_qa_lines(text.splitlines(), upload.name)


def run_evaluation(kb: KnowledgeBase, items: list, modes: list[str], k: int) -> list[dict]:
    """Evaluate each retrieval mode on ``items``, with a progress bar; return table rows."""
    rows: list[dict] = []
    bar = st.progress(0.0)
    for index, mode in enumerate(modes):
        bar.progress(index / len(modes), text=t("eval.running", mode=mode, n=len(items)))
        report = evaluate(items, kb.retriever(mode=mode, k=k).retrieve, k)  # type: ignore[arg-type]
        rows.extend(metric_rows(mode, report))
    bar.empty()
    return rows


def render_results(rows: list[dict], k: int) -> None:
    """Show the metrics as a table and recall@k per mode and document as a bar chart."""
    if not rows:
        return
    mode, scope = t("eval.col_mode"), t("eval.col_scope")
    headers = {"mode": mode, "scope": scope, "questions": t("eval.col_questions")}
    shown = [
        {
            headers.get(key, key): t("eval.overall")
            if key == "scope" and value == "overall"
            else value
            for key, value in row.items()
        }
        for row in rows
    ]
    st.dataframe(shown, hide_index=True, width="stretch")
    chart = [{mode: r[mode], scope: r[scope], f"recall@{k}": r[f"recall@{k}"]} for r in shown]
    st.bar_chart(chart, x=scope, y=f"recall@{k}", color=mode, stack=False)


def default_modes() -> list[str]:
    """All retrieval modes, in the order the CLI prints them."""
    return list(RETRIEVAL_MODES)
