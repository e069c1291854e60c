"""Crisis and emergency: an immediate, short, team-written answer with the right number, and a red alert.

These replies are never retrieved from data: every word here was chosen by the team.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.base import Context, Outcome
from handlers.communities import spec_of
from handlers.messages import Inbound, TextReply
from handlers.notify import alert_duty_worker
from intents import Classification, Intent


@dataclass(frozen=True)
class Situation:
    key: str
    pattern: re.Pattern[str]
    reply: str
    label: str


SELF_HARM = (
    "听到你这么说，我很担心你。你不是一个人。\n"
    "现在就可以打心理援助热线 12356（24小时有人接），有危险请马上打 110 或 120。\n"
    "社区值班的工作人员会尽快联系你。你现在身边有人陪着吗？"
)
VIOLENCE = (
    "你的安全最要紧。正在被打或有危险，请马上拨打 110。\n"
    "先到安全的地方，找邻居或家人帮忙；受伤了去医院验伤，留好照片和病历。\n"
    "妇联热线 12338 可以帮你申请人身安全保护令。社区值班人员会尽快联系你。"
)
CHILD = (
    "孩子的安全最要紧。看到孩子正在被打或有危险，请马上拨打 110。\n"
    "可以先记下时间、地点和看到的情况。社区值班人员会尽快和你联系，一起想办法保护孩子。"
)

EMERGENCIES = (
    Situation(
        "fire",
        re.compile(r"着火|起火|失火|火灾|烧起来|冒(黑)?烟|浓烟|火苗|火警|爆炸"),
        "请马上拨打 119！\n先离开屋子，用湿毛巾捂住口鼻，弯腰从楼梯走，千万别坐电梯。\n已通知社区值班人员。",
        "火情",
    ),
    Situation(
        "gas",
        re.compile(r"煤气|燃气|天然气|液化气|瓦斯"),
        "闻到燃气味：不要开灯、不要开关电器、不要在屋里打电话。\n"
        "马上打开门窗，关掉燃气总阀，到屋外后拨打燃气公司抢修电话{gas}或 119。\n已通知社区值班人员。",
        "燃气泄漏",
    ),
    Situation(
        "lift",
        re.compile(r"电梯|被困|困住|出不来"),
        "别慌，不要扒门。按电梯里的紧急呼叫按钮，或拨打电梯里贴的救援电话（很多城市是 96333），"
        "有危险请拨 119。\n已通知社区值班人员和物业。",
        "有人被困",
    ),
    Situation(
        "electric",
        re.compile(r"触电|漏电|电线|打火|火花"),
        "先拉下电闸断电，不要用手直接碰触电的人。\n有人受伤马上拨打 120，起火拨打 119。\n已通知社区值班人员。",
        "触电漏电",
    ),
    Situation(
        "water",
        re.compile(r"落水|掉(进|到)?(水|河|井)|淹"),
        "请马上拨打 110 和 120！不会游泳不要下水，可以扔绳子、竹竿或救生圈。\n已通知社区值班人员。",
        "落水险情",
    ),
    Situation(
        "person",
        re.compile(r".*"),
        "请马上拨打 120；需要开门救人请拨打 110。\n在等救护车时别随便挪动病人，保持电话畅通。\n已通知社区值班人员上门查看。",
        "有人倒地或失联",
    ),
)

_VIOLENCE = re.compile(r"打|踢|掐|揍|家暴|家庭暴力|威胁|杀|砍|性侵|猥亵|强奸")
_CHILD = re.compile(r"孩子|小孩|儿童|学生")


def crisis_reply(text: str, *, gas_hotline: str = "") -> tuple[str, str]:
    """(reply, label) for a crisis text; a plain function so it can be checked without a database."""
    if _VIOLENCE.search(text):
        if _CHILD.search(text) and re.search(r"虐待|打骂|体罚|被打|身上.{0,4}伤", text):
            return CHILD, "儿童受虐风险"
        return VIOLENCE, "家庭暴力"
    return SELF_HARM, "自伤自杀风险"


def emergency_reply(text: str, *, gas_hotline: str = "") -> tuple[str, str]:
    for situation in EMERGENCIES:
        if situation.pattern.search(text):
            gas = f" {gas_hotline} " if gas_hotline else ""
            return situation.reply.format(gas=gas), situation.label
    raise AssertionError("the last situation matches everything")


class CrisisHandler:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        gas = (spec_of(ctx.community).gas_hotline if ctx.community else None) or ""
        if cls.intent is Intent.EMERGENCY:
            reply, label = emergency_reply(msg.text, gas_hotline=gas)
        else:
            reply, label = crisis_reply(msg.text, gas_hotline=gas)
        alert_duty_worker(ctx, label=label, text=msg.text, level="red")
        return TextReply(reply)
