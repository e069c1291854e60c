"""Volunteers and the skills register: who helps, with what, and whether they agreed to be contacted.

Repository functions take a Session and keyword arguments and never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import insert_unless_duplicate
from storage.models import Base, utcnow

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
