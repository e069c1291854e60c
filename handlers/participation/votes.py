"""Votes (表决): a worker opens one, households vote by message or on paper, and the result is published
and pushed when it closes.

How the ballot stays secret
---------------------------
Two tables, and nothing that joins them:

* `vote_voter` says which household voted, when and how (WeChat, or paper entered by which worker). That
  is what turnout, "one vote per household" and the audit of paper ballots need.
* `vote_ballot` says what was chosen: a random 128-bit id, the vote, the option. No household, no resident,
  no time, no sequence number.

A household may change its WeChat vote until the vote closes, so the server must find that household's
ballot again without the database saying whose it is. The ballot carries a token, HMAC-SHA256 over
(vote, household) under a key derived from SHEGONG_SECRET_KEY, which lives in the server's environment and
never in the database. Someone reading the database sees random ids and tokens they cannot recompute;
workers have neither the key nor, in the console or the API, any view of ballots, only the totals after
the close. Paper ballots carry no token: they cannot be changed, and their household is ticked off in
`vote_voter` so that a WeChat vote from it is refused (and a paper ballot from a household that voted by
WeChat is refused too).

What the design cannot hide while a vote is open: someone holding both the database and the server key
could recompute tokens; and on PostgreSQL a row's system columns (the transaction id in `xmin`, the
physical position) show which ballot was written with which `vote_voter` row. So at the close, in one
transaction, every ballot is rewritten in random order under new random ids with its token dropped:
from then on nothing, key or not, ties a stored choice to a household. The resident's own message
("投票 V3 2") is replaced in the message log in the same transaction as the ballot, and the reply
confirms the vote without repeating the choice, because both are stored against the resident.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from handlers.base import Context
from handlers.communities import spec_of
from handlers.notify import console_url, push_to_resident, wecom_card
from handlers.participation.points import award_participation
from handlers.runtime import Settings
from handlers.volunteering.rules import format_time
from storage import participation as store
from storage import repositories as repo
from storage.households import household_at, household_of
from storage.models import Community
from storage.participation import Vote

# What the message log keeps of a ballot sent by message.
FORGOTTEN = "（投票内容不保存）"
MAX_OPTIONS = 10


class VoteRefused(ValueError):
    """A worker's request about a vote refused; the message says why (for the worker, in Chinese)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class VoteResult:
    counts: list[int]
    voted: int
    eligible: int
    told: int = 0
    options: list[str] = field(default_factory=list)


def ballot_token(secret_key: str, *, vote_id: int, household_id: int) -> str:
    if not secret_key:
        raise RuntimeError("SHEGONG_SECRET_KEY is not set: votes cannot be kept secret without it")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"shegong vote ballot token").derive(
        secret_key.encode("utf-8")
    )
    return hmac.new(key, f"vote:{vote_id}:household:{household_id}".encode(), hashlib.sha256).hexdigest()


def vote_json(vote: Vote) -> dict[str, Any]:
    return {
        "id": vote.id,
        "code": vote.code,
        "community_id": vote.community_id,
        "question": vote.question,
        "options": list(vote.options),
        "buildings": list(vote.buildings or []),
        "closes_at": vote.closes_at.isoformat(),
        "status": vote.status,
        # Totals only, and only once the vote has closed.
        "results": vote.results if vote.status == "closed" else None,
    }


def announcement(vote: Vote) -> str:
    lines = [f"社区表决 {vote.code}：{vote.question}"]
    lines += [f"{i}. {option}" for i, option in enumerate(vote.options, start=1)]
    lines.append(
        f"回复“投票 {vote.code} 序号”投票，比如“投票 {vote.code} 1”。每户一票，不记名，"
        f"{format_time(vote.closes_at)} 截止，截止前可以改。"
    )
    return "\n".join(lines)


def _push_all(session: Session, vote: Vote, *, text: str, key: str, now: datetime, first: str) -> int:
    community = session.get(Community, vote.community_id)
    template = spec_of(community).participation_template_id if community else None
    told = 0
    for resident in store.residents_in(session, community_id=vote.community_id, buildings=list(vote.buildings or [])):
        push = push_to_resident(
            session,
            resident,
            text=text,
            template_id=template,
            template_data={"first": {"value": first}, "keyword1": {"value": vote.question[:20]}},
            community_id=vote.community_id,
            now=now,
            dedupe_key=f"{key}:{resident.id}",
            about=f"vote {vote.code}",
        )
        told += push.queued
    return told


# --- a worker opens a vote ----------------------------------------------------------------------------------


