"""Rules that run before any model: danger (intents/danger.py), commands, addresses.

Danger is decided here and only here: the model never raises an alarm on its own. The danger rules are
broad about self-harm (a miss can cost a life) and precise about everyday words (a duty worker who gets
three false red alerts a day stops answering them).
"""

from __future__ import annotations

import re

from intents import Classification, Intent
from intents.danger import PERSONAL, Danger, find_danger
from intents.numbers import NUMERAL_CHARS, to_int

_N = f"[{NUMERAL_CHARS}]+"

_CHECKIN = re.compile(
    r"^\s*(签到|打卡)\s*[:：]?\s*(?P<code>\d{4,6})?\s*$|^\s*(?P<out>签退|签出)\s*[:：]?\s*(?P<code2>\d{4,6})?\s*$"
)
_QUERY = re.compile(r"^\s*(查询|查|进度)\s*[:：]?\s*(?P<code>[A-Za-z0-9]{4,10})\s*$")
_STATUS_WORDS = re.compile(
    r"我的报修|我的工单|修了(吗|没|没有)|修好了(吗|没)|(处理|办)(得)?怎么样了|有人管(吗|没)|进度"
)
_POINTS = re.compile(r"^\s*(积分|我的积分|查积分|积分查询|查.{0,2}积分)\s*$|^\s*兑换\s*(?P<item>.+)?$")
_HUMAN = re.compile(
    r"转人工|人工(客服|服务)|(找|要|联系|叫)(个)?(真人|人工|网格员|社工|工作人员|居委会的人|律师|心理(老师|咨询师|医生))|不想(跟|和)机器人"
)
_HELP = re.compile(
    r"^\s*(帮助|菜单|help|\?|？|功能|你能(干|做)(啥|什么)|怎么用|能帮我(干|做)?(啥|什么))\s*[?？!！。]*\s*$",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\s*(你好|您好|在吗|在不在|在么|hi|hello|哈喽|嗨|早上好|早|中午好|下午好|晚上好|谢谢|多谢|谢啦|谢谢你|好的|嗯|哦|ok)\s*[啊呀呢吗嘛～~!！。.?？]*\s*$",
    re.IGNORECASE,
)
_RATING = re.compile(r"^\s*(打|评|给)?\s*(?P<score>[1-5一二三四五])\s*(分|星)?\s*$")
_ADDRESS = re.compile(
    rf"(我(家)?(住|在)|住在|家住|地址是?)[^\d{NUMERAL_CHARS}]{{0,6}}(?P<building>{_N})\s*(号楼|栋|幢|号|座)"
    rf"(\s*(?P<unit>{_N})\s*(单元|门))?(\s*(?P<room>{_N})\s*(室|号)?)?"
)
_BUILDING_ONLY = re.compile(
    rf"^\s*(?P<building>{_N})\s*(号楼|栋|幢|座)(\s*(?P<unit>{_N})\s*(单元|门))?(\s*(?P<room>{_N})\s*(室|号)?)?\s*$"
)

# "用时间银行 2小时 陪我去医院": spending time-bank credits on help for oneself.
_TIME_BANK = re.compile(r"^\s*(用|花|申请|使用)?\s*时间(银行|币)\s*[:：]?\s*(?P<rest>.*)$")

# Scam patterns are legal questions (fraud) whatever else they mention (医保卡, 银行卡, 快递...).
_FRAUD = re.compile(
    r"(点|发|给).{0,4}链接|验证码|安全账户|刷单|冻结.{0,8}(解冻|链接|转账)|(冒充|自称).{0,6}(公安|警察|客服|领导)|中奖.{0,6}(手续费|转账)"
)

# A household fault named with a danger word is a report, whatever the model makes of "煤气" or "电":
# "天然气灶打不着火找谁修", "电梯又停了", "楼道里有人拉飞线充电", "电线老化 铜丝都露出来了".
_EVERYDAY_REPORT = re.compile(
    r"(灶|热水器|壁挂炉).{0,6}(打不着|点不着|不着火|打不了火|熄火|不出热水|坏)"
    r"|电梯.{0,8}(坏|停|不动|卡住|故障|门关不|抖|异响|冒烟)"
    r"|(停水|没水|断水)了|水管.{0,4}(爆|裂|破|漏)|爆管"
    r"|飞线|拉.{0,4}线.{0,6}充电|(楼道|走廊|楼梯|电梯|门厅).{0,10}(充电|电瓶车|电动车)"
    r"|电线.{0,8}(老化|裸露|外露|露出|破皮)|铜丝.{0,4}露"
)
# A building or a spot named with what is wrong there is a report, however short: "3号楼1单元5楼楼道灯不亮",
# "4号楼门口井盖松了".
_PLACED_FAULT = re.compile(
    rf"({_N}\s*(号楼|栋|幢|座)|[东南西北]门).{{0,16}}(坏|不亮|灭了|松了|松动|堵|漏|裂|塌|掉了|没了|丢了|满了|乱停|堆满|断了)"
)
# "路灯的事我要反映一下", "想报修": the resident says they are reporting something.
_REPORTING = re.compile(r"(要|想|来|得)(反映|报修|投诉)|(反映|报修|投诉)(一下|个问题|个事)")
_NOT_A_REPORT = re.compile(r"通知|在哪看|几点|多久|什么时候|啥时候|要不要|能不能申请|补贴|多少钱")
# "想死你了", "可想死我了": missing someone is a greeting, not a wish.
_MISSED_YOU = re.compile(r"想死(你|您|你们|我|咱|大家)了")

