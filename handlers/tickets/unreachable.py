"""When a message cannot reach a resident, nobody is left believing it did.

The ticket's timeline gets an `unreachable` event (the console lists them under 居民收不到), and the worker
who acted is told, with the number to call: in the answer to their command, and over WeCom when they acted
from the console or the API, or when WeChat refused the message later (bot/outbox.py calls `push_failed`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from handlers.notify import resident_address
from handlers.privacy import seal_message
from handlers.runtime import Settings
from handlers.tickets.notices import masked_phone, phone_of
from handlers.tickets.routing import routing_for
from handlers.tickets.rules import summary
from storage import repositories as repo
from storage import tickets as store
from storage.masking import has_identifiers
from storage.models import Community, Resident
from storage.tickets import Ticket, TicketEvent

log = logging.getLogger(__name__)

UNREACHABLE = "unreachable"
# Who acted, by the actor's prefix: those told over WeCom (a WeCom text command is answered directly).
TOLD_OVER_WECOM = ("console", "api", "card")


def call_them(session: Session, settings: Settings, ticket: Ticket, resident: Resident, worker: str | None) -> str:
    """ "居民收不到，请电话联系 13812345678": the whole number for whoever holds the ticket and the leaders,
    masked for anyone else; the address when no number is on file."""
    routing = routing_for(session.get(Community, ticket.community_id))
    may_see = worker is not None and worker in {ticket.assignee, routing.leader, routing.street}
    phone = phone_of(session, settings, resident) if may_see else None
    if phone:
        return f"居民收不到，请电话联系 {phone}。"
    if may_see or worker is None:
        address = resident_address(resident)
        if address == "住址未登记" and ticket.place:
            address = f"报修地点 {ticket.place}"
        return f"居民收不到，也没有登记电话，请上门联系（{address}）。"
    return f"居民收不到，请电话联系 {masked_phone(session, settings, resident)}（完整号码请找负责人）。"


def worker_text(settings: Settings, text: str, *, ticket: str | None) -> dict[str, Any]:
    """A WeCom text to a worker that may carry a resident's whole number: the outbox masks numbers in what
    it stores, so the text also travels sealed (encrypted with the secret key) and the sender opens it."""
    payload: dict[str, Any] = {"msgtype": "text", "text": {"content": text}, "ticket": ticket}
    if settings.secret_key and has_identifiers(text):
        payload["sealed_text"] = seal_message(settings.secret_key, text)
    return payload


def record_unreachable(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    resident: Resident,
    *,
    what: str,
    reason: str,
    worker: str | None,
    via: str,
    now: datetime,
    key: str,
) -> str:
    """Keep on the ticket that `what` did not reach `resident`, tell the worker over WeCom unless they are
    answered directly (`via` "worker"); the line that tells them to call. `key` makes it once per message."""
    line = call_them(session, settings, ticket, resident, worker)
    source_key = f"unreachable:{key}"[:100]
    if store.event_by_source(session, source_key=source_key) is not None:
        return line
    store.add_event(
        session,
        ticket=ticket,
        actor="system",
        action=UNREACHABLE,
        note=summary(what, 200),
        data={"resident_id": resident.id, "reason": reason[:200], "worker": worker},
        now=now,
        source_key=source_key,
    )
    if worker and via in TOLD_OVER_WECOM:
        repo.enqueue_outbox(
            session,
            channel="wecom_app",
            recipient=worker,
            payload=worker_text(
                settings, f"工单 {ticket.code}：{line}\n没送到的话：{summary(what, 80)}", ticket=ticket.code
            ),
            community_id=ticket.community_id,
            now=now,
            dedupe_key=f"unreachable:{key}"[:200],
        )
    return line


def _acting_worker(event: TicketEvent | None, ticket: Ticket) -> tuple[str | None, str]:
    """(worker, via) of the event that caused a message; the holder when a resident or the system caused it."""
    if event is not None:
        via, _, who = event.actor.partition(":")
        if via in ("worker", *TOLD_OVER_WECOM) and who:
            return who, via
    return ticket.assignee, "system"


def push_failed(session: Session, settings: Settings, payload: dict[str, Any], *, reason: str, now: datetime) -> bool:
    """WeChat refused a message about a ticket for good (window closed by then, unfollowed, an error):
    show it on the ticket and tell the worker over WeCom. False when the message was about no ticket."""
    code, resident_id = payload.get("ticket"), payload.get("resident_id")
    if not isinstance(code, str) or not isinstance(resident_id, int):
        return False
    ticket = store.ticket_by_code(session, code=code)
    resident = session.get(Resident, resident_id)
    if ticket is None or resident is None:
        return False
    event_id = payload.get("event_id")
    event = session.get(TicketEvent, event_id) if isinstance(event_id, int) else None
    worker, via = _acting_worker(event, ticket)
    text = str((payload.get("text") or {}).get("content") or "") or "工单进展通知（模板消息）"
    record_unreachable(
        session,
        settings,
        ticket,
        resident,
        what=text,
        reason=reason,
        worker=worker,
        via="card" if via in ("worker", "system") else via,  # no command to answer: always over WeCom
        now=now,
        key=f"{code}:{event_id}:{resident_id}",
    )
    return True
