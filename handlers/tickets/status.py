"""A resident's tickets: "查询 CODE", "我的报修", "修了吗", and the 1-5 rating after resolution, in their words."""

from __future__ import annotations

import re

from handlers.base import UNHANDLED, Context, Outcome
from handlers.flows import TICKET_RATING
from handlers.messages import Inbound, TextReply
from handlers.participation.points import award_participation
from handlers.tickets.actions import RATING_WINDOW, rate, status_line
from intents import Classification, Intent
from intents.numbers import to_int
from storage import tickets as store
from storage.models import DialogueState
from storage.tickets import Ticket


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


# A number is a rating on its own ("3", "3分吧", "五分 师傅辛苦了") or after 打/评 ("给他们打五分吧",
# "打个分 5分"); never "5分钟".
_SCORE_DIGITS = "0-9一二三四五六七八九十"
_BARE_NUMBER = re.compile(rf"^\s*(?P<n>[{_SCORE_DIGITS}]{{1,2}})\s*[。.!！]?\s*$")
_LEADING_SCORE = re.compile(rf"^\s*(?P<n>[{_SCORE_DIGITS}]{{1,2}})\s*(分|星)(?!钟)")
_GIVEN_SCORE = re.compile(rf"(打|评)[^{_SCORE_DIGITS}]{{0,4}}?(?P<n>[{_SCORE_DIGITS}]{{1,2}})\s*(分|星)(?!钟)")

# Words that rate, checked in this order ("不满意" before "满意"); only for a resident with a ticket
# waiting for their rating, and in a short message, so a new report is never taken for a rating.
_WORD_SCORES = (
    (re.compile(r"没修好|没修|跟没修一样|还在(冒|漏|滴|响|堵)|还是(不亮|漏|坏|堵|没)|没解决|没弄好|差评|太差|很差"), 1),
    (re.compile(r"不满意|不太满意|不怎么样|不咋地|不行"), 2),
    (re.compile(r"还行|还可以|一般|凑合|马马虎虎|过得去|还凑合"), 3),
    (re.compile(r"不错|挺好|蛮好|还好"), 4),
    (re.compile(r"满意|很好|非常好|好评|太好了|真好|辛苦|谢谢|感谢"), 5),
)
_WORDS_AT_MOST = 30


def score_of(text: str, *, bare_number: bool = False) -> int | None:
    """The score a resident gives in their own words: a number (any, checked against 1-5 by the caller),
    then words; None when the message is not a rating. `bare_number`: a lone number counts (the resident
    was just asked to rate)."""
    text = text.strip()
    for pattern in (_BARE_NUMBER, _LEADING_SCORE, _GIVEN_SCORE):
        if pattern is _BARE_NUMBER and not bare_number:
            continue
        if match := pattern.search(text):
            return to_int(match.group("n"))
    return None


def score_in_words(text: str) -> int | None:
    text = text.strip()
    if len(text) > _WORDS_AT_MOST:
        return None
    for pattern, score in _WORD_SCORES:
        if pattern.search(text):
            return score
    return None


def _rated_since(ctx: Context, ticket: Ticket) -> bool:
    actor = f"resident:{ctx.resident.id}"
    since = ticket.resolved_at
    return any(
        e.action == "rated" and e.actor == actor and (since is None or e.created_at >= since)
        for e in store.events_for(ctx.session, ticket_id=ticket.id)
    )


def awaiting_rating(ctx: Context) -> Ticket | None:
    """The ticket this resident may rate now: one they reported or joined, resolved and not yet rated by
    anyone, or closed by another follower's rating within the rating window; never twice by the same one."""
    candidates = [
        t
        for t in store.tickets_followed_by(ctx.session, resident_id=ctx.resident.id, limit=5)
        if t.resolved_at is not None
        and (t.status == "resolved" or (t.status == "closed" and ctx.now - t.resolved_at <= RATING_WINDOW))
    ]
    candidates.sort(key=lambda t: t.resolved_at or ctx.now, reverse=True)
    return next((t for t in candidates if not _rated_since(ctx, t)), None)


def _rate(ctx: Context, score: int | None, ticket: Ticket | None = None) -> TextReply:
    ticket = ticket or awaiting_rating(ctx)
    if ticket is None:
        return TextReply("您现在没有待评价的报修。查看报修进度请发“我的报修”。")
    if score is None or not 1 <= score <= 5:
        return TextReply(f"评分请回复 1 到 5 之间的数字（5 分最满意），工单 {ticket.code} 还在等您的评价。")
    ctx.end_dialogue()
    if ticket.status == "closed" and score >= 3:
        # Another follower's rating closed it already: this one is kept beside theirs.
        actor = f"resident:{ctx.resident.id}"
        store.add_event(ctx.session, ticket=ticket, actor=actor, action="rated", data={"score": score}, now=ctx.now)
        text = f"谢谢您的评价（{score} 分）！工单 {ticket.code} 已完成。"
    else:
        text = rate(ctx.session, ctx.settings, ticket=ticket, resident=ctx.resident, score=score, now=ctx.now)
    return TextReply(text + _return_visit_points(ctx, ticket))


def _return_visit_points(ctx: Context, ticket: Ticket) -> str:
    """Answering the return visit is taking part: points once per ticket, within the month's cap."""
    points = award_participation(
        ctx.session,
        resident_id=ctx.resident.id,
        community_id=ticket.community_id,
        kind="return_visit",
        cause=ticket.code,
        now=ctx.now,
        what=ticket.code,
    )
    return f"回答回访得 {points} 积分。" if points else ""


class RatingHandler:
    """A rating said outright ("3分吧", "打个分 5分"), or in words ("还行", "根本没修好") by a resident whose
    ticket is waiting for their rating. Any follower of the ticket may rate it, once."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        if msg.kind not in ("text", "voice"):
            return UNHANDLED
        slot = cls.slots.get("score") if cls.intent is Intent.RATING else None
        score = int(slot) if slot and slot.isdigit() else score_of(msg.text)
        if score is not None:
            return _rate(ctx, score)
        words = score_in_words(msg.text)
        if words is None:
            return UNHANDLED
        ticket = awaiting_rating(ctx)
        return _rate(ctx, words, ticket) if ticket is not None else UNHANDLED


class RatingFlow:
    """Started when a ticket is resolved: a bare number from the resident is the rating, even 0 or 9."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        return UNHANDLED

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        if msg.kind not in ("text", "voice"):
            return UNHANDLED
        asked = TICKET_RATING.read(state.data)
        ticket = store.ticket_by_code(ctx.session, code=asked.code) if asked else None
        if ticket is not None and (ticket.status not in ("resolved", "closed") or _rated_since(ctx, ticket)):
            ticket = None
        slot = cls.slots.get("score") if cls.intent is Intent.RATING else None
        score = int(slot) if slot and slot.isdigit() else score_of(msg.text, bare_number=True)
        if score is None:
            score = score_in_words(msg.text)
        if score is None:
            return UNHANDLED
        return _rate(ctx, score, ticket)
