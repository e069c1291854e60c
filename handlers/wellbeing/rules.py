"""报平安 rules as data and plain functions: the escalation times, household tags, and reading the times,
dates and phrases residents use. Nothing here touches the database.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from handlers.clock import CHINA_TZ
from intents.numbers import to_int

# The tags of the community file's `household_tags` when it gives none.
DEFAULT_TAGS = ("独居", "高龄", "残疾", "低保", "空巢", "失独", "留守儿童")
# Tags that say nothing about health, disability, income or minors: kept in clear. Every other tag is
# sensitive personal information (PIPL art. 28) and needs the household's separate consent.
OPEN_TAGS = frozenset({"独居", "高龄", "空巢"})


class SafecheckRules(BaseModel):
    """The `safecheck` block of a community file: when each escalation step follows an unanswered prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    second_prompt_minutes: int = Field(default=60, ge=5, le=24 * 60)
    neighbour_minutes: int = Field(default=120, ge=5, le=24 * 60)
    family_minutes: int = Field(default=180, ge=5, le=24 * 60)
    visit_minutes: int = Field(default=240, ge=5, le=24 * 60)
    # Residents in special groups with no contact of any kind for this many days are listed weekly.
    silent_days: int = Field(default=7, ge=1, le=365)

    @model_validator(mode="after")
    def _in_order(self) -> SafecheckRules:
        steps = [self.second_prompt_minutes, self.neighbour_minutes, self.family_minutes, self.visit_minutes]
        if steps != sorted(steps) or len(set(steps)) != len(steps):
            raise ValueError("the steps must come in order: second prompt < neighbour < family < visit")
        return self

    def offsets(self) -> tuple[timedelta, ...]:
        """After the prompt (step 0): step 1 second prompt, 2 neighbour, 3 family, 4 visit task."""
        return tuple(
            timedelta(minutes=m)
            for m in (self.second_prompt_minutes, self.neighbour_minutes, self.family_minutes, self.visit_minutes)
        )


STEP_NAMES = {0: "提醒报平安", 1: "第二次提醒", 2: "请邻居/志愿者上门", 3: "通知家属", 4: "网格员上门任务"}
LAST_STEP = 4


def local_day(moment: datetime) -> date:
    return moment.astimezone(CHINA_TZ).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=CHINA_TZ)


def at_minute(day: date, minute: int) -> datetime:
    return day_start(day) + timedelta(minutes=minute)


def minute_of(moment: datetime) -> int:
    local = moment.astimezone(CHINA_TZ)
    return local.hour * 60 + local.minute


def format_minute(minute: int) -> str:
    hour, rest = divmod(minute, 60)
    return f"{hour}:{rest:02d}"


def greeting_for(minute: int) -> str:
    if minute < 11 * 60:
        return "早上好"
    if minute < 13 * 60:
        return "中午好"
    if minute < 18 * 60:
        return "下午好"
    return "晚上好"


_NUM = r"[0-9零〇一二两三四五六七八九十]{1,3}"
_TIME = re.compile(
    rf"(?P<part>早上|早晨|清早|上午|中午|下午|傍晚|晚上|夜里)?\s*(?P<h>{_NUM})\s*(?:点|:|：|时)"
    rf"\s*(?:(?P<half>半)|(?P<m>{_NUM})\s*分?)?"
)


def parse_time_of_day(text: str) -> int | None:
    """ "早上8点" -> 480, "八点半" -> 510, "下午3点" -> 900, "7:30" -> 450; None when no time is given."""
    found = _TIME.search(text)
    if found is None:
        return None
    hour = to_int(found.group("h"))
    minute = 30 if found.group("half") else to_int(found.group("m") or "0")
    if hour is None or minute is None or minute > 59:
        return None
    part = found.group("part") or ""
    if (part in ("下午", "傍晚", "晚上", "夜里") and hour < 12) or (part == "中午" and hour < 6):
        hour += 12
    if hour > 23:
        return None
    return hour * 60 + minute


