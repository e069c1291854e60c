"""Tickets: residents' reports tracked from intake to rating, with every change kept as an event.

Repository functions take a Session and keyword arguments and never commit; the caller owns the transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, exists, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import insert_unless_duplicate
from storage.masking import MaskedString, MaskedText
from storage.models import Base, Resident

# Read aloud over the phone, 0/O, 1/I/L are easily confused: leave them out.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6

# open -> accepted -> resolved -> closed (rated 3-5) ; resolved -> reopened (rated 1-2) -> accepted ...
# An open ticket about the same problem as another may be merged into it, and split out again.
OPEN_STATUSES = ("open", "accepted", "reopened")
STATUSES = (*OPEN_STATUSES, "resolved", "closed", "merged")


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        # The duplicate check: the open tickets at this building in this community.
        Index("ix_ticket_dupe", "community_id", "category", "building", "status"),
        Index("ix_ticket_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    colour: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="open")
    building: Mapped[str | None] = mapped_column(String(32))
    unit: Mapped[str | None] = mapped_column(String(32))
    # What a person reads: "3号楼2单元", or the label of a WeChat location message.
    place: Mapped[str] = mapped_column(MaskedString(200), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str] = mapped_column(MaskedText)
    assignee: Mapped[str | None] = mapped_column(String(64))
    # 0 = the responsible worker; each missed deadline moves one step up the escalation chain.
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    remind_at: Mapped[datetime]
    reminded: Mapped[bool] = mapped_column(default=False)
    # Nobody left to escalate to: the SLA job stops looking at it (it still lists as overdue).
    chain_exhausted: Mapped[bool] = mapped_column(default=False)
    latest_note: Mapped[str | None] = mapped_column(MaskedText)
    rating: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketFollower(Base):
    """Residents who hear about a ticket's progress: the reporter and anyone whose report joined it."""

    __tablename__ = "ticket_follower"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), primary_key=True, index=True)
    created_at: Mapped[datetime]


class TicketEvent(Base):
    """One change to a ticket: who did what, when. Nothing about a ticket changes without one."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    # "resident:<id>", "worker:<wecom userid>", "api:<wecom userid>", "system"
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(MaskedText)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The delivery that caused it (e.g. "wecom:<MsgId>"): a retried callback finds the first event.
    source_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    return text.strip().upper()


def create_ticket(
    session: Session,
    *,
    community_id: int,
    reporter_id: int,
    category: str,
    colour: str,
    description: str,
    place: str,
    building: str | None,
    unit: str | None,
    assignee: str | None,
    due_at: datetime,
    remind_at: datetime,
    now: datetime,
    latitude: float | None = None,
    longitude: float | None = None,
    actor: str,
    source_key: str | None = None,
) -> Ticket:
    """Insert the ticket, its reporter as follower and its "created" event, with a fresh unique code."""
    for _ in range(10):
        code = new_code()
        if session.scalar(select(Ticket.id).where(Ticket.code == code)) is not None:
            continue
        ticket = Ticket(
            code=code,
            community_id=community_id,
            reporter_id=reporter_id,
            category=category,
            colour=colour,
            status="open",
            description=description,
            place=place,
            building=building,
            unit=unit,
            latitude=latitude,
            longitude=longitude,
            assignee=assignee,
            escalation_level=0,
            due_at=due_at,
            remind_at=remind_at,
            reminded=False,
            chain_exhausted=False,
            created_at=now,
            updated_at=now,
        )
        if not insert_unless_duplicate(session, ticket):
            continue  # a concurrent insert took the same code between the check and the flush
        add_follower(session, ticket_id=ticket.id, resident_id=reporter_id, now=now)
        add_event(
            session,
            ticket=ticket,
            actor=actor,
            action="created",
            note=description,
            data={"category": category, "colour": colour, "place": place, "assignee": assignee},
            now=now,
            source_key=source_key,
        )
        return ticket
    raise RuntimeError("could not find a free ticket code")


def add_event(
    session: Session,
    *,
    ticket: Ticket,
    actor: str,
    action: str,
    now: datetime,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    source_key: str | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        actor=actor,
        action=action,
        note=note,
        data=data or {},
        source_key=source_key,
        created_at=now,
    )
    session.add(event)
    ticket.updated_at = now
    session.flush()
    return event


def event_by_source(session: Session, *, source_key: str) -> TicketEvent | None:
    return session.scalar(select(TicketEvent).where(TicketEvent.source_key == source_key))


def add_follower(session: Session, *, ticket_id: int, resident_id: int, now: datetime) -> bool:
    """True if the resident was not following yet."""
    if session.get(TicketFollower, (ticket_id, resident_id)) is not None:
        return False
    session.add(TicketFollower(ticket_id=ticket_id, resident_id=resident_id, created_at=now))
    session.flush()
    return True


def remove_follower(session: Session, *, ticket_id: int, resident_id: int) -> None:
    row = session.get(TicketFollower, (ticket_id, resident_id))
    if row is not None:
        session.delete(row)
        session.flush()


def latest_join(session: Session, *, actor: str, since: datetime) -> TicketEvent | None:
    """The newest "joined" event by this actor after `since`: the report they may say was another thing."""
    return session.scalar(
        select(TicketEvent)
        .where(TicketEvent.actor == actor, TicketEvent.action == "joined", TicketEvent.created_at >= since)
        .order_by(TicketEvent.created_at.desc(), TicketEvent.id.desc())
        .limit(1)
    )


def followers(session: Session, *, ticket_id: int) -> list[Resident]:
    return list(
        session.scalars(
            select(Resident)
            .join(TicketFollower, TicketFollower.resident_id == Resident.id)
            .where(TicketFollower.ticket_id == ticket_id)
            .order_by(TicketFollower.created_at, Resident.id)
        )
    )


def is_follower(session: Session, *, ticket_id: int, resident_id: int) -> bool:
    return session.get(TicketFollower, (ticket_id, resident_id)) is not None


def ticket_by_code(session: Session, *, code: str, for_update: bool = False) -> Ticket | None:
    query = select(Ticket).where(Ticket.code == normalise_code(code))
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def same_problem_candidates(session: Session, *, ticket: Ticket, limit: int = 10) -> list[Ticket]:
    """Other open tickets of the same community and category, nearest building first: what a worker
    may merge this one into."""
    rows = session.scalars(
        select(Ticket)
        .where(
            Ticket.community_id == ticket.community_id,
            Ticket.category == ticket.category,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.id != ticket.id,
        )
        .order_by(Ticket.created_at.desc())
        .limit(limit * 3)
    ).all()
    return sorted(rows, key=lambda t: t.building != ticket.building)[:limit]


def events_for(session: Session, *, ticket_id: int) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.created_at, TicketEvent.id)
        )
    )


def open_at_building(session: Session, *, community_id: int, building: str, limit: int = 50) -> list[Ticket]:
    """Open tickets at one building, oldest first: the candidates a new report may be a duplicate of."""
    return list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.community_id == community_id,
                Ticket.building == building,
                Ticket.status.in_(OPEN_STATUSES),
            )
            .order_by(Ticket.created_at, Ticket.id)
            .limit(limit)
        )
    )


def open_at_spot(session: Session, *, community_id: int, place: str, limit: int = 50) -> list[Ticket]:
    """Open tickets at a named spot of no building ("东门"), oldest first: duplicate candidates there."""
    return list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.community_id == community_id,
                Ticket.building.is_(None),
                Ticket.place == place,
                Ticket.status.in_(OPEN_STATUSES),
            )
            .order_by(Ticket.created_at, Ticket.id)
            .limit(limit)
        )
    )


def tickets_followed_by(session: Session, *, resident_id: int, limit: int = 5) -> list[Ticket]:
    """The resident's tickets, open ones first, newest first."""
    followed = exists().where(TicketFollower.ticket_id == Ticket.id, TicketFollower.resident_id == resident_id)
    rows = list(session.scalars(select(Ticket).where(followed).order_by(Ticket.created_at.desc()).limit(50)))
    rows.sort(key=lambda t: (not t.is_open,))
    return rows[:limit]


