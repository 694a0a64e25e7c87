"""Evaluate page components: the retrieval metrics and the relevance gate, per mode.

The page evaluates through the same search as the chat (a question in a language the
documents are not in is also searched in translation) and with the same "not in the
documents" gate (:func:`rag_core.evaluation.retrieval.evaluate_modes`).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from rag_core.errors import RagError
from rag_core.evaluation.retrieval import evaluate_modes, parse_qa_lines
from rag_core.knowledge_base import KnowledgeBase
from rag_core.retrieval.retrievers import RETRIEVAL_MODES
from ui.i18n import t
from ui.text import escape_markdown

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


def run_evaluation(kb: KnowledgeBase, items: list, modes: list[str], k: int) -> dict[str, Any]:
    """Evaluate each retrieval mode on ``items``, with a progress bar.

    Returns:
        ``{"rows": metric rows, "gate": the gate's rows per mode and question language,
        "translated": {mode: questions also searched in translation}, "notices": {code:
        params} of searches that could not translate}``.
    """
    rows: list[dict] = []
    gate: list[dict] = []
    translated: dict[str, int] = {}
    notices: dict[str, dict[str, Any]] = {}
    bar = st.progress(0.0)
    for index, mode in enumerate(modes):
        bar.progress(index / len(modes), text=t("eval.running", mode=mode, n=len(items)))
        results, found = evaluate_modes(kb, items, [mode], k)  # type: ignore[list-item]
        result = results[mode]
        notices.update(found)
        translated[mode] = int(result["translated"])
        rows.extend({"mode": mode, "scope": scope, **m} for scope, m in metric_scopes(result))
        gate.extend(gate_rows(mode, result["abstention_by_language"]))
    bar.empty()
    return {"rows": rows, "gate": gate, "translated": translated, "notices": notices}


def metric_scopes(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Return the metric rows of one mode's result as ``(scope, metrics)``.

    Overall, per question language, same language and cross-lingual, then per document;
    scopes without questions are left out.
    """
    scopes = [("overall", result["overall"])]
    scopes += [(f"language:{lang}", m) for lang, m in result.get("per_language", {}).items()]
    scopes += [(key, result[key]) for key in ("same_language", "crosslingual") if key in result]
    scopes += list(result["per_doc"].items())
    return [(scope, m) for scope, m in scopes if m["questions"]]


def scope_label(scope: str) -> str:
    """The displayed name of a metric scope (a file name is shown as it is)."""
    if scope == "overall":
        return t("eval.overall")
    if scope in ("same_language", "crosslingual"):
        return t(f"eval.{scope}")
    if scope.startswith("language:"):
        return t("eval.scope_language", language=t(f"lang.{scope.split(':', 1)[1]}"))
    return scope


def gate_rows(mode: str, by_language: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The relevance gate's figures of one mode, one row per question language."""
    return [
        {
            "mode": mode,
            "language": language,
            "caught": f"{a['caught']}/{a['unanswerable']}",
            "refused": f"{a['refused']}/{a['answerable']}",
            "precision": a["precision"],
            "recall": a["recall"],
        }
        for language, a in by_language.items()
    ]


def render_evaluation(result: dict[str, Any], k: int) -> None:
    """The metrics table and chart, the gate's table, translations and search notices."""
    render_results(result["rows"], k)
    for code, params in result["notices"].items():
        st.warning(escape_markdown(t(f"notice.{code}", **params)), icon=":material/translate:")
    for mode, n in result["translated"].items():
        if n:
            st.caption(t("eval.translated", mode=mode, n=n))
    if result["gate"]:
        st.subheader(t("eval.gate"))
        st.caption(t("eval.gate_caption"))
        names = {key: t(f"eval.gate_{key}") for key in result["gate"][0]}
        st.dataframe(
            [{names[key]: value for key, value in row.items()} for row in result["gate"]],
            hide_index=True,
            width="stretch",
        )


def render_results(rows: list[dict], k: int) -> None:
    """Show the metrics as a table and recall@k per mode and document as a bar chart."""
    if not rows:
        return
    mode, scope = t("eval.col_mode"), t("eval.col_scope")
    headers = {"mode": mode, "scope": scope, "questions": t("eval.col_questions")}
    shown = [
        {
            headers.get(key, key): scope_label(value) if key == "scope" else value
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
