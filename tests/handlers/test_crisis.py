"""Danger through the real webhook: the right script per danger, the red alert, everyday words left alone,
and the crisis conversation that follows a crisis reply (second alerts, flows set aside, the window)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.services import Services
from bot.settings import Settings
from handlers.clock import FixedClock
from handlers.communities import load_communities, parse_community_file
from storage.models import OutboxMessage
from storage.tickets import Ticket
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "community.yaml"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path, reply_budget_seconds=60.0)


@pytest.fixture
def services(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    services = Services(settings, clock=clock)
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services)) as test_client:
        yield test_client


@pytest.fixture
def resident(client: TestClient) -> Resident:
    someone = Resident(client, FakeWeChat(TOKEN, APP_ID, AES_KEY), "openid-crisis")
    someone.join("101")
    return someone


def alerts(services: Services) -> list[str]:
    """The levels of the alerts queued for the worker on duty, oldest first."""
    with services.sessions.begin() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == "wecom_app").order_by(OutboxMessage.id)
        ).all()
        return [
            str(row.payload.get("level"))
            for row in rows
            if "resident_id" in row.payload and "ticket" not in row.payload
        ]


def tickets(services: Services) -> int:
    with services.sessions.begin() as session:
        return len(session.scalars(select(Ticket)).all())


@pytest.mark.parametrize(
    ("text", "numbers", "never"),
    [
        ("闻到一股臭鸡蛋味", ("96777", "119"), ("挪动病人",)),
        ("隔壁有股烧焦的味道", ("119",), ("挪动病人",)),
        ("孩子找不到了", ("110",), ("12356",)),
        ("他说报警就弄死我", ("110",), ("12356", "身边有人")),
        ("我被人跟踪了", ("110",), ("12356",)),
        ("掏化粪池的工人掉下去了 下去拉他的人也没上来", ("120",), ("工单",)),
        ("老伴吃着饭突然嘴歪了 说话也说不清楚", ("120",), ("12356",)),
    ],
)
def test_each_danger_gets_its_own_number_and_a_red_alert(
    resident: Resident, services: Services, text: str, numbers: tuple[str, ...], never: tuple[str, ...]
) -> None:
    reply = resident.say(text)
    assert all(number in reply for number in numbers), reply
    assert not any(word in reply for word in never), reply
    assert alerts(services) == ["red"]
    assert tickets(services) == 0


@pytest.mark.parametrize(
    "text",
    ["累死了 今天带了一天孙子", "想死你了奶奶", "我家猫死了 养了十三年", "5号楼电梯又停了", "天然气灶打不着火找谁修"],
)
def test_everyday_words_raise_no_alarm(resident: Resident, services: Services, text: str) -> None:
    reply = resident.say(text)
    assert "担心你" not in reply and "扒门" not in reply and "先离开屋子" not in reply
    assert "red" not in alerts(services)


def test_alone_after_a_self_harm_reply_gets_the_number_and_a_second_alert(
    resident: Resident, services: Services
) -> None:
    assert "12356" in resident.say("我不想活了")
    reply = resident.say("没有")
    assert "12356" in reply and "值班" in reply
    assert "查报修进度" not in reply and "没太明白" not in reply
    assert len(reply) <= 200
    assert alerts(services) == ["red", "red"]


def test_a_pending_step_is_set_aside_and_never_filled_with_crisis_words(
    resident: Resident, services: Services, clock: FixedClock
) -> None:
    assert "哪" in resident.say("楼道灯又坏了")
    assert "12356" in resident.say("唉 灯坏不坏的无所谓了 我也不想活了")
    reply = resident.say("你们能不能来个人")
    assert "值班" in reply and "工单" not in reply and "楼道灯" not in reply
    assert tickets(services) == 0
    assert alerts(services) == ["red"]
    clock.advance(timedelta(minutes=45))
    assert "工单" in resident.say("5号楼楼道灯不亮 晚上上楼摸黑")
    assert tickets(services) == 1


def test_the_crisis_conversation_ends_when_its_window_closes(
    resident: Resident, services: Services, clock: FixedClock
) -> None:
    resident.say("活够了 真的活够了")
    clock.advance(timedelta(minutes=29))
    assert "12356" in resident.say("你是真人吗")
    clock.advance(timedelta(minutes=2))
    assert "12356" not in resident.say("你好")


def test_distress_gets_a_direct_question_a_yellow_notice_and_red_on_yes(resident: Resident, services: Services) -> None:
    reply = resident.say("活着好累")
    assert "12356" in reply and "？" in reply
    assert alerts(services) == ["yellow"]
    assert "12356" in resident.say("嗯 有时候想过")
    assert alerts(services) == ["yellow", "red"]


def test_distress_answered_no_stays_yellow(resident: Resident, services: Services) -> None:
    resident.say("心里头苦得很 熬不下去了")
    reply = resident.say("没有没有 就是累 想找人说说")
    assert "没太明白" not in reply and "查报修进度" not in reply
    assert alerts(services) == ["yellow"]


def test_violence_still_going_on_alerts_again_without_asking_who_is_there(
    resident: Resident, services: Services
) -> None:
    first = resident.say("他又喝多了在砸门 我躲在厕所里")
    assert "110" in first and "身边有人" not in first and "12356" not in first
    reply = resident.say("他还在外面踹门")
    assert "110" in reply and "身边有人" not in reply and len(reply) <= 200
    assert alerts(services) == ["red", "red"]


def test_a_gas_follow_up_keeps_the_numbers_without_a_second_alert(resident: Resident, services: Services) -> None:
    resident.say("厨房一股煤气味 好冲")
    reply = resident.say("阀门关了窗也开了 然后呢")
    assert "96777" in reply or "119" in reply
    assert "具体在哪里" not in reply
    assert alerts(services) == ["red"]


def test_a_photo_after_a_plan_gets_the_numbers_not_a_ticket_step(resident: Resident, services: Services) -> None:
    resident.say("药都攒好了 今晚就吃")
    reply = resident.photo()
    assert "12356" in reply or "120" in reply
    assert "工单" not in reply and "报修" not in reply
    assert tickets(services) == 0
