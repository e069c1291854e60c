"""`shegong kb`: import, inspect, edit, reindex and evaluate the knowledge base's collections."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
    bot_collections: tuple[str, ...] = ("default",)


def kb_config() -> KbConfig:
    """Where collections live and which encoder to use; the one place these commands read settings."""
    from bot.settings import get_settings

    settings = get_settings()
    return KbConfig(
        data_dir=settings.data_dir,
        embedding_model=settings.embedding_model,
        bot_collections=tuple(c.strip() for c in settings.kb_collections.split(",") if c.strip()),
    )


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def _load(names: Sequence[str] | None) -> tuple[list[str], list[Entry]]:
    from knowledge_base.store import list_collections, load_all

    config = kb_config()
    chosen = list(names) if names else list_collections(config.data_dir)
    try:
        return chosen, load_all(config.data_dir, chosen)
    except (CollectionError, EntryError) as exc:
        raise _fail(str(exc)) from exc


def _index_for(names: list[str], entries: list[Entry], rebuild: bool = False) -> KnowledgeIndex:
    from knowledge_base.encoders import make_encoder
    from knowledge_base.index import KnowledgeIndex, load_or_build
    from knowledge_base.store import index_cache_dir

    config = kb_config()
    # Same cache layout as the bot: one index per combination of collections.
    cache = index_cache_dir(config.data_dir, "+".join(names))
    try:
        encoder = make_encoder(config.embedding_model)
        if rebuild:
            index = KnowledgeIndex.build(entries, encoder)
            index.save(cache)
            return index
        return load_or_build(entries, encoder, cache)
    except EncoderUnavailableError as exc:
        raise _fail(str(exc)) from exc


@kb_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help=".jsonl, .csv or .yaml rows with question and answer", exists=True)],
    collection: Annotated[str, typer.Option("--collection", "-c", help="collection to add to")] = IMPORTED_COLLECTION,
    domain: Annotated[str, typer.Option("--domain", help="domain of rows without one")] = "service",
    replace: Annotated[bool, typer.Option("--replace", help="replace the collection instead of adding")] = False,
) -> None:
    """Import rows into a collection: every row is checked first, and nothing is written if any is bad."""
    from knowledge_base.store import import_file

    try:
        result = import_file(kb_config().data_dir, path, collection, default_domain=domain, replace=replace)
    except RowsError as exc:
        raise _fail(str(exc)) from exc
    except (CollectionError, ValueError) as exc:
        raise _fail(f"{path}: {exc}") from exc
    typer.echo(
        f"{result.collection}: {result.added} added, {result.updated} updated, {result.total} entries "
        "(the index is rebuilt on next use)"
    )


@kb_app.command("list")
def list_command(
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="list this collection's entries")] = None,
) -> None:
    """List the collections, or the entries of one."""
    from knowledge_base.store import list_collections

    if collection is None:
        for name in list_collections(kb_config().data_dir):
            _, entries = _load([name])
            suffix = " (read-only: the team's files)" if name == DEFAULT_COLLECTION else ""
            typer.echo(f"{name}\t{len(entries)} entries{suffix}")
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
    _, entries = _load([collection] if collection else None)
    found = [e for e in entries if e.id == entry_id]
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
) -> None:
    """Add one entry to an imported collection."""
    from knowledge_base.entries import entry_from_row
    from knowledge_base.store import add_entry

    row = {
        "id": entry_id or generated_id(collection, question),
        "domain": domain,
        "topic": topic,
        "question": question,
        "paraphrases": paraphrase or [],
        "answer": answer,
        "basis": basis or [],
        "source": "shegong kb add",
    }
    try:
        entry = entry_from_row(row, collection)
        add_entry(kb_config().data_dir, entry)
    except (CollectionError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"added {entry.id} to {collection}")


@kb_app.command("remove")
def remove_command(
    entry_id: Annotated[str, typer.Argument(help="entry id")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
) -> None:
    """Remove an entry from an imported collection."""
    from knowledge_base.store import list_collections, read_collection, remove_entry

    data_dir = kb_config().data_dir
    if collection is None:
        owners = [
            name
            for name in list_collections(data_dir)[1:]
            if any(e.id == entry_id for e in read_collection(data_dir, name))
        ]
        if not owners:
            raise _fail(f"no imported collection has an entry {entry_id!r}")
        if len(owners) > 1:
            raise _fail(f"{entry_id!r} is in {', '.join(owners)}; choose one with --collection")
        collection = owners[0]
    try:
        removed = remove_entry(data_dir, collection, entry_id)
    except CollectionError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"removed {removed.id} from {collection}: {removed.question}")


@kb_app.command("reindex")
def reindex_command(
    collection: Annotated[list[str] | None, typer.Option("--collection", "-c", help="default: all; repeat")] = None,
) -> None:
    """Rebuild and save the search index now instead of on next use (default: what the bot answers from)."""
    names, entries = _load(collection or list(kb_config().bot_collections))
    started = time.perf_counter()
    index = _index_for(names, entries, rebuild=True)
    typer.echo(f"indexed {len(index)} entries of {', '.join(names)} in {time.perf_counter() - started:.1f} s")


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
    names, entries = _load(collection)
    report = evaluate(_index_for(names, entries), labelled)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(f"{len(labelled)} queries against {len(entries)} entries ({', '.join(names)})")
        typer.echo(report.format())
