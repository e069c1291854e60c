"""Intake: a resident's report becomes a ticket (or joins the open one about the same thing), with photos.

Every function runs inside the caller's transaction; messages leave through the outbox only if it commits.
Shared by the resident handlers, the API and the tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from handlers.runtime import Settings
from handlers.tickets.notices import alert_worker, describe
from handlers.tickets.routing import routing_for
from handlers.tickets.rules import CATEGORY_NAMES, COLOUR_NAMES, Place, categorise, urgency
from handlers.tickets.workdays import deadline_for, format_local, reminder_for
from storage import repositories as repo
from storage import tickets as store
from storage.models import Community, Resident
from storage.tickets import Ticket, TicketEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    ticket: Ticket
    joined: bool  # True: the report joined an open ticket about the same thing


def report(
    session: Session,
    settings: Settings,
    *,
    community: Community,
    resident: Resident,
    text: str,
    place: Place,
    now: datetime,
    latitude: float | None = None,
    longitude: float | None = None,
    photos: list[dict[str, Any]] | None = None,
    source_key: str | None = None,
) -> Intake:
    """Turn a report into a ticket (or join the open one at the same building), alert, attach photos."""
    category = categorise(text)
    routing = routing_for(community)
    actor = f"resident:{resident.id}"
    if place.building:
        open_one = store.find_open_duplicate(
            session, community_id=community.id, category=category, building=place.building
        )
        if open_one is not None:
            store.add_follower(session, ticket_id=open_one.id, resident_id=resident.id, now=now)
            store.add_event(
                session, ticket=open_one, actor=actor, action="joined", note=text, now=now, source_key=source_key
            )
            attach_photos(session, ticket=open_one, actor=actor, photos=photos or [], now=now)
            return Intake(open_one, joined=True)
    colour = urgency(text, category, routing.urgency)
    due = deadline_for(colour, now)
    assignee = routing.responsible(place.building)
    ticket = store.create_ticket(
        session,
        community_id=community.id,
        reporter_id=resident.id,
        category=category,
        colour=colour,
        description=text,
        place=place.describe(),
        building=place.building,
        unit=place.unit,
        latitude=latitude,
        longitude=longitude,
        assignee=assignee,
        due_at=due,
        remind_at=reminder_for(now, due),
        now=now,
        actor=actor,
        source_key=source_key,
    )
    attach_photos(session, ticket=ticket, actor=actor, photos=photos or [], now=now)
    colour_name = COLOUR_NAMES[colour]
    recipients = [assignee, routing.teams.get(category)]
    if colour == "red":
        recipients.append(routing.duty)
    seen: set[str] = set()
    for user in recipients:
        if not user or user in seen:
            continue
        seen.add(user)
        alert_worker(
            session,
            settings,
            ticket,
            userid=user,
            title=f"【{colour_name}】新工单 {ticket.code}：{CATEGORY_NAMES[category]}",
            lead=f"{colour_name}工单，请在 {format_local(due)} 前处理",
            dedupe_key=f"ticket:{ticket.code}:new:{user}",
            now=now,
        )
    if not seen:
        log.warning("ticket %s has nobody to alert: the community file names no duty worker", ticket.code)
    return Intake(ticket, joined=False)


def attach_photos(session: Session, *, ticket: Ticket, actor: str, photos: list[dict[str, Any]], now: datetime) -> None:
    for photo in photos:
        add_photo(session, ticket=ticket, actor=actor, photo=photo, now=now)


def add_photo(
    session: Session,
    *,
    ticket: Ticket,
    actor: str,
    photo: dict[str, Any],
    now: datetime,
    source_key: str | None = None,
) -> TicketEvent:
    """Keep a resident's photo on the ticket and show it to whoever holds the ticket (else the duty worker).

    The worker gets a WeCom picture message linking WeChat's copy of the image, so a glance at the phone
    says how bad the leak or the blocked lane is.
    """
    event = store.add_event(
        session, ticket=ticket, actor=actor, action="photo", data=dict(photo), now=now, source_key=source_key
    )
    pic_url = str(photo.get("pic_url") or "")
    community = session.get(Community, ticket.community_id)
    holder = ticket.assignee or routing_for(community).duty
    if pic_url.startswith(("http://", "https://")) and holder:
        article = {
            "title": f"工单 {ticket.code} 居民补充的照片",
            "description": f"{describe(ticket)} · {ticket.place or '地点未说明'}",
            "url": pic_url,
            "picurl": pic_url,
        }
        repo.enqueue_outbox(
            session,
            channel="wecom_app",
            recipient=holder,
            payload={"msgtype": "news", "news": {"articles": [article]}, "ticket": ticket.code},
            community_id=ticket.community_id,
            now=now,
            dedupe_key=f"ticket:{ticket.code}:photo:{event.id}:{holder}",
        )
    return event
