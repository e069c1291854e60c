"""Volunteers, activities, attendance, the points ledger, rewards and vouchers: tables and repository functions.

Repository functions take a Session and keyword arguments and never commit. The ledger is append-only:
a balance is the sum of its entries, and every entry that takes points away is written only while the
resident's row is locked, so two transactions cannot both spend the same points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import insert_unless_duplicate, is_postgres
from storage.models import Base, InboundMessage, Resident, utcnow

# The skill vocabulary other features route by (legal and psychological consultations, repairs...).
SKILLS: dict[str, str] = {
    "legal": "法律",
    "medical": "医疗",
    "psychological": "心理咨询",
    "teaching": "教学辅导",
    "electrical": "电工",
    "repair": "家电维修",
    "computer": "电脑手机",
    "caregiving": "照护陪伴",
    "other": "其他",
}

Unit = Literal["points", "minutes"]
# The ledger grows forever: 64-bit ids on PostgreSQL; SQLite autoincrements only an INTEGER primary key.
_ENTRY_ID = BigInteger().with_variant(Integer, "sqlite")
EntryKind = Literal["award", "redemption", "adjustment", "reversal", "expiry", "time_spend"]


class Volunteer(Base):
    __tablename__ = "volunteer"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), unique=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone_encrypted: Mapped[str] = mapped_column(Text)
    availability: Mapped[str] = mapped_column(String(200), default="")
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consented_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VolunteerSkill(Base):
    """One row per (volunteer, skill), so "who in this community is a lawyer" is an indexed lookup."""

    __tablename__ = "volunteer_skill"
    __table_args__ = (Index("ix_volunteer_skill_lookup", "community_id", "skill"),)

    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteer.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(32), primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    detail: Mapped[str] = mapped_column(String(200), default="")


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


class LedgerEntry(Base):
    """One append-only movement of points or time credits; a balance is the sum of these."""

    __tablename__ = "ledger_entry"
    __table_args__ = (Index("ix_ledger_resident_unit", "resident_id", "unit"),)

    id: Mapped[int] = mapped_column(_ENTRY_ID, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    unit: Mapped[str] = mapped_column(String(8))  # points | minutes
    amount: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    # What caused the entry, unique so the same cause never pays twice: "award:<resident>:<activity>:<kind>".
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"), index=True)
    worker: Mapped[str | None] = mapped_column(String(64))
    # A correction points at the entry it undoes; unique, so an entry is reversed at most once.
    reverses_id: Mapped[int | None] = mapped_column(_ENTRY_ID, ForeignKey("ledger_entry.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reward(Base):
    __tablename__ = "reward"
    __table_args__ = (
        UniqueConstraint("community_id", "name", name="uq_reward_name"),
        # The database itself refuses a negative stock, whatever the code above it does.
        CheckConstraint("stock >= 0", name="ck_reward_stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    points_price: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    valid_days: Mapped[int] = mapped_column(Integer, default=30)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Voucher(Base):
    __tablename__ = "voucher"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("reward.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    entry_id: Mapped[int] = mapped_column(_ENTRY_ID, ForeignKey("ledger_entry.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))


# --- errors ---------------------------------------------------------------------------------------


class LedgerError(Exception):
    """A ledger operation refused; the message is for the worker or the log, not the resident."""


class InsufficientBalance(LedgerError):
    pass


class EntryNotFound(LedgerError):
    pass


class AlreadyReversed(LedgerError):
    pass


class OutOfStock(LedgerError):
    pass


class VoucherRefused(LedgerError):
    def __init__(self, reason: Literal["unknown", "used", "expired", "other_community"], voucher: Voucher | None):
        super().__init__(reason)
        self.reason = reason
        self.voucher = voucher


# --- volunteers ------------------------------------------------------------------------------------


def volunteer_for_resident(session: Session, *, resident_id: int) -> Volunteer | None:
    return session.scalar(select(Volunteer).where(Volunteer.resident_id == resident_id))


def register_volunteer(
    session: Session,
    *,
    resident_id: int,
    community_id: int | None,
    name: str,
    phone_encrypted: str,
    skills: dict[str, str],
    availability: str,
    now: datetime,
) -> tuple[Volunteer, bool]:
    """Register a consenting resident; (volunteer, False) if they were registered already."""
    existing = volunteer_for_resident(session, resident_id=resident_id)
    if existing is not None:
        return existing, False
    volunteer = Volunteer(
        resident_id=resident_id,
        community_id=community_id,
        name=name,
        phone_encrypted=phone_encrypted,
        availability=availability,
        consent=True,
        consented_at=now,
        created_at=now,
    )
    if not insert_unless_duplicate(session, volunteer):
        # The same resident's retry or second message got there first.
        return session.scalars(select(Volunteer).where(Volunteer.resident_id == resident_id)).one(), False
    for skill, detail in skills.items():
        session.add(VolunteerSkill(volunteer_id=volunteer.id, skill=skill, community_id=community_id, detail=detail))
    session.flush()
    return volunteer, True


def skills_of(session: Session, *, volunteer_id: int) -> list[str]:
    return list(
        session.scalars(
            select(VolunteerSkill.skill)
            .where(VolunteerSkill.volunteer_id == volunteer_id)
            .order_by(VolunteerSkill.skill)
        )
    )


def volunteers_with_skill(session: Session, *, community_id: int | None, skill: str) -> list[Volunteer]:
    """Active volunteers who consented to be contacted, with this skill, in this community."""
    query = (
        select(Volunteer)
        .join(VolunteerSkill, VolunteerSkill.volunteer_id == Volunteer.id)
        .where(VolunteerSkill.skill == skill, Volunteer.active.is_(True), Volunteer.consent.is_(True))
        .order_by(Volunteer.id)
    )
    if community_id is not None:
        query = query.where(VolunteerSkill.community_id == community_id)
    return list(session.scalars(query))


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


def lock_resident(session: Session, *, resident_id: int) -> None:
    """Serialise everything that reads and then writes one resident's ledger or attendance."""
    if is_postgres(session):
        session.execute(select(Resident.id).where(Resident.id == resident_id).with_for_update())
    else:
        # SQLite locks the whole database on the first write; a no-op write takes that lock now.
        session.execute(update(Resident).where(Resident.id == resident_id).values(active=Resident.active))


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


