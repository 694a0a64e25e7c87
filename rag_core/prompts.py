"""Prompt templates of the answer chain.

The system prompt follows the pattern of LangChain's "return sources" / citation recipes:
numbered passages, answer only from them, cite by number.
"""

from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

SYSTEM_PROMPT = """You answer questions about the user's documents.
Use only the numbered passages below. After each statement, cite the passage it comes from
with its number in square brackets, like [1] or [2][3]. If the passages do not contain the
answer, say that the documents do not say, and do not make anything up.
Answer in the language of the question (for example Korean for a Korean question).

Passages:
{context}"""

HUMAN_PROMPT = "{question}"


def build_answer_prompt() -> ChatPromptTemplate:
    """Build the chat prompt: system (rules + numbered passages), earlier turns, question.

    Returns:
        A ChatPromptTemplate with input variables ``context`` (str, see
        :func:`rag_core.citations.format_context`), ``history`` (list of messages, may be
        empty) and ``question`` (str).
    """
    return ChatPromptTemplate.from_messages(
        [
            ("system", SYSTEM_PROMPT),
            MessagesPlaceholder("history", optional=True),
            ("human", HUMAN_PROMPT),
        ]
    )


__all__ = ["SYSTEM_PROMPT", "build_answer_prompt"]
