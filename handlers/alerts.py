"""Crisis alerts and consultation requests as cases a worker handles: acknowledge, assign to a colleague by
name, escalate to the community's leader, close with a note; and the reminders of an alert nobody has
acknowledged (sent again, then escalated), which stop as soon as someone acknowledges it.

The console, and any other entry point, calls `handle_case`; the scheduler calls `remind_unacknowledged`.
Everything runs in the caller's transaction; the cards leave through the outbox only if it commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from handlers.communities import spec_of
from handlers.notify import console_url, wecom_card, worker_name
from handlers.runtime import Settings
from storage import repositories as repo
from storage.alerts import CrisisAlert, unacknowledged_alerts
from storage.consultations import Consultation
from storage.models import Community

log = logging.getLogger(__name__)

ACTIONS = ("acknowledge", "assign", "escalate", "close")
# An alert nobody has acknowledged is sent again after this long, and escalated after as long again.
REMIND_AFTER = timedelta(minutes=10)
NOTE_LIMIT = 1000

Case = CrisisAlert | Consultation


@dataclass(frozen=True)
class CaseOutcome:
    ok: bool
    text: str


def case_path(kind: str, case_id: int) -> str:
    return f"/console/alerts/{kind}/{case_id}"


def case_title(case: Case) -> str:
    if isinstance(case, CrisisAlert):
        return f"警报 #{case.id} {case.label}"
    names = {"legal": "法律", "psych": "心理", "service": "办事"}
    return f"{names.get(case.domain, '')}咨询 #{case.id}"


def _kind(case: Case) -> str:
    return "alert" if isinstance(case, CrisisAlert) else "consultation"


def _leader(community: Community | None) -> str | None:
    if community is None:
        return None
    spec = spec_of(community)
    if spec.escalation is not None:
        return spec.escalation.leader.wecom_userid
    return spec.duty.wecom_userid if spec.duty else None


def _card(
    session: Session,
    settings: Settings,
    case: Case,
    *,
    recipient: str,
    headline: str,
    dedupe_key: str,
    now: datetime,
) -> None:
    community = session.get(Community, case.community_id) if case.community_id else None
    text = case.text if isinstance(case, CrisisAlert) else case.question
    card = wecom_card(
        f"【{headline}】{case_title(case)}",
        [
            ("highlight", headline),
            ("gray", community.name if community else "未分配社区"),
            ("normal", f"居民原话：{text[:200]}"),
            ("normal", "请打开工作台查看居民信息并登记处理情况。"),
        ],
        url=console_url(settings, case_path(_kind(case), case.id)),
    )
    level = case.level if isinstance(case, CrisisAlert) else "notice"
    repo.enqueue_outbox(
        session,
        channel="wecom_app",
        recipient=recipient,
        payload=card | {"level": level, "resident_id": case.resident_id},
        community_id=case.community_id,
        now=now,
        dedupe_key=dedupe_key,
    )


def _acknowledge(case: Case, worker: str, now: datetime) -> bool:
    if case.acknowledged_at is not None:
        return False
    case.acknowledged_by, case.acknowledged_at = worker, now
    return True


def handle_case(
    session: Session,
    settings: Settings,
    case: Case,
    *,
    action: str,
    worker: str,
    now: datetime,
    target: str = "",
    note: str = "",
) -> CaseOutcome:
    """One worker's action on an alert or consultation they may see (the caller checks that)."""
    community = session.get(Community, case.community_id) if case.community_id else None
    note = note.strip()[:NOTE_LIMIT]
    if case.status == "closed" and action != "close":
        return CaseOutcome(False, "这件事已经关闭了。")
    if action == "acknowledge":
        if not _acknowledge(case, worker, now):
            return CaseOutcome(True, f"{worker_name(community, case.acknowledged_by)}已经确认过了。")
        return CaseOutcome(True, "已确认收到，不会再催办。请尽快电话或上门联系居民。")
    if action == "assign":
        if not target:
            return CaseOutcome(False, "请选择交给哪位工作人员。")
        _acknowledge(case, worker, now)
        case.assigned_to, case.status = target, "assigned"
        stamp = int(now.timestamp())
        _card(
            session,
            settings,
            case,
            recipient=target,
            headline=f"{worker_name(community, worker)}请您跟进",
            dedupe_key=f"case:{_kind(case)}:{case.id}:assign:{target}:{stamp}",
            now=now,
        )
        return CaseOutcome(True, f"已交给{worker_name(community, target)}，已通过企业微信通知。")
    if action == "escalate":
        leader = _leader(community)
        if leader is None:
            return CaseOutcome(False, "社区名册里没有负责人，无法上报。请直接电话联系。")
        if case.escalated_at is not None:
            return CaseOutcome(True, f"已经上报给{worker_name(community, leader)}了。")
        _acknowledge(case, worker, now)
        case.escalated_at = now
        _escalate_card(session, settings, case, leader=leader, by=worker_name(community, worker), now=now)
        return CaseOutcome(True, f"已上报给{worker_name(community, leader)}。")
    if action == "close":
        if case.status == "closed":
            return CaseOutcome(True, "这件事已经关闭了。")
        if not note:
            return CaseOutcome(False, "关闭前请写一句处理情况（例如“已电话联系，家属已到场”）。")
        _acknowledge(case, worker, now)
        case.status, case.closed_by, case.closed_at, case.note = "closed", worker, now, note
        return CaseOutcome(True, "已关闭，处理情况已登记。")
    return CaseOutcome(False, "请选择要做的操作。")


def _escalate_card(session: Session, settings: Settings, case: Case, *, leader: str, by: str, now: datetime) -> None:
    _card(
        session,
        settings,
        case,
        recipient=leader,
        headline=f"上报：{by}" if by else "上报：无人确认",
        dedupe_key=f"case:{_kind(case)}:{case.id}:escalate",
        now=now,
    )


def remind_unacknowledged(session: Session, settings: Settings, *, now: datetime) -> int:
    """Send an unacknowledged alert again after REMIND_AFTER, and escalate it after as long again."""
    sent = 0
    for alert in unacknowledged_alerts(session, before=now - REMIND_AFTER):
        community = session.get(Community, alert.community_id) if alert.community_id else None
        if alert.reminders == 0 and alert.recipient:
            _card(
                session,
                settings,
                alert,
                recipient=alert.recipient,
                headline="再次提醒：尚无人确认",
                dedupe_key=f"case:alert:{alert.id}:remind",
                now=now,
            )
        elif alert.escalated_at is None and (leader := _leader(community)) is not None:
            alert.escalated_at = now
            _escalate_card(session, settings, alert, leader=leader, by="", now=now)
        else:
            continue
        alert.reminders += 1
        alert.reminded_at = now
        sent += 1
    if sent:
        log.info("unacknowledged alerts: %d reminders or escalations queued", sent)
    return sent
