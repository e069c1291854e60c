"""工单详情: what the resident said, the timeline, the SLA, who they are, the actions, and a reply to them.

The phone number is masked on the page; whoever holds the ticket and the community's leaders reveal it
with a click, and each click (allowed or not) is written to the audit log first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.auth import ChangeDep, ViewerDep, audit, services_of
from bot.console.people import Viewer
from bot.console.render import countdown, page
from bot.console.tickets import act_on
from bot.services import Services
from bot.settings import Settings
from handlers.privacy import DecryptionError, decrypt_phone, mask_phone
from handlers.tickets.duplicates import merged_into
from handlers.tickets.unreachable import call_them
from storage import tickets as store
from storage.models import InboundMessage, Resident
from storage.tickets import Ticket, TicketEvent
from storage.volunteers import Volunteer

router = APIRouter(prefix="/console")

ACTION_NAMES = {
    "created": "登记",
    "accepted": "接单",
    "progress": "进展",
    "transferred": "转派",
    "resolved": "办结",
    "rated": "评价",
    "reopened": "重新打开",
    "escalated": "升级",
    "reminded": "提醒",
    "photo": "照片",
    "joined": "同一问题",
    "replied": "回复居民",
    "unreachable": "居民收不到",
    "merged": "合并到",
    "merged_from": "并入重复工单",
    "split": "拆分",
    "split_off": "拆分出去",
}
ACTIONS = ("accept", "progress", "transfer", "resolve", "reopen", "merge", "split")
# The resident's own messages shown with a ticket: from a little before it was filed.
MESSAGES_BEFORE = timedelta(minutes=30)


def full_phone(session: Session, settings: Settings, resident: Resident) -> str | None:
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


def _actor(viewer: Viewer, actor: str) -> str:
    kind, _, who = actor.partition(":")
    if kind == "resident":
        return "居民"
    if kind == "system" or not who:
        return "系统"
    return viewer.name_of(who)


@dataclass(frozen=True)
class Said:
    at: datetime
    text: str
    photo: str | None = None


def _what_was_said(session: Session, ticket: Ticket, events: list[TicketEvent]) -> list[Said]:
    said = [Said(ticket.created_at, ticket.description)]
    messages = session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.resident_id == ticket.reporter_id,
            InboundMessage.received_at >= ticket.created_at - MESSAGES_BEFORE,
            InboundMessage.msg_type.in_(("text", "voice")),
        )
        .order_by(InboundMessage.received_at)
        .limit(20)
    )
    for message in messages:
        if message.content and message.content.strip() != ticket.description.strip():
            said.append(Said(message.received_at, message.content))
    for event in events:
        if event.action == "photo":
            url = str(event.data.get("pic_url") or "")
            said.append(Said(event.created_at, "照片", url if url.startswith(("http://", "https://")) else None))
    return sorted(said, key=lambda s: s.at)


def _address(resident: Resident | None, ticket: Ticket) -> str:
    parts = []
    if resident is not None:
        parts = [
            f"{resident.building}号楼" if resident.building else "",
            f"{resident.unit}单元" if resident.unit else "",
            f"{resident.room}室" if resident.room else "",
        ]
    return "".join(parts) or "住址未登记"


def _visible_ticket(session: Session, viewer: Viewer, code: str) -> Ticket:
    ticket = store.ticket_by_code(session, code=code[:10])
    if ticket is None or not viewer.sees(ticket):
        # Another grid's ticket is answered as if it did not exist: its code says nothing either.
        raise HTTPException(404, f"没有找到工单 {code[:10].upper()}")
    return ticket


def _community_of(services: Services, viewer: Viewer, code: str) -> int | None:
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code[:10])
        return ticket.community_id if ticket is not None and viewer.sees(ticket) else None


@router.get("/tickets/{code}")
def ticket_detail(
    request: Request, code: str, viewer: ViewerDep, notice: str = "", warn: str = "", call: bool = False
) -> Response:
    """`call`: a message just failed to reach the reporter; the page says how to reach them instead (the
    whole number for those allowed, as the WeCom text does), so no number travels in the address."""
    services = services_of(request)
    community_id = _community_of(services, viewer, code)
    if community_id is None:
        raise HTTPException(404, f"没有找到工单 {code[:10].upper()}")
    audit(services, request, viewer, action="reveal" if call else "read", community_id=community_id)
    now = services.clock()
    with services.sessions.begin() as session:
        ticket = _visible_ticket(session, viewer, code)
        events = store.events_for(session, ticket_id=ticket.id)
        reporter = session.get(Resident, ticket.reporter_id)
        phone = full_phone(session, services.settings, reporter) if reporter else None
        info = viewer.community(ticket.community_id)
        context: dict[str, Any] = {
            "viewer": viewer,
            "ticket": ticket,
            "community": info,
            "assignee": viewer.name_of(ticket.assignee),
            "countdown": countdown(ticket.due_at, now),
            "late": ticket.is_open and ticket.due_at < now,
            "said": _what_was_said(session, ticket, events),
            "timeline": [(e, _actor(viewer, e.actor), ACTION_NAMES.get(e.action, e.action)) for e in events],
            "resident_name": (reporter.display_name if reporter else None) or "居民（未留姓名）",
            "address": _address(reporter, ticket),
            "masked_phone": mask_phone(phone) if phone else "未登记",
            "has_phone": phone is not None,
            "may_reveal": viewer.sees_phone(ticket),
            "staff": sorted(info.staff.items(), key=lambda p: p[1]) if info else [],
            "notice": notice[:300],
            "warn": warn[:300],
            "candidates": [t for t in store.same_problem_candidates(session, ticket=ticket) if viewer.sees(t)]
            if ticket.is_open
            else [],
            "merged_into": merged.data.get("into") if (merged := merged_into(ticket, events)) else None,
            "call": call_them(session, services.settings, ticket, reporter, viewer.userid).removeprefix("居民收不到，")
            if call and reporter is not None
            else "",
        }
    return page(request, "ticket.html", context)


@router.post("/tickets/{code}/phone")
def reveal_phone(request: Request, code: str, viewer: ChangeDep) -> Response:
    """The reporter's full number, for those allowed; the click is on record either way."""
    services = services_of(request)
    community_id = _community_of(services, viewer, code)
    if community_id is None:
        raise HTTPException(404, f"没有找到工单 {code[:10].upper()}")
    audit(services, request, viewer, action="reveal", community_id=community_id)
    with services.sessions.begin() as session:
        ticket = _visible_ticket(session, viewer, code)
        if not viewer.sees_phone(ticket):
            return HTMLResponse(
                '<span class="phone refused">只有负责此工单的工作人员和社区负责人可以查看完整号码</span>', 403
            )
        reporter = session.get(Resident, ticket.reporter_id)
        phone = full_phone(session, services.settings, reporter) if reporter else None
    if phone is None:
        return HTMLResponse('<span class="phone">未登记</span>')
    return HTMLResponse(f'<a class="phone full" href="tel:{quote(phone)}">{phone}</a>')