# --- ledger ------------------------------------------------------------------------------------------


def balance(session: Session, *, resident_id: int, unit: Unit = "points") -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.resident_id == resident_id, LedgerEntry.unit == unit
        )
    )
    return int(total or 0)


def recent_entries(session: Session, *, resident_id: int, limit: int = 5) -> list[LedgerEntry]:
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.resident_id == resident_id)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        )
    )


def entries_for(session: Session, *, resident_id: int | None = None) -> list[LedgerEntry]:
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    if resident_id is not None:
        query = query.where(LedgerEntry.resident_id == resident_id)
    return list(session.scalars(query))


def post_entry(
    session: Session,
    *,
    resident_id: int,
    community_id: int | None,
    unit: Unit,
    amount: int,
    kind: EntryKind,
    reason: str,
    now: datetime,
    source_key: str | None = None,
    activity_id: int | None = None,
    worker: str | None = None,
    reverses_id: int | None = None,
) -> LedgerEntry | None:
    """Append one entry; None if an entry with this source key exists (the cause was paid already).

    Entries that take something away are checked against the balance under the resident's lock, so the
    balance never goes negative whatever runs at the same time.
    """
    if not reason.strip():
        raise LedgerError("every ledger entry needs a reason")
    if amount < 0:
        lock_resident(session, resident_id=resident_id)
        if balance(session, resident_id=resident_id, unit=unit) + amount < 0:
            raise InsufficientBalance(f"balance too low for {amount} {unit}")
    if source_key is not None and session.scalar(select(LedgerEntry.id).where(LedgerEntry.source_key == source_key)):
        return None
    entry = LedgerEntry(
        resident_id=resident_id,
        community_id=community_id,
        unit=unit,
        amount=amount,
        kind=kind,
        reason=reason[:500],
        source_key=source_key,
        activity_id=activity_id,
        worker=worker,
        reverses_id=reverses_id,
        created_at=now,
    )
    if not insert_unless_duplicate(session, entry):
        # A concurrent transaction wrote the same source key (or reversed the same entry) first.
        return None
    return entry


