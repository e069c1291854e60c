"""Collections as files: the team's read-only "default" set and imported ones as JSONL under a directory.

The bot's knowledge base lives in the shared database (handlers.knowledge); these files serve the
benchmarks and offline evaluation, and the helpers here (names, index cache paths) are shared by both.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from knowledge_base.entries import (
    DEFAULT_COLLECTION,
    Entry,
    entry_from_row,
    load_entries,
    read_rows,
)

# The team's reviewed entries ship inside the package.
DEFAULT_ENTRIES_DIR: Final = Path(__file__).parent / "data"
_COLLECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class CollectionError(ValueError):
    """A collection operation that cannot be done (bad name, read-only collection, unknown id)."""


@dataclass(frozen=True)
class ImportResult:
    collection: str
    added: int
    updated: int
    total: int


def kb_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "kb"


def index_cache_dir(data_dir: Path, scope: str = "all") -> Path:
    """Where the index over `scope` ("all" or one collection) is cached; not a collection (no .jsonl)."""
    return kb_dir(data_dir) / "index" / scope


def collection_path(data_dir: Path, name: str) -> Path:
    check_collection_name(name)
    if name == DEFAULT_COLLECTION:
        raise CollectionError(f"the {DEFAULT_COLLECTION!r} collection is the team's files in {DEFAULT_ENTRIES_DIR}")
    return kb_dir(data_dir) / f"{name}.jsonl"


def check_collection_name(name: str) -> None:
    if not _COLLECTION_NAME.match(name):
        raise CollectionError(
            f"collection name {name!r} must be 1-64 lowercase letters, digits, _ or -, starting with a letter or digit"
        )


def list_collections(data_dir: Path) -> list[str]:
    """The collection names: the team's "default" first, then the imported ones by name."""
    directory = kb_dir(data_dir)
    imported = sorted(p.stem for p in directory.glob("*.jsonl")) if directory.is_dir() else []
    return [DEFAULT_COLLECTION, *(n for n in imported if _COLLECTION_NAME.match(n))]


def read_collection(data_dir: Path, name: str, default_dir: Path = DEFAULT_ENTRIES_DIR) -> list[Entry]:
    if name == DEFAULT_COLLECTION:
        return load_entries(default_dir)
    path = collection_path(data_dir, name)
    if not path.exists():
        raise CollectionError(f"no collection {name!r} (looked for {path})")
    entries = []
    with path.open(encoding="utf-8") as rows:
        for line_no, line in enumerate(rows, start=1):
            if not line.strip():
                continue
            try:
                entries.append(entry_from_row(json.loads(line), name))
            except ValueError as exc:
                raise CollectionError(f"{path}:{line_no}: {exc}") from exc
    return entries


def load_all(
    data_dir: Path, collections: Iterable[str] | None = None, default_dir: Path = DEFAULT_ENTRIES_DIR
) -> list[Entry]:
    """Entries of the named collections (all of them when None), in a stable order for the index fingerprint."""
    names = list_collections(data_dir) if collections is None else list(collections)
    return [entry for name in names for entry in read_collection(data_dir, name, default_dir)]


def find_entries(entries: Iterable[Entry], entry_id: str) -> list[Entry]:
    return [e for e in entries if e.id == entry_id]


def import_file(
    data_dir: Path, path: Path, collection: str, *, default_domain: str = "service", replace: bool = False
) -> ImportResult:
    """Add the rows of `path` to `collection` (rows with an existing id replace it); all or nothing.

    Every row is validated first (entries.RowsError lists every bad one); the collection file is then
    rewritten in one atomic step, so a failure at any point leaves it exactly as it was.
    """
    target = collection_path(data_dir, collection)
    incoming = read_rows(Path(path), collection, default_domain=default_domain)
    existing = [] if replace or not target.exists() else read_collection(data_dir, collection)
    incoming_ids = {e.id for e in incoming}
    existing_ids = {e.id for e in existing}
    merged = [e for e in existing if e.id not in incoming_ids] + incoming
    write_collection(data_dir, collection, merged)
    updated = len(incoming_ids & existing_ids)
    return ImportResult(collection, added=len(incoming) - updated, updated=updated, total=len(merged))


def add_entry(data_dir: Path, entry: Entry) -> None:
    """Add one entry to its (imported) collection, creating the collection if needed."""
    path = collection_path(data_dir, entry.collection)
    entries = read_collection(data_dir, entry.collection) if path.exists() else []
    if any(e.id == entry.id for e in entries):
        raise CollectionError(f"collection {entry.collection!r} already has an entry {entry.id!r}")
    write_collection(data_dir, entry.collection, [*entries, entry])


def remove_entry(data_dir: Path, collection: str, entry_id: str) -> Entry:
    """Remove an entry by id and return it; the collection file stays (possibly empty)."""
    entries = read_collection(data_dir, collection)
    kept = [e for e in entries if e.id != entry_id]
    if len(kept) == len(entries):
        raise CollectionError(f"collection {collection!r} has no entry {entry_id!r}")
    write_collection(data_dir, collection, kept)
    return next(e for e in entries if e.id == entry_id)


def write_collection(data_dir: Path, name: str, entries: Sequence[Entry]) -> None:
    """Write the whole collection to a temporary file beside it, then rename it into place."""
    path = collection_path(data_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for entry in entries:
                if entry.collection != name:
                    raise CollectionError(f"entry {entry.id!r} belongs to {entry.collection!r}, not {name!r}")
                out.write(json.dumps(entry.to_row(), ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
