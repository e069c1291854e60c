"""The clock Services carries is the time the whole message path sees: recording, handling, the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.outbox import drain_once
from bot.services import Services
from handlers.clock import FixedClock
from storage import repositories as repo
from storage.models import InboundMessage, OutboundMessage, OutboxMessage
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.wechat import FakeWeChat

MOMENT = datetime(2026, 5, 4, 1, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MOMENT)


@pytest.fixture
def services(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Services]:
    services = Services(make_settings(db_url, tmp_path), clock=clock)
    yield services
    services.close()


def same_moment(value: datetime | None, expected: datetime) -> bool:
    # SQLite gives back naive UTC.
    return value is not None and value.replace(tzinfo=value.tzinfo or UTC) == expected


def test_a_message_is_recorded_and_answered_at_the_clock_s_time(services: Services, clock: FixedClock) -> None:
    wechat = FakeWeChat(TOKEN, APP_ID, AES_KEY)
    with TestClient(create_app(services.settings, services)) as client:
        assert "有什么可以帮您" in wechat.exchange(client, wechat.text("openid-clock", "你好"))
    with services.sessions.begin() as session:
        inbound = session.query(InboundMessage).one()
        outbound = session.query(OutboundMessage).one()
        resident = repo.resident_by_openid(session, openid="openid-clock")
        assert resident is not None
        assert same_moment(inbound.received_at, MOMENT) and same_moment(inbound.handled_at, MOMENT)
        assert same_moment(outbound.created_at, MOMENT)
        assert same_moment(resident.last_inbound_at, MOMENT)


def test_the_outbox_sends_what_is_due_by_the_clock(services: Services, clock: FixedClock) -> None:
    with services.sessions.begin() as session:
        repo.enqueue_outbox(
            session,
            channel="wecom_app",
            recipient="zhangli",
            payload={"msgtype": "text", "text": {"content": "稍后再发"}},
            community_id=None,
            now=MOMENT + timedelta(minutes=10),
        )
    sent: list[str] = []

    def send(session: object, job: object, now: datetime) -> None:
        sent.append(now.isoformat())

    assert drain_once(services, {"wecom_app": send}) == 0  # not due yet by the clock
    clock.advance(timedelta(minutes=10))
    assert drain_once(services, {"wecom_app": send}) == 1
    assert sent == [(MOMENT + timedelta(minutes=10)).isoformat()]
    with services.sessions.begin() as session:
        assert session.query(OutboxMessage).one().status == "sent"
