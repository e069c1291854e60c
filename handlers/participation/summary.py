"""Counts of residents taking part, for the residents' council's monthly report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import participation as store
from storage.participation import Proposal, ProposalSupport, Vote, VoteVoter


def participation_summary(session: Session, community_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """What happened in [start, end): proposals made, published, refused, put on the agenda and decided,
    supports given; votes opened and closed, and households that voted (by WeChat and on paper)."""
    of_community = Proposal.community_id == community_id
    votes_here = VoteVoter.vote_id.in_(select(Vote.id).where(Vote.community_id == community_id))

    def count(column: object, *conditions: object) -> int:
        return store.count_between(session, column, *conditions, start=start, end=end)

    return {
        "proposals": count(Proposal.created_at, of_community),
        "proposals_published": count(Proposal.published_at, of_community),
        "proposals_on_agenda": count(Proposal.agenda_at, of_community),
        "proposals_decided": count(Proposal.decided_at, of_community, Proposal.status == "decided"),
        "proposals_refused": count(Proposal.decided_at, of_community, Proposal.status == "refused"),
        "supports": count(
            ProposalSupport.created_at, ProposalSupport.proposal_id.in_(select(Proposal.id).where(of_community))
        ),
        "votes_opened": count(Vote.created_at, Vote.community_id == community_id),
        "votes_closed": count(Vote.closed_at, Vote.community_id == community_id),
        "ballots": count(VoteVoter.voted_at, votes_here),
        "paper_ballots": count(VoteVoter.voted_at, votes_here, VoteVoter.channel == "paper"),
    }
