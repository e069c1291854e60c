"""Silence walks the escalation steps in order at the community's times; "已上门，平安" or the resident's
answer stops them; a restart catches up; two schedulers on PostgreSQL never send a step twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.scheduler import run_safecheck
from bot.services import Services
from handlers.clock import FixedClock
from handlers.wellbeing.files import add_contact
from storage import repositories as repo
from storage.households import household_at
from storage.models import Community, OutboxMessage
from storage.tickets import Ticket
from tests.support.fake_api import FakeApi

from .conftest import cards_to, customs_to, resident, templates_to, tick, worker


@pytest.fixture
def aunt_enrolled(client: TestClient, services: Services, clock: FixedClock) -> None:
    """张阿姨 at 3号楼2单元502, enrolled for 08:00, with a paired neighbour on WeChat, a volunteer on WeCom
    and a son on WeChat; then the clock moves to 07:00 three days on (her 48 h window closed)."""
    aunt = resident(client, "openid-aunt")
    aunt.say("我住3号楼2单元502")
    aunt.say("我想每天报个平安，早上8点")
    resident(client, "openid-neighbour").say("你好")
    resident(client, "openid-son").say("你好")
    with services.sessions.begin() as session:
        community = repo.community_by_code(session, code="heping")
        assert community is not None
        home = household_at(session, community.id, "3", "2", "502")
        assert home is not None
        key = services.settings.secret_key
        neighbour = repo.resident_by_openid(session, openid="openid-neighbour")
        son = repo.resident_by_openid(session, openid="openid-son")
        add_contact(session, key, home, role="neighbour", name="刘大姐", resident=neighbour, by="test", now=clock.now)
        add_contact(
            session,
            key,
            home,
            role="volunteer",
            name="小赵",
            wecom_userid="xiaozhao",
            phone="13900001111",
            by="test",
            now=clock.now,
        )
        add_contact(
            session, key, home, role="family", name="李明", resident=son, phone="13812345678", by="test", now=clock.now
        )
    clock.now = clock.now.replace(hour=23, minute=0) + timedelta(days=2)  # 07:00 China time, 1 December


def _steps(api: FakeApi) -> dict[str, int]:
    return {
        "prompt": len(templates_to(api, "openid-aunt")),
        "neighbour": len(customs_to(api, "openid-neighbour")) + len(templates_to(api, "openid-neighbour")),
        "volunteer": len(cards_to(api, "xiaozhao")),
        "son": len(customs_to(api, "openid-son")) + len(templates_to(api, "openid-son")),
        "grid": len(cards_to(api, "zhangli")),
    }


@pytest.mark.usefixtures("aunt_enrolled")
def test_silence_walks_every_step_in_order_at_the_right_times(
    client: TestClient, services: Services, clock: FixedClock, api: FakeApi
) -> None:
    seen = []
    for minutes in (60, 59, 1, 59, 1, 59, 1, 59, 1, 120):  # 08:00 ... 12:00, then 14:00
        clock.advance(timedelta(minutes=minutes))
        tick(services, clock)
        seen.append((clock.now.hour + 8, clock.now.minute, _steps(api)))
    at = {(h, m): s for h, m, s in seen}
    assert at[(8, 0)] == {"prompt": 1, "neighbour": 0, "volunteer": 0, "son": 0, "grid": 0}
    assert at[(8, 59)] == at[(8, 0)]
    assert at[(9, 0)]["prompt"] == 2  # the second prompt
    assert at[(9, 59)]["neighbour"] == 0
    assert at[(10, 0)] == {"prompt": 2, "neighbour": 1, "volunteer": 1, "son": 0, "grid": 0}
    assert at[(11, 0)]["son"] == 1 and at[(11, 0)]["grid"] == 0
    assert at[(12, 0)]["grid"] == 1
    assert at[(14, 0)] == at[(12, 0)]  # nothing more, nothing twice
    knock = templates_to(api, "openid-neighbour")[0]["data"]["first"]["value"]
    assert "3号楼2单元502室" in knock and "已上门，平安" in knock
    with services.sessions.begin() as session:
        [ticket] = session.scalars(select(Ticket)).all()
        assert ticket.colour == "red" and ticket.assignee == "zhangli"
        assert "李明" in ticket.description and "138****5678" in ticket.description
        assert "小赵" in ticket.description and "139****1111" in ticket.description
    # The grid worker goes, finds her well, and says so over WeCom.
    answer = worker(client, "zhangli").say("已上门，平安")
    assert "平安" in answer and "已停止" in answer


@pytest.mark.usefixtures("aunt_enrolled")
def test_a_neighbour_reporting_safe_in_wechat_stops_the_chain(
    client: TestClient, services: Services, clock: FixedClock, api: FakeApi
) -> None:
    neighbour = resident(client, "openid-neighbour")
    for minutes in (60, 60, 60):  # 08:00, 09:00, 10:00: the neighbour is asked to knock
        clock.advance(timedelta(minutes=minutes))
        tick(services, clock)
    assert _steps(api)["neighbour"] == 1
    clock.advance(timedelta(minutes=15))
    assert "已记下平安" in neighbour.say("已上门 平安")
    for _ in range(4):
        clock.advance(timedelta(hours=1))
        tick(services, clock)
    assert _steps(api)["son"] == 0 and _steps(api)["grid"] == 0


@pytest.mark.usefixtures("aunt_enrolled")
def test_the_resident_answering_late_stops_the_chain(
    client: TestClient, services: Services, clock: FixedClock, api: FakeApi
) -> None:
    for minutes in (60, 60):  # 08:00 prompt, 09:00 second prompt
        clock.advance(timedelta(minutes=minutes))
        tick(services, clock)
    clock.advance(timedelta(minutes=30))
    resident(client, "openid-aunt").say("在呢 刚才买菜去了")
    for _ in range(4):
        clock.advance(timedelta(hours=1))
        tick(services, clock)
    assert _steps(api) == {"prompt": 2, "neighbour": 0, "volunteer": 0, "son": 0, "grid": 0}


@pytest.mark.usefixtures("aunt_enrolled")
def test_a_restart_catches_up_the_steps_missed_while_down(services: Services, clock: FixedClock, api: FakeApi) -> None:
    clock.advance(timedelta(hours=1))  # 08:00: the prompt
    tick(services, clock)
    clock.advance(timedelta(hours=2, minutes=30))  # the server was down from 08:01 to 10:30
    tick(services, clock)
    assert _steps(api) == {"prompt": 2, "neighbour": 1, "volunteer": 1, "son": 0, "grid": 0}
    with services.sessions.begin() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("safecheck:%"))).all()
        keys = sorted(r.dedupe_key or "" for r in rows)
        assert [k.rsplit(":", 1)[-1] if "contact" not in k else "contact" for k in keys] == [
            "0",
            "1",
            "contact",
            "contact",
        ]


@pytest.mark.usefixtures("aunt_enrolled")
def test_two_schedulers_never_send_a_step_twice(
    services: Services, clock: FixedClock, api: FakeApi, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("two processes' schedulers share PostgreSQL; SQLite serves one")
    others = [Services(services.settings, clock=clock) for _ in range(3)]
    try:
        for minutes in (60, 60, 60, 60, 60):
            clock.advance(timedelta(minutes=minutes))
            barrier = threading.Barrier(len(others))
            errors: list[BaseException] = []

            def run(one: Services, barrier: threading.Barrier = barrier, errors: list[BaseException] = errors) -> None:
                barrier.wait()
                try:
                    run_safecheck(one, now=clock.now)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(one,)) for one in others]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors
        with services.sessions.begin() as session:
            rows = session.scalars(select(OutboxMessage)).all()
            keys = [r.dedupe_key for r in rows if r.dedupe_key]
            assert len(keys) == len(set(keys))
            mine = [k for k in keys if k.startswith("safecheck:")]
            assert len(mine) == 5  # prompt, second prompt, neighbour, volunteer, son
            [ticket] = session.scalars(select(Ticket)).all()  # and one visit task, alerted once per worker
            assert sorted(k for k in keys if k.startswith(f"ticket:{ticket.code}:")) == [
                f"ticket:{ticket.code}:new:wangxiaoyan",
                f"ticket:{ticket.code}:new:zhangli",
            ]
            community = session.scalar(select(Community))
            assert community is not None
    finally:
        for one in others:
            one.close()