def award_key(*, resident_id: int, activity_id: int, kind: str) -> str:
    return f"award:{resident_id}:{activity_id}:{kind}"


def reverse_entry(session: Session, *, entry_id: int, reason: str, worker: str, now: datetime) -> LedgerEntry:
    """Correct an entry by appending its opposite; the original stays as it was."""
    if not reason.strip():
        raise LedgerError("a reversal needs a reason")
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise EntryNotFound(f"no ledger entry {entry_id}")
    if original.kind == "reversal":
        raise LedgerError("a reversal cannot itself be reversed; add a new entry instead")
    if original.kind == "redemption":
        # Points spent on a voucher come back only with the voucher: refusing keeps stock and points in step.
        raise LedgerError("a redemption is undone by cancelling its voucher, not by reversing the entry")
    lock_resident(session, resident_id=original.resident_id)
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry_id)) is not None:
        raise AlreadyReversed(f"entry {entry_id} was reversed already")
    entry = post_entry(
        session,
        resident_id=original.resident_id,
        community_id=original.community_id,
        unit="minutes" if original.unit == "minutes" else "points",
        amount=-original.amount,
        kind="reversal",
        reason=reason,
        now=now,
        source_key=f"reverse:{entry_id}",
        activity_id=original.activity_id,
        worker=worker,
        reverses_id=entry_id,
    )
    if entry is None:
        raise AlreadyReversed(f"entry {entry_id} was reversed already")
    return entry


# --- rewards and vouchers ------------------------------------------------------------------------------


def sync_rewards(session: Session, *, community_id: int, items: Sequence[dict[str, Any]]) -> None:
    """Bring the catalogue in line with the community file.

    Stock is seeded from the file when an item first appears and then lives in the database, because
    redemptions change it; prices, validity and descriptions follow the file.
    """
    existing = {r.name: r for r in session.scalars(select(Reward).where(Reward.community_id == community_id))}
    names = set()
    for item in items:
        name = str(item["name"])
        names.add(name)
        row = existing.get(name)
        if row is None:
            session.add(
                Reward(
                    community_id=community_id,
                    name=name,
                    description=str(item.get("description") or ""),
                    points_price=int(item["points_price"]),
                    stock=int(item["stock"]),
                    valid_days=int(item.get("valid_days") or 30),
                    active=True,
                )
            )
        else:
            row.description = str(item.get("description") or "")
            row.points_price = int(item["points_price"])
            row.valid_days = int(item.get("valid_days") or 30)
            row.active = True
    for name, row in existing.items():
        if name not in names:
            row.active = False
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another request seeded the same item a moment ago; its row is as good as ours.
        pass


def rewards_for(session: Session, *, community_id: int) -> list[Reward]:
    return list(
        session.scalars(
            select(Reward)
            .where(Reward.community_id == community_id, Reward.active.is_(True))
            .order_by(Reward.points_price, Reward.id)
        )
    )


