"""Activities, sign-ups and attendance (check-in and check-out rows), and the hours they add up to.

Repository functions take a Session and keyword arguments and never commit. A stay is checked out once:
the conditional UPDATE in close_attendance settles two check-outs at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import insert_unless_duplicate
from storage.ledger import points_between
from storage.models import Base, InboundMessage, Resident, utcnow
from storage.volunteers import volunteer_for_resident


class Activity(Base):
    __tablename__ = "activity"
    __table_args__ = (
        # A code identifies one activity while it is open; finished activities free theirs.
        Index(
            "uq_activity_open_code",
            "checkin_code",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_activity_upcoming", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # meeting | volunteer | skill_share
    place: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int | None] = mapped_column(Integer)
    joined: Mapped[int] = mapped_column(Integer, default=0)
    checkin_code: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed | cancelled
    # When set, a check-in needs a location within radius_m of the venue.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[int | None] = mapped_column(Integer)
    # Time-bank activities also credit minutes the helper can later spend on help for themselves.
    time_bank: Mapped[bool] = mapped_column(Boolean, default=False)
    qr_path: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def requires_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class ActivitySignup(Base):
    __tablename__ = "activity_signup"
    __table_args__ = (UniqueConstraint("activity_id", "resident_id", name="uq_signup_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reminded_at: Mapped[datetime | None]


class Attendance(Base):
    """One stay at one activity: checked in once, checked out once."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("activity_id", "resident_id", name="uq_attendance_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    checked_in_at: Mapped[datetime]
    checked_out_at: Mapped[datetime | None]
    credited_minutes: Mapped[int] = mapped_column(Integer, default=0)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


# --- activities ------------------------------------------------------------------------------------


