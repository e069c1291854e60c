"""Menu clicks: each custom-menu key stands for what a resident would otherwise type."""

from __future__ import annotations

from dataclasses import replace

from handlers.base import UNHANDLED, Context, Outcome
from handlers.messages import Inbound
from intents import Classification

# Menu keys configured in the official account's custom menu, and what a click means.
MENU_TEXT = {
    "HELP": "帮助",
    "MY_TICKETS": "我的报修",
    "POINTS": "积分",
    "HUMAN": "转人工",
    "ACTIVITIES": "最近有什么活动",
    "VOLUNTEER": "我想当志愿者",
}


class MenuHandler:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        text = MENU_TEXT.get((msg.event_key or "").upper())
        if text is None:
            return UNHANDLED
        synthetic = replace(msg, kind="text", text=text, event=None)
        return ctx.services.answer(ctx, synthetic)
