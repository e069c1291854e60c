"""The console's queries about people: the volunteers and skills register (searchable), and residents a
worker may look up for their points. Paged and filtered in SQL; never commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from storage.console import Reach
from storage.ledger import LedgerEntry
from storage.models import Resident
from storage.volunteers import SKILLS, Volunteer, VolunteerSkill


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def volunteers(
    session: Session, *, community_ids: Sequence[int], skill: str = "", text: str = "", limit: int = 200
) -> list[tuple[Volunteer, list[tuple[str, str]]]]:
    """Active volunteers of these communities with their skills, by skill and by words in their name,
    availability or what they said they can do ("会修电脑")."""
    query = select(Volunteer).where(Volunteer.community_id.in_(community_ids), Volunteer.active.is_(True))
    if skill:
        query = query.where(Volunteer.id.in_(select(VolunteerSkill.volunteer_id).where(VolunteerSkill.skill == skill)))
    text = text.strip()
    if text:
        pattern = _like(text)
        named_skills = [key for key, name in SKILLS.items() if text in name]
        matching_skill = select(VolunteerSkill.volunteer_id).where(
            or_(VolunteerSkill.detail.like(pattern, escape="\\"), VolunteerSkill.skill.in_(named_skills))
        )
        query = query.where(
            or_(
                Volunteer.name.like(pattern, escape="\\"),
                Volunteer.availability.like(pattern, escape="\\"),
                Volunteer.id.in_(matching_skill),
            )
        )
    found = list(session.scalars(query.order_by(Volunteer.id).limit(limit)))
    skills: dict[int, list[tuple[str, str]]] = {v.id: [] for v in found}
    if found:
        rows = session.execute(
            select(VolunteerSkill.volunteer_id, VolunteerSkill.skill, VolunteerSkill.detail)
            .where(VolunteerSkill.volunteer_id.in_(list(skills)))
            .order_by(VolunteerSkill.skill)
        )
        for volunteer_id, key, detail in rows:
            skills[volunteer_id].append((SKILLS.get(key, key), detail))
    return [(v, skills[v.id]) for v in found]


def resident_clause(reach: Sequence[Reach]) -> ColumnElement[bool]:
    """The residents a worker may look up: the whole community, or their grid's buildings."""
    parts: list[ColumnElement[bool]] = []
    for r in reach:
        same = Resident.community_id == r.community_id
        if r.everything:
            parts.append(same)
        elif r.buildings:
            parts.append(and_(same, Resident.building.in_(sorted(r.buildings))))
    return or_(*parts) if parts else false()


def find_residents(session: Session, *, reach: Sequence[Reach], text: str, limit: int = 20) -> list[Resident]:
    """By name, or "3-2-301" / "3号楼2单元301" address, among the residents this worker may see."""
    text = text.strip()
    if not text:
        return []
    conditions: list[ColumnElement[bool]] = [Resident.display_name.like(_like(text), escape="\\")]
    parts = [p for p in text.replace("号楼", "-").replace("单元", "-").replace("室", "").split("-") if p]
    if parts and all(p.isalnum() for p in parts):
        if len(parts) >= 3:
            conditions.append(and_(Resident.building == parts[0], Resident.unit == parts[1], Resident.room == parts[2]))
        elif len(parts) == 2:
            conditions.append(and_(Resident.building == parts[0], Resident.room == parts[1]))
    query = (
        select(Resident)
        .where(resident_clause(reach), Resident.active.is_(True), or_(*conditions))
        .order_by(Resident.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def visible_resident(session: Session, *, reach: Sequence[Reach], resident_id: int) -> Resident | None:
    return session.scalar(select(Resident).where(Resident.id == resident_id, resident_clause(reach)))


def ledger_of(session: Session, *, resident_id: int, limit: int = 200) -> tuple[list[LedgerEntry], set[int]]:
    """A resident's latest entries, newest first, and the ids of those already reversed."""
    entries = list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.resident_id == resident_id)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        )
    )
    # A reversal may be older than the page's oldest entry's original: ask the database, not the page.
    reversed_ids = session.scalars(
        select(LedgerEntry.reverses_id).where(
            LedgerEntry.resident_id == resident_id, LedgerEntry.reverses_id.is_not(None)
        )
    )
    return entries, {i for i in reversed_ids if i is not None}
