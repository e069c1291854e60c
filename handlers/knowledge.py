"""The knowledge base kept in the shared database: the team's files synced in, workers' edits, and the
entries the bot answers from. `shegong kb` and every server call these; each change bumps the version
that servers watch to rebuild their index.

The team's reviewed YAML files (knowledge_base/data) are the "default" collection, owned by `sync_team_entries`;
workers add and import into other collections, which a sync never touches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from knowledge_base.entries import DEFAULT_COLLECTION, Entry, load_entries, read_rows
from knowledge_base.store import DEFAULT_ENTRIES_DIR, CollectionError, ImportResult, check_collection_name
from storage import knowledge as kb
from storage import repositories as repo

__all__ = [
    "CollectionError",
    "CollectionSize",
    "ImportResult",
    "SyncResult",
    "add_entry",
    "collection_entries",
    "current_version",
    "entries_for",
    "find_entries",
    "has_team_entries",
    "import_file",
    "list_collections",
    "remove_entry",
    "sync_team_entries",
]


_TOPIC_CHARS = 200


@dataclass(frozen=True)
class SyncResult:
    added: int
    updated: int
    removed: int
    total: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class CollectionSize:
    name: str
    entries: int

    @property
    def team(self) -> bool:
        return self.name == DEFAULT_COLLECTION


def current_version(session: Session) -> int:
    return kb.kb_version(session)


def has_team_entries(session: Session) -> bool:
    return kb.count_kb_entries(session, origin=kb.TEAM) > 0


def sync_team_entries(session: Session, *, now: datetime, directory: Path = DEFAULT_ENTRIES_DIR) -> SyncResult:
    """Make the team's rows match the YAML files: add new entries, update edited ones, remove those that left
    the files. Workers' entries are never touched. A bad file raises EntryError and changes nothing."""
    entries = load_entries(directory)
    planned = _team_changes(session, entries)
    if not planned.changed:
        return planned
    kb.bump_kb_version(session, now=now)  # takes the lock: plan again, as another sync may have run first
    return _team_changes(session, entries, apply_at=now)


def _team_changes(session: Session, entries: Sequence[Entry], *, apply_at: datetime | None = None) -> SyncResult:
    """What a sync would change; with `apply_at`, also make those changes, stamped with that time."""
    rows = {(r.collection, r.entry_id): r for r in kb.kb_entries_of(session, origin=kb.TEAM)}
    added = updated = 0
    for entry in entries:
        row = rows.pop((entry.collection, entry.id), None)
        fields = _fields(entry, community_id=None)
        if row is None:
            added += 1
            if apply_at is not None:
                if kb.kb_entry(session, collection=entry.collection, entry_id=entry.id) is not None:
                    raise CollectionError(f"a worker's entry {entry.id!r} in {entry.collection!r} has the team's id")
                session.add(kb.KnowledgeEntry(**fields, origin=kb.TEAM, updated_at=apply_at))
        elif any(getattr(row, name) != value for name, value in fields.items()):
            updated += 1
            if apply_at is not None:
                for name, value in fields.items():
                    setattr(row, name, value)
                row.updated_at = apply_at
    if apply_at is not None:
        for row in rows.values():
            session.delete(row)
        session.flush()
    return SyncResult(added=added, updated=updated, removed=len(rows), total=len(entries))


def add_entry(session: Session, entry: Entry, *, now: datetime) -> None:
    """Add one worker's entry to its collection (created if new); its id must be new in that collection."""
    _check_writable(entry.collection)
    community_id = _community_ids(session, [entry.community]).get(entry.community)
    kb.bump_kb_version(session, now=now)
    if kb.kb_entry(session, collection=entry.collection, entry_id=entry.id) is not None:
        raise CollectionError(f"collection {entry.collection!r} already has an entry {entry.id!r}")
    session.add(kb.KnowledgeEntry(**_fields(entry, community_id), origin=kb.WORKER, updated_at=now))
    session.flush()


def import_file(
    session: Session,
    path: Path,
    collection: str,
    *,
    now: datetime,
    default_domain: str = "service",
    replace_collection: bool = False,
    community: str = "",
) -> ImportResult:
    """Add the rows of `path` to `collection` (a row with an existing id replaces it); all or nothing.

    Every row is validated first (entries.RowsError names every bad one by line). `community` is given
    to rows that name none. The caller's transaction holds every change, so a failure changes nothing.
    """
    _check_writable(collection)
    incoming = read_rows(Path(path), collection, default_domain=default_domain)
    if community:
        incoming = [e if e.community else replace(e, community=community) for e in incoming]
    community_ids = _community_ids(session, {e.community for e in incoming})
    kb.bump_kb_version(session, now=now)
    existing = {row.entry_id: row for row in kb.kb_entries_of(session, collection=collection)}
    incoming_ids = {e.id for e in incoming}
    if replace_collection:
        for entry_id in [i for i in existing if i not in incoming_ids]:
            session.delete(existing.pop(entry_id))
    updated = 0
    for entry in incoming:
        fields = _fields(entry, community_ids.get(entry.community))
        current = existing.get(entry.id)
        if current is None:
            session.add(kb.KnowledgeEntry(**fields, origin=kb.WORKER, updated_at=now))
            continue
        updated += 1
        for name, value in fields.items():
            setattr(current, name, value)
        current.updated_at = now
    session.flush()
    total = len(existing) + len(incoming) - updated
    return ImportResult(collection, added=len(incoming) - updated, updated=updated, total=total)


