"""Is this answer what we asked for? Checks for the answers a flow waits for, and pausing a flow.

A flow asks one question at a time ("where is it?", "your name?", "do you agree?"). Before an answer fills
the slot it is checked here: a place looks like a place, a name like a name, consent in its common words.
Anything else (a question, a new request, a command, "算了", an over-long message) is not an answer: the
flow is cancelled when the resident says so, and otherwise paused: the message is handled as itself and
the flow waits again afterwards, with what the resident already gave.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from handlers.base import Context
from handlers.flows import Flow
from handlers.messages import Reply, TextReply
from handlers.tickets.rules import Place, categorise, find_place
from intents import Classification, Intent
from intents.numbers import to_int

# The longest answer a slot takes: a place or a name is a phrase, not a letter.
SLOT_MAX_CHARS = 40

_CANCEL = re.compile(
    r"^\s*(算了|算了吧|取消|不用了|不要了|不报了|不填了|不弄了|不修了|退出|不想当了|没事了|不麻烦了|先不(用|要|报|弄)了?)"
    r"[吧啊呀哈]?(\s*$|[\s，,。.!！~～]+)"
)
_QUESTION = re.compile(
    r"[?？]|吗|么|呢\s*$|能不能|可不可以|有没有|怎么|咋|啥|什么|多少|几点|哪里|哪儿|管不|要不要|行不|可以不|不\s*$"
)
# In an answer to "where is it?" or "what can you do?", "叫啥" is not a question: "我也不知道叫啥 就是挨着菜市场
# 那个小门", "没啥特长 就会包饺子".
_PLACE_QUESTION = re.compile(r"[?？]|吗|么|能不能|可不可以|有没有|怎么|多少|几点|管不|要不要|行不|可以不|不\s*$")
_PLACE_WORDS = re.compile(
    r"门|楼|栋|幢|座|单元|路|街|巷|口|旁|边|附近|后面|前面|对面|里面|外面|广场|车棚|花园|花坛|停车|车库|地下|电梯|"
    r"小区|市场|超市|垃圾|站|院|号|东|西|南|北|角|墙|亭|场|房|室|厅|屋|家|底下|楼下|楼上|那块|那儿|这儿"
)
# While we wait for a place, these keep their meaning rather than being taken for one.
_NOT_A_PLACE = frozenset(
    {Intent.TICKET_STATUS, Intent.HELP, Intent.HUMAN, Intent.RATING, Intent.POINTS, Intent.CHECKIN}
)
_ACKNOWLEDGE = re.compile(r"^\s*(好的?|好吧|嗯+|哦+|噢|行|知道了|收到|谢谢|多谢|ok|OK|是的?|对)[\s。.!！啊呀了的吧]*$")

_YES = re.compile(
    r"^\s*(嗯+|好+|是|对|行|中|成|可以|同意|愿意|没问题|当然|要得|得行|OK|ok|yes|y)"
    r"[\s\S]{0,12}$"
)
_NO = re.compile(r"不同意|不愿意|不可以|不行|不要|别联系|不用联系|^\s*(不|否|no|n)[\s。.!！]*$", re.IGNORECASE)

_NAME_PREFIX = re.compile(r"^(那|那就|那我)?(我|俺|本人)?(叫|是|姓名是?|名字是|名字叫)[:：]?\s*|^姓名[:：]\s*")
_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,5}$|^[A-Za-z][A-Za-z .'-]{1,19}$")
# Words a resident says that are never a name.
_NOT_A_NAME = re.compile(
    r"社区|志愿|报名|食堂|身份证|手机|电话|号码|活动|积分|签到|老伴|走了|不知道|没有|什么|怎么|可以|谢谢"
)


def is_cancel(text: str) -> bool:
    """ "算了", "不用了 谢谢", "不要了 邻居说已经有人去收了": the resident withdraws what they started."""
    return bool(_CANCEL.match(unicodedata.normalize("NFKC", text)))


def is_question(text: str) -> bool:
    return bool(_QUESTION.search(text))


def asks_something(text: str) -> bool:
    """A question put to us, told by its question words only ("有没有", "吗", "？"), not by "啥" or "什么"."""
    return bool(_PLACE_QUESTION.search(text))


def is_acknowledgement(text: str) -> bool:
    """ "好的", "嗯", "知道了": an answer to nothing we asked."""
    return bool(_ACKNOWLEDGE.match(text))


def consent(text: str) -> bool | None:
    """Yes, no, or neither, in the words residents use: "嗯嗯可以的", "同意吧", "行啊 随时叫我", "中嘞"."""
    text = unicodedata.normalize("NFKC", text).strip()
    if _NO.search(text):
        return False
    if len(text) <= 16 and _YES.match(text):
        return True
    return None


def name_in(text: str) -> str | None:
    """The name in an answer to "how should we call you?" ("我叫周德明", "俺叫张秀梅", "李秀英"), or None
    when it is not a name (a question, a sentence, a story)."""
    text = unicodedata.normalize("NFKC", text).strip(" 。.，,!！")
    if len(text) > SLOT_MAX_CHARS or is_question(text):
        return None
    # "那还是接着报名吧 我叫刘桂兰": the name is what follows the last "我叫".
    for marker in ("我叫", "俺叫", "名字叫", "名字是", "姓名是", "姓名"):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
            break
    name = _NAME_PREFIX.sub("", text).strip(" 。.，,!！:：")
    if not _NAME.match(name) or _NOT_A_NAME.search(name):
        return None
    return name


def place_in_answer(answer: str, *, report: str, cls: Classification) -> Place | None:
    """The place in an answer to "where is it?", or None when the answer is not a place: too long, a
    question, a command, an "好的", a new report of another kind ("还有 1号楼电梯也不动了")."""
    answer = unicodedata.normalize("NFKC", answer).strip()
    if not answer or len(answer) > SLOT_MAX_CHARS or is_acknowledgement(answer) or _PLACE_QUESTION.search(answer):
        return None
    if cls.intent in _NOT_A_PLACE and cls.source == "rule":
        return None
    category = categorise(answer)
    if cls.intent is Intent.GRIEVANCE and category not in ("other", categorise(report)):
        return None
    place = find_place(answer)
    if not place.building and (number := to_int(answer.rstrip("号楼栋 。."))) is not None:
        place = Place(building=str(number))
    if place.building:
        return place
    # Whatever they call the place is the place ("挨着菜市场那个小门"), as long as it names one.
    return Place(label=answer) if _PLACE_WORDS.search(answer) else None


@dataclass(frozen=True)
class Paused:
    """A flow set aside while the message that interrupted it is handled; it waits again afterwards."""

    flow: Flow[Any]
    step: str
    state: Any
    note: str


_PAUSED = "paused_flow"


def pause(ctx: Context, flow: Flow[Any], step: str, state: Any, note: str) -> None:
    """Keep this flow for after the current message; the dispatcher calls `resume_paused` once it is
    handled. `note` is added to that reply, so the resident knows the flow still waits."""
    ctx.extras[_PAUSED] = Paused(flow, step, state, note)


def paused(ctx: Context) -> bool:
    """Whether a flow waits for the current message to be handled (see `pause`)."""
    return isinstance(ctx.extras.get(_PAUSED), Paused)


def resume_paused(ctx: Context, reply: Reply) -> Reply:
    """Put a paused flow back, unless the message started a conversation of its own (then the paused one
    gives way, as the resident moved on)."""
    paused = ctx.extras.pop(_PAUSED, None)
    if not isinstance(paused, Paused) or ctx.dialogue() is not None:
        return reply
    ctx.start_flow(paused.flow, paused.step, paused.state)
    if isinstance(reply, TextReply) and paused.note:
        return TextReply(f"{reply.text}\n\n{paused.note}")
    return reply
