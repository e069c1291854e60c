"""Deadlines on real dates: 国庆 2026 and 春节 2026, with their adjusted working weekends."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from handlers.clock import CHINA_TZ as CHINA
from handlers.tickets.workdays import add_working_days, deadline_for, format_local, is_working_day, reminder_for


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA)


def test_national_day_2026_holidays_and_the_saturday_worked_in_exchange() -> None:
    assert not is_working_day(date(2026, 10, 1))
    assert not is_working_day(date(2026, 10, 7))
    assert is_working_day(date(2026, 10, 10))  # a Saturday, worked in exchange for the holiday
    assert not is_working_day(date(2026, 9, 25))  # 中秋节


def test_yellow_reported_before_national_day_skips_the_whole_holiday() -> None:
    # Tue 29 Sep 10:00: working days 30 Sep, 8 Oct, 9 Oct -> due when the office closes on Fri 9 Oct.
    assert deadline_for("yellow", at(2026, 9, 29, 10, 0)) == at(2026, 10, 9, 17, 30)


def test_blue_counts_the_adjusted_saturday() -> None:
    # Wed 30 Sep 15:00: 8, 9, 10 (Sat, worked), 12, 13, 14, 15 Oct -> seven working days.
    assert deadline_for("blue", at(2026, 9, 30, 15, 0)) == at(2026, 10, 15, 17, 30)


def test_spring_festival_2026() -> None:
    assert is_working_day(date(2026, 2, 14))  # Saturday worked before the holiday
    assert not is_working_day(date(2026, 2, 17))  # 春节
    assert is_working_day(date(2026, 2, 28))  # Saturday worked after it
    # Fri 13 Feb 9:30: 14 (Sat), 24, 25 Feb -> due 25 Feb at closing time.
    assert deadline_for("yellow", at(2026, 2, 13, 9, 30)) == at(2026, 2, 25, 17, 30)


def test_a_report_on_a_holiday_starts_counting_when_the_office_opens() -> None:
    # Reported on 3 Oct (holiday): counting starts 8 Oct 09:00; three working days on -> 12 Oct... via 9, 10, 12.
    assert add_working_days(at(2026, 10, 3, 20, 0), 3) == at(2026, 10, 12, 9, 0)


def test_red_is_24_clock_hours_even_on_holidays() -> None:
    start = at(2026, 10, 1, 8, 0)
    assert deadline_for("red", start) == start + timedelta(hours=24)


def test_reminder_at_three_quarters_and_readable_local_time() -> None:
    start = at(2026, 3, 2, 9, 0)
    due = deadline_for("red", start)
    assert reminder_for(start, due) == at(2026, 3, 3, 3, 0)
    assert format_local(due) == "3月3日 09:00"


def test_utc_input_keeps_its_zone_and_unknown_colours_are_refused() -> None:
    start = at(2026, 9, 29, 10, 0).astimezone(CHINA).astimezone(datetime.now().astimezone().tzinfo)
    assert deadline_for("yellow", start) == at(2026, 10, 9, 17, 30)
    with pytest.raises(ValueError):
        deadline_for("purple", start)
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 1, 5), 1)


def test_a_report_made_before_dawn_is_due_at_the_close_of_its_last_working_day() -> None:
    # Wed 2 Dec 2026 04:42: three working days on is Mon 7 Dec; due when the office closes, not at 04:42.
    assert deadline_for("yellow", at(2026, 12, 2, 4, 42)) == at(2026, 12, 7, 17, 30)
    assert deadline_for("blue", at(2026, 12, 2, 4, 42), closes=time(18, 0)) == at(2026, 12, 11, 18, 0)
