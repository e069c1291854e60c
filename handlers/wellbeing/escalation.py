"""The daily 报平安 run: each enrolled person's prompt at their time, then, while nobody answers, the steps:
a second prompt, the paired neighbour or volunteer asked to knock, the family, and a red visit task for the
grid worker. Device signals start the same chain (an SOS goes straight to the visit task).

The scheduler calls `run_due` on every tick; it works out from the clock alone what is due, so a run after a
restart catches up whatever was missed. Rows are inserted and steps claimed by conditional statements, and
every message carries a dedupe key, so two schedulers never send the same step twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from handlers.communities import CommunitySpec, spec_of
from handlers.notify import console_url, push_to_resident, wecom_card
from handlers.runtime import Settings
from handlers.tickets.notices import alert_worker
from handlers.tickets.routing import routing_for
from handlers.tickets.workdays import deadline_for, format_local, reminder_for
from handlers.wellbeing.files import contact_phone, grid_worker
from handlers.wellbeing.rules import LAST_STEP, STEP_NAMES, at_minute, day_start, greeting_for, local_day, minute_of
from storage import household_files as files
from storage import repositories as repo
from storage import safecheck as sc
from storage import tickets as store
from storage.households import Household
from storage.models import Community, Resident
from storage.safecheck import CheckDay, Enrolment

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class RunReport:
    prompted: int = 0
    steps: int = 0
    answered: int = 0


def step_key(day: CheckDay, step: int) -> str:
    """The outbox dedupe key of a step: a chain a device restarted later that day has keys of its own."""
    return f"safecheck:{day.id}:{int(day.started_at.timestamp())}:{step}"


def _call(enrolment: Enrolment) -> str:
    return enrolment.name or "您"


def _template(spec: CommunitySpec, first: str, what: str) -> dict[str, Any]:
    return {"first": {"value": first}, "keyword1": {"value": what}, "remark": {"value": "回复“好”报平安"}}


def _log(session: Session, enrolment: Enrolment, action: str, at: datetime, note: str = "") -> None:
    if enrolment.household_id is not None:
        files.add_log(session, household_id=enrolment.household_id, actor="system", action=action, at=at, note=note)


def _prompt(
    session: Session, spec: CommunitySpec, enrolment: Enrolment, day: CheckDay, step: int, now: datetime
) -> bool:
    if enrolment.resident_id is None:
        return False
    resident = session.get(Resident, enrolment.resident_id)
    if resident is None:
        return False
    name = _call(enrolment)
    if step == 0 and day.cause != "prompt":
        text = f"{name}，今天还好吗？回个“好”报平安"
    elif step == 0:
        text = f"{name}{greeting_for(enrolment.prompt_minute)}，回个“好”报平安"
    else:
        text = f"{name}，今天还没收到您的平安，回个“好”就行。有事请打社区电话或 120。"
    push = push_to_resident(
        session,
        resident,
        text=text,
        template_id=spec.checkin_template_id,
        template_data=_template(spec, text, "每日报平安"),
        community_id=enrolment.community_id,
        now=now,
        dedupe_key=step_key(day, step),
        about=f"safecheck day {day.id}",
    )
    return push.queued


def run_due(session: Session, settings: Settings, *, community: Community, now: datetime) -> RunReport:
    """Everything due for one community at `now`: today's prompts, then the steps of every open check."""
    spec = spec_of(community)
    report = RunReport()
    today = local_day(now)
    after = 0
    while True:
        batch = sc.enrolments_needing_a_day(
            session, community_id=community.id, day=today, before_minute=minute_of(now), after_id=after, limit=BATCH
        )
        if not batch:
            break
        after = batch[-1].id
        for enrolment in batch:
            report.prompted += _start_today(session, spec, enrolment, today, now)
    after = 0
    while page := sc.open_days(session, since=today - timedelta(days=2), after_id=after, community_id=community.id):
        after = page[-1][0].id
        for day, enrolment in page:
            if _answered(enrolment, day):
                if sc.resolve_day(session, day_id=day.id, status="answered", by="resident", at=now):
                    _log(session, enrolment, "safecheck_answered", now)
                    report.answered += 1
                continue
            report.steps += _walk(session, settings, spec, community, enrolment, day, now)
    return report


def _start_today(session: Session, spec: CommunitySpec, enrolment: Enrolment, today: Any, now: datetime) -> int:
    if enrolment.status == "paused":
        if enrolment.paused_until is not None and enrolment.paused_until >= today:
            sc.start_day(session, enrolment_id=enrolment.id, day=today, at=now, status="paused", cause="pause")
            return 0
        enrolment.status, enrolment.paused_until = "active", None
    due_at = at_minute(today, enrolment.prompt_minute)
    contacted = enrolment.last_contact_at is not None and enrolment.last_contact_at >= day_start(today)
    if contacted:
        sc.start_day(session, enrolment_id=enrolment.id, day=today, at=due_at, status="answered", cause="contact")
        return 0
    day = sc.start_day(session, enrolment_id=enrolment.id, day=today, at=due_at, status="open", cause="prompt")
    if day is None:
        return 0  # another scheduler made today's row: it sends the prompt
    sent = _prompt(session, spec, enrolment, day, 0, now)
    _log(
        session,
        enrolment,
        "safecheck_prompt",
        now,
        "已发送提醒" if sent else "无法发送提醒（无微信或窗口已关且无模板）",
    )
    return 1


