"""Ticket workflow: routing a report to the right worker, alerts, worker actions and notices to residents.

Every function runs inside the caller's transaction; messages leave through the outbox only if it commits.
Shared by the resident handlers, the WeCom callback, the JSON API and the SLA job.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.crypto import DecryptionError, decrypt_phone
from bot.service_window import push_fits_window
from bot.settings import Settings
from bot.ticket_rules import CATEGORY_NAMES, COLOUR_NAMES, Place, categorise, rules_from_config, summary, urgency
from bot.workdays import deadline_for, format_local, reminder_for
from handlers.notify import mask_phone
from storage import repositories as repo
from storage import tickets as store
from storage.models import Community, Resident
from storage.tickets import Ticket, TicketEvent
from storage.volunteers import Volunteer

log = logging.getLogger(__name__)

STATUS_NAMES = {
    "open": "待接单",
    "accepted": "处理中",
    "reopened": "重新处理中",
    "resolved": "已办结，待您评价",
    "closed": "已完成",
}
RATING_FLOW = "ticket_rating"
# Residents rarely answer at once; a rating two days later still counts.
RATING_WINDOW = timedelta(hours=48)


# --- who is responsible -------------------------------------------------------------------------


@dataclass(frozen=True)
class Routing:
    """A community's people for tickets, read from its community file (stored as Community.config)."""

    duty: str | None
    grid_of_building: dict[str, str] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    leader: str | None = None
    street: str | None = None
    template_id: str | None = None
    urgency: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, community: Community) -> Routing:
        config: dict[str, Any] = community.config or {}

        def userid(worker: Any) -> str | None:
            value = worker.get("wecom_userid") if isinstance(worker, dict) else None
            return str(value) if value else None

        grid_of_building = {
            str(building): user
            for grid in config.get("grids") or []
            if (user := userid(grid.get("worker")))
            for building in grid.get("buildings") or []
        }
        teams = {str(cat): user for cat, worker in (config.get("teams") or {}).items() if (user := userid(worker))}
        escalation = config.get("escalation") or {}
        return cls(
            duty=userid(config.get("duty")),
            grid_of_building=grid_of_building,
            teams=teams,
            leader=userid(escalation.get("leader")),
            street=userid(escalation.get("street")),
            template_id=config.get("ticket_template_id"),
            urgency=config.get("urgency"),
        )

    def responsible(self, building: str | None) -> str | None:
        """The grid worker of the building; the duty worker when the building is unknown or in no grid."""
        return self.grid_of_building.get(building or "") or self.duty

    def chain(self, assignee: str | None) -> list[str]:
        """Escalation order: whoever holds the ticket, then the community leader, then the street office."""
        chain: list[str] = []
        for user in (assignee or self.duty, self.leader, self.street):
            if user and user not in chain:
                chain.append(user)
        return chain

    def workers(self) -> set[str]:
        everyone = {self.duty, self.leader, self.street, *self.grid_of_building.values(), *self.teams.values()}
        return {user for user in everyone if user}


# --- alerts and notices ------------------------------------------------------------------------------


def masked_phone(session: Session, settings: Settings, resident: Resident) -> str:
    """The reporter's phone as a worker may see it (138****5678), from their profile or volunteer record."""
    encrypted = resident.phone_encrypted
    if not encrypted:
        volunteer = session.scalar(select(Volunteer).where(Volunteer.resident_id == resident.id))
        encrypted = volunteer.phone_encrypted if volunteer else None
    if not encrypted or not settings.secret_key:
        return "未登记"
    try:
        return mask_phone(decrypt_phone(settings.secret_key, encrypted))
    except (DecryptionError, ValueError):
        return "未登记"


def describe(ticket: Ticket) -> str:
    return f"{COLOUR_NAMES.get(ticket.colour, ticket.colour)}·{CATEGORY_NAMES.get(ticket.category, ticket.category)}"