@router.post("/tickets/{code}/act")
def ticket_action(
    request: Request,
    code: str,
    viewer: ChangeDep,
    action: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
    target: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    services = services_of(request)
    if action not in ACTIONS:
        return _back(code, warn="请选择要做的操作。")
    outcome = act_on(services, viewer, code[:10].upper(), action, note=note.strip(), target=target.strip())
    if not outcome.ok and outcome.text.startswith(f"没有找到工单 {code[:10].upper()}"):  # not the merge target
        raise HTTPException(404, outcome.text)
    return _back(code, notice=outcome.text) if outcome.ok else _back(code, warn=outcome.text)


@router.post("/tickets/{code}/reply")
def reply_to_resident(
    request: Request, code: str, viewer: ChangeDep, text: Annotated[str, Form(max_length=600)] = ""
) -> Response:
    services = services_of(request)
    outcome = act_on(services, viewer, code[:10].upper(), "reply", note=text.strip())
    if not outcome.ok and outcome.text.startswith("没有找到"):
        raise HTTPException(404, outcome.text)
    if outcome.ok and outcome.delivered is False:
        return _back(code, warn="居民暂时收不到消息（已记在工单上）。", call=True)
    return _back(code, notice=outcome.text) if outcome.ok else _back(code, warn=outcome.text)


def _back(code: str, *, notice: str = "", warn: str = "", call: bool = False) -> Response:
    query = f"notice={quote(notice)}" if notice else f"warn={quote(warn)}"
    if call:
        query += "&call=1"
    return RedirectResponse(f"/console/tickets/{quote(code[:10].upper())}?{query}", status_code=303)
