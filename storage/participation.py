"""Residents taking part: proposals (议事) and their supports, votes (表决) with who voted kept apart from
what they chose. Repository functions take a Session and never commit.

Why the vote tables look as they do is explained in handlers/participation/votes.py: `vote_voter` says
which household voted and when; `vote_ballot` holds choices under a random id, with no household, resident,
time or sequence in common with it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import insert_unless_duplicate
from storage.models import Base, InboundMessage, utcnow

PROPOSAL_STATUSES = ("submitted", "published", "refused", "on_agenda", "decided")
PROPOSAL_STATUS_NAMES = {
    "submitted": "待审核",
    "published": "征集附议中",
    "refused": "不予采纳",
    "on_agenda": "已列入议事会议程",
    "decided": "已有决定",
}


class Proposal(Base):
    """A resident's proposal; residents see it as "P<id>"."""

    __tablename__ = "proposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    proposer_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    text: Mapped[str] = mapped_column(String(1000))
    # submitted -> published | refused; published -> on_agenda (threshold reached) -> decided
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    reason: Mapped[str | None] = mapped_column(String(500))  # why it was refused, as the proposer is told
    # The message that made it: a WeChat retry finds the proposal instead of filing a second one.
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(64))
    agenda_at: Mapped[datetime | None]
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"))
    decision: Mapped[str | None] = mapped_column(String(1000))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def code(self) -> str:
        return f"P{self.id}"


