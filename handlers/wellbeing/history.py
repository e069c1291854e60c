"""A household's whole history for the console (tickets, consultations, crisis alerts, activities, points,
check-ins), and the silent needs: special-group residents with no contact of any kind for N days, listed
weekly for their grid worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from handlers.communities import spec_of
from handlers.notify import CardLine, console_url, wecom_card
from handlers.runtime import Settings
from handlers.wellbeing.files import grid_worker
from storage import household_files as files
from storage import ledger
from storage import repositories as repo
from storage.activities import Activity, Attendance
from storage.consultations import Consultation
from storage.households import Household, residents_of
from storage.models import Community, OutboxMessage
from storage.safecheck import Enrolment
from storage.tickets import Ticket

# What counts as contact besides the residents' own messages: a check-in someone recorded, a safe report.
_CONTACT_ACTIONS = ("checkin_by", "safe_report", "safecheck_answered")


def history(session: Session, household: Household) -> dict[str, list[dict[str, Any]]]:
    """Everything the household's residents did with the bot and the community, newest first."""
    ids = [r.id for r in residents_of(session, household)]
    stand_in = repo.resident_by_openid(session, openid=f"household:{household.id}")
    reporters = [*ids, *([stand_in.id] if stand_in else [])]
    tickets = session.scalars(
        select(Ticket).where(Ticket.reporter_id.in_(reporters)).order_by(Ticket.created_at.desc()).limit(50)
    ).all()
    consultations = session.scalars(
        select(Consultation).where(Consultation.resident_id.in_(ids)).order_by(Consultation.id.desc()).limit(50)
    ).all()
    # Crisis alerts to the duty worker ("alert:<inbound id>"), the community's newest, then this household's.
    recent_alerts = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.community_id == household.community_id,
            OutboxMessage.channel == "wecom_app",
            OutboxMessage.dedupe_key.like("alert:%"),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(500)
    ).all()
    alerts = [a for a in recent_alerts if a.payload.get("resident_id") in ids][:50]
    attended = session.execute(
        select(Activity.title, Attendance.checked_in_at)
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.resident_id.in_(ids))
        .order_by(Attendance.checked_in_at.desc())
        .limit(50)
    ).all()
    return {
        "tickets": [
            {"code": t.code, "at": t.created_at, "colour": t.colour, "status": t.status, "text": t.description[:80]}
            for t in tickets
        ],
        "consultations": [{"at": c.created_at, "domain": c.domain, "status": c.status} for c in consultations],
        "alerts": [{"at": a.created_at, "level": a.payload.get("level", "")} for a in alerts],
        "activities": [{"title": title, "at": at} for title, at in attended],
        "points": [{"resident": rid, **ledger.balances(session, resident_id=rid)} for rid in ids],
    }


@dataclass(frozen=True)
class SilentNeed:
    household_id: int
    label: str
    names: str
    last_contact: datetime | None
    grid_worker: str | None


def silent_needs(session: Session, community: Community, *, now: datetime) -> list[SilentNeed]:
    """Households with a member in a special group (any tag, or sensitive fields) and no message, check-in
    or visit for the community's `silent_days`."""
    days = spec_of(community).safecheck.silent_days
    cutoff = now - timedelta(days=days)
    rows = session.execute(
        select(Household, files.HouseholdMember)
        .join(files.HouseholdMember, files.HouseholdMember.household_id == Household.id)
        .where(
            Household.community_id == community.id,
            or_(files.HouseholdMember.tags != "", files.HouseholdMember.sensitive_encrypted.is_not(None)),
        )
        .order_by(Household.id)
    ).all()
    grouped: dict[int, tuple[Household, list[str]]] = {}
    for household, member in rows:
        grouped.setdefault(household.id, (household, []))[1].append(member.name)
    found = []
    for household, names in grouped.values():
        moments = [r.last_inbound_at for r in residents_of(session, household)]
        moments.append(
            session.scalar(select(func.max(Enrolment.last_contact_at)).where(Enrolment.household_id == household.id))
        )
        moments.append(
            session.scalar(
                select(func.max(files.HouseholdLog.at)).where(
                    files.HouseholdLog.household_id == household.id, files.HouseholdLog.action.in_(_CONTACT_ACTIONS)
                )
            )
        )
        last = max((m for m in moments if m is not None), default=None)
        if last is None or last < cutoff:
            found.append(
                SilentNeed(household.id, household.label, "、".join(names), last, grid_worker(community, household))
            )
    return found


def send_silent_lists(session: Session, settings: Settings, community: Community, *, now: datetime) -> int:
    """Each grid worker's weekly list of silent households (once per ISO week); how many lists were queued."""
    by_worker: dict[str, list[SilentNeed]] = {}
    for need in silent_needs(session, community, now=now):
        if need.grid_worker:
            by_worker.setdefault(need.grid_worker, []).append(need)
    year, week, _ = now.isocalendar()
    queued = 0
    for worker, needs in by_worker.items():
        lines: list[CardLine] = [("normal", f"{n.label} {n.names}") for n in needs[:15]]
        card = wecom_card(
            f"【关爱提醒】{len(needs)} 户特殊群体居民多日没有联系",
            [("highlight", "以下住户多日没有消息、打卡或走访，请抽空电话或上门看看"), *lines],
            url=console_url(settings, "/console/households"),
            button="查看名单",
        )
        row = repo.enqueue_outbox(
            session,
            channel="wecom_app",
            recipient=worker,
            payload=card | {"level": "yellow"},
            community_id=community.id,
            now=now,
            dedupe_key=f"silent:{community.id}:{year}-{week}:{worker}",
        )
        queued += row is not None
    return queued
