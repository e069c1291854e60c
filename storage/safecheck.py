"""报平安: who is enrolled for a daily check-in, and each day's check as it walks the escalation steps.

A day's check is one row per (enrolment, local date), inserted by whichever scheduler gets there first; each
escalation step is claimed by a conditional UPDATE (`step = k - 1` -> `step = k`), so two schedulers never
take the same step. The message path marks contact with one indexed UPDATE (`mark_contact`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Table, UniqueConstraint, bindparam, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import insert_unless_duplicate
from storage.models import Base, utcnow

# active -> paused (until a date) -> active ; any -> ended
ENROLMENT_STATUSES = ("active", "paused", "ended")


class Enrolment(Base):
    """One person enrolled for 报平安: a WeChat resident, or a household member without WeChat."""

    __tablename__ = "safecheck_enrolment"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("household_member.id"))
    # What the prompt calls them: "张阿姨".
    name: Mapped[str] = mapped_column(String(64), default="")
    # Minutes after local midnight (China time) at which the daily prompt leaves.
    prompt_minute: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    paused_until: Mapped[date | None] = mapped_column(Date)
    enrolled_by: Mapped[str] = mapped_column(String(100))
    # The resident's last message of any kind (set on the message path) or a check-in recorded for them.
    last_contact_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckDay(Base):
    """One enrolled person's check on one local day: prompted, answered, or walking the escalation steps."""

    __tablename__ = "safecheck_day"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "day", name="uq_safecheck_day"),
        Index("ix_safecheck_day_open", "status", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("safecheck_enrolment.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    # When the day's chain started (the prompt time, or a device's signal) and the last step taken.
    started_at: Mapped[datetime]
    step: Mapped[int] = mapped_column(Integer, default=0)
    # open -> answered (the resident) | safe (someone visited or phoned) ; open -> sos (straight to a visit)
    status: Mapped[str] = mapped_column(String(16), default="open")
    cause: Mapped[str] = mapped_column(String(32), default="prompt")
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    ticket_code: Mapped[str | None] = mapped_column(String(8))


_ENROLMENT = cast(Table, Enrolment.__table__)
# Built once: the message path runs it for every message (see bot/pipeline.py).
_MARK_CONTACT = (
    update(_ENROLMENT)
    .where(_ENROLMENT.c.resident_id == bindparam("rid"), _ENROLMENT.c.status != "ended")
    .values(last_contact_at=bindparam("at"))
)


def mark_contact(session: Session, *, resident_id: int, at: datetime) -> None:
    """Any message from an enrolled resident is that day's check-in: one indexed UPDATE, nothing read."""
    session.execute(_MARK_CONTACT, {"rid": resident_id, "at": at})


def enrolment_of_resident(session: Session, *, resident_id: int) -> Enrolment | None:
    query = select(Enrolment).where(Enrolment.resident_id == resident_id, Enrolment.status != "ended")
    return session.scalar(query.order_by(Enrolment.id.desc()).limit(1))


def enrolments_of_household(session: Session, *, household_id: int) -> list[Enrolment]:
    query = select(Enrolment).where(Enrolment.household_id == household_id, Enrolment.status != "ended")
    return list(session.scalars(query.order_by(Enrolment.id)))


def enrolments_needing_a_day(
    session: Session, *, community_id: int, day: date, before_minute: int, after_id: int = 0, limit: int = 500
) -> Sequence[Enrolment]:
    """Live enrolments of a community whose prompt time today has come and that have no row for today yet."""
    has_day = select(CheckDay.id).where(CheckDay.enrolment_id == Enrolment.id, CheckDay.day == day).exists()
    query = (
        select(Enrolment)
        .where(
            Enrolment.community_id == community_id,
            Enrolment.id > after_id,
            Enrolment.status.in_(("active", "paused")),
            Enrolment.prompt_minute <= before_minute,
            ~has_day,
        )
        .order_by(Enrolment.id)
        .limit(limit)
    )
    return session.scalars(query).all()


def start_day(
    session: Session, *, enrolment_id: int, day: date, at: datetime, status: str, cause: str
) -> CheckDay | None:
    """The day's row, or None if another scheduler (or a check-in) made it first."""
    row = CheckDay(enrolment_id=enrolment_id, day=day, started_at=at, step=0, status=status, cause=cause)
    if status != "open":
        row.resolved_at = at
    return row if insert_unless_duplicate(session, row) else None


def day_of(session: Session, *, enrolment_id: int, day: date) -> CheckDay | None:
    return session.scalar(select(CheckDay).where(CheckDay.enrolment_id == enrolment_id, CheckDay.day == day))


def open_days(
    session: Session, *, since: date, after_id: int = 0, community_id: int | None = None, limit: int = 1000
) -> list[tuple[CheckDay, Enrolment]]:
    """Open checks since a day, oldest first, a page at a time (after `after_id`)."""
    query = (
        select(CheckDay, Enrolment)
        .join(Enrolment, Enrolment.id == CheckDay.enrolment_id)
        .where(CheckDay.status == "open", CheckDay.day >= since, CheckDay.id > after_id)
        .order_by(CheckDay.id)
        .limit(limit)
    )
    if community_id is not None:
        query = query.where(Enrolment.community_id == community_id)
    return [(d, e) for d, e in session.execute(query)]


def claim_step(session: Session, *, day_id: int, step: int) -> bool:
    """Take step `step` of an open day; False when another scheduler took it or the day was resolved."""
    result = session.execute(
        update(CheckDay)
        .where(CheckDay.id == day_id, CheckDay.step == step - 1, CheckDay.status == "open")
        .values(step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def resolve_day(session: Session, *, day_id: int, status: str, by: str, at: datetime) -> bool:
    """Close an open day (answered, safe); False if it was closed already."""
    result = session.execute(
        update(CheckDay)
        .where(CheckDay.id == day_id, CheckDay.status.in_(("open", "sos")))
        .values(status=status, resolved_by=by[:100], resolved_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def days_of(session: Session, *, enrolment_ids: Sequence[int], limit: int = 60) -> list[CheckDay]:
    if not enrolment_ids:
        return []
    query = select(CheckDay).where(CheckDay.enrolment_id.in_(enrolment_ids))
    return list(session.scalars(query.order_by(CheckDay.day.desc(), CheckDay.id.desc()).limit(limit)))


def as_dict(day: CheckDay) -> dict[str, Any]:
    return {
        "day": day.day.isoformat(),
        "status": day.status,
        "step": day.step,
        "cause": day.cause,
        "resolved_by": day.resolved_by,
        "ticket": day.ticket_code,
    }
