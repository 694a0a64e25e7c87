r"""Citation markers in an answer, and the answer split into claims (sentences).

Models cite the numbered passages of the prompt in many ways; all of these are read as
citations (any case, optional spaces):

* ``[1]``, ``[1, 2]``, ``[1,2,3]``, ``[1; 2]``, ``[1][2]``;
* ranges ``[1-3]``, ``[1–3]``, ``[1—3]``, ``[1~3]`` (expanded; at most
  :data:`MAX_RANGE` numbers);
* footnote style ``[^2]``; full-width brackets ``【1】``, ``［1］``;
* labelled ``[Source 1]``, ``[source: 2]``, ``[Sources 1, 2]``, ``[출처 1]``, ``[참고 2]``.

Not citations: parentheses ``(1)`` (lists, equation numbers), Markdown links
``[1](https://...)``, numbered list items ``1.``, anything inside code spans, LaTeX
optional arguments such as ``\sqrt[3]{x}`` (the test documents are about LaTeX), and
numbers of four digits or more (``[2019]`` is a year, not one of top-k passages).

Sentences come from Kiwi's ``split_into_sents`` (https://github.com/bab2min/kiwipiepy),
which handles Korean well, refined by a rule for English sentence ends (Kiwi keeps
"It is great. He is good." as one sentence): a ``.``, ``!`` or ``?`` followed by space and
an upper-case letter, digit, quote, backslash or Hangul, except after common
abbreviations and initials.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from rag_core.index.analyzer import shared_analyzer

MAX_RANGE = 20
"""A range ``[a-b]`` spanning more numbers than this is read as its two ends only."""

_LABEL_WORDS = "sources?|src|refs?|references?|passages?|docs?|documents?|출처|참고|문서|자료|근거"
_LABEL = rf"(?:\^|(?:{_LABEL_WORDS})\s*:?\s*)"
_NUM = r"\d{1,3}(?!\d)"
_SEP = r"\s*(?:[,;]|[-–—~])\s*"
_MARKER_RE = re.compile(
    rf"(?:\[|【|［)\s*{_LABEL}?(?P<body>{_NUM}(?:{_SEP}{_LABEL}?{_NUM})*)\s*(?:\]|】|］)(?!\()",
    re.IGNORECASE,
)
_RANGE_RE = re.compile(rf"({_NUM})\s*[-–—~]\s*{_LABEL}?({_NUM})", re.IGNORECASE)
_NUMBER_RE = re.compile(r"\d+")
_LINK_DEFINITION_RE = re.compile(r"[ \t]*\[[^\]\n]+\]:[ \t]*\S")
_CODE_RE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)
_LATEX_ARG_RE = re.compile(r"\\[A-Za-z]+\*?\s*$")
_LINE_BREAK_RE = re.compile(r"\n")
_PARAGRAPH_RE = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d{1,2}[.)])\s)")
_SENTENCE_END_RE = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[A-Z0-9\"“‘(\[\\\uac00-\ud7a3])")
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "cf",
        "vs",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "fig",
        "figs",
        "no",
        "nos",
        "eq",
        "eqs",
        "sec",
        "ch",
        "p",
        "pp",
        "vol",
        "approx",
        "ca",
        "st",
    ]
)


@dataclass(frozen=True)
class CitationMarker:
    """One citation marker in a text.

    Attributes:
        start: character offset of the marker's opening bracket.
        end: offset just past its closing bracket.
        numbers: the passage numbers it names, in written order (ranges expanded).
    """

    start: int
    end: int
    numbers: tuple[int, ...]


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer with the citations it carries.

    Attributes:
        text: the sentence as written, markers included (``answer[start:end]``).
        start: character offset of the sentence in the answer.
        end: offset just past it (past its trailing markers, if any).
        citations: distinct numbers of its markers, in first-appearance order (valid or
            not; see :class:`CitationCheck` for the split).
    """

    text: str
    start: int
    end: int
    citations: list[int] = field(default_factory=list)

    @property
    def plain(self) -> str:
        """The sentence without its citation markers (what a support check compares)."""
        return strip_citations(self.text)


