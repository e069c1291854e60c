"""Imported collections: all-or-nothing imports, add and remove, and the read-only default collection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge_base.entries import Entry, RowsError
from knowledge_base.store import (
    CollectionError,
    add_entry,
    collection_path,
    import_file,
    list_collections,
    load_all,
    read_collection,
    remove_entry,
)

GOOD_JSONL = '{"id": "r1", "question": "问一", "answer": "答一"}\n{"id": "r2", "question": "问二", "answer": "答二"}\n'
BAD_ROWS = {
    "rows.jsonl": '{"id": "r1", "question": "问一", "answer": "答一"}\n{"id": "r3", "question": "问三"}\n',
    "rows.csv": "id,question,answer\nr1,问一,答一\nr3,问三,\n",
    "rows.yaml": "- id: r1\n  question: 问一\n  answer: 答一\n- id: r3\n  question: 问三\n",
}
BAD_LINE = {"rows.jsonl": 2, "rows.csv": 3, "rows.yaml": 4}


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_then_read_back(tmp_path: Path) -> None:
    data = tmp_path / "var"
    result = import_file(data, _file(tmp_path, "rows.jsonl", GOOD_JSONL), "mine", default_domain="legal")
    assert (result.added, result.updated, result.total) == (2, 0, 2)
    entries = read_collection(data, "mine")
    assert [(e.id, e.domain, e.collection) for e in entries] == [("r1", "legal", "mine"), ("r2", "legal", "mine")]
    assert collection_path(data, "mine") == data / "kb" / "mine.jsonl"
    assert json.loads(collection_path(data, "mine").read_text(encoding="utf-8").splitlines()[0])["id"] == "r1"


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
def test_a_bad_row_in_any_format_writes_nothing(tmp_path: Path, name: str) -> None:
    data = tmp_path / "var"
    with pytest.raises(RowsError) as caught:
        import_file(data, _file(tmp_path, name, BAD_ROWS[name]), "mine")
    assert [p.line for p in caught.value.problems] == [BAD_LINE[name]]
    assert f"line {BAD_LINE[name]}: missing answer" in str(caught.value)
    assert not collection_path(data, "mine").exists()
    assert list_collections(data) == ["default"]


def test_a_failed_import_leaves_an_existing_collection_unchanged(tmp_path: Path) -> None:
    data = tmp_path / "var"
    import_file(data, _file(tmp_path, "rows.jsonl", GOOD_JSONL), "mine")
    before = collection_path(data, "mine").read_bytes()
    with pytest.raises(RowsError):
        import_file(data, _file(tmp_path, "bad.jsonl", BAD_ROWS["rows.jsonl"]), "mine")
    assert collection_path(data, "mine").read_bytes() == before
    assert sorted(p.name for p in (data / "kb").iterdir()) == ["mine.jsonl"]


def test_reimport_updates_by_id_and_replace_starts_over(tmp_path: Path) -> None:
    data = tmp_path / "var"
    import_file(data, _file(tmp_path, "rows.jsonl", GOOD_JSONL), "mine")
    update = _file(tmp_path, "update.jsonl", '{"id": "r2", "question": "问二", "answer": "新答"}\n')
    result = import_file(data, update, "mine")
    assert (result.added, result.updated, result.total) == (0, 1, 2)
    assert [e.answer for e in read_collection(data, "mine")] == ["答一", "新答"]
    result = import_file(data, update, "mine", replace=True)
    assert [e.id for e in read_collection(data, "mine")] == ["r2"]


def test_add_and_remove(tmp_path: Path) -> None:
    data = tmp_path / "var"
    entry = Entry(id="x1", domain="service", question="问", answer="答", paraphrases=("说法",), collection="mine")
    add_entry(data, entry)
    with pytest.raises(CollectionError, match="already has an entry 'x1'"):
        add_entry(data, entry)
    assert read_collection(data, "mine") == [entry]
    assert remove_entry(data, "mine", "x1") == entry
    assert read_collection(data, "mine") == []
    with pytest.raises(CollectionError, match="no entry 'x1'"):
        remove_entry(data, "mine", "x1")


def test_default_collection_is_read_only_and_listed_first(tmp_path: Path, team_dir: Path) -> None:
    data = tmp_path / "var"
    with pytest.raises(CollectionError):
        import_file(data, _file(tmp_path, "rows.jsonl", GOOD_JSONL), "default")
    with pytest.raises(CollectionError):
        add_entry(data, Entry(id="x", domain="legal", question="q", answer="a"))
    import_file(data, _file(tmp_path, "rows.jsonl", GOOD_JSONL), "zzz")
    import_file(data, _file(tmp_path, "rows.jsonl", GOOD_JSONL), "aaa")
    assert list_collections(data) == ["default", "aaa", "zzz"]
    everything = load_all(data, default_dir=team_dir)
    assert [e.collection for e in everything][-4:] == ["aaa", "aaa", "zzz", "zzz"]
    assert {e.collection for e in everything[:-4]} == {"default"}


@pytest.mark.parametrize("name", ["", "Upper", "../escape", "a b", "x" * 65])
def test_collection_names_are_checked(tmp_path: Path, name: str) -> None:
    with pytest.raises(CollectionError):
        collection_path(tmp_path, name)
