"""Intake: a resident's report becomes a ticket (or joins the open one about the same thing), with photos.

Every function runs inside the caller's transaction; messages leave through the outbox only if it commits.
Shared by the resident handlers, the API and the tests.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from handlers.communities import spec_of
from handlers.runtime import Settings
from handlers.tickets.notices import alert_joined, alert_worker, describe
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
    separate: bool = False,
) -> Intake:
    """Turn a report into a ticket (or join the open one about the same thing), alert, attach photos.

    `separate`: the resident said it is not the problem it was joined to; it is filed on its own.
    """
    category = categorise(text)
    routing = routing_for(community)
    actor = f"resident:{resident.id}"
    open_one = (
        None
        if separate
        else same_problem(session, community_id=community.id, category=category, text=text, place=place)
    )
    if open_one is not None:
        store.add_follower(session, ticket_id=open_one.id, resident_id=resident.id, now=now)
        event = store.add_event(
            session, ticket=open_one, actor=actor, action="joined", note=text, now=now, source_key=source_key
        )
        attach_photos(session, ticket=open_one, actor=actor, photos=photos or [], now=now)
        alert_joined(session, settings, open_one, resident=resident, text=text, event_id=event.id, now=now)
        return Intake(open_one, joined=True)
    colour = urgency(text, category, routing.urgency)
    due = deadline_for(colour, now, closes=spec_of(community).office_hours.closing_time)
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


# What a report is about, finer than its category: two lighting reports at 3号楼 are one problem only when
# both name the same kind of thing (a street light is not a corridor light) at the same spot.
_OBJECTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("楼道灯", r"楼道灯|楼道.{0,4}灯|声控灯|走廊.{0,4}灯|楼梯.{0,4}灯|[0-9一二三四五六七八九十]+(楼|层).{0,3}灯"),
        ("路灯", r"路灯|灯杆"),
        ("电梯", r"电梯"),
        ("井盖", r"井盖"),
        ("地砖", r"地砖|砖"),
        ("垃圾", r"垃圾"),
        ("电瓶车", r"电瓶车|电动车|充电"),
        ("消防通道", r"消防通道"),
        ("门禁", r"门禁|单元门|铁门"),
        ("健身器材", r"健身器材|秋千|滑梯"),
        ("水管", r"水管|管道|爆管"),
        ("下水道", r"下水道|马桶|反水"),
    )
)
_SPOTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("东", r"东(边|头|面|侧|门|口|北|南)"),
        ("西", r"西(边|头|面|侧|门|口|北|南)"),
        ("南", r"(?<![东西])南(边|头|面|侧|门|口)"),
        ("北", r"(?<![东西])北(边|头|面|侧|门|口)"),
        ("车棚", r"车棚"),
        ("地下室", r"地下室|地库|车库"),
        ("楼顶", r"楼顶|顶楼|天台"),
        ("门口", r"门口|大门"),
    )
)


def _names(table: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> set[str]:
    found: set[str] = set()
    for name, pattern in table:
        if pattern.search(text):
            found.add(name)
            if name == "楼道灯":  # "楼道灯" is not also a street light
                text = _OBJECTS[0][1].sub("", text)
    return found


def _apart(mine: set[str], theirs: set[str]) -> bool:
    """Both name something and nothing in common: two different things."""
    return bool(mine and theirs and not mine & theirs)


def is_same_problem(ticket: Ticket, *, text: str, category: str, place: Place) -> bool:
    """The same problem at the same place: what is broken and where, not building and category alone."""
    if place.unit and ticket.unit and place.unit != ticket.unit:
        return False
    known = f"{ticket.description} {ticket.place}"
    objects, spots = _names(_OBJECTS, text), _names(_SPOTS, text)
    their_objects, their_spots = _names(_OBJECTS, known), _names(_SPOTS, known)
    if _apart(objects, their_objects) or _apart(spots, their_spots):
        return False
    if category == ticket.category:
        return True
    # A follow-up in other words ("地下室的水越来越多了") has no category of its own: the same thing or spot.
    return category == "other" and bool(objects & their_objects or spots & their_spots)


def same_problem(session: Session, *, community_id: int, category: str, text: str, place: Place) -> Ticket | None:
    """The open ticket this report is about, if there is one."""
    if place.building:
        candidates = store.open_at_building(session, community_id=community_id, building=place.building)
    elif place.label:
        candidates = store.open_at_spot(session, community_id=community_id, place=place.label)
    else:
        return None
    for ticket in candidates:
        if is_same_problem(ticket, text=text, category=category, place=place):
            return ticket
    return None


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