def remove_entry(session: Session, *, entry_id: str, collection: str | None, now: datetime) -> Entry:
    """Remove a worker's entry and return it; without a collection, the one worker's collection holding it."""
    if collection is not None:
        _check_writable(collection)
    owned = [
        (row, code)
        for row, code in kb.kb_rows(session, entry_id=entry_id)
        if row.origin == kb.WORKER and collection in (None, row.collection)
    ]
    if not owned and collection is not None:
        raise CollectionError(f"collection {collection!r} has no entry {entry_id!r}")
    if not owned:
        raise CollectionError(f"no imported collection has an entry {entry_id!r}")
    if len(owned) > 1:
        names = ", ".join(row.collection for row, _ in owned)
        raise CollectionError(f"{entry_id!r} is in {names}; choose one with --collection")
    row, code = owned[0]
    kb.bump_kb_version(session, now=now)
    removed = _entry(row, code)
    session.delete(row)
    session.flush()
    return removed


def list_collections(session: Session) -> list[CollectionSize]:
    """Every collection with its size: the team's "default" first, then the others by name."""
    sizes = kb.kb_collection_sizes(session)
    team = CollectionSize(DEFAULT_COLLECTION, sizes.pop(DEFAULT_COLLECTION, 0))
    return [team, *(CollectionSize(name, count) for name, count in sorted(sizes.items()))]


def entries_for(session: Session, collections: Iterable[str] | None = None) -> list[Entry]:
    """The entries of these collections (every collection when None), in a stable order."""
    names = None if collections is None else list(collections)
    return [_entry(row, code) for row, code in kb.kb_rows(session, collections=names)]


def collection_entries(session: Session, name: str) -> list[Entry]:
    """One collection's entries; an unknown collection is an error (the team's may be empty before a sync)."""
    check_collection_name(name)
    entries = entries_for(session, [name])
    if not entries and name != DEFAULT_COLLECTION:
        raise CollectionError(f"no collection {name!r}")
    return entries


def find_entries(session: Session, entry_id: str, collection: str | None = None) -> list[Entry]:
    return [
        _entry(row, code)
        for row, code in kb.kb_rows(session, entry_id=entry_id)
        if collection is None or row.collection == collection
    ]


def _check_writable(collection: str) -> None:
    check_collection_name(collection)
    if collection == DEFAULT_COLLECTION:
        raise CollectionError(
            f"the {DEFAULT_COLLECTION!r} collection is the team's files in {DEFAULT_ENTRIES_DIR}: "
            "edit them and run `shegong kb sync`"
        )


def _community_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for code in sorted(c for c in set(codes) if c):
        community = repo.community_by_code(session, code=code)
        if community is None:
            raise CollectionError(f"no community with code {code!r}")
        ids[code] = community.id
    return ids


def _fields(entry: Entry, community_id: int | None) -> dict[str, Any]:
    if len(entry.topic) > _TOPIC_CHARS:
        raise CollectionError(f"entry {entry.id!r}: topic is longer than {_TOPIC_CHARS} characters")
    texts = [entry.topic, entry.question, entry.answer, *entry.paraphrases, *entry.basis]
    if any("\x00" in text for text in texts):
        # PostgreSQL cannot store NUL in text; a file that holds one is damaged, not a knowledge-base entry.
        raise CollectionError(f"entry {entry.id!r} contains a NUL character")
    return {
        "collection": entry.collection,
        "entry_id": entry.id,
        "domain": entry.domain,
        "topic": entry.topic,
        "question": entry.question,
        "answer": entry.answer,
        "paraphrases": list(entry.paraphrases),
        "basis": list(entry.basis),
        "reviewed": entry.reviewed,
        "community_id": community_id,
        "source": entry.source[:200],
    }


def _entry(row: kb.KnowledgeEntry, community_code: str | None) -> Entry:
    return Entry(
        id=row.entry_id,
        domain=row.domain,
        question=row.question,
        answer=row.answer,
        paraphrases=tuple(row.paraphrases or ()),
        basis=tuple(row.basis or ()),
        topic=row.topic,
        reviewed=row.reviewed,
        collection=row.collection,
        source=row.source,
        community=community_code or "",
    )
