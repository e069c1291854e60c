"""Fixtures for ticket tests: the fake WeChat/WeCom API, the demo community file, and protocol helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.outbox import drain_once, make_senders
from bot.services import Services
from bot.settings import Settings
from handlers.communities import load_communities, parse_community_file
from storage.models import utcnow
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.fake_api import FakeApi, card_title
from tests.support.people import CORP_ID, WECOM_AES_KEY, WECOM_TOKEN, Resident, Worker
from tests.support.wechat import FakeWeChat

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "community.yaml"
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


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
        ticket_template_id="TPL-ticket-progress",
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = Services(settings)
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
    yield services
    services.close()


@pytest.fixture
def wechat() -> FakeWeChat:
    return FakeWeChat(TOKEN, APP_ID, AES_KEY)


@pytest.fixture
def resident(client: TestClient, wechat: FakeWeChat) -> Resident:
    someone = Resident(client, wechat, "openid-resident-a")
    someone.join("101")
    return someone


def worker(client: TestClient, userid: str) -> Worker:
    return Worker(client, userid)


def drain(services: Services, *, now: object = None, rounds: int = 5) -> None:
    senders = make_senders(services)
    for _ in range(rounds):
        if not drain_once(services, senders, now=now or utcnow()):  # type: ignore[arg-type]
            break


def sent_cards(api: FakeApi) -> list[tuple[str, str]]:
    """(userid, title) of every WeCom app message the fake server accepted."""
    return [
        (c.body["touser"], title)
        for c in api.sent("/cgi-bin/message/send")
        if (title := card_title(c.body)) is not None
    ]


def customs_to(api: FakeApi, openid: str) -> list[str]:
    return [c.body["text"]["content"] for c in api.sent("/cgi-bin/message/custom/send") if c.body["touser"] == openid]
