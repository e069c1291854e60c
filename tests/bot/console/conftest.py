"""Fixtures for the console: the demo community file, residents' tickets in two grids, and ways to log in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

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
LINK = re.compile(r"(/console/link/[A-Za-z0-9_-]+)")


@pytest.fixture
def console_api(api: FakeApi) -> FakeApi:
    api.login_as = ""
    api.login_codes.clear()
    return api


def console_settings(db_url: str, tmp_path: Path, api: FakeApi, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "wechat_api_base": api.base,
        "wecom_api_base": api.base,
        "wecom_oauth_base": api.base,
        "wecom_corp_id": CORP_ID,
        "wecom_token": WECOM_TOKEN,
        "wecom_aes_key": WECOM_AES_KEY,
    }
    return make_settings(db_url, tmp_path, **(values | overrides))


@pytest.fixture
def settings(db_url: str, tmp_path: Path, console_api: FakeApi) -> Settings:
    return console_settings(db_url, tmp_path, console_api)


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


def resident(client: TestClient, wechat: FakeWeChat, openid: str) -> Resident:
    someone = Resident(client, wechat, openid)
    someone.join("101")
    return someone


def report(client: TestClient, wechat: FakeWeChat, openid: str, text: str) -> str:
    """A resident reports a problem through the real webhook; the ticket's code."""
    answer = resident(client, wechat, openid).say(text)
    match = re.search(r"工单号 ([A-Z0-9]{6})", answer)
    assert match, answer
    return match.group(1)


def login_link(client: TestClient, userid: str) -> str:
    """The worker sends "登录" to the WeCom app and gets a one-time link back (its path)."""
    answer = Worker(client, userid).say("登录")
    match = LINK.search(answer)
    assert match, answer
    return match.group(1)


def log_in(client: TestClient, userid: str) -> str:
    """Log the client in as the worker through a one-time link; the session's CSRF token."""
    response = client.post(login_link(client, userid))
    assert response.status_code == 303, response.text
    page = client.get("/console/tickets")
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def drain(services: Services) -> None:
    senders = make_senders(services)
    for _ in range(5):
        if not drain_once(services, senders, now=utcnow()):
            break
