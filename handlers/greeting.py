"""Greetings, the help menu, and the polite fallback for anything the bot cannot do yet."""

from __future__ import annotations

from handlers.base import Context, Outcome
from handlers.messages import EmptyReply, Inbound, TextReply
from intents import Classification, Intent

CAPABILITIES = (
    "我可以帮您：\n"
    "1. 问法律、心理、办事的问题（直接打字或说话）\n"
    "2. 报修、反映问题，比如路灯坏了、漏水、噪音\n"
    "3. 查报修进度：发“我的报修”\n"
    "4. 当志愿者、活动签到、查积分：发“积分”\n"
    "5. 找工作人员：发“转人工”\n"
    "有紧急情况请直接打 110、120、119。"
)

WELCOME = "您好，欢迎关注！我是社区的小帮手。\n" + CAPABILITIES


class GreetingHandler:
    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        if cls.intent is Intent.HELP:
            return TextReply(CAPABILITIES)
        if any(word in msg.text for word in ("谢", "多谢")):
            return TextReply("不客气！还有什么需要，随时跟我说。")
        if "机器人" in msg.text:
            return TextReply("我是社区的智能小帮手，不是真人。需要找工作人员，发“转人工”就行。")
        return TextReply("您好！有什么可以帮您？\n" + CAPABILITIES)


class FallbackHandler:
    """Answers what nothing else did: never an error, always a way forward."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        if msg.kind == "event":
            # LOCATION reports, menu links and template receipts need no answer: saying "I don't
            # understand" each time a resident opens the chat would be noise.
            return EmptyReply()
        if msg.kind == "image":
            return TextReply("照片收到了。如果是要报修，请再用一句话说说是什么问题、在哪里。")
        if msg.kind == "location":
            return TextReply("位置收到了。请告诉我您想反映什么问题，我来帮您登记。")
        if msg.kind == "voice" and not msg.text:
            return TextReply("抱歉，这条语音我没听清，麻烦您打字告诉我，或者再说一遍。")
        if msg.kind not in ("text", "voice"):
            return TextReply("抱歉，这种消息我还看不懂。您可以直接打字或发语音告诉我。")
        return TextReply("抱歉，我没太明白您的意思。\n" + CAPABILITIES)
