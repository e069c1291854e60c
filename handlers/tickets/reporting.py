"""Grievances: a resident's report becomes a tracked ticket; asks once for the place; photos attach to it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from handlers.base import UNHANDLED, Context, Outcome
from handlers.communities import spec_of
from handlers.crisis.advice import safety_tip
from handlers.faq import FaqHandler
from handlers.flows import TICKET_LOCATION, Photo, TicketLocation
from handlers.messages import Inbound, TextReply
from handlers.residents import ask_community, community_needed
from handlers.slots import is_cancel, pause, place_in_answer
from handlers.tickets.rules import CATEGORY_NAMES, COLOUR_NAMES, Place, categorise, find_place, summary
from handlers.tickets.workdays import format_local
from handlers.tickets.workflow import add_photo, report
from intents import Classification
from storage import repositories as repo
from storage import tickets as store
from storage.models import DialogueState

# Which request of a message is being handled (set by handlers/compound.py).
PART_KEY = "request_number"
# Photos sent this soon after a report belong to it.
PHOTO_WINDOW = timedelta(minutes=10)
# "不是同一个" this soon after a report joined a ticket takes it out and files it on its own.
SEPARATE_WINDOW = timedelta(minutes=30)
_NOT_THE_SAME = re.compile(
    r"^(不是|不对|不一样|两回事)|不是(同一|一个|一回事|一件事|那个|那根|那盏|那部|这个)|两回事|另外一[个根盏处]|别的地方"
)
# "不对 是5号楼", "说错了 在6栋": the report just filed was somewhere else.
_PLACE_CORRECTION = re.compile(r"^\s*(不对|不是|说错了|搞错了|记错了|弄错了)[了吧啊呀，,。.!！\s]*(应该)?(是|在)?")
# "开不开", "收不收": the A-not-A question counts as one too.
_ASKS = re.compile(
    r"[?？]|吗|几点|什么时候|啥时候|在哪|哪里|哪儿|怎么|咋办|咋弄|能不能|可不可以|有没有|([\u4e00-\u9fff])不\1"
)
# Opening hours are asked about a shop or a room, never reported: "楼下小卖部几点关门" is no dispute.
_HOURS = re.compile(r"几点(开|关|营业|上班|下班)|营业时间|开放时间|(开|关)门吗")
_ABOUT_A_FAULT = re.compile(r"修|坏|管|弄好|处理|翘|松|堵|漏|号楼|栋|单元")
ASK_PLACE = "请问具体在哪里？回复楼号（比如“3号楼2单元”或“小区北门”），或者发一个微信位置给我。"


def source_key(ctx: Context) -> str | None:
    """What a ticket filed for this message is keyed by, so a retry files nothing twice; a message holding two
    reports ("3号楼路灯坏了 还有4号楼井盖松了", handlers/compound.py) keys each by its place in the message."""
    if not ctx.inbound_id:
        return None
    part = ctx.extras.get(PART_KEY)
    return f"inbound:{ctx.inbound_id}" + (f":{part}" if part else "")


def _photo(msg: Inbound) -> dict[str, Any]:
    return {"media_id": msg.media_id, "pic_url": msg.pic_url}


def submit(
    ctx: Context,
    text: str,
    place: Place,
    *,
    latitude: float | None = None,
    longitude: float | None = None,
    photos: list[dict[str, Any]] | None = None,
) -> TextReply:
    community = ctx.community
    if community is None:
        # A ticket cannot be routed without a community: ask again, even if the resident let the first
        # question pass, and file the report once they answer.
        communities = repo.list_communities(ctx.session)
        if not communities:
            return TextReply("抱歉，还不知道您是哪个社区的居民，暂时没法登记。请直接联系居委会。")
        asked = ask_community(ctx, communities, pending_text=text)
        return TextReply("登记报修要先知道您住在哪个社区。" + asked.text)
    intake = report(
        ctx.session,
        ctx.settings,
        community=community,
        resident=ctx.resident,
        text=text,
        place=place,
        now=ctx.now,
        latitude=latitude,
        longitude=longitude,
        photos=photos,
        source_key=source_key(ctx),
    )
    ticket = intake.ticket
    if intake.joined:
        # Saying what they joined lets the resident tell us it is another thing.
        return TextReply(
            f"您说的和“{summary(ticket.description, 30)}”是同一件事吧？{format_local(ticket.created_at).split()[0]}已登记，"
            f"工单 {ticket.code}，正在处理中。您补充的情况已转告工作人员，进展也会通知您，"
            f"发“查询 {ticket.code}”可随时查看。\n如果不是同一个，回复“不是同一个”，我另外登记。"
        )
    kind = f"{COLOUR_NAMES[ticket.colour]}·{CATEGORY_NAMES[ticket.category]}"
    return TextReply(
        f"已登记（{kind}，{ticket.place}），工单号 {ticket.code}。\n"
        f"工作人员会在 {format_local(ticket.due_at)} 前处理回复，发“查询 {ticket.code}”可看进度；有照片可以直接发来。"
    )


def _tip(ctx: Context, text: str) -> str:
    """A line of safety advice for a report that names a danger ("水管爆了": close the main valve)."""
    tip = safety_tip(text, gas_hotline=(spec_of(ctx.community).gas_hotline if ctx.community else None) or "")
    return f"\n{tip}" if tip else ""


def problem_label(text: str) -> str:
    """ "楼道堆物" -> "停车和消防通道": what the resident will see we understood."""
    category = categorise(text)
    return "这个" if category == "other" else f"“{CATEGORY_NAMES[category]}”"


class GrievanceHandler:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        text = msg.text.strip()
        if not text:
            return UNHANDLED
        asks = _ASKS.search(text) and not _ABOUT_A_FAULT.search(text)
        if asks and (categorise(text) == "other" or _HOURS.search(text)):
            # "饿死了 老年食堂今天几点开饭": a question with nothing broken in it is a question.
            return FaqHandler().handle(ctx, msg, cls)
        asked = community_needed(ctx, pending_text=text, why="登记报修要先知道您住在哪个社区。")
        if asked is not None:
            return asked
        place = find_place(text)
        if not place.known and ctx.resident.building:
            place = Place(building=ctx.resident.building, unit=ctx.resident.unit)
        if not place.known:
            ctx.start_flow(TICKET_LOCATION, "where", TicketLocation(text=text))
            # Naming what we understood lets the resident correct us before anything is filed.
            return TextReply(f"收到，{problem_label(text)}的问题我来帮您登记。" + ASK_PLACE + _tip(ctx, text))
        filed = submit(ctx, text, place)
        return TextReply(filed.text + _tip(ctx, text))


class GrievanceLocationFlow:
    """The one follow-up question: where is it?"""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        return UNHANDLED

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        waiting = TICKET_LOCATION.read(state.data)
        if waiting is None:
            return UNHANDLED
        text = waiting.text
        if msg.kind == "image":
            waiting.photos.append(Photo.model_validate(_photo(msg)))
            ctx.start_flow(TICKET_LOCATION, "where", waiting)
            return TextReply("照片收到了。" + ASK_PLACE)
        photos = [photo.model_dump() for photo in waiting.photos]
        if msg.kind == "location":
            ctx.end_dialogue()
            label = (msg.label or "").strip() or "微信位置"
            return submit(
                ctx, text, Place(label=label[:200]), latitude=msg.latitude, longitude=msg.longitude, photos=photos
            )
        answer = msg.text.strip()
        if msg.kind == "voice" and not answer:
            # WeChat could not make out the voice message: the report still waits.
            return TextReply("抱歉，这段语音我没听清。请再说一遍在哪里，或者打字告诉我（比如“3号楼2单元”）。")
        if msg.kind not in ("text", "voice") or not answer:
            return UNHANDLED
        if is_cancel(answer):
            ctx.end_dialogue()
            return TextReply("好的，这件事先不登记了。需要的时候随时告诉我。")
        place = place_in_answer(answer, report=text, cls=cls)
        if place is None:
            # Not an answer to "where?": handled as itself, and the report waits for its place.
            note = f"刚才说的{problem_label(text)}问题还没登记，告诉我在哪里就帮您登记；不用了就回“算了”。"
            pause(ctx, TICKET_LOCATION, "where", waiting, note)
            return UNHANDLED
        ctx.end_dialogue()
        return submit(ctx, text, place, photos=photos)


class SeparateReportHandler:
    """ "不是同一个": the report that just joined a ticket was another thing; it becomes its own ticket."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        text = msg.text.strip()
        if not text or len(text) > 80 or not _NOT_THE_SAME.search(text) or ctx.community is None:
            return UNHANDLED
        actor = f"resident:{ctx.resident.id}"
        joined = store.latest_join(ctx.session, actor=actor, since=ctx.now - SEPARATE_WINDOW)
        if joined is None or not joined.note:
            return UNHANDLED
        old = ctx.session.get(store.Ticket, joined.ticket_id)
        if old is None:
            return UNHANDLED
        place = find_place(joined.note)
        if not place.known:
            place = Place(building=old.building, unit=old.unit, label=old.place)
        if old.reporter_id != ctx.resident.id:
            store.remove_follower(ctx.session, ticket_id=old.id, resident_id=ctx.resident.id)
        intake = report(
            ctx.session,
            ctx.settings,
            community=ctx.community,
            resident=ctx.resident,
            text=f"{joined.note}（居民补充：{text}）",
            place=place,
            now=ctx.now,
            source_key=f"inbound:{ctx.inbound_id}" if ctx.inbound_id else None,
            separate=True,
        )
        store.add_event(
            ctx.session,
            ticket=old,
            actor=actor,
            action="left",
            note=f"居民说不是同一个问题，另开工单 {intake.ticket.code}",
            now=ctx.now,
        )
        ticket = intake.ticket
        return TextReply(
            f"明白了，是另一处。已单独登记，工单号 {ticket.code}（{ticket.place}）。\n"
            f"工作人员会在 {format_local(ticket.due_at)} 前处理回复，发“查询 {ticket.code}”可看进度。"
        )


