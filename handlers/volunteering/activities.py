"""Activities: creating them (with a check-in code and venue QR), listing, joining, and the reminders.

Creation is a plain function over a Session so the CLI, the API and the message handlers share one
implementation. Check-in and check-out live in handlers.volunteering.checkin, the QR image in
handlers.volunteering.qr.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from handlers.base import UNHANDLED, Context, Outcome
from handlers.communities import spec_of
from handlers.flows import ACTIVITY_PICK, ActivityPick
from handlers.messages import Inbound, TextReply
from handlers.notify import push_to_resident
from handlers.volunteering.qr import write_qr
from handlers.volunteering.rules import KIND_NAMES, PointsRules, format_time
from intents import Classification
from intents.numbers import to_int
from storage import activities as arepo
from storage import repositories as repo
from storage.models import Community, DialogueState

_JOIN = re.compile(r"^\s*(我要)?(报名|参加|预约)\s*(参加)?\s*[:：]?\s*(第)?\s*(?P<what>.*?)\s*(个|号)?\s*$")


def new_checkin_code() -> str:
    return f"{secrets.randbelow(10000):04d}"


def rules_for(session: Session, community_id: int | None) -> PointsRules:
    """The community's points rules; the defaults for an activity of no community."""
    community = session.get(Community, community_id) if community_id else None
    return spec_of(community).points_rules if community else PointsRules()


# --- creating activities --------------------------------------------------------------------------


def create_activity_with_qr(
    session: Session,
    *,
    data_dir: Path,
    title: str,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    community_id: int | None = None,
    place: str = "",
    capacity: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    radius_m: int | None = None,
    time_bank: bool = False,
    created_by: str = "",
) -> arepo.Activity:
    """Create an activity and its venue QR carrying the check-in text (qr.use_scene_qr draws a better one)."""
    if kind not in KIND_NAMES:
        raise ValueError(f"kind must be one of {', '.join(KIND_NAMES)}")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("start and end need a time zone (e.g. 2026-11-28T09:00+08:00)")
    if ends_at <= starts_at:
        raise ValueError("the end must be after the start")
    if capacity is not None and capacity < 1:
        raise ValueError("capacity must be at least 1")
    if (latitude is None) != (longitude is None):
        raise ValueError("give both latitude and longitude, or neither")
    if latitude is not None and radius_m is None:
        radius_m = rules_for(session, community_id).default_radius_m
    activity = arepo.create_activity(
        session,
        community_id=community_id,
        title=title.strip(),
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        now=now,
        new_code=new_checkin_code,
        place=place.strip(),
        capacity=capacity,
        latitude=latitude,
        longitude=longitude,
        radius_m=radius_m,
        time_bank=time_bank,
        created_by=created_by,
    )
    activity.qr_path = str(write_qr(activity, data_dir))
    session.flush()
    return activity


def activity_json(activity: arepo.Activity) -> dict[str, Any]:
    return {
        "id": activity.id,
        "title": activity.title,
        "kind": activity.kind,
        "place": activity.place,
        "start": activity.starts_at.isoformat(),
        "end": activity.ends_at.isoformat(),
        "capacity": activity.capacity,
        "joined": activity.joined,
        "checkin_code": activity.checkin_code,
        "status": activity.status,
        "community_id": activity.community_id,
        "requires_location": activity.requires_location,
        "time_bank": activity.time_bank,
        "qr_path": activity.qr_path,
    }


# --- message handlers ----------------------------------------------------------------------------


def _listing(ctx: Context, activities: list[arepo.Activity]) -> str:
    lines = ["最近的活动："]
    for i, a in enumerate(activities, start=1):
        place = f"，{a.place}" if a.place else ""
        seats = ""
        if a.capacity is not None:
            left = max(a.capacity - a.joined, 0)
            seats = f"，还剩 {left} 个名额" if left else "，名额已满"
        lines.append(f"{i}. {a.title}（{KIND_NAMES.get(a.kind, a.kind)}）{format_time(a.starts_at)}{place}{seats}")
    lines.append("想参加就回复“报名 序号”，比如“报名 1”。")
    return "\n".join(lines)


def _join(ctx: Context, activity: arepo.Activity) -> TextReply:
    result = arepo.join_activity(ctx.session, activity_id=activity.id, resident_id=ctx.resident.id, now=ctx.now)
    if result == "already":
        return TextReply(f"您已经报名了“{activity.title}”，{format_time(activity.starts_at)} 见！")
    if result == "full":
        return TextReply(f"抱歉，“{activity.title}”的名额已经满了。发“最近有什么活动”看看别的活动。")
    if result == "closed":
        return TextReply(f"“{activity.title}”已经结束或取消了。")
    place = f"，地点：{activity.place}" if activity.place else ""
    return TextReply(
        f"报名成功！“{activity.title}”，{format_time(activity.starts_at)}{place}。开始前会提醒您；"
        "到了现场发“签到”加签到码。"
    )


