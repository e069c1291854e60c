"""The console's activity pages: sign-ups and attendance with the residents' names, finding a resident to
sign up on their behalf, and cancelling a sign-up (which frees the place). Never commits."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from storage.activities import Activity, ActivitySignup, Attendance
from storage.models import Resident


def activities_of(session: Session, *, community_ids: list[int], limit: int = 100) -> list[Activity]:
    query = (
        select(Activity)
        .where(Activity.community_id.in_(community_ids))
        .order_by(Activity.starts_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def signups_of(session: Session, *, activity_id: int) -> list[tuple[ActivitySignup, Resident]]:
    query = (
        select(ActivitySignup, Resident)
        .join(Resident, Resident.id == ActivitySignup.resident_id)
        .where(ActivitySignup.activity_id == activity_id)
        .order_by(ActivitySignup.id)
    )
    return [(s, r) for s, r in session.execute(query)]


def attendance_of(session: Session, *, activity_id: int) -> list[tuple[Attendance, Resident]]:
    query = (
        select(Attendance, Resident)
        .join(Resident, Resident.id == Attendance.resident_id)
        .where(Attendance.activity_id == activity_id)
        .order_by(Attendance.checked_in_at)
    )
    return [(a, r) for a, r in session.execute(query)]


def find_residents(session: Session, *, community_id: int, text: str, limit: int = 10) -> list[Resident]:
    """Residents of the community by name, or by "3-2-301" / "3号楼" style address."""
    text = text.strip()
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    conditions: list[ColumnElement[bool]] = [Resident.display_name.like(pattern, escape="\\")]
    parts = [p for p in text.replace("号楼", "-").replace("单元", "-").replace("室", "").split("-") if p]
    if parts and all(p.isalnum() for p in parts):
        building = Resident.building == parts[0]
        if len(parts) >= 3:
            conditions.append(building & (Resident.unit == parts[1]) & (Resident.room == parts[2]))
        elif len(parts) == 2:
            conditions.append(building & (Resident.room == parts[1]))
    query = (
        select(Resident)
        .where(Resident.community_id == community_id, Resident.active.is_(True), or_(*conditions))
        .order_by(Resident.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def cancel_signup(session: Session, *, activity_id: int, resident_id: int) -> bool:
    """Remove a sign-up and give its place back; False when there was none."""
    gone = session.execute(
        delete(ActivitySignup).where(
            ActivitySignup.activity_id == activity_id, ActivitySignup.resident_id == resident_id
        )
    )
    if not getattr(gone, "rowcount", 0):
        return False
    session.execute(
        update(Activity).where(Activity.id == activity_id, Activity.joined > 0).values(joined=Activity.joined - 1)
    )
    return True