class ProposalSupport(Base):
    """One household's support (附议) for a proposal; the resident who sent it is told what follows."""

    __tablename__ = "proposal_support"
    __table_args__ = (UniqueConstraint("proposal_id", "household_id", name="uq_support_household"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Vote(Base):
    """A vote (表决) a worker opened; residents see it as "V<id>"."""

    __tablename__ = "vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    question: Mapped[str] = mapped_column(String(500))
    options: Mapped[list[str]] = mapped_column(JSON)
    # Buildings whose households may vote; empty: the whole community.
    buildings: Mapped[list[str]] = mapped_column(JSON, default=list)
    closes_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    # Written at close: {"counts": [n per option], "voted": households, "eligible": households known}.
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def code(self) -> str:
        return f"V{self.id}"


class VoteVoter(Base):
    """Who has voted: a household, by which channel, when. Nothing here says what they chose."""

    __tablename__ = "vote_voter"
    __table_args__ = (UniqueConstraint("vote_id", "household_id", name="uq_vote_household"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    channel: Mapped[str] = mapped_column(String(16))  # wechat | paper
    # The worker who entered a paper ballot (the audit of paper ballots).
    entered_by: Mapped[str | None] = mapped_column(String(64))
    voted_at: Mapped[datetime]


class VoteBallot(Base):
    """What was chosen, and nothing else: a random id, the vote, the option and, while the vote is open,
    the keyed token that lets a WeChat household change its ballot (None for paper; wiped at close)."""

    __tablename__ = "vote_ballot"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id"), index=True)
    choice: Mapped[int] = mapped_column(Integer)
    token: Mapped[str | None] = mapped_column(String(64), unique=True)


def new_ballot_id() -> str:
    return secrets.token_hex(16)


# --- proposals ------------------------------------------------------------------------------------------


def create_proposal(
    session: Session, *, community_id: int, proposer_id: int, text: str, now: datetime, source_key: str | None
) -> tuple[Proposal, bool]:
    """(the proposal, whether it is new): a retried message finds the one it made the first time."""
    if source_key is not None:
        found = session.scalar(select(Proposal).where(Proposal.source_key == source_key))
        if found is not None:
            return found, False
    proposal = Proposal(
        community_id=community_id, proposer_id=proposer_id, text=text[:1000], source_key=source_key, created_at=now
    )
    session.add(proposal)
    session.flush()
    return proposal, True


def proposal_by_id(session: Session, *, proposal_id: int, for_update: bool = False) -> Proposal | None:
    query = select(Proposal).where(Proposal.id == proposal_id)
    return session.scalar(query.with_for_update() if for_update else query)


def list_proposals(session: Session, *, community_id: int | None, status: str | None = None) -> list[Proposal]:
    query = select(Proposal).order_by(Proposal.id.desc()).limit(200)
    if community_id is not None:
        query = query.where(Proposal.community_id == community_id)
    if status is not None:
        query = query.where(Proposal.status == status)
    return list(session.scalars(query))


def add_support(session: Session, *, proposal_id: int, household_id: int, resident_id: int, now: datetime) -> bool:
    """False when the household supported it already (the unique constraint decides races)."""
    row = ProposalSupport(proposal_id=proposal_id, household_id=household_id, resident_id=resident_id, created_at=now)
    return insert_unless_duplicate(session, row)


def support_count(session: Session, *, proposal_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(ProposalSupport).where(ProposalSupport.proposal_id == proposal_id)
        )
        or 0
    )


def supporter_ids(session: Session, *, proposal_id: int) -> list[int]:
    query = select(ProposalSupport.resident_id).where(ProposalSupport.proposal_id == proposal_id)
    return list(session.scalars(query.order_by(ProposalSupport.id)))


# --- votes --------------------------------------------------------------------------------------------


def create_vote(
    session: Session,
    *,
    community_id: int,
    question: str,
    options: list[str],
    buildings: list[str],
    closes_at: datetime,
    created_by: str,
    now: datetime,
) -> Vote:
    vote = Vote(
        community_id=community_id,
        question=question,
        options=options,
        buildings=buildings,
        closes_at=closes_at,
        created_by=created_by,
        created_at=now,
    )
    session.add(vote)
    session.flush()
    return vote


def vote_by_id(session: Session, *, vote_id: int, for_update: bool = False) -> Vote | None:
    query = select(Vote).where(Vote.id == vote_id)
    return session.scalar(query.with_for_update() if for_update else query)


def open_votes(session: Session, *, community_id: int, now: datetime) -> list[Vote]:
    query = select(Vote).where(Vote.community_id == community_id, Vote.status == "open", Vote.closes_at > now)
    return list(session.scalars(query.order_by(Vote.id)))


def list_votes(session: Session, *, community_id: int | None) -> list[Vote]:
    query = select(Vote).order_by(Vote.id.desc()).limit(200)
    if community_id is not None:
        query = query.where(Vote.community_id == community_id)
    return list(session.scalars(query))


def voter_of(session: Session, *, vote_id: int, household_id: int) -> VoteVoter | None:
    return session.scalar(select(VoteVoter).where(VoteVoter.vote_id == vote_id, VoteVoter.household_id == household_id))


def add_voter(
    session: Session, *, vote_id: int, household_id: int, channel: str, entered_by: str | None, now: datetime
) -> bool:
    """False when the household has voted already (by any channel): the unique constraint decides."""
    row = VoteVoter(vote_id=vote_id, household_id=household_id, channel=channel, entered_by=entered_by, voted_at=now)
    return insert_unless_duplicate(session, row)


def ballot_by_token(session: Session, *, token: str) -> VoteBallot | None:
    return session.scalar(select(VoteBallot).where(VoteBallot.token == token).with_for_update())


def add_ballot(session: Session, *, vote_id: int, choice: int, token: str | None) -> None:
    session.add(VoteBallot(id=new_ballot_id(), vote_id=vote_id, choice=choice, token=token))
    session.flush()


def due_vote_ids(session: Session, *, now: datetime) -> list[int]:
    query = select(Vote.id).where(Vote.status == "open", Vote.closes_at <= now).order_by(Vote.id).limit(50)
    return list(session.scalars(query))


def claim_close(session: Session, *, vote_id: int, now: datetime) -> bool:
    """Mark the vote closed; True only for the one transaction that did it (two workers may both try)."""
    result = session.execute(
        update(Vote).where(Vote.id == vote_id, Vote.status == "open").values(status="closed", closed_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def tally(session: Session, *, vote_id: int) -> dict[int, int]:
    rows = session.execute(
        select(VoteBallot.choice, func.count()).where(VoteBallot.vote_id == vote_id).group_by(VoteBallot.choice)
    )
    return {int(choice): int(count) for choice, count in rows}


def reseal_ballots(session: Session, *, vote_id: int) -> None:
    """At close: every ballot rewritten in this one transaction, in random order, under new random ids and
    without its token. Afterwards not even the server key, the row order or PostgreSQL's transaction ids
    tie a ballot to the moment (and so the household) it was cast."""
    choices = list(session.scalars(select(VoteBallot.choice).where(VoteBallot.vote_id == vote_id)))
    session.execute(delete(VoteBallot).where(VoteBallot.vote_id == vote_id))
    shuffled = sorted(choices, key=lambda _: secrets.randbits(64))
    session.add_all(VoteBallot(id=new_ballot_id(), vote_id=vote_id, choice=c, token=None) for c in shuffled)
    session.flush()


def voter_households(session: Session, *, vote_id: int) -> list[int]:
    return list(session.scalars(select(VoteVoter.household_id).where(VoteVoter.vote_id == vote_id)))


def voter_count(session: Session, *, vote_id: int) -> int:
    query = select(func.count()).select_from(VoteVoter).where(VoteVoter.vote_id == vote_id)
    return int(session.scalar(query) or 0)


def forget_message_text(session: Session, *, inbound_id: int, text: str) -> None:
    """Replace a recorded message's words (a ballot, say) so the message log cannot tell what was chosen."""
    row = session.get(InboundMessage, inbound_id)
    if row is not None:
        row.content = text
        row.payload = {k: v for k, v in (row.payload or {}).items() if k != "sealed"}


# --- counts for reports -------------------------------------------------------------------------------


def count_between(session: Session, column: Any, *conditions: Any, start: datetime, end: datetime) -> int:
    query = select(func.count()).where(column >= start, column < end, *conditions)
    return int(session.scalar(query) or 0)


def households_in(session: Session, *, community_id: int, buildings: list[str]) -> int:
    """Households known (someone told us the address, or a paper ballot came from it) in these buildings."""
    from storage.households import Household

    query = select(func.count()).select_from(Household).where(Household.community_id == community_id)
    if buildings:
        query = query.where(Household.building.in_(buildings))
    return int(session.scalar(query) or 0)


def residents_in(session: Session, *, community_id: int, buildings: list[str]) -> list[Any]:
    """Active residents of the community (of these buildings, when given), for pushing a vote to them."""
    from storage.models import Resident

    query = select(Resident).where(Resident.community_id == community_id, Resident.active.is_(True))
    if buildings:
        query = query.where(Resident.building.in_(buildings))
    return list(session.scalars(query.order_by(Resident.id).limit(5000)))


def recent_messages(session: Session, *, resident_id: int, since: datetime) -> list[InboundMessage]:
    """The resident's messages received since then that still hold words (to find ballots among them)."""
    query = select(InboundMessage).where(
        InboundMessage.resident_id == resident_id,
        InboundMessage.received_at >= since,
        InboundMessage.content.is_not(None),
    )
    return list(session.scalars(query.order_by(InboundMessage.id).limit(200)))
