"""The plain rules: category, colour, place, worker commands, and community-file mistakes by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.communities import CommunityFileError, parse_community_file
from handlers.tickets.actions import parse_worker_command
from handlers.tickets.rules import UrgencyRule, UrgencyRuleSpec, categorise, find_place, urgency, urgency_rules
from storage.tickets import CODE_ALPHABET, new_code

from .conftest import EXAMPLE


@pytest.mark.parametrize(
    ("text", "category", "colour"),
    [
        ("3号楼东边的路灯坏了一个星期了", "lighting", "blue"),
        ("5栋楼道里垃圾好几天没人清运，很臭", "sanitation", "blue"),
        ("2号楼电梯坏了，老人上不去", "lift", "yellow"),
        ("电梯停在6楼里面有人", "lift", "red"),
        ("楼上漏水，天花板都湿了", "water_leak", "yellow"),
        ("我们楼从早上就没水了", "water_leak", "yellow"),
        ("楼下广场舞太吵了", "noise", "blue"),
        ("消防通道被私家车堵住了", "parking", "red"),
        ("单元门口电线裸露在外面", "safety", "red"),
        ("小区健身器材坏了", "facilities", "blue"),
        ("对门邻居在楼道里种菜", "dispute", "blue"),
        ("建议小区多装几个快递柜", "suggestion", "blue"),
    ],
)
def test_category_and_colour(text: str, category: str, colour: str) -> None:
    assert categorise(text) == category
    assert urgency(text, category) == colour


def test_community_rules_replace_the_defaults() -> None:
    rules = urgency_rules([UrgencyRuleSpec(colour="red", words=["路灯"], categories=["lighting"])])
    assert rules == (UrgencyRule("red", ("路灯",), ("lighting",)),)
    assert urgency("路灯不亮", "lighting", rules) == "red"
    assert urgency("楼上漏水", "water_leak", rules) == "blue"


@pytest.mark.parametrize(
    ("text", "building", "unit"),
    [
        ("3号楼东边的路灯坏了", "3", None),
        ("五栋二单元门口很脏", "5", "2"),
        ("12号2单元楼道灯不亮", "12", "2"),
        ("A座电梯坏了", "A", None),
        ("小区北门的路灯坏了", None, None),
    ],
)
def test_place(text: str, building: str | None, unit: str | None) -> None:
    place = find_place(text)
    assert (place.building, place.unit) == (building, unit)


def test_worker_commands() -> None:
    assert parse_worker_command("接单 ab3d5f").code == "AB3D5F"  # type: ignore[union-attr]
    progress = parse_worker_command("进展 AB3D5F 已联系电工")
    assert progress is not None and (progress.action, progress.note) == ("progress", "已联系电工")
    transfer = parse_worker_command("转派 AB3D5F liushifu 请换灯泡")
    assert transfer is not None and (transfer.target, transfer.note) == ("liushifu", "请换灯泡")
    assert parse_worker_command("办结：AB3D5F 已更换灯泡") is not None
    assert parse_worker_command("你好") is None


def test_codes_avoid_letters_misread_aloud() -> None:
    codes = {new_code() for _ in range(500)}
    assert all(len(c) == 6 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set(CODE_ALPHABET) & set("0O1IL")
    assert len(codes) > 490


def test_example_file_is_valid() -> None:
    spec = parse_community_file(EXAMPLE)
    heping = spec.communities[0]
    assert heping.grids[0].buildings == ["1", "2", "3", "4"]
    assert heping.teams["lighting"].wecom_userid == "liushifu"


def test_mistakes_are_named_by_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    broken = text.replace("      lift:\n", "      lifts:\n").replace(
        "buildings: [5, 6, 7, 8]", "buildings: [4, 6, 7, 9]"
    )
    broken = broken.replace('words: ["飞线"', 'words: ["(飞线"').replace(
        'words: ["电线.{0,6}(裸露|外露|露|断|掉|垂|漏电)"', 'words: ["电线(("'
    )
    path = tmp_path / "community.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(CommunityFileError) as caught:
        parse_community_file(path)
    message = str(caught.value)
    lines = broken.splitlines()
    second_grid = next(i for i, line in enumerate(lines, 1) if "[4, 6, 7, 9]" in line)
    assert f"line {second_grid}: communities.0.grids.1.buildings.0: building '4' is already in grid 'hp-1'" in message
    assert "building '9' is not in this community's buildings list" in message
    assert "unknown category 'lifts'" in message
    bad_pattern = next(i for i, line in enumerate(lines, 1) if '"电线(("' in line)
    assert f"line {bad_pattern}: communities.0.urgency.3.words.0: not a valid pattern" in message


def test_a_missing_worker_id_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "communities:\n  - code: demo\n    name: 示范社区\n    duty:\n      name: 甲\n      wecom_userid: a\n"
        "    grids:\n      - code: g\n        name: 网格\n        worker:\n          name: 乙\n        buildings: [1]\n",
        encoding="utf-8",
    )
    with pytest.raises(CommunityFileError, match=r"line 11: communities\.0\.grids\.0\.worker\.wecom_userid"):
        parse_community_file(path)