def open_vote(
    session: Session,
    *,
    community_id: int,
    question: str,
    options: list[str],
    closes_at: datetime,
    worker: str,
    now: datetime,
    buildings: list[str] | None = None,
) -> Vote:
    """Open a vote and tell the residents who may vote in it."""
    question = question.strip()
    options = [o.strip() for o in options]
    wanted = [str(b).strip() for b in buildings or [] if str(b).strip()]
    if not question:
        raise VoteRefused("the question must not be blank")
    if not 2 <= len(options) <= MAX_OPTIONS or any(not o for o in options):
        raise VoteRefused(f"give 2 to {MAX_OPTIONS} options, none blank")
    if len(set(options)) != len(options):
        raise VoteRefused("two options are the same")
    if closes_at.tzinfo is None:
        raise VoteRefused("the closing time needs a time zone (e.g. 2026-12-05T18:00+08:00)")
    if closes_at <= now:
        raise VoteRefused("the closing time must be in the future")
    community = session.get(Community, community_id)
    if community is None:
        raise VoteRefused(f"no community {community_id}", 404)
    known = spec_of(community).buildings
    unknown = [b for b in wanted if known and b not in known]
    if unknown:
        raise VoteRefused(f"not buildings of this community: {', '.join(unknown)}")
    vote = store.create_vote(
        session,
        community_id=community_id,
        question=question[:500],
        options=[o[:100] for o in options],
        buildings=list(dict.fromkeys(wanted)),
        closes_at=closes_at,
        created_by=worker,
        now=now,
    )
    _push_all(session, vote, text=announcement(vote), key=f"vote-open:{vote.id}", now=now, first="社区表决，请您投票")
    return vote


# --- residents vote ------------------------------------------------------------------------------------------


def _eligible(vote: Vote, building: str) -> bool:
    return not vote.buildings or building in vote.buildings


def choice_of(vote: Vote, said: str) -> int | None:
    """The option number the resident meant: "2", "二", "第二个", or the option's own words."""
    from intents.numbers import to_int

    text = said.strip().strip("。.！!").removeprefix("第").rstrip("个项号").strip()
    number = to_int(text)
    if number is not None:
        return number if 1 <= number <= len(vote.options) else None
    matches = [i for i, option in enumerate(vote.options, start=1) if text and (text == option or option in said)]
    return matches[0] if len(matches) == 1 else None


def cast_vote(ctx: Context, vote_id: int, said: str) -> str:
    """The reply to "投票 V3 2": one ballot per household, changeable until the close, never repeated back."""
    session = ctx.session
    vote = store.vote_by_id(session, vote_id=vote_id, for_update=True)
    if vote is None or vote.community_id != ctx.community_id:
        return f"没有找到表决 V{vote_id}，请看看编号对不对。"
    if vote.status != "open" or vote.closes_at <= ctx.now:
        return f"表决 {vote.code} 已经截止了，结果公布后会告诉您。"
    household = household_of(session, ctx.resident)
    assert household is not None  # the handler asked for the address first
    if not _eligible(vote, household.building):
        where = "、".join(f"{b}号楼" for b in vote.buildings)
        return f"表决 {vote.code} 是请{where}的住户投的，您家不在其中。谢谢您的关心！"
    choice = choice_of(vote, said)
    if choice is None:
        options = "\n".join(f"{i}. {o}" for i, o in enumerate(vote.options, start=1))
        return f"没看明白您选哪一项。表决 {vote.code}：{vote.question}\n{options}\n请回复“投票 {vote.code} 序号”。"
    voter = store.voter_of(session, vote_id=vote.id, household_id=household.id)
    if voter is not None and voter.channel == "paper":
        return f"您家（{household.label}）已经交了纸质选票，每户一票，这次就不再计了。谢谢！"
    token = ballot_token(ctx.settings.secret_key, vote_id=vote.id, household_id=household.id)
    # Whatever the outcome below, the message log must not keep what was chosen.
    if ctx.inbound_id is not None:
        store.forget_message_text(session, inbound_id=ctx.inbound_id, text=FORGOTTEN)
    until = format_time(vote.closes_at)
    ballot = store.ballot_by_token(session, token=token)
    if voter is not None and ballot is not None:
        ballot.choice = choice
        return f"好的，您家在表决 {vote.code} 的选择已经改好了，以最后一次为准。{until} 截止前还可以再改。"
    if voter is None and not store.add_voter(
        session, vote_id=vote.id, household_id=household.id, channel="wechat", entered_by=None, now=ctx.now
    ):
        return f"您家（{household.label}）刚刚已经投过表决 {vote.code} 了，每户一票。"
    store.add_ballot(session, vote_id=vote.id, choice=choice, token=token)
    points = award_participation(
        session,
        resident_id=ctx.resident.id,
        community_id=vote.community_id,
        kind="vote",
        cause=f"{vote.code}:{household.id}",
        now=ctx.now,
        what=vote.code,
    )
    thanks = f"（积分 +{points}）" if points else ""
    return (
        f"投票成功{thanks}！您家（{household.label}）在表决 {vote.code} 的一票已经记下。"
        f"投票不记名，谁也看不到您家选了哪一项。{until} 截止前想改，再发一次“投票 {vote.code} 序号”就行。"
    )


