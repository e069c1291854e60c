"""Activities: creating them (with a check-in code and QR image), listing, joining, check-in and check-out.

Creation and check-out are plain functions over a Session so the CLI, the API and the message
handlers share one implementation.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from handlers.base import UNHANDLED, Context, Outcome
from handlers.communities import spec_of
from handlers.flows import ACTIVITY_PICK, CHECKIN_LOCATION, ActivityPick, CheckinLocation
from handlers.messages import Inbound, TextReply
from handlers.notify import push_to_resident
from handlers.volunteering.rules import (
    KIND_NAMES,
    PointsRules,
    checkin_window,
    credited_minutes,
    distance_m,
    format_hours,
    format_time,
    points_for_stay,
    time_credit_for,
    within_checkin_window,
)
from intents import Classification
from intents.numbers import to_int
from storage import repositories as repo
from storage import volunteers as vrepo
from storage.models import Community, DialogueState

log = logging.getLogger(__name__)

# A location the resident sent this recently counts for a check-in that follows it.
RECENT_LOCATION = timedelta(minutes=10)

_JOIN = re.compile(r"^\s*(我要)?(报名|参加|预约)\s*(参加)?\s*[:：]?\s*(第)?\s*(?P<what>.*?)\s*(个|号)?\s*$")


def new_checkin_code() -> str:
    return f"{secrets.randbelow(10000):04d}"


def rules_for(session: Session, community_id: int | None) -> PointsRules:
    """The community's points rules; the defaults for an activity of no community."""
    community = session.get(Community, community_id) if community_id else None
    return spec_of(community).points_rules if community else PointsRules()


# --- creating activities --------------------------------------------------------------------------


# A WeChat scene QR checks the scanner in; temporary scene codes live at most 30 days.
CHECKIN_SCENE_PREFIX = "checkin-"
MAX_SCENE_QR_SECONDS = 30 * 24 * 3600
# Draws a WeChat scene QR code: (scene string, seconds valid) -> the content to encode.
SceneQr = Callable[[str, int], str]


def write_qr(activity: vrepo.Activity, data_dir: Path, content: str | None = None) -> Path:
    """A PNG for the venue: a WeChat scene code when `content` is one (scanning checks in), else the
    check-in text residents would otherwise type."""
    import segno

    folder = data_dir / "activities"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"activity-{activity.id}-{activity.checkin_code}.png"
    segno.make(content or f"签到 {activity.checkin_code}", error="m").save(str(path), scale=8, border=2)
    return path


