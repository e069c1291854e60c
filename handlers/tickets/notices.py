"""Alerts to workers (WeCom cards) and notices to the residents who follow a ticket.

Every function runs inside the caller's transaction; messages leave through the outbox only if it commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.notify import Push, console_url, push_to_resident, wecom_card
from handlers.privacy import DecryptionError, decrypt_phone, mask_phone
from handlers.runtime import Settings
from handlers.tickets.cards import buttons_for, enqueue_ticket_card, task_id_for, ticket_card
from handlers.tickets.routing import routing_for
from handlers.tickets.rules import CATEGORY_NAMES, COLOUR_NAMES, summary
from handlers.tickets.workdays import format_local
from storage import repositories as repo
from storage import tickets as store
from storage.models import Community, Resident
from storage.tickets import Ticket
from storage.volunteers import Volunteer

STATUS_NAMES = {
    "open": "待接单",
    "accepted": "处理中",
    "reopened": "重新处理中",
    "resolved": "已办结，待您评价",
    "closed": "已完成",
    "merged": "已合并到同一问题的工单",
}


def phone_of(session: Session, settings: Settings, resident: Resident) -> str | None:
    """A resident's whole phone number, from their profile or volunteer record; None when none is on file."""
    encrypted = resident.phone_encrypted
    if not encrypted:
        volunteer = session.scalar(select(Volunteer).where(Volunteer.resident_id == resident.id))
        encrypted = volunteer.phone_encrypted if volunteer else None
    if not encrypted or not settings.secret_key:
        return None
    try:
        return decrypt_phone(settings.secret_key, encrypted)
    except (DecryptionError, ValueError):
        return None


def masked_phone(session: Session, settings: Settings, resident: Resident) -> str:
    """The reporter's phone as a worker may see it (138****5678), from their profile or volunteer record."""
    phone = phone_of(session, settings, resident)
    return mask_phone(phone) if phone else "未登记"


def describe(ticket: Ticket) -> str:
    return f"{COLOUR_NAMES.get(ticket.colour, ticket.colour)}·{CATEGORY_NAMES.get(ticket.category, ticket.category)}"


def alert_worker(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    *,
    userid: str,
    title: str,
    lead: str,
    dedupe_key: str,
    now: datetime,
    closing: str = "可点按钮，或回复“接单 工单号”“进展 工单号 说明”“办结 工单号 说明”。",
) -> None:
    """A ticket card to a worker: a WeCom template card with 接单 / 办结 buttons, opening the ticket's page."""
    reporter = session.get(Resident, ticket.reporter_id)
    phone = masked_phone(session, settings, reporter) if reporter else "未登记"
    card = ticket_card(
        ticket,
        settings,
        task_id=task_id_for(ticket, dedupe_key),
        title=title,
        lead=lead,
        words=f"居民原话：{summary(ticket.description, 70)}\n{closing}",
        facts=[
            ("工单号", ticket.code),
            ("类别", describe(ticket)),
            ("地点", ticket.place or "地点未说明"),
            ("联系电话", phone),
            ("时限", format_local(ticket.due_at)),
        ],
        buttons=buttons_for(ticket, userid),
    )
    enqueue_ticket_card(session, ticket=ticket, userid=userid, card=card, dedupe_key=dedupe_key, now=now)


def alert_joined(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    *,
    resident: Resident,
    text: str,
    event_id: int,
    now: datetime,
) -> None:
    """Tell whoever holds the ticket (else the duty worker) that one more resident reported it, and what they added."""
    community = session.get(Community, ticket.community_id)
    holder = ticket.assignee or routing_for(community).duty
    if not holder:
        return
    count = len(store.followers(session, ticket_id=ticket.id))
    card = wecom_card(
        f"工单 {ticket.code} 又有居民反映",
        [
            ("highlight", f"第 {count} 位居民反映同一问题"),
            ("gray", f"工单 {ticket.code} · {describe(ticket)} · {ticket.place or '地点未说明'}"),
            ("normal", f"补充的话：{summary(text, 200)}"),
            ("normal", f"联系电话：{masked_phone(session, settings, resident)}"),
        ],
        url=console_url(settings, f"/console/tickets/{ticket.code}"),
        button="打开工单",
    )
    repo.enqueue_outbox(
        session,
        channel="wecom_app",
        recipient=holder,
        payload=card | {"ticket": ticket.code, "level": ticket.colour},
        community_id=ticket.community_id,
        now=now,
        dedupe_key=f"ticket:{ticket.code}:joined:{event_id}:{holder}",
    )


def notify_residents(
    session: Session, settings: Settings, ticket: Ticket, *, text: str, event_id: int, now: datetime
) -> list[tuple[Resident, Push]]:
    """Tell every follower (see push_to_resident for how); what became of each message."""
    community = session.get(Community, ticket.community_id)
    template_id = routing_for(community).template_id or settings.ticket_template_id
    template_data = {
        "first": {"value": "您反映的问题有新进展"},
        "keyword1": {"value": ticket.code},
        "keyword2": {"value": STATUS_NAMES.get(ticket.status, ticket.status)},
        "keyword3": {"value": summary(ticket.latest_note or "", 20) or "—"},
        "remark": {"value": f"发送“查询 {ticket.code}”查看详情"},
    }
    pushes: list[tuple[Resident, Push]] = []
    for resident in store.followers(session, ticket_id=ticket.id):
        push = push_to_resident(
            session,
            resident,
            text=text,
            template_id=template_id,
            template_data=template_data,
            community_id=ticket.community_id,
            now=now,
            dedupe_key=f"ticket:{ticket.code}:event:{event_id}:resident:{resident.id}",
            about=f"ticket {ticket.code}",
            ticket=ticket.code,
            event_id=event_id,
        )
        pushes.append((resident, push))
    return pushes