def _card(
    session: Session, settings: Settings, ticket: Ticket, *, title: str, lead: str, closing: str
) -> dict[str, Any]:
    reporter = session.get(Resident, ticket.reporter_id)
    phone = masked_phone(session, settings, reporter) if reporter else "未登记"
    description = (
        f'<div class="highlight">{lead}</div>'
        f'<div class="gray">工单 {ticket.code} · {describe(ticket)} · {ticket.place or "地点未说明"}</div>'
        f'<div class="normal">居民原话：{summary(ticket.description, 200)}</div>'
        f'<div class="normal">联系电话：{phone}　时限：{format_local(ticket.due_at)}</div>'
        f'<div class="normal">{closing}</div>'
    )
    return {
        "msgtype": "textcard",
        "textcard": {"title": title, "description": description, "url": "", "btntxt": "详情"},
        "ticket": ticket.code,
        "level": ticket.colour,
    }


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
    closing: str = "请回复“接单 工单号”接单，处理中回复“进展 工单号 说明”，完成后回复“办结 工单号 说明”。",
) -> None:
    repo.enqueue_outbox(
        session,
        channel="wecom_app",
        recipient=userid,
        payload=_card(session, settings, ticket, title=title, lead=lead, closing=closing),
        community_id=ticket.community_id,
        now=now,
        dedupe_key=dedupe_key,
    )


def notify_residents(
    session: Session, settings: Settings, ticket: Ticket, *, text: str, event_id: int, now: datetime
) -> int:
    """Tell every follower; inside the 48 h message window by customer-service message, else by template message.

    A click, follow or scan alone opens only a 1 minute window, too short to count on for a queued message.
    """
    community = session.get(Community, ticket.community_id)
    template_id = (Routing.of(community).template_id if community else None) or settings.ticket_template_id
    queued = 0
    for resident in store.followers(session, ticket_id=ticket.id):
        if not resident.active:
            continue
        key = f"ticket:{ticket.code}:event:{event_id}:resident:{resident.id}"
        if push_fits_window(session, resident, now):
            payload: dict[str, Any] = {"msgtype": "text", "text": {"content": text}, "resident_id": resident.id}
            channel = "wechat_custom"
        elif template_id:
            payload = {
                "template_id": template_id,
                "data": {
                    "first": {"value": "您反映的问题有新进展"},
                    "keyword1": {"value": ticket.code},
                    "keyword2": {"value": STATUS_NAMES.get(ticket.status, ticket.status)},
                    "keyword3": {"value": summary(ticket.latest_note or "", 20) or "—"},
                    "remark": {"value": f"发送“查询 {ticket.code}”查看详情"},
                },
                "resident_id": resident.id,
            }
            channel = "wechat_template"
        else:
            log.info("ticket %s: no template id configured; resident %s not told", ticket.code, resident.id)
            continue
        if repo.enqueue_outbox(
            session,
            channel=channel,
            recipient=resident.openid,
            payload=payload,
            community_id=ticket.community_id,
            now=now,
            dedupe_key=key,
        ):
            queued += 1
    return queued


# --- intake ------------------------------------------------------------------------------------------


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
    routing = Routing.of(community)
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
    colour = urgency(text, category, rules_from_config(routing.urgency))
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
    holder = ticket.assignee or (Routing.of(community).duty if community else None)
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


# --- worker actions ----------------------------------------------------------------------------------

ACTIONS = {"接单": "accept", "进展": "progress", "转派": "transfer", "办结": "resolve"}
WORKER_HELP = (
    "可用指令：\n接单 工单号\n进展 工单号 说明（如：进展 AB3D5F 已联系电工）\n"
    "转派 工单号 企业微信账号\n办结 工单号 说明（如：办结 AB3D5F 已更换灯泡）"
)
_COMMAND = re.compile(
    r"^\s*(?P<verb>接单|进展|转派|办结)\s*[:：]?\s*(?P<code>[A-Za-z0-9]{4,10})(?:\s+(?P<rest>.*))?\s*$", re.S
)


@dataclass(frozen=True)
class WorkerCommand:
    action: str  # accept | progress | transfer | resolve
    code: str
    note: str = ""
    target: str = ""


