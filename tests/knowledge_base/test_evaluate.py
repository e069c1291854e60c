"""Evaluation: reading labelled queries and scoring top-1 and MRR@5."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.encoders import UsemEncoder
from knowledge_base.entries import Entry
from knowledge_base.evaluate import QueriesError, Query, QueryResult, evaluate, read_queries, summarise
from knowledge_base.index import KnowledgeIndex
from tests.knowledge_base.conftest import PARAPHRASE_QUERIES


def test_read_queries_lists_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "问", "gold_id": "a"}\n{"question": "问"}\nnope\n', encoding="utf-8")
    with pytest.raises(QueriesError, match=r"line 2: missing gold_id; line 3: not valid JSON"):
        read_queries(path)
    path.write_text('{"id": "q1", "question": "问", "gold_id": "a", "domain": "legal"}\n\n', encoding="utf-8")
    assert read_queries(path) == [Query(id="q1", question="问", gold_id="a", domain="legal")]


def test_summarise_counts_top1_and_reciprocal_rank() -> None:
    def outcome(domain: str, rank: int | None) -> QueryResult:
        return QueryResult(Query("q", "问", "g", domain), rank, "t", 0.5, 0.01)

    report = summarise([outcome("legal", 1), outcome("legal", 2), outcome("psych", None), outcome("psych", 1)])
    assert report.overall.top1 == 0.5
    assert report.overall.mrr5 == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert report.domains["legal"].mrr5 == pytest.approx(0.75)
    assert report.latency_p50_ms == pytest.approx(10.0)
    assert "overall" in report.format()
    assert "outcomes" not in report.to_dict()


def test_evaluate_on_the_fixture(team_entries: list[Entry], encoder: UsemEncoder) -> None:
    index = KnowledgeIndex.build(team_entries, encoder)
    queries = [Query(str(i), q, gold) for i, (q, gold) in enumerate(PARAPHRASE_QUERIES.items())]
    report = evaluate(index, queries)
    assert report.overall.queries == len(PARAPHRASE_QUERIES)
    assert report.overall.top1 == 1.0
    assert report.latency_p99_ms > 0
