"""`shegong kb`: sync, import, inspect, edit, reindex and evaluate the knowledge base in the database."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli import common
from knowledge_base.encoders import EncoderUnavailableError
from knowledge_base.entries import DEFAULT_COLLECTION, DOMAINS, Entry, EntryError, RowsError, generated_id
from knowledge_base.store import CollectionError

if TYPE_CHECKING:
    from knowledge_base.index import KnowledgeIndex

kb_app = typer.Typer(help="The knowledge base: collections of questions and answers.", no_args_is_help=True)

IMPORTED_COLLECTION = "imported"


@dataclass(frozen=True)
class KbConfig:
    data_dir: Path
    embedding_model: str
    # None: every collection, as the bot answers by default (SHEGONG_KB_COLLECTIONS empty).
    bot_collections: tuple[str, ...] | None = None


def kb_config() -> KbConfig:
    """Where the index cache lives and which encoder to use; the one place these commands read settings."""
    from bot.knowledge import collections_from_setting

    settings = common.settings()
    return KbConfig(
        data_dir=settings.data_dir,
        embedding_model=settings.embedding_model,
        bot_collections=collections_from_setting(settings.kb_collections),
    )


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _now() -> datetime:
    return datetime.now(UTC)


def _load(names: Sequence[str] | None) -> tuple[tuple[str, ...] | None, list[Entry]]:
    """The entries of the named collections (every one when None), each name checked to exist."""
    from handlers import knowledge

    try:
        with common.session() as session:
            if names is None:
                return None, knowledge.entries_for(session)
            return tuple(names), [e for name in names for e in knowledge.collection_entries(session, name)]
    except CollectionError as exc:
        raise _fail(str(exc)) from exc


def _described(names: tuple[str, ...] | None) -> str:
    return "all collections" if names is None else ", ".join(names)


def _index_for(names: tuple[str, ...] | None, entries: list[Entry], rebuild: bool = False) -> KnowledgeIndex:
    from bot.knowledge import index_scope
    from knowledge_base.encoders import make_encoder
    from knowledge_base.index import KnowledgeIndex, load_or_build
    from knowledge_base.store import index_cache_dir

    config = kb_config()
    # Same cache layout as the bot: one index per combination of collections.
    cache = index_cache_dir(config.data_dir, index_scope(names))
    try:
        encoder = make_encoder(config.embedding_model)
        if rebuild:
            index = KnowledgeIndex.build(entries, encoder)
            index.save(cache)
            return index
        return load_or_build(entries, encoder, cache)
    except EncoderUnavailableError as exc:
        raise _fail(str(exc)) from exc


@kb_app.command("sync")
def sync_command() -> None:
    """Load the team's reviewed files into the database; workers' entries are left as they are."""
    from handlers import knowledge

    try:
        with common.session() as session:
            result = knowledge.sync_team_entries(session, now=_now())
    except (EntryError, CollectionError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        f"{DEFAULT_COLLECTION}: {result.added} added, {result.updated} updated, {result.removed} removed, "
        f"{result.total} entries"
    )


@kb_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help=".jsonl, .csv or .yaml rows with question and answer", exists=True)],
    collection: Annotated[str, typer.Option("--collection", "-c", help="collection to add to")] = IMPORTED_COLLECTION,
    domain: Annotated[str, typer.Option("--domain", help="domain of rows without one")] = "service",
    replace: Annotated[bool, typer.Option("--replace", help="replace the collection instead of adding")] = False,
    community: Annotated[str, typer.Option("--community", help="community code for rows without one")] = "",
) -> None:
    """Import rows into a collection: every row is checked first, and nothing is written if any is bad."""
    from handlers import knowledge

    try:
        with common.session() as session:
            result = knowledge.import_file(
                session,
                path,
                collection,
                now=_now(),
                default_domain=domain,
                replace_collection=replace,
                community=community,
            )
    except RowsError as exc:
        raise _fail(str(exc)) from exc
    except (CollectionError, ValueError) as exc:
        raise _fail(f"{path}: {exc}") from exc
    typer.echo(
        f"{result.collection}: {result.added} added, {result.updated} updated, {result.total} entries "
        "(every server answers with them within seconds)"
    )


@kb_app.command("list")
def list_command(
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="list this collection's entries")] = None,
) -> None:
    """List the collections, or the entries of one."""
    from handlers import knowledge

    if collection is None:
        with common.session() as session:
            sizes = knowledge.list_collections(session)
        for size in sizes:
            suffix = " (read-only: the team's files, loaded by `shegong kb sync`)" if size.team else ""
            typer.echo(f"{size.name}\t{size.entries} entries{suffix}")
        return
    _, entries = _load([collection])
    for entry in entries:
        typer.echo(f"{entry.id}\t{entry.domain}\t{entry.question}")


@kb_app.command("show")
def show_command(
    entry_id: Annotated[str, typer.Argument(help="entry id")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
) -> None:
    """Show an entry in full."""
    from handlers import knowledge

    with common.session() as session:
        found = knowledge.find_entries(session, entry_id, collection)
    if not found:
        raise _fail(f"no entry {entry_id!r}")
    for entry in found:
        typer.echo(_format_entry(entry))


def _format_entry(entry: Entry) -> str:
    lines = [
        f"id:         {entry.id}",
        f"collection: {entry.collection}",
        f"domain:     {entry.domain}",
        f"topic:      {entry.topic}",
        f"question:   {entry.question}",
    ]
    lines += [f"paraphrase: {p}" for p in entry.paraphrases]
    lines += [f"basis:      {b}" for b in entry.basis]
    lines += [f"community:  {entry.community or '-'}"]
    lines += [f"reviewed:   {entry.reviewed or '-'}", f"source:     {entry.source}", "answer:"]
    lines += [f"  {line}" for line in entry.answer.splitlines()]
    return "\n".join(lines)


@kb_app.command("add")
def add_command(
    question: Annotated[str, typer.Option("--question", "-q", help="the question as residents ask it")],
    answer: Annotated[str, typer.Option("--answer", "-a", help="the answer")],
    domain: Annotated[str, typer.Option("--domain", "-d", help=" | ".join(DOMAINS))],
    paraphrase: Annotated[
        list[str] | None, typer.Option("--paraphrase", "-p", help="another way to ask; repeat")
    ] = None,
    basis: Annotated[list[str] | None, typer.Option("--basis", help="statute and article (legal); repeat")] = None,
    topic: Annotated[str, typer.Option("--topic")] = "",
    entry_id: Annotated[str | None, typer.Option("--id", help="default: generated from the question")] = None,
    collection: Annotated[str, typer.Option("--collection", "-c")] = IMPORTED_COLLECTION,
    community: Annotated[str, typer.Option("--community", help="code of the one community it is for")] = "",
) -> None:
    """Add one entry to a workers' collection; every server answers with it within seconds."""
    from handlers import knowledge
    from knowledge_base.entries import entry_from_row

    row = {
        "id": entry_id or generated_id(collection, question),
        "domain": domain,
        "topic": topic,
        "question": question,
        "paraphrases": paraphrase or [],
        "answer": answer,
        "basis": basis or [],
        "source": "shegong kb add",
        "community": community,
    }
    try:
        entry = entry_from_row(row, collection)
        with common.session() as session:
            knowledge.add_entry(session, entry, now=_now())
    except (CollectionError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"added {entry.id} to {collection}")


