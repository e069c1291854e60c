"""Workers' WeCom text commands about proposals: "发布 P12", "不予采纳 P12 理由", "决定 P12 决定和后续"."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from handlers.participation.proposals import decide_proposal, publish_proposal, refuse_proposal
from handlers.runtime import Settings
from handlers.tickets.routing import routing_for
from storage import participation as store
from storage.models import Community

HELP = (
    "建议的指令：\n发布 P12（公布征集附议）\n不予采纳 P12 理由（理由会告诉居民）\n"
    "决定 P12 议事会的决定和后续安排（推送给提议和附议的居民）"
)
_COMMAND = re.compile(
    r"^\s*(?P<verb>发布|不予采纳|决定|议定)\s*[:：]?\s*[Pp]?\s*(?P<n>[0-9]{1,9})\s*(?P<rest>.*?)\s*$", re.S
)


def participation_command(session: Session, settings: Settings, *, worker: str, text: str, now: datetime) -> str | None:
    """The answer to a worker's proposal command; None when the text is not one (the ticket help applies)."""
    match = _COMMAND.match(text)
    if match is None:
        # "发布 12" or "决定P12" without the words: show how proposal commands are written.
        return HELP if re.match(r"^\s*(发布|不予采纳|决定|议定)", text) else None
    proposal_id, rest = int(match.group("n")), match.group("rest").strip(" ，,:：")
    proposal = store.proposal_by_id(session, proposal_id=proposal_id)
    community = session.get(Community, proposal.community_id) if proposal else None
    if proposal is None or community is None:
        return f"没有找到建议 P{proposal_id}，请核对编号。"
    if worker not in routing_for(community).workers():
        return f"建议 {proposal.code} 不属于您所在的社区，您无权处理，未做任何修改。"
    verb = match.group("verb")
    if verb == "发布":
        result = publish_proposal(session, settings, proposal_id=proposal_id, worker=worker, now=now)
    elif verb == "不予采纳":
        result = refuse_proposal(session, settings, proposal_id=proposal_id, worker=worker, reason=rest, now=now)
    else:
        result = decide_proposal(session, settings, proposal_id=proposal_id, worker=worker, decision=rest, now=now)
    return result.message
