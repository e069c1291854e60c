"""The monthly report for the residents' council: tickets, satisfaction, volunteering, points, taking part,
budget and allocations, as one typed value that the page and the PDF both draw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from handlers.board.rules import PURPOSE_NAMES, PURPOSES, SOURCE_NAMES, percent
from handlers.communities import spec_of
from handlers.participation import participation_summary
from handlers.tickets.rules import CATEGORY_NAMES
from handlers.volunteering.rules import month_bounds
from storage import board as store
from storage.models import Community
from storage.satisfaction import ratings_between

_MONTH = re.compile(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$")


def parse_month(month: str) -> tuple[datetime, datetime]:
    """ "2026-11" -> the first instants (China time) of November and December; ValueError otherwise."""
    if not _MONTH.match(month):
        raise ValueError(f"a month is written like 2026-11, not {month!r}")
    return month_bounds(month)


@dataclass(frozen=True)
class Participation:
    """Proposals and votes of the month."""

    proposals: int
    proposals_on_agenda: int
    votes: int
    ballots: int


def participation_figures(
    session: Session, *, community_id: int, start: datetime, end: datetime
) -> Participation | None:
    """Proposals made and put on the agenda, votes opened and households that voted in [start, end)."""
    found = participation_summary(session, community_id, start, end)
    return Participation(
        proposals=found["proposals"],
        proposals_on_agenda=found["proposals_on_agenda"],
        votes=found["votes_opened"],
        ballots=found["ballots"],
    )


@dataclass(frozen=True)
class AllocationLine:
    number: str
    title: str
    purpose_name: str
    amount_fen: int
    progress: int
    status: str
    objections: int


@dataclass(frozen=True)
class MonthlyReport:
    code: str
    name: str
    month: str
    # Tickets
    reported: int
    handled: int
    on_time: int
    tickets_by_category: list[tuple[str, int]]
    # Satisfaction (ratings given this month)
    ratings: int
    satisfied: int
    # Volunteering and points
    volunteer_minutes: int
    volunteer_stays: int
    volunteers: int
    points_awarded: int
    points_redeemed: int
    participation: Participation | None
    # Money
    budget_fen: int
    by_source: list[tuple[str, int]]
    allocated_fen: int
    spent_in_month_fen: int
    published_in_month: list[AllocationLine]
    allocations_by_purpose: list[tuple[str, int]]
    threshold_percent: int

    @property
    def on_time_rate(self) -> float:
        return percent(self.on_time, self.handled)

    @property
    def satisfaction_rate(self) -> float:
        return percent(self.satisfied, self.ratings)

    @property
    def volunteer_hours(self) -> float:
        return round(self.volunteer_minutes / 60, 1)

    @property
    def title(self) -> str:
        year, month = self.month.split("-")
        return f"{self.name} {year}年{int(month)}月 工作报告"


def monthly_report(session: Session, *, community: Community, month: str) -> MonthlyReport:
    start, end = parse_month(month)
    spec = spec_of(community)
    tickets = store.ticket_figures(session, community_id=community.id, start=start, end=end)
    people = store.people_figures(session, community_id=community.id, start=start, end=end)
    ratings = ratings_between(session, community_id=community.id, start=start, end=end)
    satisfied = sum(r.score >= spec.satisfaction.satisfied_score for r in ratings)
    totals = store.totals(session, community_id=community.id)
    published = store.published_between(session, community_id=community.id, start=start, end=end)
    objections = store.objection_counts(session, allocation_ids=[a.id for a in published])
    by_purpose: dict[str, int] = {}
    for allocation in store.allocations_for(session, community_id=community.id):
        if allocation.published_at < end:
            by_purpose[allocation.purpose] = by_purpose.get(allocation.purpose, 0) + allocation.amount_fen
    categories = sorted(tickets.by_category.items(), key=lambda item: (-item[1], item[0]))
    return MonthlyReport(
        code=community.code,
        name=community.name,
        month=month,
        reported=tickets.reported,
        handled=tickets.handled,
        on_time=tickets.on_time,
        tickets_by_category=[(CATEGORY_NAMES.get(c, c), n) for c, n in categories],
        ratings=len(ratings),
        satisfied=satisfied,
        volunteer_minutes=people.volunteer_minutes,
        volunteer_stays=people.volunteer_stays,
        volunteers=people.volunteers,
        points_awarded=people.points_awarded,
        points_redeemed=people.points_redeemed,
        participation=participation_figures(session, community_id=community.id, start=start, end=end),
        budget_fen=totals.budget_fen,
        by_source=[(SOURCE_NAMES[s], totals.by_source[s]) for s in SOURCE_NAMES if totals.by_source.get(s)],
        allocated_fen=totals.allocated_fen,
        spent_in_month_fen=store.spent_between(session, community_id=community.id, start=start, end=end),
        published_in_month=[
            AllocationLine(
                a.number,
                a.title,
                PURPOSE_NAMES.get(a.purpose, a.purpose),
                a.amount_fen,
                a.progress,
                a.status,
                objections.get(a.id, 0),
            )
            for a in published
        ],
        allocations_by_purpose=[(PURPOSE_NAMES[p], by_purpose[p]) for p in PURPOSES if by_purpose.get(p)],
        threshold_percent=spec.satisfaction.threshold_percent,
    )