@kb_app.command("remove")
def remove_command(
    entry_id: Annotated[str, typer.Argument(help="entry id")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
) -> None:
    """Remove an entry from a workers' collection."""
    from handlers import knowledge

    try:
        with common.session() as session:
            removed = knowledge.remove_entry(session, entry_id=entry_id, collection=collection, now=_now())
    except CollectionError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"removed {removed.id} from {removed.collection}: {removed.question}")


@kb_app.command("reindex")
def reindex_command(
    collection: Annotated[list[str] | None, typer.Option("--collection", "-c", help="default: all; repeat")] = None,
) -> None:
    """Rebuild and save the search index now instead of on next use (default: what the bot answers from)."""
    names, entries = _load(collection or kb_config().bot_collections)
    started = time.perf_counter()
    index = _index_for(names, entries, rebuild=True)
    typer.echo(f"indexed {len(index)} entries of {_described(names)} in {time.perf_counter() - started:.1f} s")


@kb_app.command("eval")
def eval_command(
    queries: Annotated[Path, typer.Option("--queries", help="JSONL with question, gold_id (and domain)", exists=True)],
    collection: Annotated[list[str] | None, typer.Option("--collection", "-c", help="default: all; repeat")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Top-1, MRR@5 and latency of retrieval on labelled queries."""
    from knowledge_base.evaluate import QueriesError, evaluate, read_queries

    try:
        labelled = read_queries(queries)
    except QueriesError as exc:
        raise _fail(str(exc)) from exc
    names, entries = _load(collection or None)
    report = evaluate(_index_for(names, entries), labelled)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(f"{len(labelled)} queries against {len(entries)} entries ({_described(names)})")
        typer.echo(report.format())
