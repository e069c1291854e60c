"""Working days in mainland China and ticket deadlines: red 24 hours, yellow 3 and blue 7 working days.

Statutory holidays and the weekends that are worked in exchange come from `chinese_calendar`.
Plain functions: the caller passes the time, nothing here reads the clock.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import chinese_calendar

from handlers.clock import CHINA_TZ

# A report that arrives on a day off starts counting when the office opens on the next working day.
OFFICE_OPENS = time(9, 0)
# A working-day deadline ends when the office closes that day (a community's `office_hours` may say when).
OFFICE_CLOSES = time(17, 30)

# Working days per colour; red is counted in clock hours because someone must respond even on holidays.
RED_HOURS = 24
WORKING_DAYS = {"yellow": 3, "blue": 7}
REMIND_FRACTION = 0.75


def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # Beyond the years the package knows (the State Council publishes a year at a time): Monday to Friday.
        return day.weekday() < 5


def next_working_day(day: date) -> date:
    """The first working day strictly after `day`."""
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(start: datetime, days: int) -> datetime:
    """The same local clock time `days` working days later (in Beijing time, returned in start's zone).

    Starting on a day off, counting begins at 09:00 on the next working day, so a Saturday report with
    3 working days is due at 09:00 on the third working day after the weekend's first working day.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if days < 0:
        raise ValueError("days must not be negative")
    local = start.astimezone(CHINA_TZ)
    day = local.date()
    clock = local.timetz().replace(tzinfo=None)
    if not is_working_day(day):
        day = next_working_day(day)
        clock = OFFICE_OPENS
    for _ in range(days):
        day = next_working_day(day)
    return datetime.combine(day, clock, tzinfo=CHINA_TZ).astimezone(start.tzinfo)


def deadline_for(colour: str, start: datetime, *, closes: time = OFFICE_CLOSES) -> datetime:
    """When a ticket of this colour, reported at `start`, must be handled: red 24 clock hours on; yellow and
    blue at the office's closing time on the last of their working days (never "04:42" because the report
    came in at 04:42)."""
    if colour == "red":
        return start + timedelta(hours=RED_HOURS)
    if colour not in WORKING_DAYS:
        raise ValueError(f"unknown colour {colour!r}")
    day = add_working_days(start, WORKING_DAYS[colour]).astimezone(CHINA_TZ).date()
    return datetime.combine(day, closes, tzinfo=CHINA_TZ).astimezone(start.tzinfo)


def reminder_for(start: datetime, deadline: datetime, fraction: float = REMIND_FRACTION) -> datetime:
    """The moment `fraction` of the time from start to deadline has passed."""
    return start + (deadline - start) * fraction


def format_local(moment: datetime) -> str:
    """How a resident reads a deadline: "10月9日 14:30" in Beijing time."""
    local = moment.astimezone(CHINA_TZ)
    return f"{local.month}月{local.day}日 {local:%H:%M}"
