"""The checks an answer passes before it fills a flow's slot (handlers/slots.py)."""

from __future__ import annotations

import pytest

from handlers.slots import consent, is_cancel, name_in, place_in_answer
from intents import Classification, Intent

UNKNOWN = Classification(Intent.UNKNOWN, 0.3, "model")


@pytest.mark.parametrize("text", ["算了", "不用了 谢谢", "不要了 邻居说已经有人去收了", "取消", "算了吧"])
def test_cancel_words(text: str) -> None:
    assert is_cancel(text)


@pytest.mark.parametrize("text", ["算了一下是3号楼", "不用了的灯泡堆在楼道"])
def test_not_a_cancel(text: str) -> None:
    assert not is_cancel(text)


@pytest.mark.parametrize(
    ("text", "agreed"),
    [
        ("同意", True),
        ("嗯嗯可以的", True),
        ("同意吧", True),
        ("行啊 随时叫我", True),
        ("中嘞", True),
        ("好的", True),
        ("不同意", False),
        ("不行", False),
        ("你们这个联系方式给谁看", None),
        ("随便", None),
    ],
)
def test_consent_in_residents_words(text: str, agreed: bool | None) -> None:
    assert consent(text) is agreed


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("李秀英", "李秀英"),
        ("我叫周德明", "周德明"),
        ("俺叫张秀梅", "张秀梅"),
        ("那还是接着报名吧 我叫刘桂兰", "刘桂兰"),
        ("社区有没有老年食堂", None),
        ("你们这个要填身份证号不", None),
        ("老伴上个月走了 我一个人吃饭也没胃口", None),
        ("我今年六十八了 退休前在纺织厂干了三十多年 后来又在街道帮忙搞过几年卫生检查 身体还算硬朗", None),
    ],
)
def test_a_name_looks_like_a_name(text: str, name: str | None) -> None:
    assert name_in(text) == name


@pytest.mark.parametrize(
    ("answer", "building", "label"),
    [
        ("6号楼门口", "6", None),
        ("7号楼前面那条路", "7", None),
        ("就俺家楼底下 7号楼那块", "7", None),
        ("我也不知道叫啥 就是挨着菜市场那个小门", None, "我也不知道叫啥 就是挨着菜市场那个小门"),
    ],
)
def test_a_place_looks_like_a_place(answer: str, building: str | None, label: str | None) -> None:
    place = place_in_answer(answer, report="路灯坏了", cls=UNKNOWN)
    assert place is not None and place.building == building
    if label is not None:
        assert place.label == label


@pytest.mark.parametrize(
    "answer",
    ["好的", "查询", "对了 我现在有多少积分", "对了 楼上邻居半夜老跺脚 这个你们能管不", "路" * 41],
)
def test_what_is_not_a_place(answer: str) -> None:
    assert place_in_answer(answer, report="路灯坏了", cls=UNKNOWN) is None


def test_a_new_report_of_another_kind_is_not_the_place() -> None:
    grievance = Classification(Intent.GRIEVANCE, 0.9, "model")
    assert place_in_answer("还有 1号楼电梯也不动了", report="路灯坏了", cls=grievance) is None
    assert place_in_answer("垃圾站是2号楼后面那个", report="垃圾站满了没人收", cls=grievance) is not None
