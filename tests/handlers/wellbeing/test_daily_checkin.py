"""报平安 through the real webhook: enrol by chat, the prompt at the set time (by template once the 48 h
window has closed), any message checks in, pauses and stops."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from handlers.clock import FixedClock
from storage import repositories as repo
from storage.safecheck import CheckDay, Enrolment
from tests.support.fake_api import FakeApi

from .conftest import customs_to, resident, templates_to, tick


def _days(services: Services) -> list[tuple[str, str, int]]:
    with services.sessions.begin() as session:
        rows = session.scalars(select(CheckDay).order_by(CheckDay.day)).all()
        return [(r.day.isoformat(), r.status, r.step) for r in rows]


def test_enrol_by_chat_prompt_by_template_and_a_reply_checks_in(
    client: TestClient, services: Services, clock: FixedClock, api: FakeApi
) -> None:
    aunt = resident(client, "openid-zhang")
    aunt.say("我住3号楼2单元502")
    asked = aunt.say("我想每天报个平安")
    assert "几点" in asked
    confirmed = aunt.say("早上八点")
    assert "每天8:00" in confirmed and "不用报平安了" in confirmed
    # Three days later, past WeChat's 48 h window: 07:59 nothing, 08:00 the template message.
    clock.now = clock.now.replace(hour=23, minute=59) + timedelta(days=2)  # 07:59 China time, 1 December
    tick(services, clock)
    assert templates_to(api, "openid-zhang") == []
    clock.advance(timedelta(minutes=1))
    tick(services, clock)
    [prompt] = templates_to(api, "openid-zhang")
    assert prompt["template_id"] == "TPL-checkin"
    assert "回个“好”报平安" in prompt["data"]["first"]["value"]
    tick(services, clock)
    assert len(templates_to(api, "openid-zhang")) == 1  # never twice
    clock.advance(timedelta(minutes=20))
    assert "平安就好" in aunt.say("好")
    clock.advance(timedelta(hours=5))
    tick(services, clock)
    assert _days(services) == [("2026-12-01", "answered", 0)]
    assert customs_to(api, "openid-zhang") == []


def test_a_voice_message_or_an_emoji_counts_and_is_still_handled(
    client: TestClient, services: Services, clock: FixedClock, api: FakeApi
) -> None:
    grandpa = resident(client, "openid-li")
    assert "每天7:30" in grandpa.say("我想每天报个平安 早上7点半")
    clock.now = clock.now.replace(hour=23, minute=30)  # 07:30 the next day
    tick(services, clock)
    assert len(customs_to(api, "openid-li")) == 1  # inside the 48 h window: a customer-service message
    clock.advance(timedelta(minutes=10))
    # A voice message about something else: the day is checked in, and the message is handled as usual.
    reply = grandpa.speak("三号楼门口的路灯坏了")
    assert reply and "平安" not in reply
    clock.advance(timedelta(hours=6))
    tick(services, clock)
    assert _days(services) == [("2026-11-29", "answered", 0)]
    clock.advance(timedelta(days=1))
    tick(services, clock)
    clock.advance(timedelta(minutes=5))
    assert "平安就好" in grandpa.say("👍")


def test_a_pause_until_a_date_the_bot_confirms_is_honoured(
    client: TestClient, services: Services, clock: FixedClock, api: FakeApi
) -> None:
    aunt = resident(client, "openid-wang")
    aunt.say("我想每天报个平安，早上8点")
    asked = aunt.say("这几天去女儿家了，不用报平安")
    assert "几号回来" in asked
    confirmed = aunt.say("12月1号回来")
    assert "12月1日之前不提醒" in confirmed and "12月2日起照常提醒" in confirmed
    for _ in range(3):  # 29 and 30 November, 1 December: nothing
        clock.now = (clock.now + timedelta(days=1)).replace(hour=0, minute=30)
        tick(services, clock)
    assert customs_to(api, "openid-wang") == [] and templates_to(api, "openid-wang") == []
    clock.now = (clock.now + timedelta(days=1)).replace(hour=0, minute=30)  # 08:30, 2 December
    tick(services, clock)
    assert len(templates_to(api, "openid-wang")) == 1


def test_a_resident_stops_it_any_time(client: TestClient, services: Services, clock: FixedClock, api: FakeApi) -> None:
    aunt = resident(client, "openid-chen")
    aunt.say("每天报平安 晚上7点")
    assert "已停止" in aunt.say("不用报平安了")
    clock.advance(timedelta(hours=12))
    tick(services, clock)
    assert customs_to(api, "openid-chen") == [] and templates_to(api, "openid-chen") == []
    with services.sessions.begin() as session:
        rid = repo.get_or_create_resident(session, openid="openid-chen").id
        [enrolment] = session.scalars(select(Enrolment).where(Enrolment.resident_id == rid)).all()
        assert enrolment.status == "ended"


def test_a_family_member_enrols_their_mother(client: TestClient, services: Services, clock: FixedClock) -> None:
    son = resident(client, "openid-son")
    asked = son.say("给我妈开通平安打卡")
    assert "几点" in asked and "您妈" in asked
    who = son.say("早上9点")
    assert "怎么称呼" in who
    done = son.say("张秀英 3号楼2单元502")
    assert "张秀英" in done and "3号楼2单元502室" in done and "9:00" in done
    with services.sessions.begin() as session:
        [enrolment] = session.scalars(select(Enrolment)).all()
        assert enrolment.name == "张秀英" and enrolment.member_id is not None and enrolment.resident_id is None
