"""Consultation requests: questions the knowledge base cannot answer, handed to a person who can."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.masking import MaskedText
from storage.models import Base, utcnow


class Consultation(Base):
    __tablename__ = "consultation"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"), unique=True)
    domain: Mapped[str] = mapped_column(String(16))  # legal | psych | service | general
    question: Mapped[str] = mapped_column(MaskedText)
    # open -> assigned -> closed
    status: Mapped[str] = mapped_column(String(16), default="open")
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    # How a worker handled it in the console (see storage/alerts.py for alerts, handled the same way).
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(MaskedText, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def create_consultation(
    session: Session,
    *,
    community_id: int | None,
    resident_id: int,
    inbound_id: int | None,
    domain: str,
    question: str,
    assigned_to: str | None,
    now: datetime,
) -> Consultation:
    row = Consultation(
        community_id=community_id,
        resident_id=resident_id,
        inbound_id=inbound_id,
        domain=domain,
        question=question,
        status="assigned" if assigned_to else "open",
        assigned_to=assigned_to,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def open_consultations(session: Session, *, community_id: int | None) -> list[Consultation]:
    return list(
        session.scalars(
            select(Consultation)
            .where(Consultation.community_id == community_id, Consultation.status != "closed")
            .order_by(Consultation.id)
        )
    )