def change_stock(session: Session, *, community_id: int, name: str, by: int) -> Reward:
    """Add (or, with a negative `by`, write off) stock in one UPDATE, so a redemption at the same moment
    is never lost; refuses to go below zero."""
    reward = session.scalar(select(Reward).where(Reward.community_id == community_id, Reward.name == name))
    if reward is None:
        raise LedgerError(f"no reward {name!r} in this community's catalogue")
    if by == 0:
        raise LedgerError("the change of stock must not be zero")
    changed = session.execute(
        update(Reward).where(Reward.id == reward.id, Reward.stock + by >= 0).values(stock=Reward.stock + by)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise LedgerError(f"only {reward.stock} left of {name!r}; cannot remove {-by}")
    session.refresh(reward)
    return reward


def find_reward(session: Session, *, community_id: int, name: str) -> Reward | None:
    rewards = rewards_for(session, community_id=community_id)
    exact = next((r for r in rewards if r.name == name), None)
    if exact is not None:
        return exact
    close = [r for r in rewards if name in r.name or r.name in name]
    return close[0] if len(close) == 1 else None


def redeem_reward(
    session: Session,
    *,
    resident_id: int,
    community_id: int,
    reward_id: int,
    now: datetime,
    new_code: Callable[[], str],
) -> Voucher:
    """Spend points on one item: stock, balance and voucher change together or not at all."""
    lock_resident(session, resident_id=resident_id)
    reward = session.get(Reward, reward_id, populate_existing=True)
    if reward is None or not reward.active or reward.community_id != community_id:
        raise OutOfStock("no such reward")
    if balance(session, resident_id=resident_id, unit="points") < reward.points_price:
        raise InsufficientBalance("not enough points")
    taken = session.execute(
        update(Reward).where(Reward.id == reward_id, Reward.stock > 0).values(stock=Reward.stock - 1)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        raise OutOfStock("out of stock")
    code = new_code()
    entry = post_entry(
        session,
        resident_id=resident_id,
        community_id=community_id,
        unit="points",
        amount=-reward.points_price,
        kind="redemption",
        reason=f"兑换 {reward.name}",
        now=now,
        source_key=f"redeem:{code}",
    )
    if entry is None:
        raise LedgerError("voucher code collision; try again")
    voucher = Voucher(
        code=code,
        reward_id=reward.id,
        resident_id=resident_id,
        community_id=community_id,
        entry_id=entry.id,
        issued_at=now,
        expires_at=now + timedelta(days=reward.valid_days) if reward.valid_days else None,
    )
    session.add(voucher)
    session.flush()
    return voucher


def use_voucher(session: Session, *, code: str, worker: str, now: datetime, community_id: int | None = None) -> Voucher:
    """Mark a voucher used (核销) exactly once; the conditional UPDATE settles two workers at once."""
    voucher = session.scalar(select(Voucher).where(Voucher.code == code.strip().upper()))
    if voucher is None:
        raise VoucherRefused("unknown", None)
    if community_id is not None and voucher.community_id != community_id:
        raise VoucherRefused("other_community", voucher)
    if voucher.expires_at is not None and voucher.expires_at <= now and voucher.used_at is None:
        raise VoucherRefused("expired", voucher)
    result = session.execute(
        update(Voucher).where(Voucher.id == voucher.id, Voucher.used_at.is_(None)).values(used_at=now, used_by=worker)
    )
    session.refresh(voucher)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise VoucherRefused("used", voucher)
    return voucher


def vouchers_of(session: Session, *, resident_id: int, limit: int = 5) -> list[tuple[Voucher, Reward]]:
    rows = session.execute(
        select(Voucher, Reward)
        .join(Reward, Reward.id == Voucher.reward_id)
        .where(Voucher.resident_id == resident_id)
        .order_by(Voucher.id.desc())
        .limit(limit)
    ).all()
    return [(v, r) for v, r in rows]


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


def points_between(session: Session, *, resident_id: int, start: datetime, end: datetime, unit: Unit = "points") -> int:
    """Net points (awards less reversals and spending) entered in [start, end)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.resident_id == resident_id,
            LedgerEntry.unit == unit,
            LedgerEntry.kind.in_(("award", "reversal", "adjustment")),
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
    )
    return int(total or 0)


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
