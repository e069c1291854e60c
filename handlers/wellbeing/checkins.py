"""报平安 services every entry point calls: enrol, pause, end, a check-in recorded by someone else, and a
report that someone went and found the resident safe. Each runs in the caller's transaction and logs on the
household."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.communities import spec_of
from handlers.wellbeing.files import readers_of
from handlers.wellbeing.rules import format_minute, local_day
from intents.rules import parse_address
from storage import household_files as files
from storage import safecheck as sc
from storage.households import Household, household_of
from storage.models import Community, Resident
from storage.safecheck import CheckDay, Enrolment

# An open check stays open past midnight; a report closes checks this recent.
_TWO_DAYS = timedelta(days=2)


class CheckinError(ValueError):
    """Refused with a reason the person can act on; nothing was written."""


def _log(session: Session, enrolment: Enrolment, *, actor: str, action: str, at: datetime, note: str = "") -> None:
    if enrolment.household_id is not None:
        files.add_log(session, household_id=enrolment.household_id, actor=actor, action=action, at=at, note=note)


def enrol(
    session: Session,
    *,
    community: Community,
    minute: int,
    by: str,
    now: datetime,
    resident: Resident | None = None,
    member: files.HouseholdMember | None = None,
    household: Household | None = None,
    name: str = "",
) -> Enrolment:
    """Enrol a resident (or a household member without WeChat); enrolling again changes the time."""
    if not 0 <= minute < 24 * 60:
        raise CheckinError("提醒时间不对")
    if resident is None and member is None:
        raise CheckinError("要为谁开通报平安？")
    if household is None and resident is not None:
        household = household_of(session, resident)
    if household is None and member is not None:
        household = session.get(Household, member.household_id)
    existing = None
    if resident is not None:
        existing = sc.enrolment_of_resident(session, resident_id=resident.id)
    elif member is not None:
        existing = session.scalar(
            select(Enrolment).where(Enrolment.member_id == member.id, Enrolment.status != "ended")
        )
    name = (name or (member.name if member else "") or (resident.display_name if resident else "") or "").strip()
    if existing is not None:
        existing.prompt_minute, existing.status, existing.paused_until = minute, "active", None
        if household is not None:
            existing.household_id = household.id
        if name:
            existing.name = name[:64]
        _log(session, existing, actor=by, action="safecheck_time", at=now, note=f"每天 {format_minute(minute)}")
        return existing
    enrolment = Enrolment(
        community_id=community.id,
        household_id=household.id if household else None,
        resident_id=resident.id if resident else None,
        member_id=member.id if member else None,
        name=name[:64],
        prompt_minute=minute,
        status="active",
        enrolled_by=by[:100],
        # Enrolling is itself a contact: today's prompt, if its time has passed, is not needed.
        last_contact_at=now if resident is not None else None,
        created_at=now,
    )
    session.add(enrolment)
    session.flush()
    _log(session, enrolment, actor=by, action="safecheck_enrolled", at=now, note=f"每天 {format_minute(minute)}")
    return enrolment


def pause(session: Session, enrolment: Enrolment, *, until: date, by: str, now: datetime) -> None:
    """No prompts up to and including `until`; they start again the day after."""
    if until < local_day(now):
        raise CheckinError("这个日期已经过去了")
    enrolment.status, enrolment.paused_until = "paused", until
    _log(session, enrolment, actor=by, action="safecheck_paused", at=now, note=f"暂停到 {until.isoformat()}")
    today = sc.day_of(session, enrolment_id=enrolment.id, day=local_day(now))
    if today is not None and today.status == "open":
        sc.resolve_day(session, day_id=today.id, status="paused", by=by, at=now)


def end(session: Session, enrolment: Enrolment, *, by: str, now: datetime) -> None:
    enrolment.status, enrolment.paused_until = "ended", None
    _log(session, enrolment, actor=by, action="safecheck_ended", at=now)
    today = sc.day_of(session, enrolment_id=enrolment.id, day=local_day(now))
    if today is not None and today.status == "open":
        sc.resolve_day(session, day_id=today.id, status="stopped", by=by, at=now)


def check_in_for(session: Session, enrolment: Enrolment, *, by: str, how: str, now: datetime) -> str:
    """A worker or volunteer phoned or visited: today's check-in is theirs (kept with who and how)."""
    if enrolment.status == "ended":
        raise CheckinError("此人的报平安已停止")
    today = local_day(now)
    row = sc.day_of(session, enrolment_id=enrolment.id, day=today)
    if row is None:
        made = sc.start_day(session, enrolment_id=enrolment.id, day=today, at=now, status="safe", cause=how)
        if made is not None:
            made.resolved_by = by[:100]
            row = made
        else:
            row = sc.day_of(session, enrolment_id=enrolment.id, day=today)
    if row is not None and row.status in ("open", "sos"):
        sc.resolve_day(session, day_id=row.id, status="safe", by=by, at=now)
    _log(
        session, enrolment, actor=by, action="checkin_by", at=now, note={"visit": "上门", "phone": "电话"}.get(how, how)
    )
    return f"已为{enrolment.name or '居民'}登记今天的平安（{by}）。"


@dataclass(frozen=True)
class SafeReport:
    resolved: list[tuple[Enrolment, CheckDay]]
    ambiguous: list[Enrolment]


def _address_of(text: str) -> dict[str, str] | None:
    found = parse_address(text)
    return found if found and found.get("building") and found.get("room") else None


def _open_for(session: Session, since: date) -> list[tuple[CheckDay, Enrolment]]:
    return sc.open_days(session, since=since)


def report_safe(
    session: Session,
    *,
    text: str,
    now: datetime,
    worker: str | None = None,
    resident: Resident | None = None,
) -> SafeReport:
    """ "已上门，平安" from a WeCom worker or a WeChat contact: close the open check they were asked about.

    A worker may close a check of a household whose file they may read or where they are a contact; a
    resident one where they are a contact. Several open checks need the address in the words."""
    candidates: list[tuple[CheckDay, Enrolment]] = []
    address = _address_of(text)
    for day, enrolment in _open_for(session, local_day(now) - _TWO_DAYS):
        household = session.get(Household, enrolment.household_id) if enrolment.household_id else None
        contacts = files.contacts_of(session, household_id=household.id) if household else []
        allowed = False
        if worker is not None:
            community = session.get(Community, enrolment.community_id)
            allowed = any(c.wecom_userid == worker for c in contacts) or (
                community is not None and household is not None and worker in readers_of(community, household)
            )
            if community is not None and household is None:
                spec = spec_of(community)
                allowed = allowed or (spec.duty is not None and spec.duty.wecom_userid == worker)
        elif resident is not None:
            allowed = any(c.resident_id == resident.id for c in contacts)
        if not allowed:
            continue
        if (
            address is not None
            and household is not None
            and (household.building, household.room) != (address["building"], address["room"])
        ):
            continue
        candidates.append((day, enrolment))
    if len(candidates) > 1:
        return SafeReport([], [e for _, e in candidates])
    actor = f"worker:{worker}" if worker else f"resident:{resident.id if resident else '?'}"
    resolved = []
    for day, enrolment in candidates:
        if sc.resolve_day(session, day_id=day.id, status="safe", by=actor, at=now):
            _log(session, enrolment, actor=actor, action="safe_report", at=now, note=text[:200])
            resolved.append((enrolment, day))
    return SafeReport(resolved, [])
