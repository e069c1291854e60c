"""Two drainers against a slow, a timing-out and a failing-then-recovering fake API: exact delivery counts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tenacity import wait_none

from bot import clients as apiclient
from bot.outbox import drain_once, lease_for, make_senders
from bot.services import Services
from storage import repositories as repo
from storage.models import OutboxMessage
from tests.conftest import make_settings
from tests.support.fake_api import FakeApi

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
WECOM = "/cgi-bin/message/send"
CUSTOM = "/cgi-bin/message/custom/send"
TIMEOUT = 0.3  # the client's timeout in these tests (seconds, real time)
SLOW_SEND = 1.0  # how long the slow WeCom takes to answer (real time)
FINAL = frozenset({"sent", "dead", "unknown"})


class FastClock:
    """Real time, running `speed` times faster: a send of a second takes ten seconds of the bot's time,
    as slow as WeCom was found to be, without the test waiting that long."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start = start
        self.speed = speed
        self.origin = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.origin) * self.speed)


@dataclass
class Drainers:
    pair: tuple[Services, Services]
    clock: FastClock

    @property
    def first(self) -> Services:
        return self.pair[0]


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> Iterator[None]:
    monkeypatch.setattr(apiclient, "wait_exponential", lambda **_: wait_none())
    yield
    api.delays.clear()


def drainers(
    db_url: str, tmp_path: Path, api: FakeApi, *, speed: float, timeout: float = TIMEOUT
) -> Iterator[Drainers]:
    clock = FastClock(NOW, speed)
    settings = make_settings(
        db_url, tmp_path, wechat_api_base=api.base, wecom_api_base=api.base, api_timeout_seconds=timeout
    )
    pair = (Services(settings, clock=clock), Services(settings, clock=clock))
    try:
        yield Drainers(pair, clock)
    finally:
        for services in pair:
            services.close()


@pytest.fixture
def slow_time(db_url: str, tmp_path: Path, api: FakeApi) -> Iterator[Drainers]:
    # A one-second send is 10 s of the bot's time. The lease (11 client timeouts + 30 s of the bot's time)
    # is then 4.6 s of real time: a test thread kept off the CPU by a busy machine still ends inside it.
    yield from drainers(db_url, tmp_path, api, speed=10, timeout=SLOW_SEND + 0.5)


@pytest.fixture
def quick_time(db_url: str, tmp_path: Path, api: FakeApi) -> Iterator[Drainers]:
    yield from drainers(db_url, tmp_path, api, speed=8)


def enqueue(services: Services, channel: str, recipient: str, payload: dict[str, Any]) -> int:
    with services.sessions.begin() as session:
        row = repo.enqueue_outbox(
            session, channel=channel, recipient=recipient, payload=payload, community_id=None, now=NOW
        )
        assert row is not None
        return row.id


def alerts(services: Services, count: int) -> list[int]:
    card = {"msgtype": "textcard", "textcard": {"title": "【红色】自伤自杀风险", "description": "d", "url": "u"}}
    return [enqueue(services, "wecom_app", f"worker{n}", card | {"level": "red"}) for n in range(count)]


def statuses(services: Services) -> dict[str, int]:
    with services.sessions.begin() as session:
        counts: dict[str, int] = {}
        for status in session.scalars(select(OutboxMessage.status)):
            counts[status] = counts.get(status, 0) + 1
        return counts


def run_until_settled(group: Drainers, *, seconds: float = 30, then: list[tuple[float, Any]] | None = None) -> None:
    """Both drainers at once, each in its own thread polling as `shegong worker` does, until every row has
    its final state; `then` holds (after this many seconds, do this) steps, such as the API recovering."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def work(services: Services) -> None:
        senders = make_senders(services)
        try:
            while not stop.is_set():
                if not drain_once(services, senders):  # batches of 20, as `shegong worker` drains
                    stop.wait(0.02)
        except BaseException as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in group.pair]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    steps = sorted(then or [], key=lambda step: step[0])
    try:
        while True:
            elapsed = time.monotonic() - started
            while steps and steps[0][0] <= elapsed:
                steps.pop(0)[1]()
            left = statuses(group.first)
            if not steps and set(left) <= FINAL:
                break
            assert elapsed < seconds, f"not settled after {seconds} s: {left}"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert errors == []


def test_a_slow_wecom_gets_every_alert_exactly_once(slow_time: Drainers, api: FakeApi) -> None:
    # 10 s of the bot's time per send: a batch of 20 took longer than a 2-minute lease, so the other drainer
    # took its rows again and sent 7 of 25 twice. Each row's lease now covers its own send.
    assert lease_for(slow_time.first.settings) > timedelta(seconds=10)
    ids = alerts(slow_time.first, 25)
    api.delays[WECOM] = SLOW_SEND
    run_until_settled(slow_time)
    assert statuses(slow_time.first) == {"sent": 25}
    assert len(api.sent(WECOM)) == 25  # not one resent
    assert sorted(c.body["touser"] for c in api.deliveries(WECOM)) == sorted(f"worker{n}" for n in range(len(ids)))


def test_a_wecom_that_answers_after_the_timeout_delivers_each_alert_once(quick_time: Drainers, api: FakeApi) -> None:
    alerts(quick_time.first, 6)
    api.delays[WECOM] = TIMEOUT + 0.3  # WeCom acts on the send; its answer comes after the client gave up

    run_until_settled(quick_time, then=[(2.5, lambda: api.delays.clear())])

    assert statuses(quick_time.first) == {"sent": 6}
    delivered = api.deliveries(WECOM)
    assert len(delivered) == 6  # one each, however often the sends were repeated
    assert sorted(c.body["touser"] for c in delivered) == sorted(f"worker{n}" for n in range(6))
    sends = api.sent(WECOM)
    assert len(sends) > 6  # the sends of unknown fate were repeated: WeCom dropped the repeats
    assert all(c.body["enable_duplicate_check"] == 1 for c in sends)
    assert {c.body["duplicate_check_interval"] for c in sends} == {4 * 3600}  # red alerts: WeCom's maximum


def test_a_customer_service_send_that_timed_out_is_marked_unknown_not_resent(
    quick_time: Drainers, api: FakeApi
) -> None:
    services = quick_time.first
    with services.sessions.begin() as session:
        for n in range(4):
            resident = repo.get_or_create_resident(session, openid=f"openid-{n}")
            resident.last_inbound_at = NOW
    for n in range(4):
        enqueue(services, "wechat_custom", f"openid-{n}", {"msgtype": "text", "text": {"content": "迟到的回复"}})
    api.delays[CUSTOM] = TIMEOUT + 0.3

    run_until_settled(quick_time)

    assert statuses(services) == {"unknown": 4}
    assert len(api.sent(CUSTOM)) == 4  # WeChat offers no duplicate check: never sent a second time
    with services.sessions.begin() as session:
        errors = list(session.scalars(select(OutboxMessage.last_error)))
    assert all("fate unknown, not resent" in (e or "") for e in errors)


def test_a_wecom_that_fails_then_recovers_delivers_each_alert_once(quick_time: Drainers, api: FakeApi) -> None:
    alerts(quick_time.first, 8)
    api.down = True  # HTTP 502 to everything, tokens included

    def recover() -> None:
        api.down = False

    run_until_settled(quick_time, seconds=40, then=[(1.0, recover)])

    assert statuses(quick_time.first) == {"sent": 8}
    assert len(api.deliveries(WECOM)) == 8
    assert sorted(c.body["touser"] for c in api.deliveries(WECOM)) == sorted(f"worker{n}" for n in range(8))
