"""Check-in and check-out: "签到 4827", a scanned venue QR, a location when the venue asks for one, "签退",
and the points and time credits a stay earns, paid once at check-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from handlers.base import UNHANDLED, Context, Outcome
from handlers.flows import CHECKIN_LOCATION, CheckinLocation
from handlers.messages import Inbound, TextReply
from handlers.volunteering.activities import rules_for
from handlers.volunteering.rules import (
    KIND_NAMES,
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
from storage import activities as arepo
from storage import ledger as lrepo
from storage.models import DialogueState

# A location the resident sent this recently counts for a check-in that follows it.
RECENT_LOCATION = timedelta(minutes=10)


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
    lrepo.lock_resident(session, resident_id=resident_id)
    stay = arepo.open_attendance(session, resident_id=resident_id)
    if stay is None:
        return CheckoutResult("none")
    activity = session.get(arepo.Activity, stay.activity_id)
    assert activity is not None
    if code and activity.checkin_code != code:
        return CheckoutResult("none")
    minutes = credited_minutes(stay.checked_in_at, now, activity.starts_at, activity.ends_at)
    if not arepo.close_attendance(session, attendance_id=stay.id, now=now, minutes=minutes):
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
    paid = _pay_once(
        session,
        stay=stay,
        activity=activity,
        unit="points",
        amount=points,
        reason=f"{KIND_NAMES.get(activity.kind, activity.kind)}：{activity.title}",
        now=now,
    )
    credit = time_credit_for(minutes, rules) if activity.time_bank else 0
    _pay_once(
        session,
        stay=stay,
        activity=activity,
        unit="minutes",
        amount=credit,
        reason=f"时间银行：{activity.title}",
        now=now,
    )
    return CheckoutResult("done", activity.title, minutes, paid, credit)


def _pay_once(
    session: Session,
    *,
    stay: arepo.Attendance,
    activity: arepo.Activity,
    unit: lrepo.Unit,
    amount: int,
    reason: str,
    now: datetime,
) -> int:
    """Award what a stay earned in one unit; the source key makes a second check-out of it pay nothing."""
    if amount <= 0:
        return 0
    entry = lrepo.post_entry(
        session,
        resident_id=stay.resident_id,
        community_id=activity.community_id or stay.community_id,
        unit=unit,
        amount=amount,
        kind="award",
        reason=reason,
        now=now,
        source_key=lrepo.award_key(resident_id=stay.resident_id, activity_id=activity.id, kind=unit),
        activity_id=activity.id,
    )
    return entry.amount if entry is not None else 0


# --- message handlers ----------------------------------------------------------------------------


def check_in_by_scan(ctx: Context, activity: arepo.Activity | None) -> TextReply:
    """The resident scanned an activity's QR code at the venue."""
    if activity is None or activity.status != "open":
        return TextReply("这个签到二维码对应的活动已经结束或取消了。")
    return _check_in(ctx, activity, _recent_location(ctx))


def _recent_location(ctx: Context) -> tuple[float, float] | None:
    return arepo.recent_location(ctx.session, resident_id=ctx.resident.id, since=ctx.now - RECENT_LOCATION)


def _check_in(ctx: Context, activity: arepo.Activity, location: tuple[float, float] | None) -> TextReply:
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
    lrepo.lock_resident(ctx.session, resident_id=ctx.resident.id)
    previous = arepo.open_attendance(ctx.session, resident_id=ctx.resident.id)
    note = ""
    if previous is not None and previous.activity_id != activity.id:
        other = ctx.session.get(arepo.Activity, previous.activity_id)
        if other is not None and other.ends_at > ctx.now:
            return TextReply(f"您还在“{other.title}”签到中，请先发“签退”再签到新的活动。")
        # A stay left open after its activity ended earns nothing on its own: a worker can credit it.
        arepo.close_attendance(ctx.session, attendance_id=previous.id, now=ctx.now, minutes=0)
        note = f"\n（上次“{other.title if other else '活动'}”没有签退，没有记时长，需要补记请联系工作人员。）"
    stay, created = arepo.check_in(
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
        activity = arepo.open_activity_by_code(ctx.session, code=code, community_id=ctx.community_id)
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
        activity = ctx.session.get(arepo.Activity, waiting.activity_id) if waiting else None
        if activity is None or activity.status != "open":
            return TextReply("这个活动已经结束了。")
        return _check_in(ctx, activity, (msg.latitude, msg.longitude))