def close_finished_activities(session: Session, *, now: datetime) -> int:
    """Close activities that have ended, which frees their check-in codes for reuse."""
    result = session.execute(
        update(Activity).where(Activity.status == "open", Activity.ends_at < now).values(status="closed")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def create_activity(
    session: Session,
    *,
    community_id: int | None,
    title: str,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    new_code: Callable[[], str],
    place: str = "",
    capacity: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    radius_m: int | None = None,
    time_bank: bool = False,
    created_by: str = "",
) -> Activity:
    """Create an open activity with a check-in code no other open activity holds."""
    close_finished_activities(session, now=now)
    taken = set(session.scalars(select(Activity.checkin_code).where(Activity.status == "open")))
    for _ in range(200):
        code = new_code()
        if code in taken:
            continue
        activity = Activity(
            community_id=community_id,
            title=title,
            kind=kind,
            place=place,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
            joined=0,
            checkin_code=code,
            status="open",
            latitude=latitude,
            longitude=longitude,
            radius_m=radius_m,
            time_bank=time_bank,
            created_by=created_by,
            created_at=now,
        )
        # The partial unique index decides when two workers draw the same code at once.
        if insert_unless_duplicate(session, activity):
            return activity
        taken.add(code)
    raise RuntimeError("no free check-in code; close finished activities first")


def _for_community(community_id: int | None) -> Any:
    # Activities without a community are open to everyone.
    if community_id is None:
        return Activity.community_id.is_(None)
    return or_(Activity.community_id == community_id, Activity.community_id.is_(None))


def upcoming_activities(session: Session, *, community_id: int | None, now: datetime, limit: int = 5) -> list[Activity]:
    return list(
        session.scalars(
            select(Activity)
            .where(Activity.status == "open", Activity.ends_at > now, _for_community(community_id))
            .order_by(Activity.starts_at, Activity.id)
            .limit(limit)
        )
    )


def open_activity_by_code(session: Session, *, code: str, community_id: int | None) -> Activity | None:
    return session.scalar(
        select(Activity).where(Activity.checkin_code == code, Activity.status == "open", _for_community(community_id))
    )


def list_activities(session: Session, *, community_id: int | None = None, limit: int = 50) -> list[Activity]:
    query = select(Activity).order_by(Activity.starts_at.desc()).limit(limit)
    if community_id is not None:
        query = query.where(Activity.community_id == community_id)
    return list(session.scalars(query))


JoinResult = Literal["joined", "already", "full", "closed"]


def join_activity(session: Session, *, activity_id: int, resident_id: int, now: datetime) -> JoinResult:
    """Take a place atomically: the conditional UPDATE is what stops the capacity+1-th resident."""
    already = session.scalar(
        select(ActivitySignup.id).where(
            ActivitySignup.activity_id == activity_id, ActivitySignup.resident_id == resident_id
        )
    )
    if already is not None:
        return "already"
    try:
        with session.begin_nested():
            taken = session.execute(
                update(Activity)
                .where(
                    Activity.id == activity_id,
                    Activity.status == "open",
                    Activity.ends_at > now,
                    or_(Activity.capacity.is_(None), Activity.joined < Activity.capacity),
                )
                .values(joined=Activity.joined + 1)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                activity = session.get(Activity, activity_id, populate_existing=True)
                if activity is None or activity.status != "open" or activity.ends_at <= now:
                    return "closed"
                return "full"
            session.add(ActivitySignup(activity_id=activity_id, resident_id=resident_id, created_at=now))
            session.flush()
    except IntegrityError:
        # Signed up by a concurrent message: the savepoint rollback also undid the place taken.
        return "already"
    return "joined"


def due_reminders(
    session: Session, *, now: datetime, lead: timedelta, community_id: int | None
) -> list[tuple[ActivitySignup, Activity, Resident]]:
    """Sign-ups for one community's activities (None: activities of no community) starting within `lead`
    that have not been reminded; marks them reminded."""
    rows = session.execute(
        select(ActivitySignup, Activity, Resident)
        .join(Activity, Activity.id == ActivitySignup.activity_id)
        .join(Resident, Resident.id == ActivitySignup.resident_id)
        .where(
            ActivitySignup.reminded_at.is_(None),
            Activity.status == "open",
            Activity.starts_at > now,
            Activity.starts_at <= now + lead,
            Activity.community_id.is_(None) if community_id is None else Activity.community_id == community_id,
        )
        .order_by(ActivitySignup.id)
        .limit(200)
        .with_for_update(skip_locked=True, of=ActivitySignup)
    ).all()
    due = [(signup, activity, resident) for signup, activity, resident in rows]
    for signup, _, _ in due:
        signup.reminded_at = now
    session.flush()
    return due


# --- attendance ------------------------------------------------------------------------------------


def attendance_for(session: Session, *, activity_id: int, resident_id: int) -> Attendance | None:
    return session.scalar(
        select(Attendance)
        .where(Attendance.activity_id == activity_id, Attendance.resident_id == resident_id)
        .execution_options(populate_existing=True)
    )


def check_in(
    session: Session,
    *,
    activity_id: int,
    resident_id: int,
    community_id: int | None,
    now: datetime,
    latitude: float | None = None,
    longitude: float | None = None,
) -> tuple[Attendance, bool]:
    """(attendance, True) for a new check-in; (existing, False) if the resident already checked in."""
    existing = attendance_for(session, activity_id=activity_id, resident_id=resident_id)
    if existing is not None:
        return existing, False
    row = Attendance(
        activity_id=activity_id,
        resident_id=resident_id,
        community_id=community_id,
        checked_in_at=now,
        credited_minutes=0,
        latitude=latitude,
        longitude=longitude,
    )
    if insert_unless_duplicate(session, row):
        return row, True
    found = attendance_for(session, activity_id=activity_id, resident_id=resident_id)
    assert found is not None
    return found, False


def recent_location(session: Session, *, resident_id: int, since: datetime) -> tuple[float, float] | None:
    """The latest location message the resident sent since `since`, as (latitude, longitude)."""
    row = session.scalar(
        select(InboundMessage)
        .where(
            InboundMessage.resident_id == resident_id,
            InboundMessage.msg_type == "location",
            InboundMessage.received_at >= since,
        )
        .order_by(InboundMessage.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    lat, lng = row.payload.get("latitude"), row.payload.get("longitude")
    if isinstance(lat, int | float) and isinstance(lng, int | float):
        return float(lat), float(lng)
    return None


def open_attendance(session: Session, *, resident_id: int) -> Attendance | None:
    """The resident's latest stay that has not been checked out."""
    return session.scalar(
        select(Attendance)
        .where(Attendance.resident_id == resident_id, Attendance.checked_out_at.is_(None))
        .order_by(Attendance.checked_in_at.desc(), Attendance.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


def close_attendance(session: Session, *, attendance_id: int, now: datetime, minutes: int) -> bool:
    """Check out exactly once: only the transaction whose UPDATE finds the stay still open wins."""
    result = session.execute(
        update(Attendance)
        .where(Attendance.id == attendance_id, Attendance.checked_out_at.is_(None))
        .values(checked_out_at=now, credited_minutes=minutes)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- summaries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoursLine:
    resident_id: int
    name: str
    minutes: int
    sessions: int
    points: int


def minutes_between(session: Session, *, resident_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    """(credited minutes, stays) for stays checked out in [start, end)."""
    row = session.execute(
        select(func.coalesce(func.sum(Attendance.credited_minutes), 0), func.count(Attendance.id)).where(
            Attendance.resident_id == resident_id,
            Attendance.checked_out_at >= start,
            Attendance.checked_out_at < end,
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def hours_report(session: Session, *, community_id: int | None, start: datetime, end: datetime) -> list[HoursLine]:
    """Hours per resident for stays checked out in [start, end), most hours first."""
    query = (
        select(
            Attendance.resident_id,
            func.sum(Attendance.credited_minutes),
            func.count(Attendance.id),
        )
        .where(Attendance.checked_out_at >= start, Attendance.checked_out_at < end)
        .group_by(Attendance.resident_id)
    )
    if community_id is not None:
        query = query.where(Attendance.community_id == community_id)
    lines = []
    for resident_id, minutes, sessions in session.execute(query).all():
        volunteer = volunteer_for_resident(session, resident_id=resident_id)
        name = volunteer.name if volunteer else f"居民#{resident_id}"
        points = points_between(session, resident_id=resident_id, start=start, end=end)
        lines.append(HoursLine(resident_id, name, int(minutes or 0), int(sessions or 0), points))
    return sorted(lines, key=lambda line: (-line.minutes, line.resident_id))
