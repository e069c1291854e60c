"""One message, everything in it: "我住4号楼 楼上天天往下扔烟头" keeps the address and handles the complaint;
"路灯坏了 另外我想问下低保怎么办" files the report and answers the question, in one reply.

The message is cut into its requests and each is routed as if it had come alone, in the order written.
"""

from __future__ import annotations

import re
from dataclasses import replace

from handlers.base import UNHANDLED, Context, Outcome
from handlers.flows import CHOOSE_COMMUNITY, CommunityChoice
from handlers.messages import Inbound, TextReply, reply_text
from handlers.slots import asks_something
from handlers.tickets.reporting import PART_KEY
from handlers.tickets.rules import categorise, corrected, find_place
from intents import Classification, Intent
from intents.rules import address_and_rest

# Words that start another request: "另外", "顺便问下", "还有4号楼门口井盖松了". Not "还有人…", "还有没有…".
_NEXT = re.compile(
    r"(?:^|(?<=[\s，,。.!！？?；;]))(?:另外|顺便|还有(?!人|没有|谁|多|啥|什么|点|些|一点)|对了|再有|此外|再就是)"
    r"[，,：:\s]*"
)
# A question at the end of a report, about another matter: "…又漏水了 物业老不管 这物业费我能不交吗".
_OTHER_MATTER = re.compile(r"物业费|低保|补贴|医保|社保|养老金|公积金|居委会.{0,6}(几点|电话|上班|下班)|几点(上|下)班")
# A question about the report itself is part of it: "这个你们能管不", "找谁修".
_ABOUT_THE_REPORT = re.compile(r"这个|这事|管不|管吗|修吗|找谁|怎么办|咋办|咋整")
_CLAUSES = re.compile(r"[\s，,。!！；;]+")
_MARK = "compound_part"
# Longer than this is a letter, not a list of requests: handled whole.
MAX_CHARS = 200


# "我想问下低保怎么办": the question is "低保怎么办".
_ASKING = re.compile(r"^(我|俺)?(还)?(想|要)?(问问|问下|问一下|问一问|打听一?下)[，,：:\s]*")


def requests_in(text: str) -> list[str]:
    """The separate requests in a message, in order; one item when there is one request."""
    parts = [p.strip(" ，,。；;") for p in _NEXT.split(text)]
    parts = [_ASKING.sub("", p) or p for p in parts if len(p) >= 2]
    if len(parts) > 1:
        return parts
    clauses = [c for c in _CLAUSES.split(text.strip()) if c]
    if len(clauses) >= 2:
        question, report = clauses[-1], " ".join(clauses[:-1])
        if (
            asks_something(question)
            and _OTHER_MATTER.search(question)
            and not _ABOUT_THE_REPORT.search(question)
            and categorise(report) != "other"
        ):
            return [report, question]
    return [text]


class CompoundHandler:
    """Splits a message that holds several requests and handles each as if it came alone."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        text = msg.text.strip()
        if ctx.extras.get(_MARK) or msg.kind not in ("text", "voice") or not text or len(text) > MAX_CHARS:
            return UNHANDLED
        lead = ""
        parts = requests_in(text)
        told = address_and_rest(text)
        if told is not None and len(parts) == 1:
            address, rest = told
            # "我住6号楼 哦不对 是5号楼 …": the corrected building is where they live.
            if (fixed := corrected(text)) != text:
                rest, address = fixed, {"building": find_place(fixed).building or address["building"]}
            lead = self._keep_address(ctx, address)
            parts = requests_in(rest)
        elif len(parts) == 1:
            return UNHANDLED
        ctx.extras[_MARK] = True
        try:
            replies = [lead] if lead else []
            for number, part in enumerate(parts):
                ctx.extras[PART_KEY] = number
                replies.append(reply_text(ctx.services.answer(ctx, replace(msg, text=part))) or "")
                if self._waits_for_community(ctx, parts[number:]):
                    break
        finally:
            ctx.extras.pop(_MARK, None)
            ctx.extras.pop(PART_KEY, None)
        return TextReply("\n\n".join(r for r in replies if r))

    @staticmethod
    def _keep_address(ctx: Context, address: dict[str, str]) -> str:
        resident = ctx.resident
        resident.building, resident.unit, resident.room = address["building"], address.get("unit"), address.get("room")
        place = f"{resident.building}号楼" + (f"{resident.unit}单元" if resident.unit else "")
        place += f"{resident.room}室" if resident.room else ""
        return f"记下了，您住{place}。"

    @staticmethod
    def _waits_for_community(ctx: Context, left: list[str]) -> bool:
        """A request that needs the community asked for it: the rest waits with it, to be handled once the
        resident has chosen (the question's answer is then routed whole again)."""
        state = ctx.dialogue()
        if state is None or state.flow != CHOOSE_COMMUNITY.name:
            return False
        ctx.start_flow(CHOOSE_COMMUNITY, "choose", CommunityChoice(pending_text=" 另外 ".join(left)))
        return True


# Every intent but danger: a split message may hold any request.
INTENTS = frozenset(Intent) - {Intent.CRISIS, Intent.EMERGENCY}
