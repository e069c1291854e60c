"""The console's dashboard figures, counted in SQL in one pass per table over the period shown.

Weeks are compared with fixed boundaries (a CASE per week), which reads the same on SQLite and
PostgreSQL; the groups that come back are few (communities x buildings x categories x workers), so the
charts are put together from them in Python. Never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.alerts import CrisisAlert
from storage.console import Reach, visible
from storage.consultations import Consultation
from storage.models import InboundMessage, OutboundMessage, Resident
from storage.tickets import Ticket

# What residents' questions are classified as (intents.Intent values), and the bot's "did you mean" reply.
QUESTION_INTENTS = ("legal", "psych", "service")
CHOICES_PREFIX = "您是想问下面哪一个"
ALERT_LIMIT = 5000


def _week_sums(column: InstrumentedAttribute[datetime], weeks: Sequence[datetime]) -> list[ColumnElement[int]]:
    """One count per week [weeks[i], weeks[i+1])."""
    return [func.sum(case((and_(column >= start, column < end), 1), else_=0)) for start, end in pairwise(weeks)]


@dataclass(frozen=True)
class TicketGroup:
    community_id: int
    building: str
    category: str
    colour: str
    assignee: str
    created: int
    resolved: int
    on_time: int
    rated: int
    satisfied: int
    weekly: tuple[int, ...]


def ticket_groups(session: Session, *, reach: Sequence[Reach], weeks: Sequence[datetime]) -> list[TicketGroup]:
    start, end = weeks[0], weeks[-1]
    resolved = Ticket.resolved_at.is_not(None)
    query = (
        select(
            Ticket.community_id,
            Ticket.building,
            Ticket.category,
            Ticket.colour,
            Ticket.assignee,
            func.count(Ticket.id),
            func.sum(case((resolved, 1), else_=0)),
            func.sum(case((and_(resolved, Ticket.resolved_at <= Ticket.due_at), 1), else_=0)),
            func.sum(case((Ticket.rating.is_not(None), 1), else_=0)),
            func.sum(case((Ticket.rating >= 4, 1), else_=0)),
            *_week_sums(Ticket.created_at, weeks),
        )
        .where(visible(reach), Ticket.created_at >= start, Ticket.created_at < end)
        .group_by(Ticket.community_id, Ticket.building, Ticket.category, Ticket.colour, Ticket.assignee)
    )
    groups = []
    for row in session.execute(query):
        community_id, building, category, colour, assignee, *numbers = row
        counts = [int(n or 0) for n in numbers]
        groups.append(
            TicketGroup(
                community_id=community_id,
                building=building or "",
                category=category,
                colour=colour,
                assignee=assignee or "",
                created=counts[0],
                resolved=counts[1],
                on_time=counts[2],
                rated=counts[3],
                satisfied=counts[4],
                weekly=tuple(counts[5:]),
            )
        )
    return groups


def _alert_scope(reach: Sequence[Reach]) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    for r in reach:
        same = CrisisAlert.community_id == r.community_id
        if r.everything:
            parts.append(same)
        else:
            mine = or_(CrisisAlert.recipient == r.worker, CrisisAlert.assigned_to == r.worker)
            if r.buildings:
                mine = or_(mine, Resident.building.in_(sorted(r.buildings)))
            parts.append(and_(same, mine))
    return or_(*parts) if parts else CrisisAlert.id.is_(None)


@dataclass(frozen=True)
class AlertTimes:
    level: str
    created_at: datetime
    acknowledged_at: datetime | None


def alert_times(session: Session, *, reach: Sequence[Reach], start: datetime, end: datetime) -> list[AlertTimes]:
    query = (
        select(CrisisAlert.level, CrisisAlert.created_at, CrisisAlert.acknowledged_at)
        .join(Resident, Resident.id == CrisisAlert.resident_id)
        .where(_alert_scope(reach), CrisisAlert.created_at >= start, CrisisAlert.created_at < end)
        .order_by(CrisisAlert.created_at)
        .limit(ALERT_LIMIT)
    )
    return [AlertTimes(level, created, acked) for level, created, acked in session.execute(query)]


@dataclass(frozen=True)
class QuestionWeeks:
    asked: tuple[int, ...]
    handed_over: tuple[int, ...]
    choices: tuple[int, ...]


def question_weeks(session: Session, *, community_ids: Sequence[int], weeks: Sequence[datetime]) -> QuestionWeeks:
    start, end = weeks[0], weeks[-1]
    asked = session.execute(
        select(*_week_sums(InboundMessage.received_at, weeks)).where(
            InboundMessage.community_id.in_(community_ids),
            InboundMessage.intent.in_(QUESTION_INTENTS),
            InboundMessage.received_at >= start,
            InboundMessage.received_at < end,
        )
    ).one()
    handed = session.execute(
        select(*_week_sums(Consultation.created_at, weeks)).where(
            Consultation.community_id.in_(community_ids),
            Consultation.created_at >= start,
            Consultation.created_at < end,
        )
    ).one()
    choices = session.execute(
        select(*_week_sums(OutboundMessage.created_at, weeks)).where(
            OutboundMessage.community_id.in_(community_ids),
            OutboundMessage.content.like(CHOICES_PREFIX + "%"),
            OutboundMessage.created_at >= start,
            OutboundMessage.created_at < end,
        )
    ).one()
    return QuestionWeeks(
        asked=tuple(int(n or 0) for n in asked),
        handed_over=tuple(int(n or 0) for n in handed),
        choices=tuple(int(n or 0) for n in choices),
    )
