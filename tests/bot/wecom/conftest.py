"""Fixtures for the WeCom side: the demo community file, the fake WeChat/WeCom API, residents and workers
speaking the real protocols (signed, encrypted XML)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.outbox import drain_once, make_senders
from bot.services import Services
from bot.settings import Settings
from handlers.communities import load_communities, parse_community_file
from storage.models import utcnow
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.fake_api import FakeApi
from tests.support.people import CORP_ID, WECOM_AES_KEY, WECOM_TOKEN, Resident, Worker
from tests.support.wechat import FakeWeChat

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "community.yaml"
CODE = re.compile(r"工单号? ?([2-9A-HJKMNP-Z]{6})")
SEND = "/cgi-bin/message/send"
UPDATE = "/cgi-bin/message/update_template_card"


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
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = Services(settings)
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def wechat() -> FakeWeChat:
    return FakeWeChat(TOKEN, APP_ID, AES_KEY)


def resident(client: TestClient, wechat: FakeWeChat, openid: str = "openid-resident-a") -> Resident:
    someone = Resident(client, wechat, openid)
    someone.join("101")
    return someone


def code_in(reply: str) -> str:
    match = CODE.search(reply)
    assert match, reply
    return match.group(1)


def drain(services: Services, rounds: int = 5) -> None:
    senders = make_senders(services)
    for _ in range(rounds):
        if not drain_once(services, senders, now=utcnow()):
            break


def worker(client: TestClient, userid: str) -> Worker:
    return Worker(client, userid)


def cards_to(api: FakeApi, userid: str) -> list[dict[str, Any]]:
    """The template cards WeCom delivered to `userid`."""
    return [
        c.body["template_card"]
        for c in api.deliveries(SEND)
        if c.body.get("touser") == userid and c.body.get("msgtype") == "template_card"
    ]


def texts_to(api: FakeApi, userid: str) -> list[str]:
    return [
        c.body["text"]["content"]
        for c in api.deliveries(SEND)
        if c.body.get("touser") == userid and c.body.get("msgtype") == "text"
    ]


def customs_to(api: FakeApi, openid: str) -> list[str]:
    return [
        c.body["text"]["content"] for c in api.deliveries("/cgi-bin/message/custom/send") if c.body["touser"] == openid
    ]