def parse_worker_command(text: str) -> WorkerCommand | None:
    match = _COMMAND.match(text)
    if match is None:
        return None
    action = ACTIONS[match.group("verb")]
    rest = (match.group("rest") or "").strip()
    if action == "transfer":
        target, _, note = rest.partition(" ")
        return WorkerCommand(action, match.group("code").upper(), note.strip(), target.strip())
    return WorkerCommand(action, match.group("code").upper(), rest)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    status_code: int = 200
    ticket: Ticket | None = None


def act(
    session: Session,
    settings: Settings,
    *,
    worker: str,
    command: WorkerCommand,
    now: datetime,
    via: str = "worker",
    source_key: str | None = None,
) -> Outcome:
    """A worker's action on a ticket. Refusals change nothing; every change is a ticket event."""
    if source_key and store.event_by_source(session, source_key=source_key) is not None:
        return Outcome(True, "这条指令已经处理过了。")
    ticket = store.ticket_by_code(session, code=command.code, for_update=True)
    if ticket is None:
        return Outcome(False, f"没有找到工单 {command.code}，请核对工单号。", 404)
    community = session.get(Community, ticket.community_id)
    routing = Routing.of(community) if community else Routing(duty=None)
    if worker not in routing.workers():
        return Outcome(False, f"工单 {ticket.code} 不属于您所在的社区，您无权处理，未做任何修改。", 403, ticket)
    actor = f"{via}:{worker}"
    if not ticket.is_open:
        return Outcome(
            False, f"工单 {ticket.code} 已经{STATUS_NAMES[ticket.status]}，不能再{_verb(command.action)}。", 409, ticket
        )
    if command.action == "accept":
        if ticket.status == "accepted" and ticket.assignee == worker:
            return Outcome(True, f"工单 {ticket.code} 您已经接过了。", 200, ticket)
        ticket.status = "accepted"
        ticket.assignee = worker
        event = store.add_event(session, ticket=ticket, actor=actor, action="accepted", now=now, source_key=source_key)
        notify_residents(
            session,
            settings,
            ticket,
            text=f"您反映的问题（工单 {ticket.code}）已有工作人员接单处理。",
            event_id=event.id,
            now=now,
        )
        return Outcome(
            True,
            f"已接单：{ticket.code}（{describe(ticket)}，{ticket.place}）。处理时限 {format_local(ticket.due_at)}。",
            200,
            ticket,
        )
    if command.action == "progress":
        if not command.note:
            return Outcome(False, "请写上进展说明，如：进展 工单号 已联系电工", 400, ticket)
        ticket.latest_note = command.note
        event = store.add_event(
            session, ticket=ticket, actor=actor, action="progress", note=command.note, now=now, source_key=source_key
        )
        notify_residents(
            session, settings, ticket, text=f"工单 {ticket.code} 有新进展：{command.note}", event_id=event.id, now=now
        )
        return Outcome(True, f"已记录进展：{ticket.code}。", 200, ticket)
    if command.action == "transfer":
        target = command.target
        if not target or target not in routing.workers():
            return Outcome(False, f"“{target or '（空）'}”不是本社区登记的工作人员，未转派。", 400, ticket)
        if target == ticket.assignee:
            return Outcome(False, f"工单 {ticket.code} 已经由 {target} 负责。", 409, ticket)
        previous = ticket.assignee
        ticket.assignee = target
        ticket.status = "open"
        ticket.reminded = False
        event = store.add_event(
            session,
            ticket=ticket,
            actor=actor,
            action="transferred",
            note=command.note or None,
            data={"from": previous, "to": target},
            now=now,
            source_key=source_key,
        )
        alert_worker(
            session,
            settings,
            ticket,
            userid=target,
            title=f"【{COLOUR_NAMES[ticket.colour]}】转派工单 {ticket.code}",
            lead=f"{worker} 将此工单转给您" + (f"：{command.note}" if command.note else ""),
            dedupe_key=f"ticket:{ticket.code}:transfer:{event.id}",
            now=now,
        )
        return Outcome(True, f"已转派给 {target}：{ticket.code}。", 200, ticket)
    if command.action == "resolve":
        ticket.status = "resolved"
        ticket.resolved_at = now
        ticket.latest_note = command.note or ticket.latest_note
        event = store.add_event(
            session,
            ticket=ticket,
            actor=actor,
            action="resolved",
            note=command.note or None,
            now=now,
            source_key=source_key,
        )
        notify_residents(
            session,
            settings,
            ticket,
            text=(
                f"您反映的问题（工单 {ticket.code}）已处理完毕"
                + (f"：{command.note}" if command.note else "。")
                + "\n请回复 1-5 给这次处理打分（5 分最满意，1-2 分我们会重新处理并回访）。"
            ),
            event_id=event.id,
            now=now,
        )
        _await_rating(session, ticket=ticket, now=now)
        return Outcome(True, f"已办结：{ticket.code}。已请居民评价。", 200, ticket)
    raise ValueError(f"unknown action {command.action}")