@dataclass(frozen=True)
class CitationCheck:
    """The citations of an answer, checked against the number of sources.

    Attributes:
        cited: sorted distinct numbers in 1..n_sources.
        invalid: sorted distinct numbers outside 1..n_sources (e.g. ``[7]`` with 5 sources).
        claims: the answer's sentences, in order (with and without citations).
    """

    cited: list[int]
    invalid: list[int]
    claims: list[Claim]

    @property
    def uncited_claims(self) -> list[Claim]:
        """Claims carrying no citation at all."""
        return [claim for claim in self.claims if not claim.citations]


def _masked_code(text: str) -> str:
    """Return ``text`` with code spans overwritten by ``x`` (same length, offsets kept)."""
    return _CODE_RE.sub(lambda m: re.sub(r"\S", "x", m.group()), text)


def _numbers(body: str) -> tuple[int, ...]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", body):
        match = _RANGE_RE.fullmatch(part.strip())
        if match:
            low, high = sorted((int(match.group(1)), int(match.group(2))))
            span = range(low, high + 1) if high - low < MAX_RANGE else (low, high)
            numbers.extend(span)
        else:
            numbers.extend(int(n) for n in _NUMBER_RE.findall(part))
    return tuple(numbers)


def find_citations(text: str) -> list[CitationMarker]:
    """Find every citation marker in ``text`` (forms in the module docstring).

    Args:
        text: an answer (or any text).

    Returns:
        The markers in text order; ``[1][2]`` gives two markers.
    """
    masked = _masked_code(text)
    markers = []
    for match in _MARKER_RE.finditer(masked):
        if _LATEX_ARG_RE.search(
            masked, max(0, match.start() - 40), match.start()
        ) or masked.startswith("{", match.end()):
            continue  # \sqrt[3]{x}, \\[5pt]: a LaTeX optional argument
        if (
            masked.startswith(":", match.end())
            and not masked[masked.rfind("\n", 0, match.start()) + 1 : match.start()].strip()
        ):
            continue  # "[1]: http://..." at a line start: a Markdown link definition
        markers.append(CitationMarker(match.start(), match.end(), _numbers(match.group("body"))))
    return markers


def cited_numbers(answer: str) -> list[int]:
    """Return the distinct numbers an answer cites, in order of first appearance.

    Args:
        answer: the model's answer text.

    Returns:
        e.g. ``[3, 1]`` for ``"A [3]. B [1, 3]."`` (valid or not).
    """
    seen: dict[int, None] = {}
    for marker in find_citations(answer):
        seen.update(dict.fromkeys(marker.numbers))
    return list(seen)


def canonical_citations(text: str) -> str:
    """Rewrite every citation marker as plain ``[n]`` markers, one per number.

    ``[^3]`` (a Markdown footnote reference) -> ``[3]``, ``[1-3]`` -> ``[1][2][3]``,
    ``[1, 2]`` -> ``[1][2]``, ``【1】`` and ``[Source 1]`` -> ``[1]``, so every answer shows
    its sources the one way the source list numbers them; code spans and LaTeX optional
    arguments are left alone (:func:`find_citations`).

    Args:
        text: an answer.

    Returns:
        The answer with canonical markers (unchanged when it has none to rewrite).
    """
    out = text
    for marker in reversed(find_citations(text)):
        canonical = "".join(f"[{n}]" for n in marker.numbers)
        out = out[: marker.start] + canonical + out[marker.end :]
    return out


def strip_citations(text: str) -> str:
    """Return ``text`` without citation markers, spaces tidied (``"A [1]."`` -> ``"A."``)."""
    out = text
    for marker in reversed(find_citations(text)):
        out = out[: marker.start] + " " + out[marker.end :]
    out = re.sub(r"[ \t]+([.,;:!?])", r"\1", out)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def _english_ends(text: str, start: int, end: int) -> Iterator[int]:
    for match in _SENTENCE_END_RE.finditer(text, start, end):
        word = re.search(r"([A-Za-z.]+)\.$", text[start : match.start() + 1])
        if word and (
            word.group(1).lower() in _ABBREVIATIONS or re.fullmatch(r"[A-Z]", word.group(1))
        ):
            continue
        yield match.start() + 1