_SCORE = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5"}


def is_crisis(text: str) -> bool:
    """A danger to a person from a person, or from themselves (self-harm, distress, violence, threats, missing)."""
    danger = find_danger(text)
    return danger is not None and danger.kind in PERSONAL


def is_emergency(text: str) -> bool:
    """A physical danger: fire, gas, someone trapped, collapsed, fallen into water."""
    danger = find_danger(text)
    return danger is not None and danger.kind not in PERSONAL


def danger_classification(danger: Danger) -> Classification:
    intent = Intent.CRISIS if danger.kind in PERSONAL else Intent.EMERGENCY
    slots = {"danger": danger.kind} | ({"also": danger.also} if danger.also else {})
    return Classification(intent, 1.0, "rule", slots)


_ADDRESS_FILLER = re.compile(r"[我家住在是的了啊呀哈呢嘛，,。.!！ ]|地址|那个")


def _only_an_address(text: str) -> bool:
    """ "我住3号楼2单元" tells an address; "我住3号楼，楼道灯坏了" reports a problem there."""
    match = _ADDRESS.search(text) or _BUILDING_ONLY.search(text)
    if match is None:
        return False
    rest = text[: match.start()] + text[match.end() :]
    return len(_ADDRESS_FILLER.sub("", rest)) <= 2


def parse_address(text: str) -> dict[str, str] | None:
    """Building, unit and room from "我住3号楼2单元" or a bare "5栋3单元502"."""
    match = _ADDRESS.search(text) or _BUILDING_ONLY.search(text)
    if match is None:
        return None
    found: dict[str, str] = {}
    for key in ("building", "unit", "room"):
        raw = match.group(key)
        value = to_int(raw) if raw else None
        if value is not None:
            found[key] = str(value)
    return found or None


def address_and_rest(text: str) -> tuple[dict[str, str], str] | None:
    """ "我住4号楼 楼上天天往下扔烟头" -> ({"building": "4"}, "楼上天天往下扔烟头"): an address told along with
    something else, and that something else; None when the message tells no address, or only one."""
    match = _ADDRESS.search(text)
    if match is None or _only_an_address(text):
        return None
    address = parse_address(match.group(0))
    if not address:
        return None
    rest = (text[: match.start()] + " " + text[match.end() :]).strip(" ，,。.!！")
    return address, " ".join(rest.split())


def match_rules(text: str) -> Classification | None:
    """The intent when a rule decides it, else None (and the model decides)."""
    stripped = text.strip()
    if (danger := find_danger(stripped)) is not None:
        return danger_classification(danger)
    if m := _CHECKIN.match(stripped):
        slots = {"action": "checkout" if m.group("out") else "checkin"}
        code = m.group("code") or m.group("code2")
        if code:
            slots["code"] = code
        return Classification(Intent.CHECKIN, 1.0, "rule", slots)
    if m := _QUERY.match(stripped):
        return Classification(Intent.TICKET_STATUS, 1.0, "rule", {"code": m.group("code").upper()})
    if m := _TIME_BANK.match(stripped):
        return Classification(Intent.POINTS, 1.0, "rule", {"time_bank": m.group("rest").strip()})
    if m := _POINTS.match(stripped):
        item = (m.group("item") or "").strip()
        return Classification(Intent.POINTS, 1.0, "rule", {"redeem": item} if item else {})
    if _HUMAN.search(stripped):
        return Classification(Intent.HUMAN, 1.0, "rule")
    if _HELP.match(stripped):
        return Classification(Intent.HELP, 1.0, "rule")
    if m := _RATING.match(stripped):
        score = m.group("score")
        return Classification(Intent.RATING, 1.0, "rule", {"score": _SCORE.get(score, score)})
    if (address := parse_address(stripped)) and _only_an_address(stripped):
        return Classification(Intent.SET_ADDRESS, 1.0, "rule", address)
    if _FRAUD.search(stripped):
        return Classification(Intent.LEGAL, 0.9, "rule", {"topic": "fraud"})
    if _STATUS_WORDS.search(stripped) and len(stripped) <= 20:
        return Classification(Intent.TICKET_STATUS, 0.9, "rule")
    reported = _EVERYDAY_REPORT.search(stripped) or _PLACED_FAULT.search(stripped) or _REPORTING.search(stripped)
    if reported and not _NOT_A_REPORT.search(stripped):
        return Classification(Intent.GRIEVANCE, 0.9, "rule", {"everyday_report": "1"})
    if _GREETING.match(stripped) or (_MISSED_YOU.search(stripped) and len(stripped) <= 20):
        return Classification(Intent.GREETING, 1.0, "rule")
    return None
