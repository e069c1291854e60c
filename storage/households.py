"""Households (一户一档): a community + building + unit + room. A resident who told the bot their address belongs
to the household at it; no row links them, so a move is just a new address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, Resident, utcnow


class Household(Base):
    __tablename__ = "household"
    __table_args__ = (UniqueConstraint("community_id", "building", "unit", "room", name="uq_household_address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    # As the address parser writes them: "3", "2", "502"; "" where the resident's address has no unit.
    building: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(32), default="")
    room: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def label(self) -> str:
        """ "3号楼2单元502室", as residents say it."""
        unit = f"{self.unit}单元" if self.unit else ""
        return f"{self.building}号楼{unit}{self.room}室"


def _find(session: Session, key: tuple[int, str, str, str]) -> Household | None:
    return session.scalar(
        select(Household).where(
            Household.community_id == key[0],
            Household.building == key[1],
            Household.unit == key[2],
            Household.room == key[3],
        )
    )


def household_at(
    session: Session, community_id: int, building: str, unit: str | None, room: str, *, create: bool = True
) -> Household | None:
    """The household at an address, made the first time it is needed (when `create`)."""
    key = (community_id, building.strip(), (unit or "").strip(), room.strip())
    found = _find(session, key)
    if found is not None or not create:
        return found
    household = Household(community_id=key[0], building=key[1], unit=key[2], room=key[3])
    # A savepoint, so two residents of one flat answering at once leave one household, not an error.
    try:
        with session.begin_nested():
            session.add(household)
    except IntegrityError:
        found = _find(session, key)
        if found is None:
            raise
        return found
    return household


def household_of(session: Session, resident: Resident, *, create: bool = True) -> Household | None:
    """The resident's household; None until they have told us their community, building and room."""
    if resident.community_id is None or not resident.building or not resident.room:
        return None
    return household_at(session, resident.community_id, resident.building, resident.unit, resident.room, create=create)


def residents_of(session: Session, household: Household) -> list[Resident]:
    """The residents (WeChat users) who live at the household's address."""
    query = select(Resident).where(
        Resident.community_id == household.community_id,
        Resident.building == household.building,
        Resident.room == household.room,
        Resident.active.is_(True),
    )
    if household.unit:
        query = query.where(Resident.unit == household.unit)
    else:
        query = query.where((Resident.unit.is_(None)) | (Resident.unit == ""))
    return list(session.scalars(query.order_by(Resident.id)))
