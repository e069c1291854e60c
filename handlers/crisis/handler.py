"""Crisis and emergency: the right script at once, an alert to the worker on duty, and a crisis conversation.

After a crisis reply the next messages, for CRISIS_WINDOW, stay in a crisis conversation: short, warm
answers that keep the number in front of the resident, a second alert when they say they are alone or
still in danger (or "yes" to the direct question after distress), and no menus, forms, community
questions or ticket steps. A flow that was waiting is set aside in the crisis state and never filled
with crisis words; it is dropped when the window closes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from handlers.base import UNHANDLED, Context, Outcome
from handlers.communities import spec_of
from handlers.crisis import scripts as s
from handlers.flows import CRISIS, CrisisConversation, SetAside
from handlers.messages import Inbound, TextReply
from handlers.notify import alert_duty_worker
from intents import Classification, Intent
from intents import danger as d
from storage import repositories as repo
from storage.models import DialogueState

CRISIS_WINDOW = timedelta(minutes=30)

# Said after "你现在身边有人陪着吗？", or about themselves at any time.
_ALONE = re.compile(
    r"就我(一个|自己)?|我一个人|一个人(在|住)|只有我|没人(陪|在|管)?|没有人|(独自|自己)(在家|一个)|孤零零"
)
_BARE_NO = re.compile(r"^\s*(没|没有|没人|没得|木有|无|否|不|没呢|没有啊|没有的)\s*[。.!！…~]*\s*$")
_COMPANY = re.compile(
    r"(有|在)(人)?(陪|旁边|身边|一起)|老伴在|孩子在|家里有人|邻居在|(儿子|女儿|闺女|老伴).{0,4}(在|来了)"
)
_STILL = re.compile(
    r"还在|又来了|又回来|回来了|踹门|砸门|撬|在外面|不走|就在(门口|外面|楼下|旁边|屋里)|追(我|过来|上来)|跟着我|冲进来|"
    r"越来越(大|浓|多)|下不去|出不去|出不来|打我|要打|不敢(出去|出门|回家)|害怕|好怕|救命"
)
_YES = re.compile(r"^\s*(是|是的|嗯+|对|有|有过|会|想|想过|经常|偶尔|有时候?)|想过|有过|有时候会|会想|想过好|念头")
_NO = re.compile(r"没有|没想过|没那么想|不会|不至于|不是|没到那|没有没有")
_SEND = re.compile(r"来(个)?人|派(个)?人|上门|过来|找(个)?人|有人(来|管)|你们.{0,4}(来|帮)")
_WHO = re.compile(r"真人|机器|机器人|你是谁|是人吗|人工")
_PUSH = re.compile(r"不用你管|别管我|别烦|帮不了|没用的|少管|不需要|滚")
_THANKS = re.compile(r"谢谢|多谢|好受(点|些)|好多了|没事了|我没事|知道了|好的|嗯嗯")
_RESOLVED = re.compile(
    r"没事了|灭了|扑灭|救上来|救出来|出来了|到医院了|救护车(到|来)了|找到了|回来了|修好了|虚惊|不漏了|关好了"
)
_TAKEN = re.compile(r"(吃|喝|吞)(下去|了|完)|割了|流血|已经(吃|喝|吞)")
_POLICE = re.compile(r"警察|报(了)?警|110|穿(的|着)?(啥|什么)|衣服|照片|长相|特征")

_PERSONAL_FOLLOWUP = frozenset({d.SELF_HARM, d.DISTRESS})


def _gas(ctx: Context) -> str:
    return (spec_of(ctx.community).gas_hotline if ctx.community else None) or ""


def _danger_of(msg: Inbound, cls: Classification) -> str:
    if kind := cls.slots.get("danger"):
        return kind
    found = d.find_danger(msg.text)
    if found is not None:
        return found.kind
    return d.DISTRESS if cls.intent is Intent.CRISIS else d.COLLAPSE


def crisis_reply(text: str, kind: str, *, also: str | None = None, gas_hotline: str = "") -> str:
    """The first answer to a danger; a plain function so it can be checked without a database."""
    if kind == d.SELF_HARM and also == d.VIOLENCE:
        return s.SELF_HARM_UNDER_VIOLENCE
    return s.with_gas(s.script_for(kind).reply, gas_hotline)


class CrisisHandler:
    """Answers a danger and holds the crisis conversation that follows it (the `crisis` flow)."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        kind = _danger_of(msg, cls)
        script = s.script_for(kind)
        current = self._current(ctx)
        if current is not None:
            conversation, set_aside = current, current.set_aside
            if kind == d.DISTRESS and conversation.danger != d.DISTRESS:
                # Distress words in a graver crisis already under way: stay with the graver one.
                kind, script = conversation.danger, s.script_for(conversation.danger)
            reply = self._again(kind, msg.text, conversation, gas=_gas(ctx))
        else:
            set_aside = self._set_aside(ctx)
            reply = crisis_reply(msg.text, kind, also=cls.slots.get("also"), gas_hotline=_gas(ctx))
        level: Literal["red", "yellow"] = "yellow" if kind == d.DISTRESS else "red"
        alert_duty_worker(ctx, label=script.label, text=msg.text, level=level)
        asked: Literal["", "company", "thoughts"] = ""
        if kind == d.DISTRESS:
            asked = "thoughts"
        elif kind == d.SELF_HARM and not cls.slots.get("also"):
            asked = "company"
        self._keep(ctx, CrisisConversation(danger=kind, since=ctx.now, level=level, asked=asked, set_aside=set_aside))
        return TextReply(reply)

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        conversation = CRISIS.read(state.data)
        if conversation is None or ctx.now - conversation.since >= CRISIS_WINDOW:
            # The window has closed: the crisis conversation ends, and what was set aside with it.
            return UNHANDLED
        reply = self._follow(ctx, msg, conversation)
        if reply is None:
            ctx.end_dialogue()
            return TextReply(s.RESOLVED)
        return TextReply(reply)

    # --- the conversation ---------------------------------------------------------------------------

    def _follow(self, ctx: Context, msg: Inbound, conversation: CrisisConversation) -> str | None:
        kind = conversation.danger
        script = s.script_for(kind)
        number = s.NUMBERS.get(kind, "120")
        text = msg.text.strip()
        if msg.kind == "image":
            return s.PHOTO if kind in _PERSONAL_FOLLOWUP else s.with_gas(script.follow, _gas(ctx))
        if msg.kind == "location":
            self._alert_again(ctx, conversation, "居民发来了位置", msg.label or "微信位置")
            return s.LOCATION.format(number=number)
        if conversation.asked == "thoughts":
            if _YES.search(text) and not _NO.search(text):
                self._alert_again(ctx, conversation, "居民说有过轻生的念头", text, escalate=True)
                return script.still
            if _NO.search(text) or _BARE_NO.match(text):
                self._keep(ctx, conversation.model_copy(update={"asked": ""}))
                return s.NO_THOUGHTS
        alone = _ALONE.search(text) is not None or (
            conversation.asked == "company" and _BARE_NO.match(text) is not None
        )
        if alone and not _COMPANY.search(text):
            self._alert_again(ctx, conversation, "居民说身边没有人", text)
            return s.with_gas(s.script_for(kind).still, _gas(ctx))
        if kind not in _PERSONAL_FOLLOWUP and _STILL.search(text):
            self._alert_again(ctx, conversation, "居民说仍有危险", text)
            return s.with_gas(script.still, _gas(ctx))
        if conversation.asked == "company" and _COMPANY.search(text):
            self._keep(ctx, conversation.model_copy(update={"asked": ""}))
            return s.NOT_ALONE
        if kind not in _PERSONAL_FOLLOWUP and kind not in (d.VIOLENCE, d.THREAT, d.CHILD) and _RESOLVED.search(text):
            return None
        if kind == d.MISSING and _POLICE.search(text):
            return script.follow
        if _WHO.search(text):
            return s.WHO_AM_I.format(number=number)
        if _PUSH.search(text):
            return s.PUSHED_AWAY.format(number=number)
        if kind in _PERSONAL_FOLLOWUP and _THANKS.search(text):
            return s.THANKS.format(number=number)
        if _SEND.search(text):
            return s.SEND_SOMEONE.format(number=number)
        return s.with_gas(script.follow, _gas(ctx))

    def _again(self, kind: str, text: str, conversation: CrisisConversation, *, gas: str) -> str:
        """A new danger message in a crisis already under way: what is new, briefly."""
        if kind == d.SELF_HARM and _TAKEN.search(text):
            return s.SELF_HARM_TAKEN
        if kind == conversation.danger or kind == d.DISTRESS:
            return s.with_gas(s.script_for(kind).still, gas)
        return crisis_reply(text, kind, gas_hotline=gas)

    def _alert_again(
        self, ctx: Context, conversation: CrisisConversation, reason: str, text: str, *, escalate: bool = False
    ) -> None:
        script = s.script_for(conversation.danger)
        alert_duty_worker(ctx, label=f"{script.label}（再次告警：{reason}）", text=text, level="red")
        update: dict[str, object] = {"level": "red"}
        if escalate:
            update |= {"danger": d.SELF_HARM, "asked": "company"}
        self._keep(ctx, conversation.model_copy(update=update))

    # --- state --------------------------------------------------------------------------------------

    def _current(self, ctx: Context) -> CrisisConversation | None:
        state = ctx.dialogue()
        if state is None or state.flow != CRISIS.name:
            return None
        conversation = CRISIS.read(state.data)
        if conversation is None or ctx.now - conversation.since >= CRISIS_WINDOW:
            return None
        return conversation

    def _set_aside(self, ctx: Context) -> SetAside | None:
        state = ctx.dialogue()
        if state is None or state.flow == CRISIS.name:
            return None
        return SetAside(flow=state.flow, step=state.step, data=dict(state.data or {}))

    def _keep(self, ctx: Context, conversation: CrisisConversation) -> None:
        """Store the conversation until its window closes (measured on the injected clock)."""
        remaining = conversation.since + CRISIS_WINDOW - ctx.now
        repo.set_dialogue(
            ctx.session,
            resident_id=ctx.resident.id,
            flow=CRISIS.name,
            step="follow",
            data=conversation.model_dump(mode="json"),
            now=ctx.now,
            ttl=max(remaining, timedelta(seconds=1)),
        )
