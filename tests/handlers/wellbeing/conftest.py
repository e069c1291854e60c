"""Fixtures for 报平安 tests: a settable clock, the fake WeChat/WeCom API, a community with grids and a
check-in template, and helpers to run the scheduler job and drain the outbox at the clock's time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.outbox import drain_once, make_senders
from bot.scheduler import run_safecheck
from bot.services import Services
from bot.settings import Settings
from handlers.clock import FixedClock
from storage import repositories as repo
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.fake_api import FakeApi, card_text, card_title
from tests.support.people import CORP_ID, WECOM_AES_KEY, WECOM_TOKEN, Resident, Worker
from tests.support.wechat import FakeWeChat

# 10:00 China time on Saturday 28 November 2026.
T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)

COMMUNITY = {
    "duty": {"name": "王晓燕", "wecom_userid": "wangxiaoyan"},
    "buildings": ["1", "2", "3", "4", "5"],
    "grids": [
        {
            "code": "g1",
            "name": "第一网格",
            "worker": {"name": "张丽", "wecom_userid": "zhangli"},
            "buildings": ["1", "2", "3"],
        },
        {
            "code": "g2",
            "name": "第二网格",
            "worker": {"name": "陈刚", "wecom_userid": "chengang"},
            "buildings": ["4", "5"],
        },
    ],
    "escalation": {"leader": {"name": "周书记", "wecom_userid": "zhoushuji"}},
    "checkin_template_id": "TPL-checkin",
}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def settings(db_url: str, tmp_path: Path, api: FakeApi) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        wechat_api_base=api.base,
        wecom_api_base=api.base,
        wecom_corp_id=CORP_ID,
        wecom_token=WECOM_TOKEN,
        wecom_aes_key=WECOM_AES_KEY,
        reply_budget_seconds=60.0,
    )


@pytest.fixture
def services(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    services = Services(settings, clock=clock)
    with services.sessions.begin() as session:
        repo.upsert_community(session, code="heping", name="和平社区", qr_scene="101", config=COMMUNITY)
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services)) as test_client:
        yield test_client


def resident(client: TestClient, openid: str) -> Resident:
    someone = Resident(client, FakeWeChat(TOKEN, APP_ID, AES_KEY), openid)
    someone.join("101")
    return someone


def worker(client: TestClient, userid: str) -> Worker:
    return Worker(client, userid)


def tick(services: Services, clock: FixedClock) -> None:
    """One scheduler run and a drain of the outbox, both at the clock's time."""
    run_safecheck(services, now=clock.now)
    senders = make_senders(services)
    for _ in range(10):
        if not drain_once(services, senders, now=clock.now):
            break


def templates_to(api: FakeApi, openid: str) -> list[dict[str, Any]]:
    return [c.body for c in api.sent("/cgi-bin/message/template/send") if c.body["touser"] == openid]


def customs_to(api: FakeApi, openid: str) -> list[str]:
    return [c.body["text"]["content"] for c in api.sent("/cgi-bin/message/custom/send") if c.body["touser"] == openid]


def cards_to(api: FakeApi, userid: str) -> list[str]:
    """What each card sent to the worker shows: a text card's or a ticket's template card's."""
    return [
        card_text(c.body)
        for c in api.sent("/cgi-bin/message/send")
        if card_title(c.body) is not None and c.body["touser"] == userid
    ]
