"""Traditional characters and full-width digits read as simplified text; everything else is left as it is."""

from __future__ import annotations

import pytest

from intents.normalise import normalise_text


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("5號樓電梯壞了", "5号楼电梯坏了"),
        ("請問低保怎麼申請", "请问低保怎么申请"),
        ("八十歲有沒有高齡補貼", "八十岁有没有高龄补贴"),
        ("３号楼楼道灯坏了", "3号楼楼道灯坏了"),
        ("ＡＢ栋１２号", "AB栋12号"),
    ],
)
def test_traditional_and_full_width_text_is_normalised(typed: str, read: str) -> None:
    assert normalise_text(typed) == read


@pytest.mark.parametrize(
    "text", ["", "查询 AB12CD", "老伴走了以后 我晚上老是睡不着", "头发 着急 里面", "路灯坏了？好几天了，没人管！"]
)
def test_simplified_text_and_punctuation_are_unchanged(text: str) -> None:
    assert normalise_text(text) == text
