"""Ticket cards for workers as WeCom template cards with buttons (接单, 办结), and their updates.

A click arrives at the WeCom callback (bot/wecom.py) and runs the same action as the text command. After any
action on a ticket, every card of it whose response_code is still good is changed to show where the ticket
stands: the holder's card keeps only 办结, the others say who took it. Each code is spent once, through the
outbox, in the transaction of the action.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from handlers.notify import console_url, worker_name
from handlers.runtime import Settings
from handlers.tickets.rules import summary
from handlers.tickets.workdays import format_local
from storage import repositories as repo
from storage import wecom_cards
from storage.models import Community
from storage.tickets import Ticket

# What a button's key says: the action and the ticket ("accept:AB3D5F").
BUTTONS = {"accept": "接单", "resolve": "办结"}
CARD_UPDATE = "wecom_card_update"


def task_id_for(ticket: Ticket, dedupe_key: str) -> str:
    """WeCom's task_id: unique per app, at most 128 of [0-9A-Za-z_@-]; one per card sent."""
    return f"{ticket.code}-{hashlib.sha1(dedupe_key.encode()).hexdigest()[:24]}"


def button_key(action: str, code: str) -> str:
    return f"{action}:{code}"


def parse_button_key(key: str) -> tuple[str, str] | None:
    """(action, ticket code) from a button's key, or None for a key that is not ours."""
    action, _, code = key.partition(":")
    if action not in BUTTONS or not code.isalnum() or len(code) > 10:
        return None
    return action, code.upper()


def ticket_card(
    ticket: Ticket,
    settings: Settings,
    *,
    task_id: str,
    title: str,
    lead: str,
    words: str,
    facts: list[tuple[str, str]],
    buttons: tuple[str, ...] = ("accept", "resolve"),
) -> dict[str, Any]:
    """A `button_interaction` template card, within WeCom's lengths; the card opens the ticket's page."""
    return {
        "card_type": "button_interaction",
        "source": {"desc": "社工小帮手"},
        "main_title": {"title": summary(title, 36), "desc": summary(lead, 44)},
        "sub_title_text": summary(words, 112),
        "horizontal_content_list": [{"keyname": k[:5], "value": summary(v, 30)} for k, v in facts[:6]],
        "card_action": {"type": 1, "url": console_url(settings, f"/console/tickets/{ticket.code}")},
        "task_id": task_id,
        "button_list": [
            {"text": BUTTONS[action], "style": 1 if action == "accept" else 2, "key": button_key(action, ticket.code)}
            for action in buttons
        ],
    }


def buttons_for(ticket: Ticket, userid: str) -> tuple[str, ...]:
    """接单 makes no sense on a card to the worker who already holds the accepted ticket."""
    if ticket.status == "accepted" and ticket.assignee == userid:
        return ("resolve",)
    return ("accept", "resolve")


def enqueue_ticket_card(
    session: Session,
    *,
    ticket: Ticket,
    userid: str,
    card: dict[str, Any],
    dedupe_key: str,
    now: datetime,
) -> None:
    """Queue the card and remember it, so its response_code can change it later."""
    row = repo.enqueue_outbox(
        session,
        channel="wecom_app",
        recipient=userid,
        payload={"msgtype": "template_card", "template_card": card, "ticket": ticket.code, "level": ticket.colour},
        community_id=ticket.community_id,
        now=now,
        dedupe_key=dedupe_key,
    )
    if row is not None:
        wecom_cards.add_card(session, task_id=card["task_id"], ticket_code=ticket.code, userid=userid, now=now)


def where_it_stands(ticket: Ticket, holder: str) -> str:
    """The grey text that replaces a card's buttons (WeCom allows a few characters)."""
    return {
        "accepted": f"{holder}已接单",
        "resolved": "已办结",
        "closed": "已完成",
        "reopened": "已重新打开",
        "open": f"已转派{holder}",
    }.get(ticket.status, "已处理")[:10]


def refresh_cards(session: Session, settings: Settings, ticket: Ticket, *, now: datetime) -> int:
    """Change every card of the ticket that can still be changed; how many updates were queued."""
    community = session.get(Community, ticket.community_id)
    holder = worker_name(community, ticket.assignee)
    queued = 0
    for card, code in wecom_cards.take_live_codes(session, ticket_code=ticket.code, now=now):
        update: dict[str, Any]
        if ticket.status == "accepted" and card.userid == ticket.assignee:
            update = {
                "template_card": ticket_card(
                    ticket,
                    settings,
                    task_id=card.task_id,
                    title=f"工单 {ticket.code} 处理中",
                    lead=f"您已接单，请在 {format_local(ticket.due_at)} 前办结",
                    words=f"居民原话：{ticket.description}",
                    facts=[("地点", ticket.place or "未说明")],
                    buttons=("resolve",),
                )
            }
        else:
            update = {"button": {"replace_name": where_it_stands(ticket, holder)}}
        expires = card.code_expires_at or now
        row = repo.enqueue_outbox(
            session,
            channel=CARD_UPDATE,
            recipient=card.userid,
            payload={"response_code": code, **update, "ticket": ticket.code, "expires_at": expires.isoformat()},
            community_id=ticket.community_id,
            now=now,
            dedupe_key=f"card-update:{hashlib.sha1(code.encode()).hexdigest()[:40]}",
        )
        queued += row is not None
    return queued
