"""A resident's tickets: "查询 CODE", "我的报修", "修了吗", and the 1-5 rating after resolution."""

from __future__ import annotations

import re

from handlers.base import UNHANDLED, Context, Outcome
from handlers.messages import Inbound, TextReply
from handlers.tickets.actions import rate, status_line
from intents import Classification
from storage import tickets as store
from storage.models import DialogueState

_NUMBER = re.compile(r"^\s*(打|评|给)?\s*(?P<n>-?\d{1,3})\s*(分|星)?\s*[。.!！]?\s*$")


class TicketStatusHandler:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        code = cls.slots.get("code")
        if code:
            ticket = store.ticket_by_code(ctx.session, code=code)
            if ticket is None:
                return TextReply(f"没有找到工单 {code.upper()}，请核对一下工单号（6 位字母和数字）。")
            if not store.is_follower(ctx.session, ticket_id=ticket.id, resident_id=ctx.resident.id):
                return TextReply(f"工单 {ticket.code} 不是您反映的问题，无法查看。查看自己的报修请发“我的报修”。")
            return TextReply(status_line(ticket))
        tickets = store.tickets_followed_by(ctx.session, resident_id=ctx.resident.id, limit=3)
        if not tickets:
            return TextReply("您还没有报修记录。直接告诉我哪里有问题（比如“3号楼楼道灯坏了”），我来帮您登记。")
        return TextReply("\n\n".join(status_line(t) for t in tickets))


def _rate(ctx: Context, score: int) -> TextReply:
    ticket = store.awaiting_rating(ctx.session, resident_id=ctx.resident.id)
    if ticket is None:
        return TextReply("您现在没有待评价的报修。查看报修进度请发“我的报修”。")
    if not 1 <= score <= 5:
        return TextReply(f"评分请回复 1 到 5 之间的数字（5 分最满意），工单 {ticket.code} 还在等您的评价。")
    ctx.end_dialogue()
    return TextReply(rate(ctx.session, ctx.settings, ticket=ticket, resident=ctx.resident, score=score, now=ctx.now))


class RatingHandler:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        score = cls.slots.get("score")
        if score is None or not score.isdigit():
            return UNHANDLED
        return _rate(ctx, int(score))


class RatingFlow:
    """Started when a ticket is resolved: a bare number from the reporter is the rating, even 0 or 9."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        return UNHANDLED

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        score = cls.slots.get("score")
        if score is None and msg.kind in ("text", "voice"):
            match = _NUMBER.match(msg.text)
            score = match.group("n") if match else None
        if score is None:
            return UNHANDLED
        return _rate(ctx, int(score))
