"""Workers' actions on a ticket (accept, progress, transfer, resolve) and the resident's rating.

Every function runs inside the caller's transaction; messages leave through the outbox only if it commits.
Shared by the WeCom callback, the JSON API and the resident handlers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from handlers.flows import TICKET_RATING, TicketRating
from handlers.notify import push_to_resident, worker_name
from handlers.runtime import Settings
from handlers.tickets import duplicates
from handlers.tickets.cards import refresh_cards
from handlers.tickets.desk import list_held, resolve_worker, take_next
from handlers.tickets.notices import STATUS_NAMES, alert_worker, describe, notify_residents
from handlers.tickets.routing import Routing, routing_for
from handlers.tickets.rules import CATEGORY_NAMES, COLOUR_NAMES, summary
from handlers.tickets.sla import restart_clock
from handlers.tickets.unreachable import record_unreachable
from handlers.tickets.workdays import format_local
from storage import repositories as repo
from storage import tickets as store
from storage.models import Community, Resident
from storage.tickets import Ticket

# Residents rarely answer at once; a rating two days later still counts.
RATING_WINDOW = timedelta(hours=48)


ACTIONS = {
    "接单": "accept",
    "进展": "progress",
    "转派": "transfer",
    "办结": "resolve",
    "合并": "merge",
    "拆分": "split",
}
VERBS = {action: verb for verb, action in ACTIONS.items()}
# Actions after which the ticket's cards in WeCom show something else (who holds it, or that it is done).
CARD_CHANGING = frozenset({"accept", "transfer", "resolve", "reopen", "merge", "split"})
WORKER_HELP = (
    "可用指令：\n我的工单（列出您手上的工单）\n接单（领取最早一张待接单的工单）或 接单 工单号\n"
    "进展 工单号 说明（如：进展 AB3D5F 已联系电工）\n"
    "转派 工单号 姓名（如：转派 AB3D5F 刘师傅）\n办结 工单号 说明（如：办结 AB3D5F 已更换灯泡）\n"
    "合并 工单号 主工单号（同一问题的重复工单）；拆分 工单号（撤销合并）\n"
    "登录（获取电脑上打开工作台的链接）"
)
_COMMAND = re.compile(
    r"^\s*(?P<verb>接单|进展|转派|办结|合并|拆分)\s*[:：]?\s*(?P<code>[A-Za-z0-9]{4,10})(?:\s+(?P<rest>.*))?\s*$", re.S
)
# A bare "接单" (take the oldest waiting ticket) and "我的工单" (list what I hold), with a stray full stop.
_TAKE_NEXT = re.compile(r"^\s*接单\s*[。.!！]?\s*$")
_LIST = re.compile(r"^\s*(我的工单|我的|列表|工单列表|工单)\s*[。.!！?？]?\s*$")


@dataclass(frozen=True)
class WorkerCommand:
    action: str  # accept | progress | transfer | resolve
    code: str
    note: str = ""
    target: str = ""


def parse_worker_command(text: str) -> WorkerCommand | None:
    if _LIST.match(text):
        return WorkerCommand("list", "")
    if _TAKE_NEXT.match(text):
        return WorkerCommand("accept", "")
    match = _COMMAND.match(text)
    if match is None:
        return None
    action = ACTIONS[match.group("verb")]
    rest = (match.group("rest") or "").strip()
    if action in ("transfer", "merge"):
        target, _, note = rest.partition(" ")
        return WorkerCommand(action, match.group("code").upper(), note.strip(), target.strip())
    return WorkerCommand(action, match.group("code").upper(), rest)


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str
    status_code: int = 200
    ticket: Ticket | None = None
    # For a message to the resident: whether it could be queued at all (False: they must be phoned).
    delivered: bool | None = None


# Where a worker's action leaves the ticket (None: the status stays); the rating's moves are in rate().
TRANSITIONS: dict[str, str | None] = {
    "accept": "accepted",
    "progress": None,
    "transfer": "open",
    "resolve": "resolved",
    "reply": None,
    "reopen": "reopened",
    "merge": None,  # handlers/tickets/duplicates.py moves both tickets
    "split": None,
}


@dataclass(frozen=True)
class _Step:
    """One worker action under way: the locked ticket, who acts, and what they asked for."""

    session: Session
    settings: Settings
    ticket: Ticket
    routing: Routing
    worker: str
    command: WorkerCommand
    now: datetime
    source_key: str | None
    via: str
    # What the worker must be told because a resident could not be reached ("居民收不到，请电话联系 …").
    unreached: list[str] = field(default_factory=list)

    @property
    def actor(self) -> str:
        return f"{self.via}:{self.worker}"

    def record(self, action: str, *, note: str | None = None, data: dict[str, str | None] | None = None) -> int:
        """Apply the command's status transition and keep the change as a ticket event; the event's id."""
        status = TRANSITIONS[self.command.action]
        if status is not None:
            self.ticket.status = status
        event = store.add_event(
            self.session,
            ticket=self.ticket,
            actor=self.actor,
            action=action,
            note=note,
            data=data,
            now=self.now,
            source_key=self.source_key,
        )
        return event.id

    def tell_residents(self, text: str, event_id: int) -> bool:
        """Tell the ticket's residents; whether the reporter was reached. Whoever was not is kept on the
        ticket and named to the worker with the number to call."""
        reporter_reached = True
        pushes = notify_residents(self.session, self.settings, self.ticket, text=text, event_id=event_id, now=self.now)
        for resident, push in pushes:
            if push.queued or push.reason == "already queued":
                continue
            if resident.id == self.ticket.reporter_id:
                reporter_reached = False
            self.cannot_reach(resident, text, push.reason, key=f"{self.ticket.code}:{event_id}:{resident.id}")
        return reporter_reached

    def cannot_reach(self, resident: Resident, text: str, reason: str, *, key: str) -> None:
        line = record_unreachable(
            self.session,
            self.settings,
            self.ticket,
            resident,
            what=text,
            reason=reason,
            worker=self.worker,
            via=self.via,
            now=self.now,
            key=key,
        )
        if line not in self.unreached:
            self.unreached.append(line)

    def done(self, message: str) -> ActionResult:
        if self.unreached:
            message = f"{message}\n" + "\n".join(self.unreached)
        return ActionResult(True, message, 200, self.ticket, delivered=not self.unreached)

    def refuse(self, message: str, status_code: int) -> ActionResult:
        return ActionResult(False, message, status_code, self.ticket)


def _accept(step: _Step) -> ActionResult:
    ticket = step.ticket
    if ticket.status == "accepted" and ticket.assignee == step.worker:
        return step.done(f"工单 {ticket.code} 您已经接过了。")
    if ticket.status == "accepted" and ticket.assignee:
        # Taking it silently would leave two people on it and tell the resident "已接单" twice.
        holder = worker_name(step.session.get(Community, ticket.community_id), ticket.assignee)
        return step.refuse(
            f"工单 {ticket.code} 已由 {holder} 接单处理，未做修改。如需接手，请让 {holder} 转派给您。", 409
        )
    ticket.assignee = step.worker
    event_id = step.record("accepted")
    step.tell_residents(f"您反映的问题（工单 {ticket.code}）已有工作人员接单处理。", event_id)
    return step.done(
        f"已接单：{ticket.code}（{describe(ticket)}，{ticket.place}）。处理时限 {format_local(ticket.due_at)}。"
    )


def _progress(step: _Step) -> ActionResult:
    note = step.command.note
    if not note:
        return step.refuse("请写上进展说明，如：进展 工单号 已联系电工", 400)
    step.ticket.latest_note = note
    event_id = step.record("progress", note=note)
    step.tell_residents(f"工单 {step.ticket.code} 有新进展：{note}", event_id)
    return step.done(f"已记录进展：{step.ticket.code}。")


def _transfer(step: _Step) -> ActionResult:
    ticket, said, note = step.ticket, step.command.target, step.command.note
    community = step.session.get(Community, ticket.community_id)
    target, why = resolve_worker(community, step.routing.workers(), said)
    if target is None:
        return step.refuse(why, 400)
    name = worker_name(community, target)
    if target == ticket.assignee:
        return step.refuse(f"工单 {ticket.code} 已经由 {name} 负责。", 409)
    previous = ticket.assignee
    ticket.assignee = target
    ticket.reminded = False
    event_id = step.record("transferred", note=note or None, data={"from": previous, "to": target})
    alert_worker(
        step.session,
        step.settings,
        ticket,
        userid=target,
        title=f"【{COLOUR_NAMES[ticket.colour]}】转派工单 {ticket.code}",
        lead=f"{worker_name(community, step.worker)} 将此工单转给您" + (f"：{note}" if note else ""),
        dedupe_key=f"ticket:{ticket.code}:transfer:{event_id}",
        now=step.now,
    )
    return step.done(f"已转派给 {name}：{ticket.code}。")


def _resolve(step: _Step) -> ActionResult:
    ticket, note = step.ticket, step.command.note
    ticket.resolved_at = step.now
    ticket.latest_note = note or ticket.latest_note
    event_id = step.record("resolved", note=note or None)
    reached = step.tell_residents(
        f"您反映的问题（工单 {ticket.code}）已处理完毕"
        + (f"：{note}" if note else "。")
        + "\n请回复 1-5 给这次处理打分（5 分最满意，1-2 分我们会重新处理并回访）。",
        event_id,
    )
    _await_rating(step.session, ticket=ticket, now=step.now)
    if not reached:
        # Never "已请居民评价" when the resident was not asked: the line after it says whom to call.
        return step.done(f"已办结：{ticket.code}。居民没有收到办结通知，请电话告知结果并请其评价。")
    return step.done(f"已办结：{ticket.code}。已请居民评价。")


def _reply(step: _Step) -> ActionResult:
    """A worker's own words to the reporter (from the console): a customer-service message inside the 48 h
    window, a template message outside it, or, when neither can reach them, a clear "phone them"."""
    ticket, text = step.ticket, step.command.note
    if not text:
        return step.refuse("请写上要回复居民的话。", 400)
    reporter = step.session.get(Resident, ticket.reporter_id)
    event_id = step.record("replied", note=text)
    push = (
        push_to_resident(
            step.session,
            reporter,
            text=f"关于您反映的问题（工单 {ticket.code}），工作人员回复：{text}",
            template_id=routing_for(step.session.get(Community, ticket.community_id)).template_id
            or step.settings.ticket_template_id,
            template_data={
                "first": {"value": "工作人员回复了您反映的问题"},
                "keyword1": {"value": ticket.code},
                "keyword2": {"value": STATUS_NAMES.get(ticket.status, ticket.status)},
                "keyword3": {"value": summary(text, 20)},
                "remark": {"value": f"发送“查询 {ticket.code}”查看详情"},
            },
            community_id=ticket.community_id,
            now=step.now,
            dedupe_key=f"ticket:{ticket.code}:event:{event_id}:reply",
            about=f"ticket {ticket.code}",
            ticket=ticket.code,
            event_id=event_id,
        )
        if reporter is not None
        else None
    )
    delivered = push is not None and push.queued
    event = step.session.get(store.TicketEvent, event_id)
    if event is not None:
        event.data = {"delivered": delivered, "channel": push.channel if push else None}
    if not delivered:
        if reporter is not None and not (push is not None and push.reason == "already queued"):
            step.cannot_reach(reporter, text, push.reason if push else "", key=f"{ticket.code}:{event_id}:reply")
        call = step.unreached[0].removeprefix("居民收不到，") if step.unreached else "请电话联系。"
        return ActionResult(True, f"居民暂时收不到消息，{call}", 200, ticket, delivered=False)
    how = "客服消息" if push is not None and push.channel == "wechat_custom" else "模板消息"
    return ActionResult(True, f"已通过{how}发给居民。", 200, ticket, delivered=True)


def _merge(step: _Step) -> ActionResult:
    (ok, message, status), _ = duplicates.merge(
        step.session,
        ticket=step.ticket,
        into_code=step.command.target,
        actor=step.actor,
        now=step.now,
        tell=step.tell_residents,
    )
    return step.done(message) if ok else step.refuse(message, status)


def _split(step: _Step) -> ActionResult:
    (ok, message, status), _ = duplicates.split(
        step.session,
        ticket=step.ticket,
        actor=step.actor,
        now=step.now,
        tell=step.tell_residents,
    )
    return step.done(message) if ok else step.refuse(message, status)


def _reopen(step: _Step) -> ActionResult:
    ticket = step.ticket
    if ticket.status == "merged":
        return step.refuse(f"工单 {ticket.code} 已合并到同一问题的工单；要单独处理，请拆分它。", 409)
    if ticket.is_open:
        return step.refuse(f"工单 {ticket.code} 还在处理中，不需要重新打开。", 409)
    ticket.resolved_at = None
    ticket.closed_at = None
    restart_clock(ticket, step.now)
    step.record("reopened", note=step.command.note or None)
    return step.done(f"已重新打开：{ticket.code}，新的处理时限 {format_local(ticket.due_at)}。")


_ACTIONS: dict[str, Callable[[_Step], ActionResult]] = {
    "accept": _accept,
    "progress": _progress,
    "transfer": _transfer,
    "resolve": _resolve,
    "reply": _reply,
    "reopen": _reopen,
    "merge": _merge,
    "split": _split,
}


def act(
    session: Session,
    settings: Settings,
    *,
    worker: str,
    command: WorkerCommand,
    now: datetime,
    via: str = "worker",
    source_key: str | None = None,
) -> ActionResult:
    """A worker's action on a ticket. Refusals change nothing; every change is a ticket event."""
    if source_key and store.event_by_source(session, source_key=source_key) is not None:
        return ActionResult(True, "这条指令已经处理过了。")
    if command.action == "list":
        return ActionResult(True, list_held(session, worker))
    run = _ACTIONS.get(command.action)
    if run is None:
        raise ValueError(f"unknown action {command.action}")
    if command.action == "accept" and not command.code:
        waiting = take_next(session, worker)
        if waiting is None:
            return ActionResult(True, "暂时没有您可以接的待接单工单。发送“我的工单”查看您手上的工单。")
        command = replace(command, code=waiting.code)
    ticket = store.ticket_by_code(session, code=command.code, for_update=True)
    if ticket is None:
        return ActionResult(False, f"没有找到工单 {command.code}，请核对工单号。", 404)
    community = session.get(Community, ticket.community_id)
    routing = routing_for(community)
    if worker not in routing.workers():
        return ActionResult(False, f"工单 {ticket.code} 不属于您所在的社区，您无权处理，未做任何修改。", 403, ticket)
    if not ticket.is_open and command.action not in ("reopen", "split"):
        verb = VERBS.get(command.action, {"reply": "回复"}.get(command.action, command.action))
        return ActionResult(False, f"工单 {ticket.code} 已经{STATUS_NAMES[ticket.status]}，不能再{verb}。", 409, ticket)
    result = run(_Step(session, settings, ticket, routing, worker, command, now, source_key, via))
    if command.action in CARD_CHANGING:
        refresh_cards(session, settings, ticket, now=now)
    return result


def _await_rating(session: Session, *, ticket: Ticket, now: datetime) -> None:
    """The reporter's next bare number is a rating, unless they are already in another conversation."""
    if repo.get_dialogue(session, resident_id=ticket.reporter_id, now=now) is not None:
        return
    repo.set_dialogue(
        session,
        resident_id=ticket.reporter_id,
        flow=TICKET_RATING.name,
        step="rate",
        data=TicketRating(code=ticket.code).model_dump(mode="json"),
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
    restart_clock(ticket, now)
    event = store.add_event(
        session, ticket=ticket, actor=actor, action="reopened", note=f"居民评价 {score} 分，需回访", now=now
    )
    community = session.get(Community, ticket.community_id)
    userid = ticket.assignee or routing_for(community).duty
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
