"""Residents a message about their ticket could not reach: the tickets' `unreachable` events, in a worker's
reach, newest first. Repository functions take a Session and never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.console import Reach, visible
from storage.models import Resident
from storage.tickets import Ticket, TicketEvent


def unreachable_page(
    session: Session, *, reach: Sequence[Reach], limit: int = 100, offset: int = 0
) -> list[tuple[TicketEvent, Ticket, Resident | None]]:
    query = (
        select(TicketEvent, Ticket, Resident)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .outerjoin(Resident, Resident.id == TicketEvent.data["resident_id"].as_integer())
        .where(TicketEvent.action == "unreachable", visible(reach))
        .order_by(TicketEvent.created_at.desc(), TicketEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(event, ticket, resident) for event, ticket, resident in session.execute(query).all()]
