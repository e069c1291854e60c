"""Fixtures for taking part: the demo communities (with a small proposal threshold), residents on WeChat,
workers on WeCom, the office API, and reading what the outbox would send."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from bot.settings import Settings
from handlers.communities import load_communities, parse_community_file
from storage import repositories as repo
from storage.models import OutboxMessage
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.people import CORP_ID, WECOM_AES_KEY, WECOM_TOKEN, Resident, Worker
from tests.support.wechat import FakeWeChat

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "community.yaml"
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}
THRESHOLD = 2


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        wecom_corp_id=CORP_ID,
        wecom_token=WECOM_TOKEN,
        wecom_aes_key=WECOM_AES_KEY,
        # A generous budget: a reply deferred to the outbox would leave the test nothing to read.
        reply_budget_seconds=60.0,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = Services(settings)
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
        heping = repo.community_by_code(session, code="heping")
        assert heping is not None
        heping.config = {**heping.config, "proposal_threshold": THRESHOLD}
    yield services
    services.close()


def resident(client: TestClient, openid: str, address: str | None = None) -> Resident:
    """A resident of 和平社区 (joined by its QR code), who has told the bot their address if given."""
    someone = Resident(client, FakeWeChat(TOKEN, APP_ID, AES_KEY), openid)
    someone.join("101")
    if address:
        assert "记下了" in someone.say(address)
    return someone


def worker(client: TestClient, userid: str = "zhangli") -> Worker:
    return Worker(client, userid)


def number_in(reply: str, prefix: str) -> int:
    found = re.search(rf"{prefix}(\d+)", reply)
    assert found, reply
    return int(found.group(1))


def pushed_to(services: Services, openid: str) -> list[str]:
    """The texts queued for a resident (customer-service messages), oldest first."""
    with services.sessions.begin() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == openid).order_by(OutboxMessage.id)
        )
        return [str(r.payload.get("text", {}).get("content", "")) for r in rows]


def cards_to(services: Services, userid: str) -> list[str]:
    with services.sessions.begin() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == userid, OutboxMessage.channel == "wecom_app")
        )
        return [str(r.payload.get("textcard", {}).get("title", "")) for r in rows]
