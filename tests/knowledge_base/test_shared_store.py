"""The knowledge base in the shared database (handlers.knowledge), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from handlers import knowledge as kb
from knowledge_base.entries import Entry
from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _worker_entry(**fields: str) -> Entry:
    values = {
        "id": "p1",
        "domain": "service",
        "question": "社区食堂几点开门",
        "answer": "早七点。",
        "collection": "local",
    }
    return Entry(**(values | fields))  # type: ignore[arg-type]


def test_sync_follows_the_team_files_and_leaves_workers_entries_alone(
    sessions: sessionmaker[Session], team_dir: Path
) -> None:
    with sessions.begin() as session:
        assert kb.current_version(session) == 0
        first = kb.sync_team_entries(session, now=NOW, directory=team_dir)
        kb.add_entry(session, _worker_entry(), now=NOW)
    assert (first.added, first.updated, first.removed, first.total) == (8, 0, 0, 8)
    with sessions.begin() as session:
        version = kb.current_version(session)
        again = kb.sync_team_entries(session, now=NOW, directory=team_dir)
        assert not again.changed
        assert kb.current_version(session) == version  # nothing changed, so no server rebuilds

    # The team edits one entry and drops another from its files.
    legal = team_dir / "legal_sample.yaml"
    text = legal.read_text(encoding="utf-8").replace("先和邻居好好说。", "先和邻居当面好好说。")
    legal.write_text(text[: text.index("- id: legal-divorce-001")], encoding="utf-8")
    with sessions.begin() as session:
        result = kb.sync_team_entries(session, now=NOW, directory=team_dir)
        assert (result.added, result.updated, result.removed) == (0, 1, 1)
        assert kb.current_version(session) == version + 1
        (noise,) = kb.find_entries(session, "legal-noise-001")
        assert "当面" in noise.answer
        assert noise.basis == ("《民法典》第二百九十四条",)
        assert str(noise.reviewed) == "2026-11-20"
        assert kb.find_entries(session, "legal-divorce-001") == []
        assert [e.id for e in kb.entries_for(session, ["local"])] == ["p1"]
        sizes = {c.name: c.entries for c in kb.list_collections(session)}
        assert sizes == {"default": 7, "local": 1}


def test_every_change_bumps_the_version_and_a_failed_one_changes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        kb.add_entry(session, _worker_entry(), now=NOW)
        assert kb.current_version(session) == 1
    with pytest.raises(kb.CollectionError, match="already has an entry 'p1'"), sessions.begin() as session:
        kb.add_entry(session, _worker_entry(answer="另一个回答"), now=NOW)
    with pytest.raises(kb.CollectionError, match="team's files"), sessions.begin() as session:
        kb.add_entry(session, _worker_entry(collection="default"), now=NOW)
    with sessions.begin() as session:
        assert kb.current_version(session) == 1
        assert kb.find_entries(session, "p1")[0].answer == "早七点。"
        removed = kb.remove_entry(session, entry_id="p1", collection=None, now=NOW)
        assert removed.question == "社区食堂几点开门"
        assert kb.current_version(session) == 2
        assert kb.entries_for(session) == []


def test_an_entry_keeps_the_community_it_belongs_to(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        repo.upsert_community(session, code="heping", name="和平社区", qr_scene="101", config={})
        kb.add_entry(session, _worker_entry(community="heping"), now=NOW)
        with pytest.raises(kb.CollectionError, match="no community with code 'nowhere'"):
            kb.add_entry(session, _worker_entry(id="p2", community="nowhere"), now=NOW)
    with sessions.begin() as session:
        (entry,) = kb.entries_for(session)
        assert entry.community == "heping"
        assert entry.available_to("heping")
        assert not entry.available_to("xinhua")


def test_text_the_database_cannot_hold_is_refused_with_its_entry_named(sessions: sessionmaker[Session]) -> None:
    for bad, message in ((_worker_entry(answer="早\x00七点"), "NUL"), (_worker_entry(topic="长" * 201), "topic")):
        with pytest.raises(kb.CollectionError, match=message), sessions.begin() as session:
            kb.add_entry(session, bad, now=NOW)
    with sessions.begin() as session:
        assert kb.entries_for(session) == []
        assert kb.current_version(session) == 0