def _answered(enrolment: Enrolment, day: CheckDay) -> bool:
    since = day_start(day.day) if day.cause == "prompt" else day.started_at
    return enrolment.last_contact_at is not None and enrolment.last_contact_at >= since


def _walk(
    session: Session,
    settings: Settings,
    spec: CommunitySpec,
    community: Community,
    enrolment: Enrolment,
    day: CheckDay,
    now: datetime,
) -> int:
    """Take every step that is due, in order; a step another scheduler took ends this walk."""
    offsets = spec.safecheck.offsets()
    taken = 0
    while day.step < LAST_STEP and now >= day.started_at + offsets[day.step]:
        step = day.step + 1
        if not sc.claim_step(session, day_id=day.id, step=step):
            break
        set_committed_value(day, "step", step)
        _take_step(session, settings, spec, community, enrolment, day, step, now)
        taken += 1
    return taken


def _household(session: Session, enrolment: Enrolment) -> Household | None:
    return session.get(Household, enrolment.household_id) if enrolment.household_id else None


def _take_step(
    session: Session,
    settings: Settings,
    spec: CommunitySpec,
    community: Community,
    enrolment: Enrolment,
    day: CheckDay,
    step: int,
    now: datetime,
) -> None:
    household = _household(session, enrolment)
    note = ""
    if step == 1:
        note = "已再次提醒" if _prompt(session, spec, enrolment, day, 1, now) else "无法提醒本人"
    elif step in (2, 3):
        roles = ("neighbour", "volunteer", "building_head") if step == 2 else ("family",)
        asked = _ask_contacts(session, settings, spec, community, enrolment, household, day, step, roles, now)
        note = f"已通知：{'、'.join(asked)}" if asked else "没有可通知的联系人"
    else:
        ticket = visit_task(session, settings, community, enrolment, household, now=now, why="今天没有报平安，联系不上")
        day.ticket_code = ticket.code
        note = f"工单 {ticket.code}"
    _log(session, enrolment, f"safecheck_step{step}", now, f"{STEP_NAMES[step]}：{note}")


def _ask_contacts(
    session: Session,
    settings: Settings,
    spec: CommunitySpec,
    community: Community,
    enrolment: Enrolment,
    household: Household | None,
    day: CheckDay,
    step: int,
    roles: tuple[str, ...],
    now: datetime,
) -> list[str]:
    if household is None:
        return []
    address = f"{community.name}{household.label}"
    who = _call(enrolment) if enrolment.name else "这户居民"
    text = f"{who}（{address}）今天还没有报平安，麻烦您去敲门看看或打个电话。见到人后回复“已上门，平安”。"
    asked = []
    for contact in files.contacts_of(session, household_id=household.id):
        if contact.role not in roles:
            continue
        key = f"{step_key(day, step)}:contact:{contact.id}"
        if contact.wecom_userid:
            card = wecom_card(
                f"【报平安】请上门看看 {who}",
                [("highlight", text), ("gray", address)],
                url=console_url(settings, f"/console/households/{household.id}"),
                button="户档",
            )
            repo.enqueue_outbox(
                session,
                channel="wecom_app",
                recipient=contact.wecom_userid,
                payload=card | {"level": "yellow"},
                community_id=community.id,
                now=now,
                dedupe_key=key,
            )
            asked.append(contact.name)
        elif contact.resident_id is not None:
            resident = session.get(Resident, contact.resident_id)
            if resident is None:
                continue
            push = push_to_resident(
                session,
                resident,
                text=text,
                template_id=spec.checkin_template_id,
                template_data=_template(spec, text, "邻里守望"),
                community_id=community.id,
                now=now,
                dedupe_key=key,
                about=f"safecheck day {day.id}",
            )
            if push.queued:
                asked.append(contact.name)
    return asked


