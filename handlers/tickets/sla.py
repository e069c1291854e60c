"""Ticket deadlines: remind the worker once at 75 % of the time, escalate one level at each missed deadline.

The time is always passed in (`now`); the scheduler's periodic job calls `check_deadlines`.
Alerts carry outbox dedupe keys per ticket and level, so two workers or a rerun never alert twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy.orm import Session

from handlers.notify import worker_name
from handlers.runtime import Settings
from handlers.tickets.notices import alert_worker
from handlers.tickets.routing import routing_for
from handlers.tickets.rules import COLOUR_NAMES
from handlers.tickets.workdays import OFFICE_CLOSES, deadline_for, format_local, reminder_for
from storage import tickets as store
from storage.models import Community
from storage.tickets import Ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlaReport:
    reminded: int = 0
    escalated: int = 0


def check_deadlines(session: Session, settings: Settings, *, now: datetime) -> SlaReport:
    reminded = escalated = 0
    for ticket in store.tickets_needing_attention(session, now=now):
        community = session.get(Community, ticket.community_id)
        routing = routing_for(community)
        # Level 0 is whoever holds the ticket now (the grid worker, or whoever it was transferred to).
        chain = routing.chain(ticket.assignee)
        colour = COLOUR_NAMES.get(ticket.colour, ticket.colour)
        if ticket.due_at <= now:
            level = ticket.escalation_level + 1
            if level >= len(chain):
                ticket.chain_exhausted = True
                store.add_event(
                    session, ticket=ticket, actor="system", action="overdue", data={"level": level}, now=now
                )
                continue
            target = chain[level]
            ticket.escalation_level = level
            ticket.reminded = False
            # The next person gets a full period of their own before the ticket climbs again.
            ticket.due_at = deadline_for(ticket.colour, now)
            ticket.remind_at = reminder_for(now, ticket.due_at)
            store.add_event(
                session, ticket=ticket, actor="system", action="escalated", data={"level": level, "to": target}, now=now
            )
            alert_worker(
                session,
                settings,
                ticket,
                userid=target,
                title=f"【升级·{colour}】工单 {ticket.code} 逾期未办结",
                lead=f"负责人 {worker_name(community, ticket.assignee)} 未在时限内办结，已升级到您（第 {level} 级）",
                dedupe_key=f"ticket:{ticket.code}:escalate:{level}",
                now=now,
                closing="请督办：可回复“转派 工单号 姓名”指定处理人（如：转派 工单号 刘师傅）。",
            )
            escalated += 1
        elif not ticket.reminded:
            ticket.reminded = True
            holder = chain[min(ticket.escalation_level, len(chain) - 1)] if chain else None
            store.add_event(session, ticket=ticket, actor="system", action="reminded", data={"to": holder}, now=now)
            if holder:
                alert_worker(
                    session,
                    settings,
                    ticket,
                    userid=holder,
                    title=f"【提醒·{colour}】工单 {ticket.code} 将于 {format_local(ticket.due_at)} 到期",
                    lead="时限快到了，请尽快处理；处理完回复“办结 工单号 说明”",
                    dedupe_key=f"ticket:{ticket.code}:remind:{ticket.escalation_level}:{ticket.due_at.isoformat()}",
                    now=now,
                )
            reminded += 1
    return SlaReport(reminded, escalated)


def restart_clock(ticket: Ticket, now: datetime, *, closes: time = OFFICE_CLOSES) -> None:
    """A ticket handled again (reopened, rated low, split out) starts its deadline and escalation afresh."""
    ticket.reminded = False
    ticket.chain_exhausted = False
    ticket.escalation_level = 0
    ticket.due_at = deadline_for(ticket.colour, now, closes=closes)
    ticket.remind_at = reminder_for(now, ticket.due_at)