def _scene_qr_content(activity: vrepo.Activity, now: datetime, scene_qr: SceneQr | None) -> str | None:
    if scene_qr is None:
        return None
    seconds = int((activity.ends_at - now).total_seconds()) + 3600
    if seconds > MAX_SCENE_QR_SECONDS:
        log.info("activity %s ends more than 30 days away; its QR carries the check-in text", activity.id)
        return None
    try:
        return scene_qr(f"{CHECKIN_SCENE_PREFIX}{activity.id}", max(seconds, 60))
    except Exception:
        # The activity matters more than the kind of QR code: fall back to the text one.
        log.warning("could not create a WeChat scene QR for activity %s", activity.id, exc_info=True)
        return None


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
) -> vrepo.Activity:
    """Create an activity and its venue QR carrying the check-in text (see use_scene_qr for a better one)."""
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
    activity = vrepo.create_activity(
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


def use_scene_qr(
    sessions: sessionmaker[Session], *, data_dir: Path, scene_qr: SceneQr | None, activity_id: int, now: datetime
) -> str | None:
    """Redraw a new activity's QR as a WeChat scene code, so scanning it checks in; the new path, or None
    when the text QR stays (no official account configured, or WeChat failed). Called after the activity
    is committed: no transaction waits on WeChat."""
    with sessions.begin() as session:
        activity = session.get(vrepo.Activity, activity_id)
        if activity is None:
            return None
        session.expunge(activity)
    content = _scene_qr_content(activity, now, scene_qr)
    if content is None:
        return None
    path = str(write_qr(activity, data_dir, content))
    with sessions.begin() as session:
        stored = session.get(vrepo.Activity, activity_id)
        if stored is not None:
            stored.qr_path = path
    return path


def activity_for_scene(session: Session, scene: str) -> vrepo.Activity | None:
    """The activity a check-in scene code ("checkin-12") stands for, if the scene is one."""
    number = scene.removeprefix(CHECKIN_SCENE_PREFIX)
    if not scene.startswith(CHECKIN_SCENE_PREFIX) or not number.isdigit():
        return None
    return session.get(vrepo.Activity, int(number))


def check_in_by_scan(ctx: Context, activity: vrepo.Activity | None) -> TextReply:
    """The resident scanned an activity's QR code at the venue."""
    if activity is None or activity.status != "open":
        return TextReply("这个签到二维码对应的活动已经结束或取消了。")
    return _check_in(ctx, activity, _recent_location(ctx))


def activity_json(activity: vrepo.Activity) -> dict[str, Any]:
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


# --- check-out ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutResult:
    status: str  # "done" | "none" | "already"
    title: str = ""
    minutes: int = 0
    points: int = 0
    credit_minutes: int = 0


def check_out(session: Session, *, resident_id: int, now: datetime, code: str | None = None) -> CheckoutResult:
    """Close the resident's open stay and pay for it, once, however many times this runs at once."""
    vrepo.lock_resident(session, resident_id=resident_id)
    stay = vrepo.open_attendance(session, resident_id=resident_id)
    if stay is None:
        return CheckoutResult("none")
    activity = session.get(vrepo.Activity, stay.activity_id)
    assert activity is not None
    if code and activity.checkin_code != code:
        return CheckoutResult("none")
    minutes = credited_minutes(stay.checked_in_at, now, activity.starts_at, activity.ends_at)
    if not vrepo.close_attendance(session, attendance_id=stay.id, now=now, minutes=minutes):
        return CheckoutResult("already", activity.title)
    rules = rules_for(session, activity.community_id or stay.community_id)
    points = points_for_stay(
        activity.kind,
        checked_in_at=stay.checked_in_at,
        checked_out_at=now,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        rules=rules,
    )

    def award(unit: vrepo.Unit, amount: int, reason: str) -> int:
        """Pay once: the source key makes a second check-out of the same stay pay nothing."""
        if amount <= 0:
            return 0
        entry = vrepo.post_entry(
            session,
            resident_id=resident_id,
            community_id=activity.community_id or stay.community_id,
            unit=unit,
            amount=amount,
            kind="award",
            reason=reason,
            now=now,
            source_key=vrepo.award_key(resident_id=resident_id, activity_id=activity.id, kind=unit),
            activity_id=activity.id,
        )
        return entry.amount if entry is not None else 0

    paid = award("points", points, f"{KIND_NAMES.get(activity.kind, activity.kind)}：{activity.title}")
    credit = time_credit_for(minutes, rules) if activity.time_bank else 0
    award("minutes", credit, f"时间银行：{activity.title}")
    return CheckoutResult("done", activity.title, minutes, paid, credit)


# --- message handlers ----------------------------------------------------------------------------


def _recent_location(ctx: Context) -> tuple[float, float] | None:
    return vrepo.recent_location(ctx.session, resident_id=ctx.resident.id, since=ctx.now - RECENT_LOCATION)


def _check_in(ctx: Context, activity: vrepo.Activity, location: tuple[float, float] | None) -> TextReply:
    rules = rules_for(ctx.session, activity.community_id or ctx.community_id)
    if not within_checkin_window(ctx.now, activity.starts_at, activity.ends_at, rules):
        opens, closes = checkin_window(activity.starts_at, activity.ends_at, rules)
        return TextReply(
            f"“{activity.title}”的签到时间是 {format_time(opens)} 到 {format_time(closes)}，现在不在签到时间内。"
        )
    if activity.requires_location:
        assert activity.latitude is not None and activity.longitude is not None
        if location is None:
            ctx.start_flow(CHECKIN_LOCATION, "location", CheckinLocation(activity_id=activity.id))
            return TextReply(f"“{activity.title}”需要确认您在现场：请点输入框旁的“+”，选“位置”，把您现在的位置发给我。")
        distance = distance_m(location[0], location[1], activity.latitude, activity.longitude)
        radius = activity.radius_m or rules.default_radius_m
        if distance > radius:
            # Keep waiting for a location: the next one, sent from the venue, completes the check-in.
            ctx.start_flow(CHECKIN_LOCATION, "location", CheckinLocation(activity_id=activity.id))
            return TextReply(
                f"您发的位置离活动地点{activity.place or ''}大约 {distance:.0f} 米，需要在 {radius} 米以内才能签到。"
                "到了现场再发一次位置吧。"
            )
    vrepo.lock_resident(ctx.session, resident_id=ctx.resident.id)
    previous = vrepo.open_attendance(ctx.session, resident_id=ctx.resident.id)
    note = ""
    if previous is not None and previous.activity_id != activity.id:
        other = ctx.session.get(vrepo.Activity, previous.activity_id)
        if other is not None and other.ends_at > ctx.now:
            return TextReply(f"您还在“{other.title}”签到中，请先发“签退”再签到新的活动。")
        # A stay left open after its activity ended earns nothing on its own: a worker can credit it.
        vrepo.close_attendance(ctx.session, attendance_id=previous.id, now=ctx.now, minutes=0)
        note = f"\n（上次“{other.title if other else '活动'}”没有签退，没有记时长，需要补记请联系工作人员。）"
    stay, created = vrepo.check_in(
        ctx.session,
        activity_id=activity.id,
        resident_id=ctx.resident.id,
        community_id=activity.community_id or ctx.community_id,
        now=ctx.now,
        latitude=location[0] if location else None,
        longitude=location[1] if location else None,
    )
    if not created:
        at = format_time(stay.checked_in_at)
        if stay.checked_out_at is not None:
            return TextReply(f"您在“{activity.title}”已经签到并签退过了（{at} 签到）。")
        return TextReply(f"您已经签到过了（{at}），活动结束时发“签退”就行。")
    return TextReply(f"签到成功！“{activity.title}”，欢迎您。离开时记得发“签退”，服务时长和积分会自动记上。{note}")


def _check_out_reply(ctx: Context, code: str | None) -> TextReply:
    result = check_out(ctx.session, resident_id=ctx.resident.id, now=ctx.now, code=code)
    if result.status != "done":
        return TextReply("您现在没有正在进行的签到。到了活动现场，发“签到 四位签到码”就能签到。")
    text = f"签退成功！“{result.title}”记服务时长 {format_hours(result.minutes)}"
    text += f"，获得 {result.points} 积分。" if result.points else "。"
    if result.credit_minutes:
        text += f"时间银行存入 {format_hours(result.credit_minutes)}。"
    if not result.minutes and not result.points:
        text += "（不足半小时的部分不计时长。）"
    return TextReply(text + "\n谢谢您！发“积分”可以查看积分。")


class CheckinHandler:
    """ "签到 4827" and "签退"."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        action = cls.slots.get("action", "checkin")
        code = cls.slots.get("code")
        if action == "checkout":
            return _check_out_reply(ctx, code)
        if not code:
            return TextReply("请发“签到”加上活动现场的四位签到码，比如“签到 4827”。")
        activity = vrepo.open_activity_by_code(ctx.session, code=code, community_id=ctx.community_id)
        if activity is None:
            return TextReply(f"没有找到签到码 {code} 对应的活动，请核对现场公布的签到码。")
        return _check_in(ctx, activity, _recent_location(ctx))


class CheckinLocationFlow:
    """Waits for the location a venue-bound check-in needs."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        return UNHANDLED

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        if msg.kind != "location" or msg.latitude is None or msg.longitude is None:
            return UNHANDLED
        ctx.end_dialogue()
        waiting = CHECKIN_LOCATION.read(state.data)
        activity = ctx.session.get(vrepo.Activity, waiting.activity_id) if waiting else None
        if activity is None or activity.status != "open":
            return TextReply("这个活动已经结束了。")
        return _check_in(ctx, activity, (msg.latitude, msg.longitude))


def _listing(ctx: Context, activities: list[vrepo.Activity]) -> str:
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


def _join(ctx: Context, activity: vrepo.Activity) -> TextReply:
    result = vrepo.join_activity(ctx.session, activity_id=activity.id, resident_id=ctx.resident.id, now=ctx.now)
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


def _pick(ctx: Context, what: str, listed_ids: list[int]) -> vrepo.Activity | None:
    upcoming = vrepo.upcoming_activities(ctx.session, community_id=ctx.community_id, now=ctx.now, limit=20)
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
        upcoming = vrepo.upcoming_activities(ctx.session, community_id=ctx.community_id, now=ctx.now)
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
        for row in vrepo.due_reminders(session, now=now, lead=community_lead, community_id=community_id)
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
