"""Menu clicks and asking for a person."""

from __future__ import annotations

from dataclasses import replace

from bot.messages import Inbound, TextReply
from handlers.base import UNHANDLED, Context, Outcome
from handlers.notify import alert_duty_worker
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
        return ctx.services.dispatcher.dispatch(ctx, synthetic).reply


class HumanHandler:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        alert_duty_worker(ctx, label="居民请求人工服务", text=msg.text, level="yellow")
        return TextReply("好的，已请社区工作人员联系您，一般在工作时间内回复。\n着急的话也可以直接到社区居委会找我们。")
