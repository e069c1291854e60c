"""Neighbour problems that are both legal and the community's business: a leak from upstairs, a 院墙 built
onto a neighbour's side, noise, objects thrown from height. The resident gets the legal steps, and an offer
to register it for the community's mediators; a yes files it as a ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.base import UNHANDLED, Context, Outcome
from handlers.flows import MEDIATION_OFFER, TICKET_LOCATION, MediationOffer, TicketLocation
from handlers.messages import Inbound, TextReply
from handlers.slots import consent, is_cancel, paused
from handlers.tickets.reporting import ASK_PLACE, submit
from handlers.tickets.rules import Place, find_place
from intents import Classification, Intent
from storage.models import DialogueState

_NEIGHBOUR = r"(楼上|楼下|隔壁|对门|邻居|他家|她家|那家|那户|上面那家)"


@dataclass(frozen=True)
class Problem:
    kind: str
    pattern: re.Pattern[str]
    steps: str


# Checked in order: a flowerpot thrown down is thrown, not noise.
PROBLEMS = (
    Problem(
        "thrown",
        re.compile(
            r"高空抛物|高空坠物|(往下|朝下|从楼上|楼上.{0,6})(扔|丢|抛|泼|倒)|(扔|丢|掉)(下来|下去).{0,10}(砸|差点)"
            r"|花盆.{0,6}(掉|砸|扔)"
        ),
        "1. 高空抛物是违法行为，砸着人或差点砸着人，可以直接打 110 报警，公安会调查。\n"
        "2. 记下时间，拍下扔下来的东西，能录到视频最好，别自己去楼上吵。\n"
        "3. 《民法典》第一千二百五十四条：禁止从建筑物中抛掷物品；查不清是谁扔的，可能扔的住户都要补偿。\n"
        "4. 社区和物业可以上门提醒、协调装摄像头。",
    ),
    Problem(
        "leak",
        re.compile(_NEIGHBOUR + r".{0,12}(漏水|渗水|漏下来|往下渗|往下滴|泡了)|(漏水|渗水).{0,12}" + _NEIGHBOUR),
        "1. 先拍照录像留证据，靠近漏水的电器先断电。\n"
        "2. 请物业上门查漏水点，让他们写个情况说明。\n"
        "3. 漏水的那家有责任修好，给您造成的损失要赔（《民法典》第二百八十八条、第一千一百六十五条）。\n"
        "4. 商量不成，可以申请社区人民调解（不收费），也可以到法院起诉。",
    ),
    Problem(
        "wall",
        re.compile(r"院墙|围墙|(砌|垒|搭|盖).{0,8}(墙|棚|房)|占.{0,4}(我家|院子|地方)"),
        "1. 占了您家的地方，可以要求对方拆掉、恢复原样（《民法典》第二百三十六条、第二百八十八条）。\n"
        "2. 拍照、量好尺寸，找出房产证或图纸，看清两家的边界。\n"
        "3. 私自乱搭乱建，可以向街道或城管反映。\n"
        "4. 社区人民调解员可以上门，请两家坐下来商量，不收费。",
    ),
    Problem(
        "noise",
        re.compile(
            _NEIGHBOUR
            + r".{0,16}(咚咚|咣咣|跺脚|篮球|拍球|蹦|跳|吵|噪音|装修|敲|砸|弹琴|唱歌|音响|拖椅子|挪家具|声音|响)"
        ),
        "1. 先找个平和的时候当面说一说，或请物业帮忙转告。\n"
        "2. 记下时间、录个音，留好证据。\n"
        "3. 晚上十点到早上六点还吵得厉害，可以打 110，按《治安管理处罚法》处理。\n"
        "4. 《民法典》第二百八十八条要求邻里互相方便、不妨害；社区调解员可以请两家坐下来谈。",
    ),
)
# What is not a neighbour problem to mediate, whatever it mentions.
_NOT_FOR_US = frozenset(
    {Intent.TICKET_STATUS, Intent.RATING, Intent.POINTS, Intent.CHECKIN, Intent.HUMAN, Intent.VOLUNTEER_SIGNUP}
)
_YES_REGISTER = re.compile(r"^\s*(要|需要|登记|帮我登记|麻烦.{0,2}登记|请.{0,2}调解|调解)")


def neighbour_problem(text: str) -> Problem | None:
    """The neighbour problem a message describes, or None."""
    if len(text) > 200:
        return None
    return next((p for p in PROBLEMS if p.pattern.search(text)), None)


class NeighbourHandler:
    """The legal steps, and an offer to register the matter for mediation."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        text = msg.text.strip()
        problem = neighbour_problem(text)
        if problem is None or cls.intent in _NOT_FOR_US:
            return UNHANDLED
        place = find_place(text)
        if not place.known and ctx.resident.building:
            place = Place(building=ctx.resident.building, unit=ctx.resident.unit)
        where = f"{place.describe()}的" if place.known else ""
        reply = f"这种邻里的事确实闹心，您可以这样做：\n{problem.steps}"
        if paused(ctx):
            # Another step waits for its answer: the offer would push it aside, so it is made in words only.
            return TextReply(reply + "\n需要社区调解员帮忙协调的话，回头再跟我说说这件事就行。")
        ctx.start_flow(
            MEDIATION_OFFER,
            "offer",
            MediationOffer(text=text, building=place.building, unit=place.unit, label=place.label),
        )
        return TextReply(reply + f"\n\n要我把{where}这件事登记下来，请社区调解员帮您协调吗？回复“要”就登记。")

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        offer = MEDIATION_OFFER.read(state.data)
        text = msg.text.strip()
        if offer is None or msg.kind not in ("text", "voice") or not text:
            return UNHANDLED
        if is_cancel(text) or consent(text) is False:
            ctx.end_dialogue()
            return TextReply("好的，先不登记。以后需要调解，随时跟我说。")
        if not (consent(text) or _YES_REGISTER.match(text)):
            return UNHANDLED
        ctx.end_dialogue()
        place = Place(building=offer.building, unit=offer.unit, label=offer.label)
        if not place.known:
            place = find_place(text)
        if not place.known:
            ctx.start_flow(TICKET_LOCATION, "where", TicketLocation(text=offer.text))
            return TextReply("好的，帮您登记。" + ASK_PLACE)
        filed = submit(ctx, f"【邻里调解】{offer.text}", place)
        return TextReply(filed.text + "\n社区调解员会联系您，约两家一起商量。")
