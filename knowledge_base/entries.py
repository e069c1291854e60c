"""Knowledge-base entries: the Entry type, the team's YAML files and imported rows (JSONL, CSV, YAML)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

DOMAINS: Final = ("legal", "psych", "service")
DEFAULT_COLLECTION: Final = "default"

# The team's own ids are "domain-topic-number" in lowercase; imported ids only need to be URL- and shell-safe.
_TEAM_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_IMPORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_TEAM_FIELDS: Final = frozenset(
    {"id", "domain", "topic", "question", "paraphrases", "answer", "basis", "reviewed", "source"}
)
# Import files come from elsewhere (the public sets carry license, gold_id, ...): unknown columns are ignored.
_LIST_SEPARATOR = re.compile(r"\s*[|\n]\s*")


@dataclass(frozen=True)
class Entry:
    id: str
    domain: str
    question: str
    answer: str
    paraphrases: tuple[str, ...] = ()
    basis: tuple[str, ...] = ()
    topic: str = ""
    reviewed: dt.date | None = None
    collection: str = DEFAULT_COLLECTION
    source: str = ""
    # The code of the one community this entry is about (its canteen, its office hours); "" for everyone.
    community: str = ""

    @property
    def questions(self) -> tuple[str, ...]:
        """The question followed by its paraphrases: every way of asking that should find this entry."""
        return (self.question, *self.paraphrases)

    def to_row(self) -> dict[str, Any]:
        """The normalised row stored in a collection file (the collection is the file, so it is left out)."""
        row: dict[str, Any] = {
            "id": self.id,
            "domain": self.domain,
            "topic": self.topic,
            "question": self.question,
            "paraphrases": list(self.paraphrases),
            "answer": self.answer,
            "basis": list(self.basis),
            "reviewed": self.reviewed.isoformat() if self.reviewed else None,
            "source": self.source,
        }
        if self.community:  # only when set, so rows and index fingerprints without one stay as they were
            row["community"] = self.community
        return row

    def available_to(self, community: str | None) -> bool:
        """Whether a resident of `community` (None: unknown) may be answered with this entry."""
        return not self.community or community is None or self.community == community


class EntryError(ValueError):
    """A team knowledge-base file is unusable; the message names the file and the entry."""


@dataclass(frozen=True)
class RowProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class RowsError(ValueError):
    """An import file has bad rows; `problems` lists every one, so the file can be fixed in one pass."""

    def __init__(self, path: Path, problems: list[RowProblem]) -> None:
        self.path = path
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} bad row(s), nothing imported:\n{listed}")


def generated_id(collection: str, question: str) -> str:
    """A stable id for a row that has none, so re-importing the same file updates rather than duplicates."""
    digest = hashlib.sha1(question.strip().encode("utf-8")).hexdigest()[:10]
    return f"{collection}-{digest}"


def load_entries(directory: Path, collection: str = DEFAULT_COLLECTION) -> list[Entry]:
    """Read every *.yaml file in `directory` (sorted by name), validated; ids must be unique across files."""
    entries: list[Entry] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        for entry in _load_team_file(path, collection):
            if entry.id in seen:
                raise EntryError(f"{path.name}: entry {entry.id!r} repeats an id already used in {seen[entry.id]}")
            seen[entry.id] = path.name
            entries.append(entry)
    return entries


def _load_team_file(path: Path, collection: str) -> list[Entry]:
    try:
        items = list(_yaml_items(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, _NotAList) as exc:
        raise EntryError(f"{path.name}: {exc}") from exc
    entries = []
    for index, (line, item) in enumerate(items, start=1):
        label = f"entry #{index} (line {line})"
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            label = f"entry {item['id']!r} (#{index}, line {line})"
        try:
            entries.append(_team_entry(item, collection, path.name))
        except ValueError as exc:
            raise EntryError(f"{path.name}: {label}: {exc}") from exc
    return entries


def _team_entry(item: object, collection: str, source: str) -> Entry:
    if not isinstance(item, Mapping):
        raise ValueError("expected a mapping of fields")
    unknown = sorted(str(k) for k in item if k not in _TEAM_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    entry_id = _required_text(item, "id")
    if not _TEAM_ID.match(entry_id):
        raise ValueError(f"id {entry_id!r} must be lowercase letters, digits and dashes (domain-topic-number)")
    return Entry(
        id=entry_id,
        domain=_domain(item.get("domain")),
        question=_required_text(item, "question"),
        answer=_required_text(item, "answer"),
        paraphrases=_text_list(item, "paraphrases", split_text=False),
        basis=_text_list(item, "basis", split_text=False),
        topic=_required_text(item, "topic"),
        reviewed=_date(item.get("reviewed")),
        collection=collection,
        source=_optional_text(item, "source") or source,
    )


def read_rows(path: Path, collection: str, *, default_domain: str = "service") -> list[Entry]:
    """Read an import file (.jsonl, .csv, .yaml/.yml) into entries of `collection`.

    Every row is checked before anything is returned; if any is bad, one RowsError lists them all by line.
    Rows need `question` and `answer`; `id`, `domain`, `topic`, `paraphrases`, `basis`, `source` and
    `community` (a community code) are used when present. A row without `domain` gets `default_domain`; one without `id` gets a stable generated id.
    """
    if default_domain not in DOMAINS:
        raise ValueError(f"default domain {default_domain!r} is not one of {', '.join(DOMAINS)}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RowsError(path, [RowProblem(1, f"not UTF-8 text ({exc.reason})")]) from exc
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _jsonl_rows(text)
    elif suffix == ".csv":
        rows = _csv_rows(text)
    elif suffix in (".yaml", ".yml"):
        rows = _yaml_rows(text)
    else:
        raise ValueError(f"{path}: unsupported file type {suffix or '(none)'}; use .jsonl, .csv or .yaml")

    problems: list[RowProblem] = []
    entries: list[Entry] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        if isinstance(row, RowProblem):
            problems.append(row)
            continue
        try:
            entry = _imported_entry(row, collection, default_domain, path.name)
        except ValueError as exc:
            problems.append(RowProblem(line, str(exc)))
            continue
        if entry.id in first_line:
            problems.append(RowProblem(line, f"id {entry.id!r} repeats line {first_line[entry.id]}"))
            continue
        first_line[entry.id] = line
        entries.append(entry)
    if problems:
        raise RowsError(path, problems)
    if not entries:
        raise RowsError(path, [RowProblem(1, "no rows")])
    return entries


def entry_from_row(row: Mapping[str, Any], collection: str | None = None) -> Entry:
    """An entry from a normalised row (Entry.to_row, plus `collection` unless given), as stored on disk."""
    name = collection if collection is not None else _required_text(row, "collection")
    if not _optional_text(row, "id"):
        raise ValueError("missing id")
    return _imported_entry(row, name, default_domain="", source="")


def _imported_entry(row: Mapping[str, Any], collection: str, default_domain: str, source: str) -> Entry:
    question = _required_text(row, "question")
    entry_id = _optional_text(row, "id") or generated_id(collection, question)
    if not _IMPORT_ID.match(entry_id):
        raise ValueError(f"id {entry_id!r} may only hold letters, digits and _ . : - (at most 128)")
    domain = row.get("domain")
    return Entry(
        id=entry_id,
        domain=_domain(domain if domain not in (None, "") else default_domain),
        question=question,
        answer=_required_text(row, "answer"),
        paraphrases=_text_list(row, "paraphrases"),
        basis=_text_list(row, "basis"),
        topic=_optional_text(row, "topic"),
        reviewed=_date(row.get("reviewed")),
        collection=collection,
        source=_optional_text(row, "source") or source,
        community=_optional_text(row, "community"),
    )


_Row = tuple[int, Mapping[str, Any] | RowProblem]


def _jsonl_rows(text: str) -> Iterator[_Row]:
    # split on \n only: str.splitlines would also break at U+2028 and friends, which JSON allows inside strings
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield line_no, RowProblem(line_no, f"not valid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            yield line_no, RowProblem(line_no, "expected a JSON object")
            continue
        yield line_no, row


def _csv_rows(text: str) -> Iterator[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return
    columns = [h.strip() for h in header]
    start = reader.line_num + 1
    for cells in reader:
        # a quoted cell may span lines, so a row starts on the line after the previous row ended
        line_no, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(columns):
            yield line_no, RowProblem(line_no, f"{len(cells)} cells but the header has {len(columns)} columns")
            continue
        yield line_no, dict(zip(columns, cells, strict=False))


def _yaml_rows(text: str) -> Iterator[_Row]:
    try:
        items = list(_yaml_items(text))
    except (yaml.YAMLError, _NotAList) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        yield line, RowProblem(line, f"not a YAML list of rows ({exc})")
        return
    for line, item in items:
        if not isinstance(item, Mapping):
            yield line, RowProblem(line, "expected a mapping of fields")
            continue
        yield line, item


class _NotAList(ValueError):
    pass


def _yaml_items(text: str) -> Iterator[tuple[int, object]]:
    """The items of a top-level YAML list, each with the line it starts on (for error messages)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return
        if not isinstance(node, yaml.SequenceNode):
            raise _NotAList("the file must be a list of entries (each starting with '- ')")
        for child in node.value:
            yield child.start_mark.line + 1, loader.construct_object(child, deep=True)
    finally:
        loader.dispose()


def _required_text(row: Mapping[str, Any], field: str) -> str:
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"missing {field}")
    if not isinstance(value, str):
        raise ValueError(f"{field} must be text, not {type(value).__name__}")
    return value.strip()


def _optional_text(row: Mapping[str, Any], field: str) -> str:
    value = row.get(field)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{field} must be text, not {type(value).__name__}")
    return str(value).strip()


def _text_list(row: Mapping[str, Any], field: str, split_text: bool = True) -> tuple[str, ...]:
    value = row.get(field)
    if value is None or value == "":
        return ()
    items: Iterable[object]
    if isinstance(value, str) and split_text:
        # CSV has no lists: several paraphrases share one cell, separated by | or line breaks.
        items = _LIST_SEPARATOR.split(value)
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"{field} must be a list of text")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{field} must be a list of text, found {type(item).__name__}")
        if item.strip():
            out.append(item.strip())
    return tuple(out)


def _domain(value: object) -> str:
    if value not in DOMAINS:
        raise ValueError(f"domain {value!r} is not one of {', '.join(DOMAINS)}")
    return str(value)


def _date(value: object) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"reviewed {value!r} is not a date (YYYY-MM-DD)")
