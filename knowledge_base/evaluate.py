"""Retrieval quality and speed on labelled queries: top-1, MRR@5 and latency, overall and per domain."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.index import Hit, KnowledgeIndex

MRR_DEPTH = 5


@dataclass(frozen=True)
class Query:
    id: str
    question: str
    gold_id: str
    domain: str = ""


class QueriesError(ValueError):
    """The queries file is unusable; the message lists every bad line."""


def read_queries(path: Path) -> list[Query]:
    """JSONL rows with `question` and `gold_id`, and optionally `id` and `domain`."""
    queries: list[Query] = []
    problems: list[str] = []
    with Path(path).open(encoding="utf-8") as rows:
        for line_no, line in enumerate(rows, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {line_no}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.append(f"line {line_no}: expected a JSON object")
                continue
            missing = [f for f in ("question", "gold_id") if not isinstance(row.get(f), str) or not row[f].strip()]
            if missing:
                problems.append(f"line {line_no}: missing {', '.join(missing)}")
                continue
            queries.append(
                Query(
                    id=str(row.get("id") or f"line-{line_no}"),
                    question=row["question"],
                    gold_id=row["gold_id"],
                    domain=str(row.get("domain") or ""),
                )
            )
    if problems:
        raise QueriesError(f"{path}: " + "; ".join(problems))
    return queries


@dataclass(frozen=True)
class Scores:
    queries: int
    top1: float
    mrr5: float


@dataclass(frozen=True)
class QueryResult:
    query: Query
    rank: int | None  # 1-based rank of the gold entry among the hits, None if not in the top MRR_DEPTH
    top_id: str | None
    top_score: float
    seconds: float


@dataclass
class Report:
    overall: Scores
    domains: dict[str, Scores]
    latency_p50_ms: float
    latency_p99_ms: float
    outcomes: list[QueryResult] = field(default_factory=list)

    def to_dict(self, with_outcomes: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_outcomes:
            data.pop("outcomes")
        return data

    def format(self) -> str:
        lines = [f"{'':10s} {'n':>5s} {'top-1':>7s} {'MRR@5':>7s}"]
        for name, scores in [*sorted(self.domains.items()), ("overall", self.overall)]:
            lines.append(f"{name:10s} {scores.queries:5d} {scores.top1:7.3f} {scores.mrr5:7.3f}")
        lines.append(f"latency per query: p50 {self.latency_p50_ms:.1f} ms, p99 {self.latency_p99_ms:.1f} ms")
        return "\n".join(lines)


def evaluate(index: KnowledgeIndex, queries: Sequence[Query], warm_up: bool = True) -> Report:
    """Search every query once, timing each search, and score the gold entry's rank."""
    if warm_up:
        index.warm_up()
        index.search("预热")
    outcomes = []
    for query in queries:
        started = time.perf_counter()
        hits = index.search(query.question, k=MRR_DEPTH)
        seconds = time.perf_counter() - started
        outcomes.append(_outcome(query, hits, seconds))
    return summarise(outcomes)


def summarise(outcomes: Sequence[QueryResult]) -> Report:
    by_domain: dict[str, list[QueryResult]] = {}
    for outcome in outcomes:
        by_domain.setdefault(outcome.query.domain or "(none)", []).append(outcome)
    latencies = np.asarray([o.seconds * 1000 for o in outcomes]) if outcomes else np.zeros(1)
    return Report(
        overall=_scores(outcomes),
        domains={name: _scores(group) for name, group in by_domain.items()},
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p99_ms=float(np.percentile(latencies, 99)),
        outcomes=list(outcomes),
    )


def _outcome(query: Query, hits: Sequence[Hit], seconds: float) -> QueryResult:
    rank = next((i for i, hit in enumerate(hits[:MRR_DEPTH], start=1) if hit.entry.id == query.gold_id), None)
    return QueryResult(
        query=query,
        rank=rank,
        top_id=hits[0].entry.id if hits else None,
        top_score=hits[0].score if hits else 0.0,
        seconds=seconds,
    )


def _scores(outcomes: Sequence[QueryResult]) -> Scores:
    if not outcomes:
        return Scores(queries=0, top1=0.0, mrr5=0.0)
    top1 = sum(o.rank == 1 for o in outcomes) / len(outcomes)
    mrr = sum(1.0 / o.rank for o in outcomes if o.rank is not None) / len(outcomes)
    return Scores(queries=len(outcomes), top1=top1, mrr5=mrr)
