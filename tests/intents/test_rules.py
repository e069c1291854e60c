import pytest

from intents import Intent
from intents.rules import is_crisis, is_emergency, match_rules, parse_address


@pytest.mark.parametrize(
    "text",
    [
        "我不想活了",
        "活着没意思",
        "我觉得自己是家里的累赘，消失了大家都会轻松",
        "攒了一瓶安眠药",
        "他又打我了",
        "老公喝醉了就动手打我",
        "我想从楼上跳下去",
        "每天都在想怎么死才不疼",
        "真想一了百了",
        "我站在天台上了",
    ],
)
def test_crisis_words_are_never_missed(text: str) -> None:
    assert is_crisis(text)
    result = match_rules(text)
    assert result is not None and result.intent is Intent.CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "厨房有煤气味",
        "楼下着火了",
        "有人困在电梯里了",
        "隔壁老人好几天没开门了，敲门也没人应",
        "对门独居大爷三天没开门了 电话也打不通",
        "我妈摔倒了起不来",
        "老伴突然胸口疼 说不出话",
        "有个人躺在小区花坛边 一动不动",
        "暴雨把车库淹了 有人还在里面挪车",
    ],
)
def test_emergencies(text: str) -> None:
    assert is_emergency(text)


def test_paying_the_gas_bill_is_not_an_emergency() -> None:
    assert not is_emergency("燃气费怎么交")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我住3号楼2单元", {"building": "3", "unit": "2"}),
        ("我家在五栋三单元502", {"building": "5", "unit": "3", "room": "502"}),
        ("十二号楼", {"building": "12"}),
    ],
)
def test_addresses(text: str, expected: dict[str, str]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        ("签到 4827", Intent.CHECKIN, {"action": "checkin", "code": "4827"}),
        ("签退", Intent.CHECKIN, {"action": "checkout"}),
        ("查询 ab12cd", Intent.TICKET_STATUS, {"code": "AB12CD"}),
        ("兑换 食堂券", Intent.POINTS, {"redeem": "食堂券"}),
        ("转人工", Intent.HUMAN, {}),
        ("打四分", Intent.RATING, {"score": "4"}),
        ("接到短信说银行卡冻结了要点链接", Intent.LEGAL, {"topic": "fraud"}),
    ],
)
def test_commands(text: str, intent: Intent, slots: dict[str, str]) -> None:
    result = match_rules(text)
    assert result is not None
    assert result.intent is intent
    assert result.slots == slots
