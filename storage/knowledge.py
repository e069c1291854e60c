"""The knowledge base in the shared database: entries of every collection, and one version counter.

Every process answers from an index built over these rows. Any change to them bumps the single
`kb_version` row in the same transaction, so a server learns that its index is stale by reading one
integer. Bumping first also serialises writers: on PostgreSQL the UPDATE holds the row lock until commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Final

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import insert_unless_duplicate
from storage.models import Base, Community, utcnow

TEAM: Final = "team"  # the team's reviewed YAML files, loaded by `shegong kb sync`
WORKER: Final = "worker"  # added or imported by a worker with `shegong kb add/import`
_VERSION_ROW: Final = 1


class KnowledgeEntry(Base):
    __tablename__ = "kb_entry"
    __table_args__ = (UniqueConstraint("collection", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[str] = mapped_column(String(128))
    domain: Mapped[str] = mapped_column(String(16))  # legal | psych | service
    topic: Mapped[str] = mapped_column(String(200), default="")
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    paraphrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    basis: Mapped[list[str]] = mapped_column(JSON, default=list)
    reviewed: Mapped[date | None] = mapped_column(Date)
    # An entry about one community only (its canteen, its office hours); None for everyone.
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    # Who owns the row: TEAM rows follow the YAML files, WORKER rows are never touched by a sync.
    origin: Mapped[str] = mapped_column(String(16))
    # Where the text came from (the team's file name, the import file, "shegong kb add").
    source: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeVersion(Base):
    __tablename__ = "kb_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


def kb_version(session: Session) -> int:
    """The knowledge base's version: 0 until the first change, then one more with every change."""
    version = session.scalar(select(KnowledgeVersion.version).where(KnowledgeVersion.id == _VERSION_ROW))
    return int(version or 0)


def bump_kb_version(session: Session, *, now: datetime) -> int:
    """Count one change and return the new version; call it before changing entries (it takes the lock)."""
    bump = (
        update(KnowledgeVersion)
        .where(KnowledgeVersion.id == _VERSION_ROW)
        .values(version=KnowledgeVersion.version + 1, changed_at=now)
    )
    if session.execute(bump).rowcount == 0:  # type: ignore[attr-defined]
        if insert_unless_duplicate(session, KnowledgeVersion(id=_VERSION_ROW, version=1, changed_at=now)):
            return 1
        session.execute(bump)  # another writer created the row first
    return kb_version(session)


def kb_rows(
    session: Session, *, collections: Sequence[str] | None = None, entry_id: str | None = None
) -> list[tuple[KnowledgeEntry, str | None]]:
    """Entries with their community's code, in a stable order (collection, then id); all when None."""
    query = (
        select(KnowledgeEntry, Community.code)
        .outerjoin(Community, Community.id == KnowledgeEntry.community_id)
        .order_by(KnowledgeEntry.collection, KnowledgeEntry.entry_id)
    )
    if collections is not None:
        query = query.where(KnowledgeEntry.collection.in_(list(collections)))
    if entry_id is not None:
        query = query.where(KnowledgeEntry.entry_id == entry_id)
    return [(row, code) for row, code in session.execute(query)]


def kb_entry(session: Session, *, collection: str, entry_id: str) -> KnowledgeEntry | None:
    return session.scalar(
        select(KnowledgeEntry).where(KnowledgeEntry.collection == collection, KnowledgeEntry.entry_id == entry_id)
    )


def kb_entries_of(
    session: Session, *, collection: str | None = None, origin: str | None = None
) -> list[KnowledgeEntry]:
    query = select(KnowledgeEntry).order_by(KnowledgeEntry.collection, KnowledgeEntry.entry_id)
    if collection is not None:
        query = query.where(KnowledgeEntry.collection == collection)
    if origin is not None:
        query = query.where(KnowledgeEntry.origin == origin)
    return list(session.scalars(query))


def kb_collection_sizes(session: Session) -> dict[str, int]:
    """Each collection's number of entries, by name."""
    query = (
        select(KnowledgeEntry.collection, func.count())
        .group_by(KnowledgeEntry.collection)
        .order_by(KnowledgeEntry.collection)
    )
    return {name: int(count) for name, count in session.execute(query)}


def count_kb_entries(session: Session, *, origin: str) -> int:
    query = select(func.count()).select_from(KnowledgeEntry).where(KnowledgeEntry.origin == origin)
    return int(session.scalar(query) or 0)
