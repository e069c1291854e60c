"""Access tokens: fetched with stable_token, kept in the database, shared by every worker, refreshed once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tenacity import wait_none

from bot import clients as apiclient
from bot.clients import ApiError, WeChatClient, WeComClient
from bot.services import Services
from storage.models import ApiToken, utcnow
from tests.conftest import APP_ID, make_settings
from tests.support.fake_api import FakeApi

STABLE = "/cgi-bin/stable_token"
CUSTOM = "/cgi-bin/message/custom/send"
TEXT = {"msgtype": "text", "text": {"content": "您好"}}


@pytest.fixture(autouse=True)
def _no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    # The busy-answer retries wait with backoff; the schedule is not under test here, the count is.
    monkeypatch.setattr(apiclient, "wait_exponential", lambda **_: wait_none())


@pytest.fixture
def two_workers(db_url: str, tmp_path: Path, api: FakeApi) -> Iterator[tuple[Services, Services]]:
    """Two processes' worth of Services on one database, talking to the fake API."""
    settings = make_settings(db_url, tmp_path, wechat_api_base=api.base, wecom_api_base=api.base)
    first, second = Services(settings), Services(settings)
    yield first, second
    first.close()
    second.close()


def stored_token(services: Services, name: str = "wechat") -> ApiToken | None:
    with services.sessions.begin() as session:
        return session.get(ApiToken, name)


def test_the_token_is_fetched_once_stored_and_shared_by_every_worker(
    two_workers: tuple[Services, Services], api: FakeApi
) -> None:
    first, second = two_workers
    WeChatClient(first.settings, first.sessions).send_custom("openid-1", TEXT)
    WeChatClient(second.settings, second.sessions).send_custom("openid-2", TEXT)
    WeChatClient(first.settings, first.sessions).send_custom("openid-3", TEXT)

    fetches = api.sent(STABLE)
    assert len(fetches) == 1
    assert fetches[0].method == "POST"
    assert fetches[0].body == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": "app-secret-for-tests",
        "force_refresh": False,
    }
    assert [c.query["access_token"] for c in api.sent(CUSTOM)] == ["token-1"] * 3
    row = stored_token(second)
    assert row is not None and row.value == "token-1"
    assert row.expires_at is not None
    assert timedelta(seconds=7100) < row.expires_at - utcnow() <= timedelta(seconds=7200)


def test_workers_starting_together_fetch_one_token(two_workers: tuple[Services, Services], api: FakeApi) -> None:
    clients = [WeChatClient(s.settings, s.sessions) for s in two_workers for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    tokens: list[str] = []
    errors: list[BaseException] = []

    def start(client: WeChatClient) -> None:
        try:
            barrier.wait(5)
            tokens.append(client.token.get())
        except BaseException as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert tokens == ["token-1"] * len(clients)
    assert len(api.sent(STABLE)) == 1


def test_a_token_near_its_expiry_is_replaced(two_workers: tuple[Services, Services], api: FakeApi) -> None:
    first, _ = two_workers
    client = WeChatClient(first.settings, first.sessions)
    assert client.token.get() == "token-1"
    # Two hours later the stored token is within the safety margin of its expiry: fetch a new one.
    assert client.token.get(now=utcnow() + timedelta(seconds=7200 - 60)) == "token-2"
    assert len(api.sent(STABLE)) == 2


def test_an_invalid_token_is_refreshed_once_and_the_call_retried_once(
    two_workers: tuple[Services, Services], api: FakeApi
) -> None:
    first, _ = two_workers
    client = WeChatClient(first.settings, first.sessions)
    assert client.token.get() == "token-1"
    api.failures[CUSTOM] = [40001]  # e.g. the secret was reset and the stored token revoked

    client.send_custom("openid-1", TEXT)

    fetches = api.sent(STABLE)
    assert len(fetches) == 2
    assert fetches[1].body["force_refresh"] is True
    assert [c.query["access_token"] for c in api.sent(CUSTOM)] == ["token-1", "token-2"]
    row = stored_token(first)
    assert row is not None and row.value == "token-2"


def test_a_worker_whose_token_was_already_replaced_takes_the_new_one_without_fetching(
    two_workers: tuple[Services, Services], api: FakeApi
) -> None:
    first, second = two_workers
    one = WeChatClient(first.settings, first.sessions)
    other = WeChatClient(second.settings, second.sessions)
    assert one.token.get() == "token-1"
    assert one.token.get(rejected="token-1") == "token-2"
    # The other worker still held token-1 and was told it is invalid: token-2 is already stored.
    assert other.token.get(rejected="token-1") == "token-2"
    assert len(api.sent(STABLE)) == 2


@pytest.mark.parametrize("code", [40001, 40014, 42001])
def test_an_api_that_always_says_invalid_token_fails_cleanly(
    two_workers: tuple[Services, Services], api: FakeApi, code: int
) -> None:
    first, _ = two_workers
    client = WeChatClient(first.settings, first.sessions)
    api.failures[CUSTOM] = [code] * 50

    with pytest.raises(ApiError) as raised:
        client.send_custom("openid-1", TEXT)

    assert raised.value.code == code
    assert len(api.sent(CUSTOM)) == 2  # the call, and one retry with a fresh token
    assert len(api.sent(STABLE)) == 2


def test_busy_answers_are_retried_a_few_times_then_reported(
    two_workers: tuple[Services, Services], api: FakeApi
) -> None:
    first, _ = two_workers
    client = WeChatClient(first.settings, first.sessions)
    api.failures[CUSTOM] = [-1, 45009]
    client.send_custom("openid-1", TEXT)
    assert len(api.sent(CUSTOM)) == 3

    api.failures[CUSTOM] = [-1] * 10
    with pytest.raises(ApiError) as raised:
        client.send_custom("openid-1", TEXT)
    assert raised.value.code == -1
    assert len(api.sent(CUSTOM)) == 6  # three more attempts, then the outbox decides


def test_a_token_endpoint_error_is_an_api_error_and_stores_nothing(
    two_workers: tuple[Services, Services], api: FakeApi
) -> None:
    first, _ = two_workers
    api.failures[STABLE] = [40125]  # invalid AppSecret
    with pytest.raises(ApiError) as raised:
        WeChatClient(first.settings, first.sessions).send_custom("openid-1", TEXT)
    assert raised.value.code == 40125
    assert api.sent(CUSTOM) == []
    row = stored_token(first)
    assert row is None or row.value is None


def test_wecom_tokens_are_kept_apart_from_wechat_tokens(two_workers: tuple[Services, Services], api: FakeApi) -> None:
    first, second = two_workers
    WeChatClient(first.settings, first.sessions).send_custom("openid-1", TEXT)
    WeComClient(first.settings, first.sessions).send_app_message("wangxiaoyan", TEXT)
    WeComClient(second.settings, second.sessions).send_app_message("wangxiaoyan", TEXT)

    fetch = api.sent("/cgi-bin/gettoken")
    assert len(fetch) == 1
    assert fetch[0].query == {"corpid": "ww-test-corp", "corpsecret": "wecom-secret-for-tests"}
    sends = api.sent("/cgi-bin/message/send")
    assert [c.query["access_token"] for c in sends] == ["token-2", "token-2"]
    assert sends[0].body["agentid"] == 1000002 and sends[0].body["touser"] == "wangxiaoyan"
    with first.sessions.begin() as session:
        names = sorted(session.scalars(select(ApiToken.name)))
    assert names == ["wechat", "wecom"]
