"""Reading the team's YAML entries and import rows, and the errors that point at the bad one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from knowledge_base.entries import (
    Entry,
    EntryError,
    RowsError,
    entry_from_row,
    generated_id,
    load_entries,
    read_rows,
)
from knowledge_base.store import DEFAULT_ENTRIES_DIR


def test_team_files_load_with_every_field(team_entries: list[Entry]) -> None:
    by_id = {e.id: e for e in team_entries}
    noise = by_id["legal-noise-001"]
    assert noise.domain == "legal"
    assert noise.topic == "噪音"
    assert noise.paraphrases == ("楼上天天半夜蹦迪 吵得睡不着", "邻居晚上太吵了能报警吗")
    assert noise.basis == ("《民法典》第二百九十四条",)
    assert noise.reviewed == dt.date(2026, 11, 20)
    assert noise.collection == "default"
    assert noise.source == "legal_sample.yaml"
    assert noise.answer.startswith("1. 先和邻居好好说。")
    assert noise.questions[0] == noise.question
    assert by_id["psych-insomnia-001"].reviewed is None


def test_the_shipped_knowledge_base_is_valid() -> None:
    entries = load_entries(DEFAULT_ENTRIES_DIR)
    assert len({e.id for e in entries}) == len(entries)


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "- id: service-a-001\n  domain: service\n  topic: t\n  question: 问题\n  answer: 回答\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + "- id: service-a-002\n  domain: service\n  topic: t\n  question: 问题二\n", "service-a-002"),
        ("- id: legal-x-001\n  domain: law\n  topic: t\n  question: q\n  answer: a\n", "domain 'law'"),
        ("- id: Legal_X\n  domain: legal\n  topic: t\n  question: q\n  answer: a\n", "lowercase"),
        (
            "- id: legal-x-001\n  domain: legal\n  topic: t\n  question: q\n  answer: a\n  paraphrase: [b]\n",
            "paraphrase",
        ),
        ("- id: legal-x-001\n  domain: legal\n  topic: t\n  question: q\n  answer: a\n  reviewed: soon\n", "reviewed"),
        ("- id: legal-x-001\n  domain: legal\n  topic: t\n  question: q\n  answer: a\n  basis: 第一条\n", "basis"),
        ("id: legal-x-001\n", "list of entries"),
        ("- [unclosed\n", "bad.yaml"),
    ],
)
def test_team_file_errors_name_the_file_and_entry(tmp_path: Path, text: str, expected: str) -> None:
    _write(tmp_path, "bad.yaml", text)
    with pytest.raises(EntryError) as caught:
        load_entries(tmp_path)
    message = str(caught.value)
    assert message.startswith("bad.yaml")
    assert expected in message


def test_missing_answer_names_entry_index_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "bad.yaml", GOOD + "- id: service-a-002\n  domain: service\n  topic: t\n  question: 问题二\n")
    with pytest.raises(EntryError, match=r"bad.yaml: entry 'service-a-002' \(#2, line 6\): missing answer"):
        load_entries(tmp_path)


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", GOOD)
    _write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(EntryError, match=r"b\.yaml: entry 'service-a-001' repeats an id already used in a\.yaml"):
        load_entries(tmp_path)


def test_jsonl_rows_keep_known_fields_and_ignore_others(tmp_path: Path) -> None:
    rows = [
        {"id": "L0001", "domain": "legal", "topic": "neighbor", "question": "问一", "answer": "答一", "license": "x"},
        {"question": "问二", "answer": "答二"},
    ]
    path = _write(tmp_path, "rows.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    first, second = read_rows(path, "public", default_domain="psych")
    assert (first.id, first.domain, first.topic, first.collection, first.source) == (
        "L0001",
        "legal",
        "neighbor",
        "public",
        "rows.jsonl",
    )
    assert second.id == generated_id("public", "问二")
    assert second.domain == "psych"


def test_jsonl_bad_rows_are_all_reported_by_line(tmp_path: Path) -> None:
    lines = [
        '{"id": "a1", "question": "问", "answer": "答"}',
        '{"id": "a2", "question": "问"}',
        "not json",
        '{"id": "a1", "question": "再问", "answer": "答"}',
        '["a", "list"]',
        '{"id": "a5", "question": "问", "answer": "答", "domain": "medical"}',
    ]
    path = _write(tmp_path, "rows.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(RowsError) as caught:
        read_rows(path, "c")
    assert [p.line for p in caught.value.problems] == [2, 3, 4, 5, 6]
    message = str(caught.value)
    assert "line 2: missing answer" in message
    assert "line 3: not valid JSON" in message
    assert "line 4: id 'a1' repeats line 1" in message
    assert "line 6: domain 'medical'" in message
    assert "nothing imported" in message


def test_csv_rows_with_multiline_cells_and_paraphrase_lists(tmp_path: Path) -> None:
    text = 'id,question,answer,paraphrases\nc1,问一,"第一行\n第二行",说法一|说法二\nc2,问二,,\nc3,问三,答三,\n'
    path = _write(tmp_path, "rows.csv", text)
    with pytest.raises(RowsError) as caught:
        read_rows(path, "c")
    assert [(p.line, p.message) for p in caught.value.problems] == [(4, "missing answer")]

    path.write_text(text.replace("c2,问二,,", "c2,问二,答二,"), encoding="utf-8")
    first, second, third = read_rows(path, "c")
    assert first.answer == "第一行\n第二行"
    assert first.paraphrases == ("说法一", "说法二")
    assert (second.id, third.id) == ("c2", "c3")


def test_csv_row_with_too_many_cells(tmp_path: Path) -> None:
    path = _write(tmp_path, "rows.csv", "question,answer\n问,答,多余\n")
    with pytest.raises(RowsError, match="line 2: 3 cells but the header has 2 columns"):
        read_rows(path, "c")


def test_yaml_rows_report_the_line_each_bad_row_starts_on(tmp_path: Path) -> None:
    text = "- question: 问一\n  answer: 答一\n- question: 问二\n- 只是文字\n- question: 问四\n  answer: 答四\n"
    path = _write(tmp_path, "rows.yaml", text)
    with pytest.raises(RowsError) as caught:
        read_rows(path, "c")
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (3, "missing answer"),
        (4, "expected a mapping of fields"),
    ]


def test_unsupported_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported file type"):
        read_rows(_write(tmp_path, "rows.txt", "x"), "c")
    with pytest.raises(RowsError, match="no rows"):
        read_rows(_write(tmp_path, "rows.jsonl", "\n"), "c")


def test_stored_rows_round_trip(team_entries: list[Entry]) -> None:
    for entry in team_entries:
        assert entry_from_row(entry.to_row() | {"collection": entry.collection}) == entry
