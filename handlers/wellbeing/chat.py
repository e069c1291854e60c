"""报平安 in chat: "我想每天报个平安", "给我妈开通平安打卡", "这几天去女儿家了，不用报平安", "不用报平安了",
"已上门，平安", and the "好" that answers a prompt. The handler recognises its own phrases; anything else
goes on to the next route."""

from __future__ import annotations

import re
from datetime import date, timedelta

from handlers.base import UNHANDLED, Context, Outcome
from handlers.flows import (
    SAFECHECK_FAMILY,
    SAFECHECK_PAUSE,
    SAFECHECK_TIME,
    SafecheckFamily,
    SafecheckPause,
    SafecheckTime,
)
from handlers.messages import Inbound, TextReply
from handlers.residents import community_needed
from handlers.wellbeing import checkins
from handlers.wellbeing.files import add_contact, add_member
from handlers.wellbeing.rules import (
    for_family,
    format_minute,
    is_acknowledgement,
    is_away,
    local_day,
    parse_return_date,
    parse_time_of_day,
    reports_safe,
    wants_enrolment,
    wants_stop,
)
from intents import Classification
from intents.numbers import to_int
from intents.rules import parse_address
from storage import safecheck as sc
from storage.households import household_at
from storage.models import DialogueState

ASK_TIME = "好的！每天几点提醒您报平安？比如回“早上8点”。"
ASK_TIME_FOR = "好的！每天几点提醒{who}报平安？比如回“早上8点”。"
ASK_WHO = "请告诉我{who}怎么称呼、住在哪里，比如回“张秀英 3号楼2单元502”。"
ASK_UNTIL = "好的，出门在外注意身体。请问您到几号回来？到时候我再接着提醒您。"


