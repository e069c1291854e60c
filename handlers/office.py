"""When the residents' committee is open and how to phone it, from the community file's `office_hours`."""

from __future__ import annotations

import re

from handlers.base import UNHANDLED, Context, Outcome
from handlers.communities import OfficeHours, spec_of
from handlers.messages import Inbound, TextReply
from intents import Classification

_OFFICE = r"(居委会|居委|社区|办公室|你们)"
_HOURS = re.compile(
    _OFFICE + r".{0,8}(几点|什么时候|啥时候|几时|时间).{0,4}(上班|下班|开门|关门|办公|有人)"
    r"|" + _OFFICE + r".{0,4}(上班|办公|开门)(时间|几点)|^(几点|什么时候|啥时候)(上班|下班|开门)"
)
_PHONE = re.compile(_OFFICE + r".{0,6}(电话|号码|联系方式)")
# A message about something else that names the office in passing is not asking this.
MAX_CHARS = 40


def office_answer(office: OfficeHours, name: str, *, phone_asked: bool) -> str:
    lines = [f"{name}居委会工作日 {office.opens}—{office.closes} 办公，周末和节假日休息。"]
    if office.phone:
        lines.append(f"电话：{office.phone}。")
    elif phone_asked:
        lines.append("居委会的电话我这里还没有登记，可以上班时间直接去问，或者回复“转人工”。")
    lines.append("去办事前可以先打个电话问问要带哪些材料。" if office.phone else "去办事记得带上身份证。")
    return "\n".join(lines)


class OfficeHoursHandler:
    """ "居委会几点上班", "社区电话多少": answered from the community file."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        text = msg.text.strip()
        if len(text) > MAX_CHARS:
            return UNHANDLED
        hours, phone = _HOURS.search(text), _PHONE.search(text)
        if not hours and not phone:
            return UNHANDLED
        if ctx.community is None:
            office, name = OfficeHours(), "社区"
        else:
            office, name = spec_of(ctx.community).office_hours, ctx.community.name
        return TextReply(office_answer(office, name, phone_asked=bool(phone)))