def latest_reported_since(session: Session, *, resident_id: int, since: datetime) -> Ticket | None:
    """The resident's newest report (or joined report) made after `since`: photos sent now belong to it."""
    return session.scalar(
        select(Ticket)
        .join(TicketFollower, TicketFollower.ticket_id == Ticket.id)
        .where(TicketFollower.resident_id == resident_id, TicketFollower.created_at >= since)
        .order_by(TicketFollower.created_at.desc())
        .limit(1)
    )


def awaiting_rating(session: Session, *, resident_id: int) -> Ticket | None:
    """The reporter's most recently resolved ticket that has no rating yet."""
    return session.scalar(
        select(Ticket)
        .where(Ticket.reporter_id == resident_id, Ticket.status == "resolved", Ticket.rating.is_(None))
        .order_by(Ticket.resolved_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class TicketFilter:
    community_id: int | None = None
    status: str | None = None
    colour: str | None = None
    building: str | None = None
    overdue_at: datetime | None = None  # only open tickets past their deadline at this time


def list_tickets(session: Session, *, where: TicketFilter, limit: int = 100, offset: int = 0) -> list[Ticket]:
    query = select(Ticket)
    if where.community_id is not None:
        query = query.where(Ticket.community_id == where.community_id)
    if where.status:
        query = query.where(Ticket.status == where.status)
    if where.colour:
        query = query.where(Ticket.colour == where.colour)
    if where.building:
        query = query.where(Ticket.building == where.building)
    if where.overdue_at is not None:
        query = query.where(Ticket.status.in_(OPEN_STATUSES), Ticket.due_at < where.overdue_at)
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def tickets_needing_attention(session: Session, *, now: datetime, limit: int = 200) -> Sequence[Ticket]:
    """Open tickets whose reminder time or deadline has come, locked so two workers do not both act."""
    due = (
        select(Ticket)
        .where(
            Ticket.status.in_(OPEN_STATUSES),
            ((Ticket.remind_at <= now) & Ticket.reminded.is_(False))
            | ((Ticket.due_at <= now) & Ticket.chain_exhausted.is_(False)),
        )
        .order_by(Ticket.due_at, Ticket.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(due))