def _pick(ctx: Context, what: str, listed_ids: list[int]) -> arepo.Activity | None:
    upcoming = arepo.upcoming_activities(ctx.session, community_id=ctx.community_id, now=ctx.now, limit=20)
    number = to_int(what)
    if number is not None:
        ids = listed_ids or [a.id for a in upcoming[:5]]
        if 1 <= number <= len(ids):
            return next((a for a in upcoming if a.id == ids[number - 1]), None)
        return None
    matches = [a for a in upcoming if what and (what in a.title or a.title in what)]
    return matches[0] if len(matches) == 1 else None


class ActivityHandler:
    """ "最近有什么活动", "报名 1", "报名 垃圾分类讲座"; remembers the list it showed for a follow-up number."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        joined = self._try_join(ctx, msg.text, [])
        if joined is not None:
            return joined
        upcoming = arepo.upcoming_activities(ctx.session, community_id=ctx.community_id, now=ctx.now)
        if not upcoming:
            return TextReply("最近还没有安排活动，有新活动会在这里公布。")
        ctx.start_flow(ACTIVITY_PICK, "pick", ActivityPick(ids=[a.id for a in upcoming]))
        return TextReply(_listing(ctx, upcoming))

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        if msg.kind not in ("text", "voice"):
            return UNHANDLED
        listed = ACTIVITY_PICK.read(state.data)
        ids = listed.ids if listed else []
        text = msg.text.strip()
        # A bare number right after the list means "that one".
        if to_int(text.rstrip("号个. 。")) is not None:
            text = "报名 " + text.rstrip("号个. 。")
        joined = self._try_join(ctx, text, ids)
        if joined is None:
            return UNHANDLED
        ctx.end_dialogue()
        return joined

    def _try_join(self, ctx: Context, text: str, ids: list[int]) -> TextReply | None:
        match = _JOIN.match(text)
        if match is None:
            return None
        what = match.group("what").strip()
        if not what or what in ("活动", "一下"):
            return None
        activity = _pick(ctx, what, ids)
        if activity is None:
            return TextReply(f"没找到“{what}”这个活动。发“最近有什么活动”看看列表，再回复“报名 序号”。")
        return _join(ctx, activity)


# --- reminders ---------------------------------------------------------------------------------------


def send_due_reminders(session: Session, *, now: datetime, lead: timedelta | None = None, template_id: str = "") -> int:
    """Queue a reminder for each sign-up whose activity starts within its community's reminder lead
    (points_rules.reminder_lead_minutes; `lead` overrides it); once per sign-up.

    Inside the resident's 48 h window it is a customer-service message; residents usually sign up days
    ahead, when the window has closed, so then it is a template message (the community file's
    activity_template_id, else `template_id`). With neither, the reminder is skipped and logged: a message
    WeChat would refuse helps nobody.
    """
    leads: list[tuple[int | None, timedelta]] = [
        (c.id, lead or timedelta(minutes=spec_of(c).points_rules.reminder_lead_minutes))
        for c in repo.list_communities(session)
    ]
    leads.append((None, lead or timedelta(minutes=PointsRules().reminder_lead_minutes)))
    due = [
        row
        for community_id, community_lead in leads
        for row in arepo.due_reminders(session, now=now, lead=community_lead, community_id=community_id)
    ]
    queued = 0
    for signup, activity, resident in due:
        community = session.get(Community, activity.community_id) if activity.community_id else None
        place = f"，地点：{activity.place}" if activity.place else ""
        push = push_to_resident(
            session,
            resident,
            text=(
                f"提醒：您报名的“{activity.title}”将于 {format_time(activity.starts_at)} 开始{place}。"
                f"到了现场发“签到 {activity.checkin_code}”签到。"
            ),
            template_id=(spec_of(community).activity_template_id if community else None) or template_id,
            template_data={
                "first": {"value": "您报名的活动快开始了"},
                "keyword1": {"value": activity.title},
                "keyword2": {"value": format_time(activity.starts_at)},
                "keyword3": {"value": activity.place or "见活动通知"},
                "remark": {"value": f"到了现场发“签到 {activity.checkin_code}”签到"},
            },
            community_id=activity.community_id,
            now=now,
            dedupe_key=f"activity-reminder:{signup.id}",
            about=f"activity {activity.id} reminder",
        )
        queued += push.queued
    return queued