_DATE = re.compile(rf"(?:(?P<month>{_NUM})\s*月\s*)?(?P<day>{_NUM})\s*(?:号|日)")
_IN_DAYS = re.compile(rf"(?P<n>{_NUM})\s*(?:天|日)(?:以?后|之后)")
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


def parse_return_date(text: str, today: date) -> date | None:
    """The day a resident will be back: "12月10号", "10号", "下周一", "3天后", "明天", "后天"."""
    if "后天" in text:
        return today + timedelta(days=2)
    if "明天" in text:
        return today + timedelta(days=1)
    found = _DATE.search(text)
    if found is not None:
        day = to_int(found.group("day"))
        month = to_int(found.group("month")) if found.group("month") else today.month
        if day is None or month is None:
            return None
        year = today.year
        try:
            when = date(year, month, day)
            if when < today and not found.group("month"):
                when = date(year + (month == 12), month % 12 + 1, day)
            elif when < today:
                when = date(year + 1, month, day)
        except ValueError:
            return None
        return when
    weekday = re.search(r"下(?:个)?(?:周|星期|礼拜)([一二三四五六日天])", text)
    if weekday is not None:
        target = _WEEKDAYS[weekday.group(1)]
        next_monday = today + timedelta(days=7 - today.weekday())
        return next_monday + timedelta(days=target)
    later = _IN_DAYS.search(text)
    if later is not None and (n := to_int(later.group("n"))) is not None:
        return today + timedelta(days=n)
    return None


def _squash(text: str) -> str:
    return re.sub(r"[\s，,。.！!？?、~～]+", "", text)


_ENROL = re.compile(r"(报个?平安|平安打卡|报平安打卡|每天.{0,6}(报|打卡|问候).{0,4}平安|开通.{0,4}平安)")
_FOR_FAMILY = re.compile(
    r"(给|帮|替)(我|咱)?(妈|妈妈|母亲|老妈|爸|爸爸|父亲|老爸|奶奶|爷爷|外婆|外公|姥姥|姥爷|老人|家里老人)"
)
_STOP = re.compile(
    r"(不用|不要|别|取消|停止|停掉|关掉|关闭|退订|不想).{0,4}(报平安|平安打卡|打卡|提醒)|(报平安|平安打卡).{0,3}(取消|停|关)"
)
_AWAY = re.compile(
    r"(这几天|这两天|最近|出门|出远门|去.{0,6}家|住院|旅游|旅行|回老家|走亲戚|不在家|回来|到.{0,6}(号|日)|暂停)"
)
_SAFE_REPORT = re.compile(
    r"(已上门|上门了|去看过|看过了|见到了?人|打过电话|电话联系上).{0,6}(平安|没事|安全|挺好|好着)"
)
# What a resident says to a prompt: a word, a digit, an emoji.
_ACK = re.compile(
    r"^(好+的?|在+|1|嗯+|平安|报平安|我在|在的|我很好|挺好|都好|没事|好着呢|收到|ok|OK|👌|👍|🙏|😊|🙂|[\U0001F300-\U0001FAFF])+$"
)


def wants_enrolment(text: str) -> bool:
    return bool(_ENROL.search(_squash(text))) and not wants_stop(text)


def for_family(text: str) -> str | None:
    """The relative the enrolment is for ("妈"), when a family member asks for someone else."""
    found = _FOR_FAMILY.search(_squash(text))
    return found.group(3) if found else None


def wants_stop(text: str) -> bool:
    return bool(_STOP.search(_squash(text)))


def is_away(text: str) -> bool:
    return bool(_AWAY.search(_squash(text)))


def reports_safe(text: str) -> bool:
    return bool(_SAFE_REPORT.search(_squash(text)))


def is_acknowledgement(text: str) -> bool:
    return bool(_ACK.match(_squash(text)))
