"""The story loader refuses what the format does not allow, naming where: a typo is never a skipped check."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversations.loader import StoryError, load_known_failures, load_stories

GOOD = """\
stories:
  - name: 路灯坏了
    covers: [report]
    steps:
      - say: 3号楼路灯坏了
        reply: {contains: ["工单"]}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    (story,) = load_stories(tmp_path)
    assert story.name == "路灯坏了" and story.steps[0].action == "say" and story.source == "a.yaml"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (GOOD.replace("covers:", "cover:"), "cover"),
        (GOOD.replace("contains:", "contain:"), "contain"),
        (GOOD + "extra: 1\n", "extra"),
        (
            GOOD.replace("      - say: 3号楼路灯坏了\n", "      - say: 3号楼路灯坏了\n        voice: 路灯\n"),
            "exactly one",
        ),
        (GOOD.replace("reply: {contains", "reply: {contains: [a], contains"), "twice"),
        (GOOD.replace("    covers: [report]\n", ""), "covers"),
        (GOOD + "    expect: {ticket: {category: lights}}\n", "category"),
        (GOOD + "    expect: {alerts: {orange: 1}}\n", "orange"),
    ],
)
def test_a_mistake_is_refused_with_its_file_named(tmp_path: Path, text: str, named: str) -> None:
    write(tmp_path, "bad.yaml", text)
    with pytest.raises(StoryError, match=r"bad\.yaml") as raised:
        load_stories(tmp_path)
    assert named in str(raised.value)


def test_a_name_used_twice_across_files_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(StoryError, match=r"already used in a\.yaml"):
        load_stories(tmp_path)


def test_known_failures_name_only_stories(tmp_path: Path) -> None:
    path = write(tmp_path, "known.yaml", "路灯坏了: '11.4'\n没有这个: '11.5'\n")
    with pytest.raises(StoryError, match="没有这个"):
        load_known_failures({"路灯坏了"}, path)