class TicketPhotoHandler:
    """An image soon after a report is a photo of it."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        if msg.kind != "image":
            return UNHANDLED
        ticket = store.latest_reported_since(ctx.session, resident_id=ctx.resident.id, since=ctx.now - PHOTO_WINDOW)
        if ticket is None or not ticket.is_open:
            return UNHANDLED
        add_photo(
            ctx.session,
            ticket=ticket,
            actor=f"resident:{ctx.resident.id}",
            photo=_photo(msg),
            now=ctx.now,
            source_key=f"inbound:{ctx.inbound_id}" if ctx.inbound_id else None,
        )
        return TextReply(f"照片已附到工单 {ticket.code}，工作人员处理时能看到。")


class PlaceCorrectionHandler:
    """ "不对 是5号楼" right after a report was filed: the ticket is moved to the place they meant."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        text = msg.text.strip()
        match = _PLACE_CORRECTION.match(text)
        if match is None or len(text) > 30 or ctx.community is None:
            return UNHANDLED
        rest = text[match.end() :]
        place = find_place(rest)
        if not place.building or categorise(rest) != "other":
            return UNHANDLED
        ticket = store.latest_reported_since(ctx.session, resident_id=ctx.resident.id, since=ctx.now - SEPARATE_WINDOW)
        if ticket is None or not ticket.is_open or ticket.reporter_id != ctx.resident.id:
            return UNHANDLED
        before = ticket.place
        ticket.building, ticket.unit, ticket.place = place.building, place.unit, place.describe()
        store.add_event(
            ctx.session,
            ticket=ticket,
            actor=f"resident:{ctx.resident.id}",
            action="progress",
            note=f"居民更正地点：{before} → {ticket.place}",
            now=ctx.now,
        )
        return TextReply(f"好的，已改成{ticket.place}，工单号 {ticket.code} 不变。")
