"""Merging a duplicate ticket into the one that handles the same problem, and splitting it back out.

Two neighbours report the same broken lamp and get two tickets: a worker merges one into the other. The
duplicate is closed as merged (it leaves the open lists and no longer counts as late), its residents follow
the main ticket, so its progress, its resolution and its rating question reach them too, and they are told
once. Split undoes it when they were different things after all: the ticket is open again with a fresh
deadline and its residents stop following the other one. Both moves are on both tickets' timelines.

Every function runs inside the caller's transaction, on tickets the caller has locked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from handlers.communities import spec_of
from handlers.tickets.notices import STATUS_NAMES
from handlers.tickets.sla import restart_clock
from handlers.tickets.workdays import OFFICE_CLOSES, format_local
from storage import tickets as store
from storage.models import Community
from storage.tickets import OPEN_STATUSES, Ticket, TicketEvent

# (ok, message, status code): the caller wraps it as its own result.
Moved = tuple[bool, str, int]
Tell = Callable[[str, int], object]  # tell the ticket's residents: text, event id


def merge(
    session: Session, *, ticket: Ticket, into_code: str, actor: str, now: datetime, tell: Tell
) -> tuple[Moved, Ticket | None]:
    """Merge `ticket` into the open ticket `into_code` of the same community."""
    into_code = into_code.strip().upper()
    if not into_code:
        return (False, f"请写上要合并到的工单号，如：合并 {ticket.code} 工单号", 400), None
    if into_code == ticket.code:
        return (False, f"工单 {ticket.code} 不能合并到它自己。", 400), None
    main = store.ticket_by_code(session, code=into_code, for_update=True)
    if main is None or main.community_id != ticket.community_id:
        return (False, f"没有找到本社区的工单 {into_code}，请核对工单号。", 404), None
    if main.status == "merged":
        return (False, f"工单 {main.code} 已经合并到别的工单了，请合并到最终处理的那一张。", 409), main
    if not main.is_open:
        name = STATUS_NAMES.get(main.status, main.status)
        return (
            False,
            f"工单 {main.code} 已经{name}，不能再合并进去。请重新打开它，或单独处理 {ticket.code}。",
            409,
        ), main
    joined = [
        resident.id
        for resident in store.followers(session, ticket_id=ticket.id)
        if store.add_follower(session, ticket_id=main.id, resident_id=resident.id, now=now)
    ]
    was = ticket.status
    ticket.status = "merged"
    ticket.closed_at = now
    followers = ",".join(str(i) for i in joined)
    store.add_event(
        session,
        ticket=main,
        actor=actor,
        action="merged_from",
        note=f"工单 {ticket.code} 并入",
        now=now,
        data={"from": ticket.code, "followers": followers},
    )
    event = store.add_event(
        session,
        ticket=ticket,
        actor=actor,
        action="merged",
        note=f"合并到工单 {main.code}",
        now=now,
        data={"into": main.code, "followers": followers, "was": was},
    )
    tell(
        f"您反映的问题（工单 {ticket.code}）和其他居民反映的是同一件事，已合并到工单 {main.code} 一起处理，"
        f"进展会告诉您。发“查询 {main.code}”可看进度。",
        event.id,
    )
    return (True, f"已将工单 {ticket.code} 合并到 {main.code}，原来的居民会收到 {main.code} 的进展。", 200), main


def merged_into(ticket: Ticket, events: Sequence[TicketEvent]) -> TicketEvent | None:
    """The event that merged this ticket, while it is merged, from its timeline."""
    if ticket.status != "merged":
        return None
    return next((e for e in reversed(events) if e.action == "merged"), None)


def split(session: Session, *, ticket: Ticket, actor: str, now: datetime, tell: Tell) -> tuple[Moved, Ticket | None]:
    """Take a merged ticket out again: open, with a fresh deadline from now, its residents its own again."""
    merged = merged_into(ticket, store.events_for(session, ticket_id=ticket.id))
    if merged is None:
        return (False, f"工单 {ticket.code} 没有合并到别的工单，不需要拆分。", 409), None
    main = store.ticket_by_code(session, code=str(merged.data.get("into", "")), for_update=True)
    if main is not None:
        for raw in str(merged.data.get("followers") or "").split(","):
            if raw.isdigit() and int(raw) != main.reporter_id:
                store.remove_follower(session, ticket_id=main.id, resident_id=int(raw))
        store.add_event(
            session,
            ticket=main,
            actor=actor,
            action="split_off",
            note=f"工单 {ticket.code} 拆分出去",
            now=now,
            data={"from": ticket.code},
        )
    community = session.get(Community, ticket.community_id)
    was = str(merged.data.get("was") or "open")
    ticket.status = was if was in OPEN_STATUSES else "open"
    ticket.closed_at = None
    restart_clock(ticket, now, closes=spec_of(community).office_hours.closing_time if community else OFFICE_CLOSES)
    other = main.code if main is not None else str(merged.data.get("into", ""))
    event = store.add_event(
        session,
        ticket=ticket,
        actor=actor,
        action="split",
        note=f"和工单 {other} 不是同一件事，单独处理",
        now=now,
        data={"from": other},
    )
    tell(
        f"您反映的问题（工单 {ticket.code}）和 {other} 不是同一件事，已单独处理，"
        f"工作人员会在 {format_local(ticket.due_at)} 前处理回复。",
        event.id,
    )
    return (True, f"已将工单 {ticket.code} 拆分出来单独处理，新的处理时限 {format_local(ticket.due_at)}。", 200), main
