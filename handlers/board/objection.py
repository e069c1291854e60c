"""A resident objects to a published allocation during its notice period: "异议 A5 理由", in their words.

The handler recognises its own command whatever the classifier made of the message. Without a reason it
asks for one; the objection is kept (once per resident and allocation), counted on the public board and
sent to the worker on duty as a WeCom card through the outbox.
"""

from __future__ import annotations

import re

from handlers.base import UNHANDLED, Context, Outcome
from handlers.board.services import local_day
from handlers.communities import spec_of
from handlers.flows import OBJECTION_REASON, ObjectionReason
from handlers.messages import Inbound, TextReply
from handlers.notify import console_url, resident_place, wecom_card
from handlers.residents import community_needed
from intents import Classification
from storage import board as store
from storage.models import DialogueState

_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER = r"[Aa]\s*(?P<n>[0-9]{1,9}|[一二两三四五六七八九十]{1,3})\s*(号|项)?"
# "异议 A5 理由", "异议：a5，钱太多", "我对A5有异议 理由是…", "A5 有异议", "反对A5 …" (voice has no punctuation).
_COMMANDS = (
    re.compile(rf"^\s*(我)?(要)?(提)?(异议|反对)\s*[：:，,。\s]*{_NUMBER}(?P<reason>.*)$", re.S),
    re.compile(
        rf"^\s*(我)?(对)?\s*{_NUMBER}\s*(有|提)?(个)?(异议|意见)[：:，,。\s]*(理由是|因为)?(?P<reason>.*)$", re.S
    ),
)
_TRIM = " \t\n，,。.：:;；!！?？、"
_CANCEL = re.compile(r"^\s*(算了|不提了|不用了|取消|没事了?|不了|没有了?|没啥)\s*[。！!.]*\s*$")
_REASON_PREFIX = re.compile(r"^(理由是|理由|因为|原因是)[：:，,\s]*")
MAX_REASON = 500


def _number(raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    if raw == "十":
        return 10
    if raw.startswith("十"):
        return 10 + _DIGITS[raw[1]]
    if raw.endswith("十"):
        return _DIGITS[raw[0]] * 10
    if "十" in raw:
        return _DIGITS[raw[0]] * 10 + _DIGITS[raw[2]]
    return _DIGITS[raw[0]] if len(raw) == 1 else int("".join(str(_DIGITS[c]) for c in raw))


def parse_objection(text: str) -> tuple[int, str] | None:
    """(allocation id, reason) of an objection command, reason "" when missing; None when it is not one."""
    for pattern in _COMMANDS:
        match = pattern.match(text)
        if match:
            reason = _REASON_PREFIX.sub("", match.group("reason").strip(_TRIM)).strip(_TRIM)
            return _number(match.group("n")), reason
    return None


def _refusal(ctx: Context, allocation_id: int) -> TextReply | store.Allocation:
    allocation = store.allocation_by_id(ctx.session, allocation_id=allocation_id)
    if allocation is None or allocation.status == "withdrawn" or allocation.community_id != ctx.community_id:
        return TextReply(
            f"没有找到本社区的公示项目 A{allocation_id}，请核对一下编号（公示栏上每一项都以 A 开头，比如 A3）。"
        )
    if allocation.status != "notice" or ctx.now >= allocation.notice_ends_at:
        return TextReply(
            f"A{allocation.id}「{allocation.title}」的公示期已在 {local_day(allocation.notice_ends_at)} 结束，"
            "现在不能再提异议了。您有想法也可以直接说给我听，我转给社区工作人员。"
        )
    return allocation


def record_objection(ctx: Context, allocation_id: int, reason: str) -> TextReply:
    found = _refusal(ctx, allocation_id)
    if isinstance(found, TextReply):
        return found
    allocation = found
    if not reason:
        ctx.start_flow(OBJECTION_REASON, "reason", ObjectionReason(allocation_id=allocation.id))
        return TextReply(
            f"您对 {allocation.number}「{allocation.title}」有什么意见？请直接说说理由，我转给社区工作人员。\n"
            "不想提了就回“算了”。"
        )
    ctx.end_dialogue()
    reason = reason[:MAX_REASON]
    if not store.add_objection(
        ctx.session, allocation_id=allocation.id, resident_id=ctx.resident.id, reason=reason, now=ctx.now
    ):
        return TextReply(f"您已经对 {allocation.number} 提过异议了，工作人员会认真考虑。谢谢您！")
    count = store.objection_counts(ctx.session, allocation_ids=[allocation.id]).get(allocation.id, 0)
    _tell_workers(ctx, allocation, reason, count)
    return TextReply(
        f"收到！您对 {allocation.number}「{allocation.title}」的异议已经记下，转给社区工作人员了。\n"
        f"公示期到 {local_day(allocation.notice_ends_at)}，期间会认真考虑大家的意见。谢谢您关心社区的事！"
    )


def _tell_workers(ctx: Context, allocation: store.Allocation, reason: str, count: int) -> None:
    community = ctx.community
    assert community is not None
    duty = spec_of(community).duty
    card = wecom_card(
        f"公示异议：{allocation.number} {allocation.title}",
        [
            ("highlight", f"公示期内第 {count} 条异议，期满：{local_day(allocation.notice_ends_at)}"),
            ("gray", f"{community.name} · {resident_place(ctx)}"),
            ("normal", f"居民理由：{reason[:200]}"),
            ("normal", "请在公示期内回应；生效前请看过全部异议。"),
        ],
        url=console_url(ctx.settings, f"/board/{community.code}#{allocation.number}"),
        button="看公示",
    )
    ctx.send_later(
        channel="wecom_app",
        recipient=duty.wecom_userid if duty else "@duty",
        payload=card | {"resident_id": ctx.resident.id},
        dedupe_key=f"objection:{allocation.id}:{ctx.resident.id}",
    )


class ObjectionHandler:
    """ "异议 A5 理由" and its spoken forms."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        if msg.kind not in ("text", "voice"):
            return UNHANDLED
        parsed = parse_objection(msg.text)
        if parsed is None:
            return UNHANDLED
        asked = community_needed(ctx, pending_text=msg.text, why="公示是按社区的，要先知道您住在哪个社区。")
        if asked is not None:
            return asked
        return record_objection(ctx, *parsed)

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        if msg.kind not in ("text", "voice"):
            return UNHANDLED
        asked = OBJECTION_REASON.read(state.data)
        if asked is None:
            return UNHANDLED
        text = msg.text.strip()
        if _CANCEL.match(text):
            ctx.end_dialogue()
            return TextReply("好的，不提了。以后有想法随时告诉我。")
        parsed = parse_objection(text)
        if parsed is not None:
            return record_objection(ctx, *parsed)
        reason = _REASON_PREFIX.sub("", text.strip(_TRIM)).strip(_TRIM)
        if not reason:
            return TextReply("请说说您的理由，一两句话就行；不想提了就回“算了”。")
        return record_objection(ctx, asked.allocation_id, reason)
