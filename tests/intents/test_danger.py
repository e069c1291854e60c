"""The danger rules by class of expression: what is happening decides, not which noun is used.

The sentences here are the team's own examples of each class, not the benchmark's.
"""

import pytest

from intents import Intent
from intents import danger as d
from intents.danger import find_danger
from intents.rules import match_rules


def kind(text: str) -> str | None:
    found = find_danger(text)
    return found.kind if found else None


@pytest.mark.parametrize(
    "text",
    [
        "不想活了",
        "我真的不像活了",  # a typo
        "俺不想活咧",  # dialect
        "活够了",
        "想去陪我老伴了",
        "睡着了就别再醒过来了",
        "我要是哪天不在了 你们别难过",
        "老天爷咋不把我收走",
        "我想死你们别拦我",
    ],
)
def test_any_wish_to_die_or_be_gone_is_self_harm(text: str) -> None:
    assert kind(text) == d.SELF_HARM


@pytest.mark.parametrize(
    "text",
    ["安眠药我攒了一小瓶", "绳子准备好了", "我现在就在楼顶", "炭都买好了", "药吃下去了 一整瓶"],
)
def test_a_plan_or_a_means_is_self_harm(text: str) -> None:
    assert kind(text) == d.SELF_HARM


@pytest.mark.parametrize(
    "text",
    ["遗书放在枕头下面了", "存折密码是你生日 以后别惦记我", "信写好了 以后不拖累你们了", "帮我照顾好我家狗"],
)
def test_a_goodbye_is_self_harm(text: str) -> None:
    assert kind(text) == d.SELF_HARM


@pytest.mark.parametrize("text", ["撑不下去了", "活着好累", "每天都绝望", "心里憋得难受 也不知道跟谁说"])
def test_distress_without_words_of_death_is_distress_not_red(text: str) -> None:
    found = find_danger(text)
    assert found is not None and found.kind == d.DISTRESS and not found.red


@pytest.mark.parametrize(
    "text",
    [
        "累死了",
        "笑死我了",
        "气死我了 物业不管",
        "吵死了 楼上装修",
        "热死了 空调坏了",
        "想死你了奶奶",
        "可想死我了",
        "这腰疼得要命",
        "老头子死活不去医院",
        "手机死机了",
    ],
)
def test_figures_of_speech_are_no_danger(text: str) -> None:
    assert kind(text) is None


@pytest.mark.parametrize(
    "text",
    ["我从来没想过自杀", "你放心 我不会想不开的", "我要去陪老伴了 他住院了 晚上陪床"],
)
def test_negation_and_living_company_are_no_danger(text: str) -> None:
    assert kind(text) is None


@pytest.mark.parametrize(
    "text",
    ["新闻里说有人跳楼了", "电视剧里着了好大的火", "游戏里又被人杀了", "朋友圈说外地有人掉河里了"],
)
def test_reported_speech_is_no_danger(text: str) -> None:
    assert kind(text) is None


@pytest.mark.parametrize(
    "text",
    ["楼道堆满纸箱 怕着火", "井盖松了 万一有人掉下去", "明天消防演练几点", "红烧肉烧焦了", "锅烧干了 已经关火了 没事"],
)
def test_worries_drills_and_danger_already_over_are_no_danger(text: str) -> None:
    assert kind(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "电梯坏了",
        "电梯停在两层中间 里面没人",
        "燃气费怎么交",
        "燃气灶打不着火",
        "家里停水了",
        "水管爆了",
        "楼道里有人拉飞线充电",
    ],
)
def test_a_danger_noun_without_an_event_is_no_danger(text: str) -> None:
    assert kind(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("他说我敢报警就弄死我", d.VIOLENCE),
        ("老公喝了酒又动手了", d.VIOLENCE),
        ("隔壁在打孩子 孩子一直喊别打了", d.CHILD),
        ("有个男的一路跟着我到小区门口", d.THREAT),
        ("我妈有点糊涂 早上出去到现在没回来", d.MISSING),
        ("孩子找不到了", d.MISSING),
        ("楼顶站着个人 看着像要跳", d.HEIGHT),
        ("闻到一股臭鸡蛋味", d.GAS),
        ("屋里有股焦糊味 不知道哪儿烧着了", d.FIRE),
        ("烧着炉子 一家人头疼恶心", d.FUMES),
        ("我爸修灯被电着了", d.SHOCK),
        ("有个老人掉进化粪池了", d.WATER),
        ("电梯卡住了 我妈在里面", d.LIFT),
        ("孩子把自己反锁在卫生间了 打不开", d.TRAPPED),
        ("独居的大爷三天没开门了", d.UNRESPONSIVE),
        ("老伴突然嘴歪了 说话不清楚", d.COLLAPSE),
    ],
)
def test_each_danger_is_told_by_what_is_happening(text: str, expected: str) -> None:
    assert kind(text) == expected


def test_self_harm_under_violence_keeps_both() -> None:
    found = find_danger("他又打我了 我真不想活了")
    assert found == d.Danger(d.SELF_HARM, also=d.VIOLENCE)


def test_a_danger_is_classified_with_its_kind() -> None:
    result = match_rules("闻到一股臭鸡蛋味")
    assert result is not None and result.intent is Intent.EMERGENCY and result.slots == {"danger": d.GAS}
    result = match_rules("孩子找不到了")
    assert result is not None and result.intent is Intent.CRISIS and result.slots == {"danger": d.MISSING}


@pytest.mark.parametrize("text", ["天然气灶打不着火找谁修", "5号楼电梯又停了", "楼道里有人拉飞线充电"])
def test_everyday_reports_with_danger_words_are_grievances(text: str) -> None:
    result = match_rules(text)
    assert result is not None and result.intent is Intent.GRIEVANCE


def test_missing_someone_is_a_greeting() -> None:
    result = match_rules("想死你了奶奶")
    assert result is not None and result.intent is Intent.GREETING


@pytest.mark.parametrize("text", ["被狗咬了谁来赔", "邻居家的狗把我咬了 谁赔", "被蚊子咬了好多包", "孙子被猫抓了一下"])
def test_an_animal_bite_is_a_question_not_violence(text: str) -> None:
    assert find_danger(text) is None and match_rules(text) is None