def sentence_spans(text: str, *, lines: bool = False) -> list[tuple[int, int]]:
    """Split ``text`` into sentences.

    Blocks are split first (blank lines and list items always; every line break when
    ``lines`` is set), then each block by Kiwi, then by the English sentence-end rule.

    Args:
        text: Korean and/or English text.
        lines: True for an answer (a line break ends a sentence), False for a PDF passage
            (its lines are wrapped mid-sentence).

    Returns:
        ``(start, end)`` character offsets, in order, stripped of surrounding whitespace;
        pieces without a letter or digit are left out.
    """
    breaks = _LINE_BREAK_RE if lines else _PARAGRAPH_RE
    cuts = [0, *(m.end() for m in breaks.finditer(text)), len(text)]
    spans: list[tuple[int, int]] = []
    analyzer = shared_analyzer()
    for block_start, block_end in itertools.pairwise(cuts):
        block = text[block_start:block_end]
        if not block.strip():
            continue
        sents = analyzer.with_kiwi(lambda kiwi, block=block: kiwi.split_into_sents(block))
        for sent in sents:
            start, end = block_start + sent.start, block_start + sent.end
            edges = [start, *_english_ends(text, start, end), end]
            spans.extend(itertools.pairwise(edges))
    result = []
    for start, end in spans:
        piece = text[start:end]
        if any(c.isalnum() for c in piece):
            lead = len(piece) - len(piece.lstrip())
            result.append((start + lead, start + len(piece.rstrip())))
    return result


def _owner(marker: CitationMarker, spans: list[tuple[int, int]], text: str) -> int:
    """Return the index of the sentence a marker belongs to."""
    for index, (start, end) in enumerate(spans):
        if start <= marker.start < end:
            return index
    before = [i for i, (_, end) in enumerate(spans) if end <= marker.start]
    if before and "\n" not in text[spans[before[-1]][1] : marker.start]:
        return before[-1]  # "... released in 1982. [2]": closes the previous sentence
    after = [i for i, (start, _) in enumerate(spans) if start >= marker.end]
    return after[0] if after else (before[-1] if before else -1)


def parse_citations(answer: str, n_sources: int) -> CitationCheck:
    """Parse an answer's citations and split it into claims.

    A marker belongs to the sentence it stands in. A marker between two sentences (after
    the full stop, "... released in 1982. [2] It ...") closes the previous sentence,
    unless a line break separates them; a marker before the first sentence belongs to it.
    Markers are blanked (same length) before the sentence split so "[2]" neither ends
    nor starts a sentence.

    Args:
        answer: the answer text, reasoning already removed
            (:func:`rag_core.llm.reasoning.split_reasoning`).
        n_sources: how many numbered passages the prompt had (valid numbers are
            1..n_sources).

    Returns:
        The :class:`CitationCheck`.
    """
    markers = find_citations(answer)
    blanked = list(answer)
    for marker in markers:
        blanked[marker.start : marker.end] = " " * (marker.end - marker.start)
    spans = sentence_spans(_masked_code("".join(blanked)), lines=True)
    owned: list[list[CitationMarker]] = [[] for _ in spans]
    for marker in markers:
        index = _owner(marker, spans, answer)
        if index >= 0:
            owned[index].append(marker)
    claims = []
    for (start, end), mine in zip(spans, owned, strict=True):
        if not mine and _LINK_DEFINITION_RE.match(answer, start):
            continue  # "[1]: http://...": a link definition, not a statement
        end = max([end, *(m.end for m in mine)])
        start = min([start, *(m.start for m in mine)])
        numbers = list(dict.fromkeys(n for m in mine for n in m.numbers))
        claims.append(Claim(answer[start:end], start, end, numbers))
    every = {n for m in markers for n in m.numbers}
    return CitationCheck(
        cited=sorted(n for n in every if 1 <= n <= n_sources),
        invalid=sorted(n for n in every if not 1 <= n <= n_sources),
        claims=claims,
    )


__all__ = [
    "MAX_RANGE",
    "CitationCheck",
    "CitationMarker",
    "Claim",
    "canonical_citations",
    "cited_numbers",
    "find_citations",
    "parse_citations",
    "sentence_spans",
    "strip_citations",
]
