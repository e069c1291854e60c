"""Taking part by message: "我有个建议：…" files a proposal, "附议 P12" supports one, "投票 V3 2" votes.

The handler recognises its own phrases, whatever the classifier made of them, and comes before the
grievance route: a suggestion is a proposal, not a repair ticket. A suggestion about something broken
("建议你们把路灯修一下") is still a report, and is left to the grievance handler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from handlers.base import UNHANDLED, Context, Outcome
from handlers.flows import PARTICIPATION, ParticipationPending
from handlers.messages import Inbound, TextReply
from handlers.participation.proposals import submit_proposal, support_proposal, why_not_supportable
from handlers.participation.votes import FORGOTTEN, cast_vote, only_open_vote
from handlers.residents import community_needed
from intents import Classification
from intents.numbers import to_int
from intents.rules import parse_address
from storage import participation as store
from storage.models import DialogueState

_NUM = r"[0-9]+|[零一二两三四五六七八九十百]+"
_SUPPORT = (
    re.compile(rf"附\s*议\s*(一下)?\s*(第)?\s*[Pp]?\s*(?P<n>{_NUM})"),
    re.compile(rf"(支持|赞成|同意|顶)\s*(一下)?\s*[Pp]\s*(?P<n>{_NUM})"),
    re.compile(rf"(支持|赞成|同意|顶)\s*(一下)?\s*(第)?\s*(?P<n>{_NUM})\s*号?\s*(的)?\s*(建议|提议|提案|议题)"),
    re.compile(rf"[Pp]\s*(?P<n>{_NUM})\s*(号)?\s*(我|俺)?\s*(也)?\s*(附议|支持|赞成)"),
)
_VOTE = (
    re.compile(rf"^\s*(我要)?投\s*票\s*[:：]?\s*[Vv]\s*(?P<v>{_NUM})\s*[,，:：\s]*\s*(选|投)?\s*(?P<c>.+?)\s*$"),
    re.compile(rf"^\s*(我)?(在)?\s*[Vv]\s*(?P<v>{_NUM})\s*(里|中)?\s*(选|投|[:：,，]|\s)\s*(?P<c>.+?)\s*$"),
    re.compile(rf"^\s*(表决|投票)\s*(?P<v>{_NUM})\s*号?\s*[,，:：\s]\s*(选|投)?\s*(?P<c>.+?)\s*$"),
)
# No vote named: "我投第二个", "我选2号", "投同意".
_VOTE_BARE = re.compile(rf"^\s*(我)?(就)?(投|选)\s*(?P<c>(第)?\s*({_NUM})\s*(个|项|号)?)\s*(吧|了|啊|呀)?\s*$")
_PROPOSAL = re.compile(
    r"(我|俺|咱)?(有|提|想提|要提)\s*(个|一个|一条|条|几个|点|一点)?\s*(小)?\s*(建议|提议|想法)"
    r"|^\s*(我|俺)?\s*(想)?\s*(建议|提议)"
    r"|(能不能|可不可以|可以不可以|能否|希望|最好)\s*(在)?\s*(咱们|我们|咱)?\s*(小区|社区|楼下|院子)(里|里面|内)?"
    r"\s*(再|多)?\s*(加|建|装|安|设|种|开|搞|增加|增设|添|弄|办|组织|放|划)"
)
# A suggestion about something broken or a nuisance is a report for the grievance handler.
_FAULT = re.compile(r"修|坏|不亮|漏|堵|破|裂|塌|脏|臭|吵|乱停|占用|占道|积水|停水|没水|隐患|危险|松动|投诉|举报|不管")
_LEAD = re.compile(
    r"^\s*(你好|您好|喂)?[，,\s]*(我|俺|咱)?\s*(想|要)?\s*(有|提)?\s*(个|一个|一条|条|几个|点|一点)?\s*(小)?\s*"
    r"(建议|提议|想法|意见)\s*(哈|啊|呀|哦|吧)?\s*[:：，,。.!！\s]*"
)
_NEVER_MIND = re.compile(r"^\s*(算了|不说了|没事了?|取消|不用了|不提了)[。.!！\s]*$")


@dataclass(frozen=True)
class Asked:
    kind: str  # support | vote | vote_bare | proposal
    number: int | None = None
    said: str = ""


def _number(raw: str) -> int | None:
    return to_int(raw)


def recognise(text: str) -> Asked | None:
    for pattern in _SUPPORT:
        if m := pattern.search(text):
            number = _number(m.group("n"))
            if number is not None:
                return Asked("support", number)
    for pattern in _VOTE:
        if m := pattern.match(text):
            number = _number(m.group("v"))
            if number is not None:
                return Asked("vote", number, m.group("c"))
    if m := _VOTE_BARE.match(text):
        return Asked("vote_bare", None, m.group("c"))
    if is_proposal(text):
        return Asked("proposal", None, text)
    return None


def is_proposal(text: str) -> bool:
    return bool(_PROPOSAL.search(text)) and not _FAULT.search(text)


def proposal_words(text: str) -> str:
    """The proposal without its lead-in: "我有个建议：加几张乒乓球台" -> "加几张乒乓球台"."""
    return _LEAD.sub("", text, count=1).strip(" ，,。.!！:：")


def _address_question(ctx: Context, state: ParticipationPending, why: str) -> TextReply:
    ctx.start_flow(PARTICIPATION, "address", state)
    return TextReply(f"{why}每户算一份，所以要先知道您家住哪里。请告诉我楼号和门牌号，比如“3号楼2单元502”。")


def forget_ballots(ctx: Context) -> None:
    """Blank every recent message of the resident that was a ballot: this one, and one kept while they were
    asked which community they live in (the words come back to us then, under the later message)."""
    for row in store.recent_messages(ctx.session, resident_id=ctx.resident.id, since=ctx.now - timedelta(hours=48)):
        asked = recognise(row.content or "")
        if row.id == ctx.inbound_id or (asked is not None and asked.kind in ("vote", "vote_bare")):
            store.forget_message_text(ctx.session, inbound_id=row.id, text=FORGOTTEN)


def _has_address(ctx: Context) -> bool:
    r = ctx.resident
    return bool(r.community_id and r.building and r.room)


class ParticipationHandler:
    """Proposals, supports and votes by message."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        if msg.kind not in ("text", "voice"):
            return UNHANDLED
        asked = recognise(msg.text)
        if asked is None:
            return UNHANDLED
        if asked.kind == "vote_bare" and ctx.community is not None and only_open_vote(ctx) is None:
            return UNHANDLED  # "我选第二个" with no vote open is someone else's business
        if asked.kind in ("vote", "vote_bare"):
            # Asking which community must not keep the ballot's words in the dialogue state.
            need = community_needed(ctx, pending_text="", why="表决是按社区进行的。")
        else:
            need = community_needed(ctx, pending_text=msg.text, why="建议和附议是按社区记的，要先知道您住在哪个社区。")
        if need is not None:
            if asked.kind in ("vote", "vote_bare"):
                forget_ballots(ctx)
                return TextReply(need.text + "\n选好社区后，请再发一次您的投票。")
            return need
        if asked.kind == "proposal":
            return self._propose(ctx, asked.said)
        if asked.kind == "support":
            assert asked.number is not None
            proposal = store.proposal_by_id(ctx.session, proposal_id=asked.number)
            refusal = why_not_supportable(proposal, asked.number, ctx.community_id)
            if refusal is not None:
                return TextReply(refusal)
            if not _has_address(ctx):
                return _address_question(ctx, ParticipationPending(pending_text=msg.text), "附议要按户来算，")
            return TextReply(support_proposal(ctx, asked.number))
        vote_id = asked.number
        if vote_id is None:
            vote = only_open_vote(ctx)
            assert vote is not None
            vote_id = vote.id
        forget_ballots(ctx)
        if not _has_address(ctx):
            return _address_question(ctx, ParticipationPending(vote_id=vote_id), "表决是一户一票，")
        return TextReply(cast_vote(ctx, vote_id, asked.said))

    def _propose(self, ctx: Context, text: str) -> TextReply:
        words = proposal_words(text)
        if len(words) < 4:
            ctx.start_flow(PARTICIPATION, "proposal", ParticipationPending())
            return TextReply("好呀，欢迎提建议！请说说您的想法，比如“小区里加几张乒乓球台”。")
        proposal = submit_proposal(ctx, words)
        return TextReply(
            f"谢谢您的建议！已经记下，编号 {proposal.code}：{words[:60]}\n"
            f"社区工作人员看过后会公布出来，请邻居们附议；有结果会第一时间告诉您。"
        )

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        if msg.kind not in ("text", "voice"):
            return UNHANDLED
        pending = PARTICIPATION.read(state.data)
        if pending is None:
            return UNHANDLED
        text = msg.text.strip()
        if _NEVER_MIND.match(text):
            ctx.end_dialogue()
            return TextReply("好的，没关系。想好了随时告诉我。")
        if state.step == "proposal":
            if recognise(text) is not None and recognise(text) != Asked("proposal", None, text):
                return UNHANDLED
            words = proposal_words(text)
            if len(words) < 4:
                return UNHANDLED
            ctx.end_dialogue()
            return self._propose(ctx, words)
        address = parse_address(text)
        if not address or "building" not in address:
            return UNHANDLED
        if "room" not in address:
            return TextReply("还差门牌号哦，请连楼号一起告诉我，比如“3号楼2单元502”。")
        resident = ctx.resident
        resident.building, resident.unit, resident.room = address["building"], address.get("unit"), address["room"]
        ctx.end_dialogue()
        place = f"{resident.building}号楼" + (f"{resident.unit}单元" if resident.unit else "") + f"{resident.room}室"
        if pending.vote_id is not None:
            return TextReply(
                f"好的，记下了：您家住{place}。\n"
                f"投票不记名，刚才那条不保存，请再发一次您的投票，比如“投票 V{pending.vote_id} 1”。"
            )
        if pending.pending_text:
            ctx.extras["redispatch_text"] = pending.pending_text
        return TextReply(f"好的，记下了：您家住{place}。")
