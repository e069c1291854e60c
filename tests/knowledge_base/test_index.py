"""The retrieval index: finding entries, confidence levels, and the on-disk cache."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from knowledge_base.encoders import UsemEncoder
from knowledge_base.entries import Entry
from knowledge_base.index import (
    CONFIDENT_SCORE,
    WEAK_SCORE,
    KnowledgeIndex,
    fingerprint,
    load_or_build,
    match_level,
    read_meta,
)
from tests.knowledge_base.conftest import PARAPHRASE_QUERIES


@pytest.fixture
def index(team_entries: list[Entry], encoder: UsemEncoder) -> KnowledgeIndex:
    return KnowledgeIndex.build(team_entries, encoder)


@pytest.mark.parametrize(("query", "expected"), sorted(PARAPHRASE_QUERIES.items()))
def test_a_new_phrasing_finds_its_entry(index: KnowledgeIndex, query: str, expected: str) -> None:
    hits = index.search(query, k=3)
    assert hits[0].entry.id == expected
    assert hits[0].signals.gap > 0 > hits[1].signals.gap
    assert hits[0].score >= hits[1].score


def test_a_stored_paraphrase_is_a_confident_match(index: KnowledgeIndex) -> None:
    (hit,) = index.search("家里困难想吃低保咋整", k=1)
    assert hit.entry.id == "service-dibao-001"
    assert hit.signals.dense_question == pytest.approx(1.0, abs=1e-4)
    assert hit.level == "confident"


def test_hits_are_ordered_and_filtered_by_domain(index: KnowledgeIndex) -> None:
    hits = index.search("身份证掉了", k=10)
    assert len(hits) == len(index)
    assert [h.signals.fused for h in hits] == sorted((h.signals.fused for h in hits), reverse=True)
    assert {h.entry.domain for h in index.search("身份证掉了", k=10, domain="legal")} == {"legal"}


def test_empty_queries_and_empty_index(index: KnowledgeIndex, encoder: UsemEncoder) -> None:
    assert index.search("   ") == []
    assert index.search("低保", k=0) == []
    assert KnowledgeIndex.build([], encoder).search("低保") == []


def test_a_single_entry_index_still_answers(team_entries: list[Entry], encoder: UsemEncoder) -> None:
    (hit,) = KnowledgeIndex.build(team_entries[:1], encoder).search("楼上太吵", k=5)
    assert hit.entry == team_entries[0]
    assert hit.signals.gap == 0.0


def test_match_levels() -> None:
    assert match_level(CONFIDENT_SCORE) == "confident"
    assert match_level(WEAK_SCORE) == "weak"
    assert match_level(WEAK_SCORE - 0.01) == "none"


def test_saved_index_gives_the_same_answers(index: KnowledgeIndex, encoder: UsemEncoder, tmp_path: Path) -> None:
    index.save(tmp_path / "idx")
    loaded = KnowledgeIndex.load(tmp_path / "idx", encoder)
    assert loaded.entries == index.entries
    assert loaded.fingerprint == index.fingerprint
    for query in PARAPHRASE_QUERIES:
        assert loaded.search(query) == index.search(query)


def test_cache_is_reused_until_entries_or_encoder_change(
    team_entries: list[Entry], encoder: UsemEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "var" / "kb" / "index" / "all"
    built: list[int] = []
    real_build = KnowledgeIndex.build.__func__  # type: ignore[attr-defined]

    def counting_build(
        cls: type[KnowledgeIndex], entries: list[Entry], enc: UsemEncoder, known: object = None
    ) -> KnowledgeIndex:
        built.append(len(entries))
        return real_build(cls, entries, enc, known)  # type: ignore[no-any-return]

    monkeypatch.setattr(KnowledgeIndex, "build", classmethod(counting_build))

    first = load_or_build(team_entries, encoder, cache)
    assert built == [len(team_entries)]
    again = load_or_build(team_entries, encoder, cache)
    assert built == [len(team_entries)]
    assert again.fingerprint == first.fingerprint

    changed = [*team_entries[:-1], dataclasses.replace(team_entries[-1], answer="新的回答")]
    rebuilt = load_or_build(changed, encoder, cache)
    assert len(built) == 2
    assert rebuilt.entries[-1].answer == "新的回答"
    assert read_meta(cache) is not None
    assert read_meta(cache)["fingerprint"] == fingerprint(changed, encoder.name)  # type: ignore[index]
    assert [p.name for p in cache.parent.iterdir()] == ["all"]  # no staging or retired copies left behind

    class OtherEncoder(UsemEncoder):
        @property
        def name(self) -> str:
            return "another-model"

    load_or_build(changed, OtherEncoder(), cache)
    assert len(built) == 3


def test_a_damaged_cache_is_rebuilt(team_entries: list[Entry], encoder: UsemEncoder, tmp_path: Path) -> None:
    cache = tmp_path / "idx"
    load_or_build(team_entries, encoder, cache)
    (cache / "answer_vectors.faiss").write_bytes(b"not an index")
    index = load_or_build(team_entries, encoder, cache)
    assert index.search("低保怎么申请", k=1)[0].entry.id == "service-dibao-001"


def test_fingerprint_follows_content_and_order(team_entries: list[Entry]) -> None:
    base = fingerprint(team_entries, "m")
    assert fingerprint(list(team_entries), "m") == base
    assert fingerprint(team_entries[::-1], "m") != base
    assert fingerprint(team_entries, "n") != base
    edited = [dataclasses.replace(team_entries[0], paraphrases=("新说法",)), *team_entries[1:]]
    assert fingerprint(edited, "m") != base


def test_duplicate_ids_within_a_collection_are_refused(team_entries: list[Entry], encoder: UsemEncoder) -> None:
    with pytest.raises(ValueError, match="appears twice"):
        KnowledgeIndex.build([team_entries[0], team_entries[0]], encoder)


class _CountingEncoder(UsemEncoder):
    """The shared model, counting the texts it is asked to encode."""

    def __init__(self, inner: UsemEncoder) -> None:
        super().__init__()
        self.inner = inner
        self.encoded: list[str] = []

    def warm_up(self) -> None:
        self.inner.warm_up()

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.encoded.extend(texts)
        return self.inner.encode(texts)


def test_a_rebuild_encodes_only_the_new_texts(team_entries: list[Entry], encoder: UsemEncoder, tmp_path: Path) -> None:
    counting = _CountingEncoder(encoder)
    first = load_or_build(team_entries, counting, tmp_path / "idx")
    added = Entry(
        id="p9", domain="service", question="垃圾分类怎么分", answer="分四类。", paraphrases=("干垃圾湿垃圾咋分",)
    )
    counting.encoded.clear()
    again = KnowledgeIndex.build([*team_entries, added], counting, known=first.text_vectors())
    assert counting.encoded == ["垃圾分类怎么分", "干垃圾湿垃圾咋分", "分四类。"]
    assert again.search("湿垃圾和干垃圾怎么区分", k=1)[0].entry.id == "p9"
    assert again.search("低保怎么申请", k=1)[0].signals.dense_question == pytest.approx(1.0, abs=1e-4)

    # A restart finds the stale saved index and reuses its vectors the same way.
    counting.encoded.clear()
    load_or_build([*team_entries, added], counting, tmp_path / "idx")
    assert counting.encoded == ["垃圾分类怎么分", "干垃圾湿垃圾咋分", "分四类。"]


def test_an_entry_of_one_community_is_kept_from_the_others(team_entries: list[Entry], encoder: UsemEncoder) -> None:
    canteen = Entry(id="c1", domain="service", question="社区食堂几点开门", answer="早七点。", community="heping")
    index = KnowledgeIndex.build([*team_entries, canteen], encoder)
    assert index.search("食堂几点开门", k=1)[0].entry.id == "c1"
    assert index.search("食堂几点开门", k=1, community="heping")[0].entry.id == "c1"
    assert "c1" not in {h.entry.id for h in index.search("食堂几点开门", k=10, community="xinhua")}
