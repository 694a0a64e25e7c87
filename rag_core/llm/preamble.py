"""Strip what models put around a short reply: Markdown, lead-ins, preambles, labels, quotes.

Shared by the follow-up rewrite (:func:`rag_core.generation.answer.clean_rewrite`) and the
query translation (:mod:`rag_core.retrieval.translation`): models wrap both in the same
habits ("Sure! The rewritten question is: ...", "**Translation:** ...").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_QUOTES = "\"'“”‘’「」『』«»`"
_LEAD_IN_RE = re.compile(
    r"^(?:sure|okay|ok|certainly|of course|alright|great|got it|알겠습니다|네)\b[!,.]*\s*",
    re.IGNORECASE,
)
_EN_PREAMBLE_RE = re.compile(
    r"^(?:(?:here(?:'s| is)|below is|this is)\s+(?:the|a|your|my)?\s*|the\s+|a\s+)?"
    r"(?:(?:rewritten|standalone|stand-alone|rephrased|reformulated|reworded|new|search|"
    r"follow-up|resulting|improved)\s+)+"
    r"(?:version of the\s+)?(?:question|query)\b"
    r"(?:\s+(?:for (?:retrieval|search(?:ing)?)|would be|could be|is))*\s*[:：-]?\s*",
    re.IGNORECASE,
)
_LABEL_RE = re.compile(
    r"^(?:standalone question|rewritten question|search query|question|query|"
    r"(?:독립(?:적인|된)?|재작성(?:된|한)|다시 작성(?:된|한)|검색용)\s*질문|질문|검색어|쿼리)"
    r"\s*(?:은|는)?\s*[:：]\s*",
    re.IGNORECASE,
)
_KO_PREAMBLE_RE = re.compile(
    r"^.{0,60}?(?:다음과 같습니다|다음과 같다|아래와 같습니다|다음입니다)\s*[:：.]?\s*"
)
_QUOTED_RE = re.compile(r"[\"“「『]([^\"”」』]{5,})[\"”」』]")
_PREAMBLE_WORD_RE = re.compile(r"question|query|질문|쿼리|검색어", re.IGNORECASE)


def strip_preamble(
    line: str,
    *,
    mentions: re.Pattern[str] = _PREAMBLE_WORD_RE,
    patterns: Sequence[re.Pattern[str]] = (),
) -> str:
    """Return ``line`` without markup, lead-ins, preambles, labels and quotes.

    Shared by the follow-up rewrite and the query translation cleaners: models wrap both
    in the same habits ("Sure! The rewritten question is: ...", "**Translation:** ...").

    Args:
        line: one line of a model's reply.
        mentions: a quoted part is taken alone when the rest of the line matches this
            (e.g. "question", "translation").
        patterns: the lead-in / preamble / label patterns removed in order (the
            rewrite's own when empty).

    Returns:
        The line's content, stripped.
    """
    line = line.strip().lstrip("#>*-• ").strip()
    line = re.sub(r"^\*\*(.*?)\*\*", r"\1", line).strip()
    quoted = _QUOTED_RE.search(line)
    outside = line[: quoted.start()] + line[quoted.end() :] if quoted else ""
    if quoted and mentions.search(outside):
        return quoted.group(1).strip()  # Sure! The rewritten question is "What ...?"
    for pattern in patterns or (_LEAD_IN_RE, _EN_PREAMBLE_RE, _KO_PREAMBLE_RE, _LABEL_RE):
        line = pattern.sub("", line, count=1).strip()
    return line.strip("*").strip().strip(_QUOTES).strip()


__all__ = ["strip_preamble"]
