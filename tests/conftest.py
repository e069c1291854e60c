"""Shared fixtures: settings, databases on both backends, services, and a webhook client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import Services
from bot.settings import Settings
from tests.support.databases import (
    empty_postgres,
    fresh_sqlite,
    postgres_available,
    postgres_database,
    sqlite_template,
)
from tests.support.fake_api import FakeApi, fake_api
from tests.support.offline import UNARRANGED, offline

# A real 43-character EncodingAESKey, as WeChat generates them, used only by the tests.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PREVIOUS_AES_KEY = "GFEDCBA9876543210zyxwvutsrqponmlkjihgfedcba"
APP_ID = "wx1234567890abcdef"
TOKEN = "test-token-123"

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def _no_unarranged_requests() -> Iterator[None]:
    """Any HTTP request a test did not arrange fails it, even when the code under test swallowed the error."""
    with offline() as refused:
        yield
    assert not refused, f"unarranged HTTP requests: {refused}"


@pytest.fixture(scope="session")
def _pg_url() -> Iterator[str | None]:
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable; CI runs every storage test on it")
        yield None
        return
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated, empty database; every test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return fresh_sqlite(_sqlite_template, tmp_path / "shegong.db")
    url: str | None = request.getfixturevalue("_pg_url")
    if url is None:
        pytest.skip("PostgreSQL is not reachable")
    empty_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """For tests about the protocol rather than storage: SQLite only."""
    return fresh_sqlite(_sqlite_template, tmp_path / "shegong.db")


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": tmp_path / "var",
        "wechat_token": TOKEN,
        "wechat_app_id": APP_ID,
        "wechat_app_secret": "app-secret-for-tests",
        "wechat_aes_key": AES_KEY,
        "wechat_aes_key_previous": PREVIOUS_AES_KEY,
        # Tests that send stand up a fake API server (the `api` fixture) and point these at it.
        "wechat_api_base": UNARRANGED,
        "wecom_api_base": UNARRANGED,
        "wecom_corp_id": "ww-test-corp",
        "wecom_agent_id": "1000002",
        "wecom_secret": "wecom-secret-for-tests",
        "admin_token": "admin-token-for-tests",
        "secret_key": "secret-key-for-tests",
        "embedded_worker": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = Services(settings)
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def _api_server() -> Iterator[FakeApi]:
    with fake_api() as server:
        yield server


@pytest.fixture
def api(_api_server: FakeApi) -> FakeApi:
    """A fake WeChat / WeCom API server, one per module (stopping one takes half a second), with a clean
    slate per test."""
    _api_server.calls.clear()
    _api_server.failures.clear()
    _api_server.down = False
    _api_server.token_counter = 0
    return _api_server
