"""Volunteering rules as data and plain functions: check-in windows, hours, points, time credits, distances.

Nothing here touches the database or the network, so every rule can be tested with bare values.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from handlers.clock import CHINA_TZ

ActivityKind = Literal["meeting", "volunteer", "skill_share"]
ACTIVITY_KINDS: tuple[ActivityKind, ...] = ("meeting", "volunteer", "skill_share")
KIND_NAMES: dict[str, str] = {"meeting": "议事会", "volunteer": "志愿服务", "skill_share": "技能分享"}

# Hours are credited in whole half hours: a stay of 1 h 29 min counts as 1 h.
HOUR_STEP_MINUTES = 30


class PointsRules(BaseModel):
    """A community's points rules (the `points_rules` block of its community file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meeting_points: int = Field(default=10, ge=0, le=1000)
    volunteer_points_per_hour: int = Field(default=5, ge=0, le=1000)
    skill_share_points: int = Field(default=15, ge=0, le=1000)
    # A flat-rate session (meeting, skill share) pays only if the resident stayed this long
    # (or the whole session, if it is shorter).
    min_session_minutes: int = Field(default=30, ge=0, le=24 * 60)
    # Residents arrive early: check-in opens this long before the start and closes at the end.
    checkin_grace_minutes: int = Field(default=30, ge=0, le=24 * 60)
    # Time bank: minutes of credit per hour of help given at a time-bank activity.
    time_credit_minutes_per_hour: int = Field(default=60, ge=0, le=600)
    # How long before the start a resident who signed up is reminded.
    reminder_lead_minutes: int = Field(default=120, ge=5, le=7 * 24 * 60)
    # Where a venue requires it, a location farther than this from the venue refuses the check-in.
    default_radius_m: int = Field(default=300, ge=10, le=10_000)
    # Taking part (handlers/participation): points for proposing, supporting a proposal, voting and
    # answering a return-visit question, each with a cap on the points it can earn one resident a month.
    proposal_points: int = Field(default=5, ge=0, le=1000)
    support_points: int = Field(default=1, ge=0, le=1000)
    vote_points: int = Field(default=2, ge=0, le=1000)
    return_visit_points: int = Field(default=2, ge=0, le=1000)
    proposal_monthly_cap: int = Field(default=15, ge=0, le=10_000)
    support_monthly_cap: int = Field(default=10, ge=0, le=10_000)
    vote_monthly_cap: int = Field(default=10, ge=0, le=10_000)
    return_visit_monthly_cap: int = Field(default=10, ge=0, le=10_000)


def checkin_window(starts_at: datetime, ends_at: datetime, rules: PointsRules) -> tuple[datetime, datetime]:
    return starts_at - timedelta(minutes=rules.checkin_grace_minutes), ends_at


def within_checkin_window(now: datetime, starts_at: datetime, ends_at: datetime, rules: PointsRules) -> bool:
    opens, closes = checkin_window(starts_at, ends_at, rules)
    return opens <= now <= closes


def credited_minutes(checked_in_at: datetime, checked_out_at: datetime, starts_at: datetime, ends_at: datetime) -> int:
    """The overlap of the stay with the activity, rounded down to the half hour: never beyond the activity."""
    start = max(checked_in_at, starts_at)
    end = min(checked_out_at, ends_at)
    if end <= start:
        return 0
    minutes = int((end - start).total_seconds() // 60)
    return minutes - minutes % HOUR_STEP_MINUTES


def overlap_minutes(checked_in_at: datetime, checked_out_at: datetime, starts_at: datetime, ends_at: datetime) -> int:
    start = max(checked_in_at, starts_at)
    end = min(checked_out_at, ends_at)
    return max(int((end - start).total_seconds() // 60), 0)


def points_for_stay(
    kind: str,
    *,
    checked_in_at: datetime,
    checked_out_at: datetime,
    starts_at: datetime,
    ends_at: datetime,
    rules: PointsRules,
) -> int:
    """Points for one stay: per credited hour for volunteering, a flat amount for a session attended."""
    if kind == "volunteer":
        minutes = credited_minutes(checked_in_at, checked_out_at, starts_at, ends_at)
        # Fractions of a point round down: 1.5 h at 5 points an hour is 7 points.
        return rules.volunteer_points_per_hour * minutes // 60
    flat = {"meeting": rules.meeting_points, "skill_share": rules.skill_share_points}.get(kind, 0)
    duration = int((ends_at - starts_at).total_seconds() // 60)
    needed = min(rules.min_session_minutes, duration)
    stayed = overlap_minutes(checked_in_at, checked_out_at, starts_at, ends_at)
    return flat if stayed >= needed and stayed > 0 else 0


def time_credit_for(minutes: int, rules: PointsRules) -> int:
    return rules.time_credit_minutes_per_hour * minutes // 60


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine); plenty for "is the resident at the venue"."""
    radius = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(min(1.0, math.sqrt(a)))


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-11' -> the first instant of November and of December in China time."""
    year_text, _, month_text = month.partition("-")
    year, number = int(year_text), int(month_text)
    if not 1 <= number <= 12:
        raise ValueError(f"not a month: {month!r}")
    start = datetime(year, number, 1, tzinfo=CHINA_TZ)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=CHINA_TZ)
    return start, end


def month_of(now: datetime) -> str:
    return now.astimezone(CHINA_TZ).strftime("%Y-%m")


def format_hours(minutes: int) -> str:
    hours = minutes / 60
    return f"{hours:g}小时"


def format_time(moment: datetime) -> str:
    local = moment.astimezone(CHINA_TZ)
    weekday = "一二三四五六日"[local.weekday()]
    return f"{local.month}月{local.day}日(周{weekday}) {local:%H:%M}"


class RewardSpec(BaseModel):
    """One item of a community's rewards catalogue (the `rewards` list of its community file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    points_price: int = Field(ge=1, le=1_000_000)
    # The stock the item starts with; afterwards the database counts it down as residents redeem.
    stock: int = Field(ge=0, le=1_000_000)
    # How long a voucher stays usable after it is issued.
    valid_days: int = Field(default=30, ge=1, le=3660)
    description: str = Field(default="", max_length=500)
