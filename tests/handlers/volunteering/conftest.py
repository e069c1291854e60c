"""Fixtures for the volunteering tests: a settable clock, a resident who talks through signed XML, ledger checks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import Services
from bot.settings import Settings
from handlers.clock import FixedClock, system_clock
from handlers.communities import spec_of, sync_catalogue
from storage import ledger as lrepo
from storage import repositories as repo
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

# 10:00 China time on a Saturday; every test moves this clock instead of sleeping.
T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


# The name the tests annotate their `clock` argument with.
Clock = FixedClock


@pytest.fixture
def clock() -> FixedClock:
    """The time the pipeline hands to handlers (ctx.now), under the test's control."""
    return FixedClock(T0)


@pytest.fixture
def services(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Services]:
    """On the test's FixedClock when the test asks for `clock`; otherwise on the system clock."""
    clock = request.getfixturevalue("clock") if "clock" in request.fixturenames else system_clock
    services = Services(settings, clock=clock)
    yield services
    services.close()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # A generous budget: a reply deferred to the outbox would leave the test nothing to read.
    return make_settings(db_url, tmp_path, reply_budget_seconds=60.0)


@pytest.fixture
def client(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    # The real classifier: the encoder, the trained intent model and the index are built once per
    # test process and shared, so only the first test pays for them.
    with TestClient(create_app(services.settings, services)) as test_client:
        yield test_client


@pytest.fixture
def community(services: Services) -> int:
    """One community with a small rewards catalogue (one community: residents join it automatically)."""
    with services.sessions.begin() as session:
        row = repo.upsert_community(
            session,
            code="heping",
            name="和平社区",
            qr_scene="101",
            config={
                "duty": {"name": "王晓燕", "wecom_userid": "wangxiaoyan"},
                "rewards": [
                    {"name": "食堂券", "points_price": 20, "stock": 1, "valid_days": 30},
                    {"name": "理发券", "points_price": 30, "stock": 5},
                ],
            },
        )
        # As `community load` does: the catalogue is written with the community, not on a resident's message.
        sync_catalogue(session, row, spec_of(row))
        return row.id


def talk(client: TestClient, openid: str) -> Resident:
    return Resident(client, FakeWeChat(TOKEN, APP_ID, AES_KEY), openid)


def resident_id(services: Services, openid: str) -> int:
    with services.sessions.begin() as session:
        return repo.get_or_create_resident(session, openid=openid).id


def assert_ledger_balances(services: Services) -> None:
    """Every balance is the sum of its entries, and no running balance ever dipped below zero."""
    with services.sessions.begin() as session:
        entries = lrepo.entries_for(session)
        running: dict[tuple[int, str], int] = {}
        for entry in entries:
            key = (entry.resident_id, entry.unit)
            running[key] = running.get(key, 0) + entry.amount
            assert running[key] >= 0, f"balance went negative at entry {entry.id}"
        for (rid, unit), total in running.items():
            assert lrepo.balance(session, resident_id=rid, unit=unit) == total  # type: ignore[arg-type]
