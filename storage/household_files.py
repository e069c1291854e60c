"""A household's file (一户一档): members without WeChat, emergency contacts, the consent for sensitive
fields, the log of everything done for the household, and the keys of its devices.

Sensitive personal information (PIPL art. 28-29: health, disability, low income, minors) and phone numbers
are stored only as ciphertext made by the caller (handlers/wellbeing/files.py holds the key); a member's
sensitive fields exist only while the household's consent is live. Repository functions never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.masking import MaskedText
from storage.models import Base, utcnow

DEVICE_KEY_PREFIX = "sgd_"
CONTACT_ROLES = {"family": "家属", "neighbour": "结对邻居", "volunteer": "志愿者", "building_head": "楼长"}


class HouseholdMember(Base):
    """Someone who lives at the household: a WeChat resident (resident_id) or a person without WeChat."""

    __tablename__ = "household_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    # Tags that are not sensitive (独居, 高龄, 空巢) in clear, so the weekly list can find them.
    tags: Mapped[str] = mapped_column(String(200), default="")  # comma-separated
    # Sensitive tags, health notes and the member's phone, sealed together; None without consent.
    sensitive_encrypted: Mapped[str | None] = mapped_column(Text)
    needs: Mapped[str] = mapped_column(MaskedText, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def tag_list(self) -> list[str]:
        return [t for t in str(self.tags or "").split(",") if t]


class HouseholdContact(Base):
    """An emergency contact: family, a paired neighbour or volunteer, the 楼长. A WeChat resident, a WeCom
    worker, or only a name and a phone."""

    __tablename__ = "household_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    phone_encrypted: Mapped[str | None] = mapped_column(Text)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    wecom_userid: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HouseholdConsent(Base):
    """The separate consent for sensitive fields: who gave it, when, in what words, and when withdrawn."""

    __tablename__ = "household_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    given_by: Mapped[str] = mapped_column(String(100))
    wording: Mapped[str] = mapped_column(Text)
    given_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(100))


class HouseholdLog(Base):
    """One thing done for or about the household: an enrolment, a prompt, a step of escalation, a visit."""

    __tablename__ = "household_log"
    __table_args__ = (Index("ix_household_log_at", "household_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(MaskedText, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DeviceKey(Base):
    """A water meter's or door sensor's key for POST /api/signals; only its digest is kept."""

    __tablename__ = "device_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# --- members, contacts, consent ---------------------------------------------------------------------------


def members_of(session: Session, *, household_id: int) -> list[HouseholdMember]:
    query = select(HouseholdMember).where(HouseholdMember.household_id == household_id)
    return list(session.scalars(query.order_by(HouseholdMember.id)))


def contacts_of(session: Session, *, household_id: int) -> list[HouseholdContact]:
    query = select(HouseholdContact).where(HouseholdContact.household_id == household_id)
    return list(session.scalars(query.order_by(HouseholdContact.id)))


def live_consent(session: Session, *, household_id: int) -> HouseholdConsent | None:
    return session.scalar(
        select(HouseholdConsent)
        .where(HouseholdConsent.household_id == household_id, HouseholdConsent.withdrawn_at.is_(None))
        .order_by(HouseholdConsent.id.desc())
        .limit(1)
    )


def add_log(
    session: Session,
    *,
    household_id: int,
    actor: str,
    action: str,
    at: datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> HouseholdLog:
    row = HouseholdLog(household_id=household_id, actor=actor[:100], action=action, at=at, note=note, data=data or {})
    session.add(row)
    return row


def log_of(session: Session, *, household_id: int, limit: int = 200) -> list[HouseholdLog]:
    query = select(HouseholdLog).where(HouseholdLog.household_id == household_id)
    return list(session.scalars(query.order_by(HouseholdLog.at.desc(), HouseholdLog.id.desc()).limit(limit)))


# --- device keys ------------------------------------------------------------------------------------------


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_device_key(session: Session, *, household_id: int, label: str, now: datetime) -> tuple[int, str]:
    """(id, key): the key is shown once; only its digest is stored."""
    key = DEVICE_KEY_PREFIX + secrets.token_urlsafe(32)
    row = DeviceKey(household_id=household_id, digest=_digest(key), label=label[:100], created_at=now)
    session.add(row)
    session.flush()
    return row.id, key


def device_for(session: Session, key: str) -> DeviceKey | None:
    row = session.scalar(select(DeviceKey).where(DeviceKey.digest == _digest(key)))
    return row if row is not None and row.revoked_at is None else None