def only_open_vote(ctx: Context) -> Vote | None:
    """The one vote open to the resident, for "我投第二个"; None when there are none or several."""
    if ctx.community_id is None:
        return None
    votes = store.open_votes(ctx.session, community_id=ctx.community_id, now=ctx.now)
    building = ctx.resident.building
    if building:
        votes = [v for v in votes if _eligible(v, building)]
    return votes[0] if len(votes) == 1 else None


# --- paper ballots ------------------------------------------------------------------------------------------


def enter_paper_ballot(
    session: Session,
    *,
    vote_id: int,
    building: str,
    unit: str | None,
    room: str,
    choice: int,
    worker: str,
    now: datetime,
    community_id: int | None = None,
) -> str:
    """A paper ballot from a household without WeChat: its household is ticked off (with the worker who
    entered it) and its choice kept apart. A second ballot from the same household, by paper or WeChat,
    is refused."""
    vote = store.vote_by_id(session, vote_id=vote_id, for_update=True)
    if vote is None or (community_id is not None and vote.community_id != community_id):
        raise VoteRefused(f"没有找到表决 V{vote_id}", 404)
    if vote.status != "open":
        raise VoteRefused(f"表决 {vote.code} 已经截止，不能再录入选票", 409)
    if not building.strip() or not room.strip():
        raise VoteRefused("请写明楼号和门牌号")
    if not _eligible(vote, building.strip()):
        raise VoteRefused(f"{building}号楼不在表决 {vote.code} 的投票范围内", 409)
    if not 1 <= choice <= len(vote.options):
        raise VoteRefused(f"选项要在 1 到 {len(vote.options)} 之间")
    household = household_at(session, vote.community_id, building, unit, room)
    assert household is not None
    if not store.add_voter(
        session, vote_id=vote.id, household_id=household.id, channel="paper", entered_by=worker, now=now
    ):
        raise VoteRefused(f"{household.label} 已经投过表决 {vote.code}（微信或纸质），每户一票，这张不计", 409)
    store.add_ballot(session, vote_id=vote.id, choice=choice, token=None)
    return f"已录入 {household.label} 的纸质选票（表决 {vote.code}）。"


# --- closing -------------------------------------------------------------------------------------------------


def close_vote(session: Session, settings: Settings, *, vote_id: int, now: datetime) -> VoteResult | None:
    """Count, reseal the ballots, publish and push the result; None if another worker closed it first."""
    if not store.claim_close(session, vote_id=vote_id, now=now):
        return None
    vote = store.vote_by_id(session, vote_id=vote_id)
    assert vote is not None
    counted = store.tally(session, vote_id=vote.id)
    store.reseal_ballots(session, vote_id=vote.id)
    counts = [counted.get(i, 0) for i in range(1, len(vote.options) + 1)]
    voted = store.voter_count(session, vote_id=vote.id)
    eligible = max(store.households_in(session, community_id=vote.community_id, buildings=list(vote.buildings)), voted)
    vote.results = {"counts": counts, "voted": voted, "eligible": eligible}
    text = result_text(vote)
    told = _push_all(session, vote, text=text, key=f"vote-result:{vote.id}", now=now, first="社区表决结果公布")
    community = session.get(Community, vote.community_id)
    duty = spec_of(community).duty if community else None
    if duty is not None:
        card = wecom_card(
            f"【表决结果】{vote.code} {vote.question[:20]}",
            [("highlight", line) for line in text.splitlines()[1:]],
            url=console_url(settings, "/console/"),
        )
        repo.enqueue_outbox(
            session,
            channel="wecom_app",
            recipient=duty.wecom_userid,
            payload=card | {"level": "blue"},
            community_id=vote.community_id,
            now=now,
            dedupe_key=f"vote-result-card:{vote.id}",
        )
    return VoteResult(counts, voted, eligible, told, list(vote.options))


def result_text(vote: Vote) -> str:
    results = vote.results or {}
    counts: list[int] = list(results.get("counts") or [0] * len(vote.options))
    voted, eligible = int(results.get("voted", 0)), int(results.get("eligible", 0))
    lines = [f"表决 {vote.code} 结果：{vote.question}"]
    lines += [
        f"{i}. {option}：{count} 户"
        for i, (option, count) in enumerate(zip(vote.options, counts, strict=False), start=1)
    ]
    turnout = f"，参与率 {round(100 * voted / eligible)}%" if eligible else ""
    lines.append(f"共 {voted} 户参与（已登记 {eligible} 户{turnout}）。谢谢大家！")
    return "\n".join(lines)


def close_due_votes(session: Session, settings: Settings, *, now: datetime) -> int:
    """Close every vote past its time (the scheduler's job); safe when two workers run it at once."""
    closed = 0
    for vote_id in store.due_vote_ids(session, now=now):
        closed += close_vote(session, settings, vote_id=vote_id, now=now) is not None
    return closed