def visit_task(
    session: Session,
    settings: Settings,
    community: Community,
    enrolment: Enrolment | None,
    household: Household | None,
    *,
    now: datetime,
    why: str,
    colour: str = "red",
) -> store.Ticket:
    """A visit task for the grid worker: a ticket with the household's file and every contact (phones masked;
    the household page shows them in full to the grid worker and leaders)."""
    routing = routing_for(community)
    assignee = grid_worker(community, household) if household else routing.duty
    label = household.label if household else "住址未登记"
    lines = [f"{why}：{enrolment.name if enrolment and enrolment.name else '居民'}，{community.name}{label}。"]
    if household is not None:
        for member in files.members_of(session, household_id=household.id):
            lines.append(
                f"成员：{member.name}{f'（{member.birth_year}年生）' if member.birth_year else ''} {member.needs}"
            )
        for contact in files.contacts_of(session, household_id=household.id):
            role = files.CONTACT_ROLES.get(contact.role, contact.role)
            lines.append(f"{role}：{contact.name} {contact_phone(settings.secret_key, contact, reveal=False)}")
        lines.append("完整电话见户档。请尽快上门，见到人后回复“已上门，平安”。")
    reporter = _reporter(session, community, enrolment, household)
    due = deadline_for(colour, now)
    ticket = store.create_ticket(
        session,
        community_id=community.id,
        reporter_id=reporter.id,
        category="safety",
        colour=colour,
        description="\n".join(lines),
        place=label,
        building=household.building if household else None,
        unit=household.unit if household else None,
        assignee=assignee,
        due_at=due,
        remind_at=reminder_for(now, due),
        now=now,
        actor="system:safecheck",
    )
    for user in dict.fromkeys([assignee, routing.duty]):
        if not user:
            continue
        alert_worker(
            session,
            settings,
            ticket,
            userid=user,
            title=f"【红色】上门看看：{label}" if colour == "red" else f"【上门】{label}",
            lead=f"{why}，请在 {format_local(due)} 前上门",
            dedupe_key=f"ticket:{ticket.code}:new:{user}",
            now=now,
        )
    return ticket


def _reporter(
    session: Session, community: Community, enrolment: Enrolment | None, household: Household | None
) -> Resident:
    """Whom the ticket is about: the enrolled resident, else a stand-in for the household (no WeChat)."""
    if enrolment is not None and enrolment.resident_id is not None:
        found = session.get(Resident, enrolment.resident_id)
        if found is not None:
            return found
    stand_in = repo.get_or_create_resident(session, openid=f"household:{household.id if household else 0}")
    stand_in.active = False
    stand_in.community_id = community.id
    if household is not None:
        stand_in.building, stand_in.unit, stand_in.room = household.building, household.unit or None, household.room
    return stand_in


# --- device signals ---------------------------------------------------------------------------------------

SIGNAL_NAMES = {"no_water": "长时间未用水", "door_closed": "长时间未开门", "sos": "按下了紧急呼叫"}


def device_signal(
    session: Session, settings: Settings, *, household: Household, kind: str, detail: str, now: datetime
) -> dict[str, Any]:
    """A silence starts (or restarts) today's chain for each enrolled person; an SOS raises a red visit task
    and alerts the duty worker at once."""
    community = session.get(Community, household.community_id)
    if community is None:
        raise ValueError("the household's community is gone")
    name = SIGNAL_NAMES[kind]
    files.add_log(
        session, household_id=household.id, actor="device", action=f"signal_{kind}", at=now, note=detail[:200]
    )
    enrolments = sc.enrolments_of_household(session, household_id=household.id)
    if kind == "sos":
        ticket = visit_task(
            session,
            settings,
            community,
            enrolments[0] if enrolments else None,
            household,
            now=now,
            why=f"设备报警：{name}",
        )
        for enrolment in enrolments:
            row = sc.start_day(
                session, enrolment_id=enrolment.id, day=local_day(now), at=now, status="sos", cause="sos"
            )
            if row is not None:
                row.ticket_code = ticket.code
        return {"action": "visit_task", "ticket": ticket.code}
    started = 0
    for enrolment in enrolments:
        today = local_day(now)
        row = sc.start_day(session, enrolment_id=enrolment.id, day=today, at=now, status="open", cause=kind)
        if row is None:
            # Today's check exists: a silence after it was answered starts the chain again from now.
            reopened = session.execute(
                update(CheckDay)
                .where(
                    CheckDay.enrolment_id == enrolment.id,
                    CheckDay.day == today,
                    CheckDay.status.in_(("answered", "safe")),
                    CheckDay.resolved_at < now,
                )
                .values(status="open", step=0, started_at=now, cause=kind, resolved_at=None, resolved_by=None)
                .execution_options(synchronize_session=False)
            )
            if not reopened.rowcount:  # type: ignore[attr-defined]
                continue
            row = sc.day_of(session, enrolment_id=enrolment.id, day=today)
            if row is None:
                continue
            session.refresh(row)
        _prompt(session, spec_of(community), enrolment, row, 0, now)
        started += 1
    if not enrolments:
        ticket = visit_task(
            session, settings, community, None, household, now=now, why=f"设备提示：{name}", colour="yellow"
        )
        return {"action": "visit_task", "ticket": ticket.code}
    return {"action": "escalation", "started": started}