def _day_name(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _minute_from(text: str) -> int | None:
    minute = parse_time_of_day(text)
    if minute is not None:
        return minute
    bare = to_int(text.strip().rstrip("点。. "))
    return bare * 60 if bare is not None and 5 <= bare <= 22 else None


class WellbeingHandler:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        if msg.kind not in ("text", "voice"):
            return UNHANDLED
        text = msg.text.strip()
        if not text:
            return UNHANDLED
        if reports_safe(text):
            reply = self._safe_report(ctx, text)
            if reply is not None:
                return reply
        about_safecheck = "平安" in text or "打卡" in text
        if about_safecheck and (wants_stop(text) or (is_away(text) and re.search(r"不用|不要|别|暂停", text))):
            return self._stop_or_pause(ctx, text)
        if wants_enrolment(text):
            return self._enrol(ctx, text)
        if is_acknowledgement(text):
            return self._acknowledge(ctx)
        return UNHANDLED

    # --- enrolling -----------------------------------------------------------------------------------

    def _enrol(self, ctx: Context, text: str) -> Outcome:
        if ctx.community is None:
            asked = community_needed(ctx, pending_text=text, why="开通报平安前，")
            if asked is not None:
                return asked
        if ctx.community is None:
            return TextReply("抱歉，现在还没有社区可以登记，请联系社区居委会开通。")
        relative = for_family(text) or ""
        minute = parse_time_of_day(text)
        if minute is None:
            ctx.start_flow(SAFECHECK_TIME, "time", SafecheckTime(relative=relative))
            return TextReply(ASK_TIME_FOR.format(who=f"您{relative}") if relative else ASK_TIME)
        if relative:
            ctx.start_flow(SAFECHECK_FAMILY, "who", SafecheckFamily(relative=relative, minute=minute))
            return TextReply(ASK_WHO.format(who=f"您{relative}"))
        return self._enrol_self(ctx, minute)

    def _enrol_self(self, ctx: Context, minute: int) -> TextReply:
        assert ctx.community is not None
        checkins.enrol(
            ctx.session,
            community=ctx.community,
            resident=ctx.resident,
            minute=minute,
            by=f"resident:{ctx.resident.id}",
            now=ctx.now,
        )
        ctx.end_dialogue()
        address = (
            ""
            if ctx.resident.room
            else "\n您还没告诉我住址，回一句“我住3号楼2单元502”，有事时邻居和网格员才知道去哪儿找您。"
        )
        return TextReply(
            f"开通好了！每天{format_minute(minute)}提醒您，回个“好”就算报平安。不想要了随时说“不用报平安了”。{address}"
        )

    def _enrol_relative(self, ctx: Context, state: SafecheckFamily, text: str) -> Outcome:
        name = _name_in(text)
        address = parse_address(text.replace(name, " ", 1).strip() if name else text)
        if ctx.community is None or not address or not address.get("building") or not address.get("room"):
            return UNHANDLED
        name = name or state.relative
        household = household_at(
            ctx.session, ctx.community.id, address["building"], address.get("unit"), address["room"]
        )
        assert household is not None
        secret = ctx.settings.secret_key
        by = f"resident:{ctx.resident.id}"
        member = add_member(ctx.session, secret, ctx.community, household, name=name, by=by, now=ctx.now)
        add_contact(
            ctx.session,
            secret,
            household,
            role="family",
            name=ctx.resident.display_name or f"{name}的家属",
            resident=ctx.resident,
            by=by,
            now=ctx.now,
        )
        checkins.enrol(
            ctx.session,
            community=ctx.community,
            member=member,
            household=household,
            name=name,
            minute=state.minute,
            by=by,
            now=ctx.now,
        )
        ctx.end_dialogue()
        return TextReply(
            f"好的，已为{name}（{household.label}）开通报平安，每天{format_minute(state.minute)}。"
            "哪天没有平安消息，会先请邻居去看看，再告诉您，最后请网格员上门。"
            "有邻居或志愿者愿意结对的话，请告诉社区，我们登记进户档。"
        )

    # --- pausing and stopping ------------------------------------------------------------------------

    def _stop_or_pause(self, ctx: Context, text: str) -> Outcome:
        enrolment = sc.enrolment_of_resident(ctx.session, resident_id=ctx.resident.id)
        if enrolment is None:
            return TextReply("您现在没有开通每天报平安。想开通的话，说“我想每天报个平安”就行。")
        by = f"resident:{ctx.resident.id}"
        if is_away(text) and not re.search(r"不用报平安了$|取消|停止|关掉|关闭|退订", text):
            until = parse_return_date(text, local_day(ctx.now))
            if until is None:
                ctx.start_flow(SAFECHECK_PAUSE, "until", SafecheckPause())
                return TextReply(ASK_UNTIL)
            return self._pause(ctx, enrolment, until, by)
        checkins.end(ctx.session, enrolment, by=by, now=ctx.now)
        ctx.end_dialogue()
        return TextReply("好的，已停止每天的报平安提醒。想重新开通，随时说“我想每天报个平安”。")

    def _pause(self, ctx: Context, enrolment: sc.Enrolment, until: date, by: str) -> TextReply:
        try:
            checkins.pause(ctx.session, enrolment, until=until, by=by, now=ctx.now)
        except checkins.CheckinError:
            ctx.start_flow(SAFECHECK_PAUSE, "until", SafecheckPause())
            return TextReply("这个日子已经过去了哦。请问您到几号回来？")
        ctx.end_dialogue()
        return TextReply(
            f"好的，{_day_name(until)}之前不提醒您报平安，{_day_name(until + timedelta(days=1))}起照常提醒。"
            "路上注意安全！提前回来了，给我发个消息就行。"
        )

    # --- answers -------------------------------------------------------------------------------------

    def _acknowledge(self, ctx: Context) -> Outcome:
        enrolment = sc.enrolment_of_resident(ctx.session, resident_id=ctx.resident.id)
        if enrolment is None:
            return UNHANDLED
        today = sc.day_of(ctx.session, enrolment_id=enrolment.id, day=local_day(ctx.now))
        if today is None or today.status not in ("open", "answered"):
            return UNHANDLED
        if today.status == "open":
            sc.resolve_day(ctx.session, day_id=today.id, status="answered", by="resident", at=ctx.now)
        return TextReply(f"收到，{enrolment.name or '您'}平安就好！祝您今天顺顺利利。")

    def _safe_report(self, ctx: Context, text: str) -> TextReply | None:
        report = checkins.report_safe(ctx.session, text=text, now=ctx.now, resident=ctx.resident)
        if report.ambiguous:
            return TextReply("谢谢您！您去看的是哪一户？请连地址一起回，比如“已上门，平安 3号楼2单元502”。")
        if report.resolved:
            return TextReply("谢谢您跑这一趟！已记下平安，后面的提醒都停了。")
        return None

    # --- flows ---------------------------------------------------------------------------------------

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        text = msg.text.strip()
        if state.flow == SAFECHECK_TIME.name:
            asked = SAFECHECK_TIME.read(state.data)
            minute = _minute_from(text)
            if asked is None or minute is None or ctx.community is None:
                return UNHANDLED
            if asked.relative:
                ctx.start_flow(SAFECHECK_FAMILY, "who", SafecheckFamily(relative=asked.relative, minute=minute))
                return TextReply(ASK_WHO.format(who=f"您{asked.relative}"))
            return self._enrol_self(ctx, minute)
        if state.flow == SAFECHECK_FAMILY.name:
            family = SAFECHECK_FAMILY.read(state.data)
            return UNHANDLED if family is None else self._enrol_relative(ctx, family, text)
        if state.flow == SAFECHECK_PAUSE.name:
            until = parse_return_date(text, local_day(ctx.now))
            enrolment = sc.enrolment_of_resident(ctx.session, resident_id=ctx.resident.id)
            if until is None or enrolment is None:
                return UNHANDLED
            return self._pause(ctx, enrolment, until, f"resident:{ctx.resident.id}")
        return UNHANDLED


def _name_in(text: str) -> str:
    """The name before the address: "张秀英 3号楼2单元502" -> "张秀英"."""
    for token in re.split(r"[\s,，、；;。]+", text):
        token = re.sub(r"^(叫|她叫|他叫|名字叫|是)", "", token)
        token = re.split(r"住|在|[0-9一二三四五六七八九十]+(号楼|栋|幢|单元|号|室)", token)[0]
        if token and not any(ch.isdigit() for ch in token) and len(token) <= 8:
            return token
    return ""
