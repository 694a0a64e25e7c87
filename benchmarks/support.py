"""Agreement of the claim-support check with the labelled set, over a range of thresholds.

Run from the repository root::

    python benchmarks/support.py [--labels tests/data/support_labels.jsonl] [--embed] [--json]

For each threshold (0.30 .. 0.90, step 0.05) and for the chosen one
(``rag_core.generation.support.SUPPORT_THRESHOLD``, or ``EMBED_THRESHOLD`` with
``--embed``), prints agreement (accuracy), precision and recall of "supported", overall
and per language (en / ko). With ``--embed`` the English pairs use the default embedding
model (all-MiniLM-L6-v2 on the default backend) and only the English pairs are scored,
as the model is English-only. ``--json`` prints one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag_core.generation import support as support_mod  # noqa: E402
from rag_core.index.analyzer import shared_analyzer  # noqa: E402

LABELS = REPO / "tests" / "data" / "support_labels.jsonl"
THRESHOLDS = [round(0.30 + 0.05 * i, 2) for i in range(13)]


def load_labels(path: Path) -> list[dict]:
    """Return the labelled pairs of a JSON Lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def score_pairs(rows: list[dict], embed=None) -> list[float]:
    """Return the support score of each pair (threshold-free, so one pass serves the sweep)."""
    analyzer = shared_analyzer()
    scores = []
    for row in rows:
        use_embed = embed if row["lang"] == "en" else None
        verdict = support_mod.supports(
            row["claim"], row["passage"], analyzer=analyzer, embed=use_embed
        )
        scores.append(verdict.score)
    return scores


def metrics(rows: list[dict], scores: list[float], threshold: float) -> dict:
    """Return accuracy, precision, recall and counts of the decisions at ``threshold``."""
    tp = fp = tn = fn = 0
    for row, score in zip(rows, scores, strict=True):
        predicted = score >= threshold
        if predicted and row["supported"]:
            tp += 1
        elif predicted:
            fp += 1
        elif row["supported"]:
            fn += 1
        else:
            tn += 1
    n = len(rows)
    return {
        "threshold": threshold,
        "n": n,
        "accuracy": round((tp + tn) / n, 3) if n else 0.0,
        "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
    }


def evaluate(rows: list[dict], scores: list[float], threshold: float) -> dict:
    """Return the metrics at ``threshold`` overall and per language."""
    result = {"all": metrics(rows, scores, threshold)}
    for lang in ("en", "ko"):
        picked = [(r, s) for r, s in zip(rows, scores, strict=True) if r["lang"] == lang]
        result[lang] = metrics([r for r, _ in picked], [s for _, s in picked], threshold)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--embed", action="store_true", help="add the default embeddings")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()

    embed = None
    chosen = support_mod.SUPPORT_THRESHOLD
    if args.embed:
        sys.path.insert(0, str(REPO))
        from tests.conftest import default_embeddings

        embed = default_embeddings().embed_documents
        chosen = support_mod.EMBED_THRESHOLD
    rows = load_labels(args.labels)
    if embed is not None:
        rows = [row for row in rows if row["lang"] == "en"]  # the model is English-only
    scores = score_pairs(rows, embed)
    sweep = [evaluate(rows, scores, t) for t in THRESHOLDS]
    print(f"{len(rows)} labelled pairs, {'lexical + embeddings' if embed else 'lexical'}")
    print(f"{'threshold':>9} | {'acc':>5} {'prec':>5} {'rec':>5} | en acc | ko acc")
    for row in sweep:
        mark = " <- chosen" if abs(row["all"]["threshold"] - chosen) < 1e-9 else ""
        a = row["all"]
        print(
            f"{a['threshold']:>9.2f} | {a['accuracy']:>5.3f} {a['precision']:>5.3f} "
            f"{a['recall']:>5.3f} | {row['en']['accuracy']:>6.3f} | "
            f"{row['ko']['accuracy']:>6.3f}{mark}"
        )
    result = evaluate(rows, scores, chosen)
    print(f"chosen threshold {chosen}:")
    for lang in ("all", "en", "ko"):
        m = result[lang]
        print(
            f"  {lang:>3}: agreement {m['accuracy']:.3f}, precision {m['precision']:.3f}, "
            f"recall {m['recall']:.3f} (n={m['n']})"
        )
    if args.json:
        print(json.dumps({"embed": bool(embed), "chosen": result, "sweep": sweep}))


if __name__ == "__main__":
    main()
