"""Crisis alerts as a record a worker handles (acknowledge, assign, escalate, close with a note), and the
console's query over alerts and consultation requests together.

The WeCom card is only the news of an alert; this row is what says whether anyone has taken it up, so that
an unacknowledged alert can be sent again and escalated, and an acknowledged one is left alone.
Repository functions take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, Integer, String, and_, false, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.console import Reach
from storage.consultations import Consultation
from storage.masking import MaskedText
from storage.models import Base, Resident, utcnow

KINDS = ("alert", "consultation")
OPEN = ("open", "assigned")


class CrisisAlert(Base):
    __tablename__ = "crisis_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"), index=True)
    level: Mapped[str] = mapped_column(String(8))  # red | yellow
    label: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(MaskedText)
    # Who was alerted first (the worker on duty); escalation goes to the community's leader.
    recipient: Mapped[str | None] = mapped_column(String(64))
    # open -> assigned -> closed; acknowledged_at says someone has taken it up
    status: Mapped[str] = mapped_column(String(16), default="open")
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None]
    reminders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(MaskedText, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def record_alert(
    session: Session,
    *,
    community_id: int | None,
    resident_id: int,
    inbound_id: int | None,
    level: str,
    label: str,
    text: str,
    recipient: str | None,
    now: datetime,
) -> CrisisAlert:
    """The alert of this inbound message (one per message, however often WeChat retries it)."""
    if inbound_id is not None:
        found = session.scalar(select(CrisisAlert).where(CrisisAlert.inbound_id == inbound_id))
        if found is not None:
            return found
    row = CrisisAlert(
        community_id=community_id,
        resident_id=resident_id,
        inbound_id=inbound_id,
        level=level,
        label=label[:200],
        text=text,
        recipient=recipient,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def unacknowledged_alerts(session: Session, *, before: datetime, limit: int = 100) -> list[CrisisAlert]:
    """Open alerts nobody has acknowledged or escalated yet, alerted (or last reminded) before `before`."""
    last = func.coalesce(CrisisAlert.reminded_at, CrisisAlert.created_at)
    query = (
        select(CrisisAlert)
        .where(
            CrisisAlert.status != "closed",
            CrisisAlert.acknowledged_at.is_(None),
            CrisisAlert.escalated_at.is_(None),
            last < before,
        )
        .order_by(CrisisAlert.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


# --- the console's list: scoped like its tickets (storage.console.Reach) ----------------------------------


def _clause(model: type[CrisisAlert] | type[Consultation], reach: Sequence[Reach]) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    for r in reach:
        same = model.community_id == r.community_id
        if r.everything:
            parts.append(same)
            continue
        mine: ColumnElement[bool] = model.assigned_to == r.worker
        if model is CrisisAlert:
            mine = or_(mine, CrisisAlert.recipient == r.worker, CrisisAlert.acknowledged_by == r.worker)
        if r.buildings:
            mine = or_(mine, Resident.building.in_(sorted(r.buildings)))
        parts.append(and_(same, mine))
    return or_(*parts) if parts else false()


def visible_alerts(
    session: Session, *, reach: Sequence[Reach], closed: bool, limit: int = 100
) -> list[tuple[CrisisAlert, Resident]]:
    status = CrisisAlert.status == "closed" if closed else CrisisAlert.status.in_(OPEN)
    query = (
        select(CrisisAlert, Resident)
        .join(Resident, Resident.id == CrisisAlert.resident_id)
        .where(_clause(CrisisAlert, reach), status)
        .order_by(CrisisAlert.id.desc())
        .limit(limit)
    )
    return [(a, r) for a, r in session.execute(query)]


def visible_consultations(
    session: Session, *, reach: Sequence[Reach], closed: bool, limit: int = 100
) -> list[tuple[Consultation, Resident]]:
    status = Consultation.status == "closed" if closed else Consultation.status.in_(OPEN)
    query = (
        select(Consultation, Resident)
        .join(Resident, Resident.id == Consultation.resident_id)
        .where(_clause(Consultation, reach), status)
        .order_by(Consultation.id.desc())
        .limit(limit)
    )
    return [(c, r) for c, r in session.execute(query)]


def visible_case(
    session: Session, *, kind: str, case_id: int, reach: Sequence[Reach]
) -> tuple[CrisisAlert | Consultation, Resident] | None:
    model: type[CrisisAlert] | type[Consultation] = CrisisAlert if kind == "alert" else Consultation
    query = (
        select(model, Resident)
        .join(Resident, Resident.id == model.resident_id)
        .where(model.id == case_id, _clause(model, reach))
    )
    row = session.execute(query).first()
    if row is None:
        return None
    case, resident = row[0], row[1]
    assert isinstance(case, CrisisAlert | Consultation)
    return case, resident
