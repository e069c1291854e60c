"""Fixtures for the notice board and satisfaction tests: the demo communities on a settable clock, and a resident."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.services import Services
from bot.settings import Settings
from handlers.board.services import publish_allocation
from handlers.clock import FixedClock
from handlers.communities import load_communities, parse_community_file
from storage import repositories as repo
from storage.models import Community, OutboxMessage
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "community.yaml"
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}
# 10:00 China time on Monday 2 November 2026.
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # A generous budget: a reply deferred to the outbox would leave the test nothing to read.
    return make_settings(db_url, tmp_path, reply_budget_seconds=60.0, public_url="https://shegong.example.cn")


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


def community(session: object, code: str = "heping") -> Community:
    found = repo.community_by_code(session, code=code)  # type: ignore[arg-type]
    assert found is not None
    return found


def publish(services: Services, clock: FixedClock, **overrides: object) -> int:
    """Publish an allocation of 和平社区 at the clock's time; its id."""
    values: dict[str, object] = {
        "title": "小区健身器材更新",
        "purpose": "elderly",
        "amount_fen": 1_200_000,
        "beneficiaries": "全体居民，特别是老年人",
        "worker": "wangxiaoyan",
    }
    values.update(overrides)
    with services.sessions.begin() as session:
        allocation = publish_allocation(session, community=community(session), now=clock(), **values)  # type: ignore[arg-type]
        return allocation.id


def talk(client: TestClient, openid: str, scene: str = "101") -> Resident:
    someone = Resident(client, FakeWeChat(TOKEN, APP_ID, AES_KEY), openid)
    someone.join(scene)
    return someone


def wecom_cards(services: Services, *, prefix: str = "") -> list[OutboxMessage]:
    with services.sessions.begin() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == "wecom_app").order_by(OutboxMessage.id)
        )
        return [row for row in rows if str(row.dedupe_key or "").startswith(prefix)]
