"""Phone and ID numbers in resident text are masked before they reach the database."""

from __future__ import annotations

import pytest

from storage.masking import has_identifiers, mask_identifiers


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我电话13800138000 麻烦回个电话", "我电话138****8000 麻烦回个电话"),
        ("打138 0013 8000找我", "打138****8000找我"),
        ("+86-13912345678", "139****5678"),
        ("身份证110101199003071234丢了", "身份证110101***********4丢了"),
        ("身份证号11010119900307123X", "身份证号110101***********X"),
    ],
)
def test_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_identifiers(text) == masked
    assert has_identifiers(text)


@pytest.mark.parametrize(
    "text",
    [
        "请拨打 12356",
        "3号楼2单元501",
        "工单 M7MX79",
        "2026-12-02T10:00:00+08:00",
        "1733112345678",
        "96777",
        "12345678901",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_identifiers(text) == text