def _verb(action: str) -> str:
    return {v: k for k, v in ACTIONS.items()}.get(action, action)


def _await_rating(session: Session, *, ticket: Ticket, now: datetime) -> None:
    """The reporter's next bare number is a rating, unless they are already in another conversation."""
    if repo.get_dialogue(session, resident_id=ticket.reporter_id, now=now) is not None:
        return
    repo.set_dialogue(
        session,
        resident_id=ticket.reporter_id,
        flow=RATING_FLOW,
        step="rate",
        data={"code": ticket.code},
        now=now,
        ttl=RATING_WINDOW,
    )


def rate(session: Session, settings: Settings, *, ticket: Ticket, resident: Resident, score: int, now: datetime) -> str:
    """Record the reporter's 1-5 rating; 1-2 reopens the ticket and asks the worker to call back."""
    if not 1 <= score <= 5:
        raise ValueError("score must be 1-5")
    ticket.rating = score
    actor = f"resident:{resident.id}"
    store.add_event(session, ticket=ticket, actor=actor, action="rated", data={"score": score}, now=now)
    if score >= 3:
        ticket.status = "closed"
        ticket.closed_at = now
        return f"谢谢您的评价（{score} 分）！工单 {ticket.code} 已完成。"
    ticket.status = "reopened"
    ticket.reminded = False
    ticket.chain_exhausted = False
    ticket.escalation_level = 0
    ticket.due_at = deadline_for(ticket.colour, now)
    ticket.remind_at = reminder_for(now, ticket.due_at)
    event = store.add_event(
        session, ticket=ticket, actor=actor, action="reopened", note=f"居民评价 {score} 分，需回访", now=now
    )
    community = session.get(Community, ticket.community_id)
    userid = ticket.assignee or (Routing.of(community).duty if community else None)
    if userid:
        alert_worker(
            session,
            settings,
            ticket,
            userid=userid,
            title=f"【回访】工单 {ticket.code} 居民评价 {score} 分",
            lead="居民对处理结果不满意，工单已重新打开，请尽快电话回访",
            dedupe_key=f"ticket:{ticket.code}:callback:{event.id}",
            now=now,
            closing="回访后回复“进展 工单号 说明”，重新处理完成后回复“办结 工单号 说明”。",
        )
    return f"收到您的评价（{score} 分）。很抱歉没让您满意，工单 {ticket.code} 已重新打开，工作人员会给您回电话。"


def status_line(ticket: Ticket) -> str:
    line = f"工单 {ticket.code}（{CATEGORY_NAMES.get(ticket.category, ticket.category)}，{ticket.place or '地点未说明'}）：{STATUS_NAMES.get(ticket.status, ticket.status)}"
    if ticket.latest_note:
        line += f"\n最新进展：{ticket.latest_note}"
    if ticket.is_open:
        line += f"\n处理时限：{format_local(ticket.due_at)}"
    return line
