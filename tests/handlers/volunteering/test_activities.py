"""Activities end to end: created from the CLI, listed and joined by message, check-in windows and retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.services import Services
from bot.settings import get_settings
from handlers.clock import FixedClock
from handlers.volunteering.activities import create_activity_with_qr, send_due_reminders
from storage import activities as arepo
from storage import ledger as lrepo
from storage.models import Community, OutboxMessage
from tests.handlers.volunteering.conftest import T0, assert_ledger_balances, resident_id, talk


def make_activity(services: Services, *, start: datetime, hours: float = 2, **fields: object) -> arepo.Activity:
    values: dict[str, object] = {"title": "清理楼道杂物", "kind": "volunteer", "place": "3号楼"}
    values.update(fields)
    with services.sessions.begin() as session:
        return create_activity_with_qr(
            session,
            data_dir=services.settings.data_dir,
            starts_at=start,
            ends_at=start + timedelta(hours=hours),
            now=T0,
            **values,  # type: ignore[arg-type]
        )


def test_cli_creates_an_activity_with_a_code_and_a_qr_png(
    services: Services, community: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEGONG_DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("SHEGONG_SECRET_KEY", "secret-key-for-tests")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli,
            [
                "activity",
                "create",
                "--title",
                "居民议事会",
                "--kind",
                "meeting",
                "--start",
                "2026-12-05T14:00",
                "--end",
                "2026-12-05T16:00+08:00",
                "--place",
                "社区活动室",
                "--community",
                "heping",
                "--capacity",
                "30",
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["id"] and len(data["checkin_code"]) == 4 and data["checkin_code"].isdigit()
        with open(data["qr_path"], "rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"
        # A time without a zone is China time.
        assert datetime.fromisoformat(data["start"]) == datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
        bad = CliRunner().invoke(
            cli,
            [
                "activity",
                "create",
                "--title",
                "x",
                "--kind",
                "party",
                "--start",
                "2026-12-05T14:00",
                "--end",
                "2026-12-05T15:00",
            ],
        )
        assert bad.exit_code == 2
    finally:
        get_settings.cache_clear()


def test_codes_are_unique_among_open_activities(services: Services, clock: FixedClock) -> None:
    codes = {make_activity(services, start=T0 + timedelta(days=1), title=f"活动{i}").checkin_code for i in range(40)}
    assert len(codes) == 40


def test_list_join_and_capacity(client: TestClient, services: Services, community: int, clock: FixedClock) -> None:
    make_activity(services, start=T0 + timedelta(days=1), title="垃圾分类讲座", kind="skill_share", capacity=1)
    a, b = talk(client, "openid-a"), talk(client, "openid-b")
    listing = a.say("最近有什么活动")
    assert "1. 垃圾分类讲座" in listing and "还剩 1 个名额" in listing
    assert "报名成功" in a.say("报名 1")
    assert "已经报名" in a.say("报名 垃圾分类讲座")
    b.say("最近有什么活动")
    assert "满了" in b.say("报名 1")

    # A reminder goes out once, within the lead time before the start.
    with services.sessions.begin() as session:
        assert send_due_reminders(session, now=T0) == 0
        assert send_due_reminders(session, now=T0 + timedelta(hours=23)) == 1
        assert send_due_reminders(session, now=T0 + timedelta(hours=23, minutes=30)) == 0
        reminders = session.query(OutboxMessage).filter(OutboxMessage.dedupe_key.like("activity-reminder:%")).all()
        assert [r.recipient for r in reminders] == ["openid-a"]


def test_a_reminder_after_the_48_hour_window_goes_as_a_template_message(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    make_activity(services, start=T0 + timedelta(days=3), title="重阳节包饺子")
    a, b = talk(client, "openid-a"), talk(client, "openid-b")
    a.say("最近有什么活动")
    assert "报名成功" in a.say("报名 1")
    clock.advance(timedelta(days=2, hours=12))
    b.say("最近有什么活动")
    assert "报名成功" in b.say("报名 1")  # b wrote 12 h before the reminder: still inside the window

    due = T0 + timedelta(days=3) - timedelta(hours=1)
    with services.sessions.begin() as session:
        assert send_due_reminders(session, now=due) == 1  # no template anywhere: a is not reminded
        rows = session.query(OutboxMessage).filter(OutboxMessage.dedupe_key.like("activity-reminder:%")).all()
        assert [(r.recipient, r.channel) for r in rows] == [("openid-b", "wechat_custom")]
        for row in rows:
            session.delete(row)
        for signup in session.query(arepo.ActivitySignup):
            signup.reminded_at = None
        assert send_due_reminders(session, now=due, template_id="TPL-activity") == 2
        rows = session.query(OutboxMessage).filter(OutboxMessage.dedupe_key.like("activity-reminder:%")).all()
        by_openid = {r.recipient: r for r in rows}
        assert by_openid["openid-a"].channel == "wechat_template"
        assert by_openid["openid-a"].payload["template_id"] == "TPL-activity"
        assert by_openid["openid-a"].payload["data"]["keyword1"]["value"] == "重阳节包饺子"
        assert by_openid["openid-b"].channel == "wechat_custom"


def test_each_community_sets_its_own_reminder_lead(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    with services.sessions.begin() as session:
        row = session.get(Community, community)
        assert row is not None
        row.config = {**row.config, "points_rules": {"reminder_lead_minutes": 24 * 60}}  # the evening before
    make_activity(services, start=T0 + timedelta(days=2), title="社区义诊", community_id=community)
    a = talk(client, "openid-a")
    a.say("最近有什么活动")
    assert "报名成功" in a.say("报名 1")
    with services.sessions.begin() as session:
        assert send_due_reminders(session, now=T0 + timedelta(hours=23)) == 0  # 25 h before
        assert send_due_reminders(session, now=T0 + timedelta(hours=25)) == 1  # 23 h before


def test_check_in_only_within_the_window_and_only_once(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    activity = make_activity(services, start=T0 + timedelta(hours=2), hours=2)
    code = activity.checkin_code
    chen = talk(client, "openid-chen")
    assert "不在签到时间内" in chen.say(f"签到 {code}")  # two hours early
    assert "没有找到签到码" in chen.say("签到 0000" if code != "0000" else "签到 0001")
    clock.advance(timedelta(hours=1, minutes=31))  # 29 minutes before the start: inside the grace period
    assert "签到成功" in chen.say(f"签到 {code}")
    assert "已经签到过了" in chen.say(f"签到 {code}")
    clock.advance(timedelta(hours=3))  # leaves an hour after the end: only the activity's 2 hours count
    reply = chen.say("签退")
    assert "2小时" in reply and "10 积分" in reply
    assert "没有正在进行的签到" in chen.say("签退")
    clock.advance(timedelta(minutes=10))
    assert "不在签到时间内" in chen.say(f"签到 {code}")
    with services.sessions.begin() as session:
        rid = resident_id(services, "openid-chen")
        assert lrepo.balance(session, resident_id=rid) == 10
    assert_ledger_balances(services)


def test_wechat_retries_of_one_check_in_make_one_check_in(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    activity = make_activity(services, start=T0)
    zhou = talk(client, "openid-zhou")
    first = zhou.say(f"签到 {activity.checkin_code}", msg_id=424242)
    again = zhou.say(f"签到 {activity.checkin_code}", msg_id=424242)
    assert "签到成功" in first and again == first
    with services.sessions.begin() as session:
        rid = resident_id(services, "openid-zhou")
        assert arepo.attendance_for(session, activity_id=activity.id, resident_id=rid) is not None
        assert session.query(arepo.Attendance).count() == 1


def test_venue_bound_check_in_needs_a_location_within_the_radius(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    activity = make_activity(services, start=T0, latitude=39.9087, longitude=116.3975, radius_m=200)
    sun = talk(client, "openid-sun")
    assert "位置" in sun.say(f"签到 {activity.checkin_code}")
    assert "米以内" in sun.location(39.9200, 116.3975)  # about 1.3 km away
    sun.say(f"签到 {activity.checkin_code}")
    assert "签到成功" in sun.location(39.9090, 116.3976)


def test_month_summary_and_worker_report(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    activity = make_activity(services, start=T0, hours=3)
    wu = talk(client, "openid-wu")
    wu.say("我想当志愿者")
    for answer in ("吴老师", "13700001111", "退休教师", "周末", "同意"):
        wu.say(answer)
    wu.say(f"签到 {activity.checkin_code}")
    clock.advance(timedelta(hours=1, minutes=45))
    assert "1.5小时" in wu.say("签退")
    summary = wu.say("我这个月的时长")
    assert "11月" in summary and "1.5小时" in summary and "7 积分" in summary
    with services.sessions.begin() as session:
        from handlers.volunteering.rules import month_bounds

        start, end = month_bounds("2026-11")
        lines = arepo.hours_report(session, community_id=community, start=start, end=end)
        assert [(x.name, x.minutes, x.points) for x in lines] == [("吴老师", 90, 7)]
        start, end = month_bounds("2026-12")
        assert arepo.hours_report(session, community_id=community, start=start, end=end) == []
