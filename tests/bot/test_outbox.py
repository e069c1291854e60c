"""The outbox drainer against the fake WeChat/WeCom API: delivery, backoff, final errors, throttling, leases."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count, pairwise
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import wait_none

from bot import clients as apiclient
from bot.clients import OutcomeUnknown, OutOfTime, WeChatClient, WeComClient, worst_case_send_seconds
from bot.outbox import (
    RED_RESERVE_PER_MINUTE,
    WECOM_PER_HOUR,
    WECOM_PER_MINUTE,
    Delivery,
    OutboxWorker,
    backoff,
    drain_once,
    lease_for,
    make_senders,
)
from bot.pipeline import record_message
from bot.services import Services
from handlers.messages import Inbound
from storage import repositories as repo
from storage.db import is_postgres
from storage.models import OutboxMessage
from tests.conftest import make_settings
from tests.support.fake_api import FakeApi
from tests.support.offline import closed_port

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
CUSTOM = "/cgi-bin/message/custom/send"
WECOM = "/cgi-bin/message/send"
_msg_ids = count(7_300_000_000_000_000_001)


@pytest.fixture(autouse=True)
def _no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    # The API client's in-call retries sleep with backoff; the outbox's own schedule is what is tested.
    monkeypatch.setattr(apiclient, "wait_exponential", lambda **_: wait_none())


@pytest.fixture
def outbox(db_url: str, tmp_path: Path, api: FakeApi) -> Iterator[Services]:
    services = Services(make_settings(db_url, tmp_path, wechat_api_base=api.base, wecom_api_base=api.base))
    yield services
    services.close()


def add_resident(services: Services, openid: str, *, last_inbound: datetime | None, active: bool = True) -> int:
    with services.sessions.begin() as session:
        resident = repo.get_or_create_resident(session, openid=openid)
        resident.last_inbound_at = last_inbound
        resident.active = active
        session.flush()
        return resident.id


def enqueue(services: Services, channel: str, recipient: str, payload: dict[str, Any], *, at: datetime = NOW) -> int:
    with services.sessions.begin() as session:
        row = repo.enqueue_outbox(
            session, channel=channel, recipient=recipient, payload=payload, community_id=None, now=at
        )
        assert row is not None
        return row.id


def late_reply(services: Services, openid: str = "openid-1", text: str = "您好，这是迟到的回复") -> int:
    payload = {"msgtype": "text", "text": {"content": text}, "resident_id": 1}
    return enqueue(services, "wechat_custom", openid, payload)


def alert(
    services: Services, worker: str = "wangxiaoyan", title: str = "【红色】自伤自杀风险", level: str = "red"
) -> int:
    payload = {"msgtype": "textcard", "textcard": {"title": title, "description": "d", "url": ""}, "level": level}
    return enqueue(services, "wecom_app", worker, payload)


def row(services: Services, outbox_id: int) -> OutboxMessage:
    with services.sessions.begin() as session:
        found = session.get(OutboxMessage, outbox_id)
        assert found is not None
        return found


def statuses(services: Services) -> dict[str, int]:
    with services.sessions.begin() as session:
        counts: dict[str, int] = {}
        for status in session.scalars(select(OutboxMessage.status)):
            counts[status] = counts.get(status, 0) + 1
        return counts


# --- delivery ----------------------------------------------------------------------------------------


def test_a_customer_service_message_is_delivered_once(outbox: Services, api: FakeApi) -> None:
    add_resident(outbox, "openid-1", last_inbound=NOW - timedelta(hours=1))
    outbox_id = late_reply(outbox)
    senders = make_senders(outbox)

    assert drain_once(outbox, senders, now=NOW) == 1
    assert drain_once(outbox, senders, now=NOW + timedelta(hours=1)) == 0

    calls = api.sent(CUSTOM)
    assert len(calls) == 1
    # Only the message itself goes to WeChat; our bookkeeping (resident_id) stays home.
    assert calls[0].body == {"touser": "openid-1", "msgtype": "text", "text": {"content": "您好，这是迟到的回复"}}
    sent = row(outbox, outbox_id)
    assert sent.status == "sent" and sent.sent_at == NOW and sent.attempts == 1 and sent.last_error is None


def test_an_alert_reaches_the_worker_through_wecom(outbox: Services, api: FakeApi) -> None:
    alert(outbox)
    drain_once(outbox, make_senders(outbox), now=NOW)
    (call,) = api.sent(WECOM)
    assert call.body["touser"] == "wangxiaoyan"
    assert call.body["agentid"] == 1000002
    assert call.body["msgtype"] == "textcard" and call.body["textcard"]["title"] == "【红色】自伤自杀风险"
    assert "level" not in call.body
    assert statuses(outbox) == {"sent": 1}


# --- retries ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("busy", [-1, 45009])
def test_a_busy_api_is_retried_later_with_backoff(outbox: Services, api: FakeApi, busy: int) -> None:
    add_resident(outbox, "openid-1", last_inbound=NOW)
    outbox_id = late_reply(outbox)
    senders = make_senders(outbox)
    api.failures[CUSTOM] = [busy] * 3  # the client's own three tries all fail

    assert drain_once(outbox, senders, now=NOW) == 1
    waiting = row(outbox, outbox_id)
    assert waiting.status == "pending"
    assert waiting.attempts == 1
    assert waiting.next_attempt_at == NOW + backoff(1)
    assert str(busy) in (waiting.last_error or "")

    assert drain_once(outbox, senders, now=NOW + backoff(1) - timedelta(seconds=1)) == 0  # not yet due
    api.failures[CUSTOM] = [busy] * 3
    later = NOW + backoff(1)
    assert drain_once(outbox, senders, now=later) == 1
    again = row(outbox, outbox_id)
    assert again.status == "pending" and again.attempts == 2
    assert again.next_attempt_at == later + backoff(2)
    assert backoff(2) > backoff(1)

    assert drain_once(outbox, senders, now=later + backoff(2)) == 1
    assert row(outbox, outbox_id).status == "sent"
    assert len(api.sent(CUSTOM)) == 7


def test_a_server_error_is_retried_later_with_backoff(outbox: Services, api: FakeApi) -> None:
    outbox_id = alert(outbox)
    senders = make_senders(outbox)
    api.down = True  # HTTP 502 to everything, the token endpoint included

    drain_once(outbox, senders, now=NOW)
    first = row(outbox, outbox_id)
    assert first.status == "pending" and first.next_attempt_at == NOW + backoff(1)
    assert "502" in (first.last_error or "")

    drain_once(outbox, senders, now=NOW + backoff(1))
    second = row(outbox, outbox_id)
    assert second.status == "pending" and second.attempts == 2
    assert second.next_attempt_at == NOW + backoff(1) + backoff(2)

    api.down = False
    drain_once(outbox, senders, now=second.next_attempt_at)
    assert row(outbox, outbox_id).status == "sent"
    assert len(api.sent(WECOM)) == 1


def test_an_unreachable_api_keeps_the_message_queued(db_url: str, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{closed_port()}"
    services = Services(make_settings(db_url, tmp_path, wechat_api_base=closed, wecom_api_base=closed))
    try:
        outbox_id = alert(services)
        drain_once(services, make_senders(services), now=NOW)
        waiting = row(services, outbox_id)
        assert waiting.status == "pending" and waiting.next_attempt_at == NOW + backoff(1)
        assert "Connect" in (waiting.last_error or "")
    finally:
        services.close()


def test_backoff_grows_and_is_capped() -> None:
    waits = [backoff(n) for n in range(1, 20)]
    assert waits[0] == timedelta(seconds=5)
    assert all(a <= b for a, b in pairwise(waits))
    assert max(waits) == timedelta(hours=1)


def test_a_message_that_keeps_failing_stays_queued_and_is_retried_hourly(outbox: Services, api: FakeApi) -> None:
    outbox_id = alert(outbox)
    with outbox.sessions.begin() as session:
        stored = session.get(OutboxMessage, outbox_id)
        assert stored is not None
        stored.attempts = 40
    api.failures[WECOM] = [-1] * 3
    drain_once(outbox, make_senders(outbox), now=NOW)
    queued = row(outbox, outbox_id)
    assert queued.status == "pending" and queued.attempts == 41
    assert queued.next_attempt_at == NOW + timedelta(hours=1)


# --- final errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("final", [45015, 45047])
def test_final_errors_mark_the_message_dead_without_retrying(outbox: Services, api: FakeApi, final: int) -> None:
    add_resident(outbox, "openid-1", last_inbound=NOW)
    outbox_id = late_reply(outbox)
    senders = make_senders(outbox)
    api.failures[CUSTOM] = [final]

    drain_once(outbox, senders, now=NOW)
    dead = row(outbox, outbox_id)
    assert dead.status == "dead"
    assert str(final) in (dead.last_error or "")
    assert drain_once(outbox, senders, now=NOW + timedelta(days=1)) == 0
    assert len(api.sent(CUSTOM)) == 1


@pytest.mark.parametrize(
    ("active", "last_inbound", "reason"),
    [
        (False, NOW, "unsubscribed"),
        (True, NOW - timedelta(hours=49), "48 h"),
        (True, NOW - timedelta(hours=48), "48 h"),  # "within 48 h": closed at the boundary itself
        (True, None, "48 h"),
    ],
)
def test_customer_service_messages_outside_the_window_are_not_attempted(
    outbox: Services, api: FakeApi, active: bool, last_inbound: datetime | None, reason: str
) -> None:
    add_resident(outbox, "openid-1", last_inbound=last_inbound, active=active)
    outbox_id = late_reply(outbox)
    drain_once(outbox, make_senders(outbox), now=NOW)
    dead = row(outbox, outbox_id)
    assert dead.status == "dead" and reason in (dead.last_error or "")
    assert api.sent(CUSTOM) == []


def test_at_most_five_customer_service_messages_per_window(outbox: Services, api: FakeApi) -> None:
    add_resident(outbox, "openid-1", last_inbound=NOW - timedelta(hours=2))
    ids = [late_reply(outbox, text=f"第{n}条") for n in range(7)]
    drain_once(outbox, make_senders(outbox), now=NOW)
    assert [row(outbox, i).status for i in ids] == ["sent"] * 5 + ["dead"] * 2
    assert len(api.sent(CUSTOM)) == 5


def resident_does(services: Services, what: Literal["message", "click"], *, at: datetime) -> None:
    """Record a message ("message") or a menu click ("click") from the resident, as the webhook does."""
    if what == "message":
        msg = Inbound("openid-1", "text", created_at=at, text="你好", msg_id=next(_msg_ids), raw_type="text")
    else:
        msg = Inbound("openid-1", "event", created_at=at, event="click", event_key="HELP", raw_type="event")
    assert record_message(services, msg, now=at).created


def drain_at(services: Services, at: datetime) -> OutboxMessage:
    """Queue one late reply and drain at `at`; the row as it ends up."""
    outbox_id = late_reply(services)
    drain_once(services, make_senders(services), now=at)
    return row(services, outbox_id)


def test_a_click_alone_allows_three_customer_service_messages_within_the_minute(outbox: Services, api: FakeApi) -> None:
    resident_does(outbox, "click", at=NOW - timedelta(seconds=20))
    ids = [late_reply(outbox, text=f"第{n}条") for n in range(4)]
    drain_once(outbox, make_senders(outbox), now=NOW)
    assert [row(outbox, i).status for i in ids] == ["sent"] * 3 + ["dead"]
    error = row(outbox, ids[3]).last_error or ""
    assert "1 minute window limit reached (3 messages" in error and "48 h window never opened" in error
    assert len(api.sent(CUSTOM)) == 3


def test_a_click_window_closes_after_a_minute(outbox: Services, api: FakeApi) -> None:
    resident_does(outbox, "click", at=NOW)
    assert drain_at(outbox, NOW + timedelta(seconds=59)).status == "sent"
    late = drain_at(outbox, NOW + timedelta(minutes=1))
    assert late.status == "dead" and "1 minute window closed" in (late.last_error or "")
    assert len(api.sent(CUSTOM)) == 1


def test_a_message_allows_five_customer_service_messages_within_48_hours(outbox: Services, api: FakeApi) -> None:
    resident_does(outbox, "message", at=NOW)
    resident_does(outbox, "click", at=NOW + timedelta(hours=20))  # opens its own minute; the five stay five
    for hours in (0, 12, 24, 36, 47):
        assert drain_at(outbox, NOW + timedelta(hours=hours, minutes=30)).status == "sent"
    sixth = drain_at(outbox, NOW + timedelta(hours=47, minutes=40))
    assert sixth.status == "dead" and "48 h window limit reached (5 messages" in (sixth.last_error or "")
    assert len(api.sent(CUSTOM)) == 5


def test_a_recent_click_does_not_extend_an_expired_message_window(outbox: Services, api: FakeApi) -> None:
    resident_does(outbox, "message", at=NOW - timedelta(hours=60))
    resident_does(outbox, "click", at=NOW - timedelta(hours=2))
    dead = drain_at(outbox, NOW)
    assert dead.status == "dead"
    assert "48 h window closed" in (dead.last_error or "") and "1 minute window closed" in (dead.last_error or "")
    assert api.sent(CUSTOM) == []


def test_alerts_with_no_worker_to_send_to_are_dead_not_retried(outbox: Services, api: FakeApi) -> None:
    outbox_id = alert(outbox, worker="@duty")
    unknown = enqueue(outbox, "carrier_pigeon", "someone", {})
    drain_once(outbox, make_senders(outbox), now=NOW)
    assert row(outbox, outbox_id).status == "dead"
    assert row(outbox, unknown).status == "dead"
    assert api.calls == []


# --- WeCom throttling ---------------------------------------------------------------------------------------


def test_a_worker_over_30_messages_a_minute_is_postponed_not_dropped(outbox: Services, api: FakeApi) -> None:
    ids = [alert(outbox, title=f"alert {n}") for n in range(WECOM_PER_MINUTE + 5)]
    colleague = alert(outbox, worker="lijianguo")
    senders = make_senders(outbox)

    assert drain_once(outbox, senders, now=NOW, limit=100) == len(ids) + 1
    first = [row(outbox, i) for i in ids]
    assert [r.status for r in first] == ["sent"] * WECOM_PER_MINUTE + ["pending"] * 5
    for postponed in first[WECOM_PER_MINUTE:]:
        assert postponed.next_attempt_at == NOW + timedelta(minutes=1)
        assert postponed.attempts == 0  # waiting for our own limit is not a failed attempt
    assert row(outbox, colleague).status == "sent"  # the limit is per member
    assert len([c for c in api.sent(WECOM) if c.body["touser"] == "wangxiaoyan"]) == WECOM_PER_MINUTE

    assert drain_once(outbox, senders, now=NOW + timedelta(seconds=30), limit=100) == 0
    drain_once(outbox, senders, now=NOW + timedelta(minutes=1, seconds=1), limit=100)
    assert all(row(outbox, i).status == "sent" for i in ids)
    assert [c.body["textcard"]["title"] for c in api.sent(WECOM) if c.body["touser"] == "wangxiaoyan"] == [
        f"alert {n}" for n in range(len(ids))
    ]


def test_a_red_alert_queued_behind_40_routine_messages_goes_first(outbox: Services, api: FakeApi) -> None:
    routine = [alert(outbox, title=f"工单提醒 {n}", level="blue") for n in range(40)]
    red = alert(outbox, title="【红色】自伤自杀风险", level="red")
    assert row(outbox, red).priority > row(outbox, routine[0]).priority

    drain_once(outbox, make_senders(outbox), now=NOW, limit=100)

    titles = [c.body["textcard"]["title"] for c in api.sent(WECOM)]
    assert titles[0] == "【红色】自伤自杀风险"  # ahead of all 40, though queued last
    # Routine messages keep a few of WeCom's 30 a minute free for red alerts; the rest wait their minute.
    assert titles[1:] == [f"工单提醒 {n}" for n in range(WECOM_PER_MINUTE - RED_RESERVE_PER_MINUTE - 1)]
    assert row(outbox, red).status == "sent"


def test_a_red_alert_still_goes_when_routine_messages_used_their_minute(outbox: Services, api: FakeApi) -> None:
    routine = [alert(outbox, title=f"工单提醒 {n}", level="blue") for n in range(40)]
    senders = make_senders(outbox)
    drain_once(outbox, senders, now=NOW, limit=100)
    sent_routine = WECOM_PER_MINUTE - RED_RESERVE_PER_MINUTE
    assert statuses(outbox) == {"sent": sent_routine, "pending": len(routine) - sent_routine}

    red = alert(outbox, title="【红色】燃气泄漏", level="red")
    assert drain_once(outbox, senders, now=NOW + timedelta(seconds=10), limit=100) == 1  # the routine ones wait
    assert row(outbox, red).status == "sent"
    assert api.sent(WECOM)[-1].body["textcard"]["title"] == "【红色】燃气泄漏"
    # A minute later, the red alert again ahead of whatever else is due.
    second = alert(outbox, title="【红色】有人被困", level="red")
    drain_once(outbox, senders, now=NOW + timedelta(minutes=1, seconds=1), limit=1)
    assert row(outbox, second).status == "sent"


def test_a_worker_over_1000_messages_an_hour_is_postponed(outbox: Services, api: FakeApi) -> None:
    with outbox.sessions.begin() as session:
        for n in range(WECOM_PER_HOUR):
            sent_at = NOW - timedelta(minutes=2) - timedelta(seconds=3 * n)
            session.add(
                OutboxMessage(
                    channel="wecom_app",
                    recipient="wangxiaoyan",
                    payload={},
                    status="sent",
                    attempts=1,
                    next_attempt_at=sent_at,
                    created_at=sent_at,
                    sent_at=sent_at,
                )
            )
    outbox_id = alert(outbox)
    drain_once(outbox, make_senders(outbox), now=NOW)
    waiting = row(outbox, outbox_id)
    assert waiting.status == "pending" and waiting.next_attempt_at == NOW + timedelta(minutes=10)
    assert api.sent(WECOM) == []


# --- leases and concurrent drainers ----------------------------------------------------------------------


def test_a_row_leased_by_a_crashed_drainer_is_taken_again_after_the_lease(outbox: Services, api: FakeApi) -> None:
    outbox_id = alert(outbox)
    with outbox.sessions.begin() as session:
        (leased,) = repo.claim_due_outbox(session, now=NOW, lease=timedelta(minutes=2), limit=10)
        assert leased.id == outbox_id
    # The drainer died holding it: nobody else takes it during the lease...
    assert drain_once(outbox, make_senders(outbox), now=NOW + timedelta(minutes=1)) == 0
    # ...and someone does afterwards: the message may have gone out, so it is sent again only under
    # WeCom's duplicate check, which drops it if it had.
    assert drain_once(outbox, make_senders(outbox), now=NOW + timedelta(minutes=3)) == 1
    assert row(outbox, outbox_id).status == "sent"
    (call,) = api.sent(WECOM)
    assert call.body["enable_duplicate_check"] == 1 and call.body["duplicate_check_interval"] == 4 * 3600


def test_a_customer_service_message_whose_drainer_died_mid_send_is_not_sent_again(
    outbox: Services, api: FakeApi
) -> None:
    add_resident(outbox, "openid-1", last_inbound=NOW)
    outbox_id = late_reply(outbox)
    with outbox.sessions.begin() as session:
        repo.claim_due_outbox(session, now=NOW, lease=timedelta(minutes=2), limit=10)
    # WeChat has no duplicate check and cannot be asked whether it arrived: a person must look.
    assert drain_once(outbox, make_senders(outbox), now=NOW + timedelta(minutes=3)) == 1
    unknown = row(outbox, outbox_id)
    assert unknown.status == "unknown" and "lease ran out" in (unknown.last_error or "")
    assert drain_once(outbox, make_senders(outbox), now=NOW + timedelta(days=1)) == 0
    assert api.sent(CUSTOM) == []


def test_a_send_whose_budget_is_spent_starts_no_request(outbox: Services, api: FakeApi) -> None:
    client = WeComClient(outbox.settings, outbox.sessions)
    with pytest.raises(OutOfTime):
        client.send_app_message("wangxiaoyan", {"msgtype": "text", "text": {"content": "x"}}, budget=0)
    assert api.calls == []


def test_a_send_answered_after_the_timeout_is_posted_once_and_reported_unknown(outbox: Services, api: FakeApi) -> None:
    client = WeChatClient(outbox.settings.model_copy(update={"api_timeout_seconds": 0.2}), outbox.sessions)
    api.delays[CUSTOM] = api.delays["/cgi-bin/qrcode/create"] = 0.4
    try:
        with pytest.raises(OutcomeUnknown):
            client.send_custom("openid-1", {"msgtype": "text", "text": {"content": "x"}})
        assert len(api.sent(CUSTOM)) == 1  # it may have arrived: not posted again
        with pytest.raises(httpx.ReadTimeout):
            client.create_scene_qr("4827", 3600)
        assert len(api.sent("/cgi-bin/qrcode/create")) == 3  # asking for a QR code twice does no harm
    finally:
        api.delays.clear()


def test_a_lease_outlives_the_slowest_send(outbox: Services) -> None:
    settings = outbox.settings
    assert lease_for(settings).total_seconds() > worst_case_send_seconds(settings.api_timeout_seconds)
    # Leased one row at a time: the lease is for one send, not for a batch of twenty.
    assert lease_for(settings) < timedelta(minutes=5)


def _postgres_only(services: Services) -> None:
    if not is_postgres(services.engine):
        pytest.skip("SQLite has no row locks: a second writer waits for the first to commit")


def test_skip_locked_keeps_two_open_claims_apart(outbox: Services) -> None:
    _postgres_only(outbox)
    ids = {alert(outbox, worker=f"worker{n}") for n in range(10)}
    with outbox.sessions() as first, outbox.sessions() as second, first.begin(), second.begin():
        mine = repo.claim_due_outbox(first, now=NOW, lease=timedelta(minutes=2), limit=4)
        # The first transaction is still open, its rows locked: the second claim skips them, not waits.
        theirs = repo.claim_due_outbox(second, now=NOW, lease=timedelta(minutes=2), limit=10)
        assert len(mine) == 4 and len(theirs) == 6
        assert {r.id for r in mine} | {r.id for r in theirs} == ids


def test_two_drainers_never_send_the_same_row(db_url: str, tmp_path: Path, api: FakeApi) -> None:
    settings = make_settings(db_url, tmp_path, wechat_api_base=api.base, wecom_api_base=api.base)
    drainers = [Services(settings), Services(settings)]
    try:
        # On SQLite too: `shegong worker` next to a server with its embedded drainer is two drainers.
        ids = [alert(drainers[0], worker=f"worker{n}") for n in range(40)]
        sent: list[int] = []
        lock = threading.Lock()
        errors: list[BaseException] = []

        def record(session: Session, job: Delivery, now: datetime) -> None:
            with lock:
                sent.append(job.id)
            time.sleep(0.002)  # long enough for the drainers to overlap

        barrier = threading.Barrier(2)

        def run(services: Services) -> None:
            try:
                barrier.wait(5)
                while drain_once(services, {"wecom_app": record}, now=NOW, limit=3):
                    pass
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(s,)) for s in drainers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert sorted(sent) == sorted(ids)  # every row once, none twice
        assert statuses(drainers[0]) == {"sent": 40}
    finally:
        for services in drainers:
            services.close()


def test_the_background_worker_drains_and_stops(db_url: str, tmp_path: Path, api: FakeApi) -> None:
    settings = make_settings(
        db_url, tmp_path, wechat_api_base=api.base, wecom_api_base=api.base, outbox_poll_seconds=0.01
    )
    services = Services(settings)
    worker = OutboxWorker(services)
    try:
        outbox_id = enqueue(
            services, "wecom_app", "wangxiaoyan", {"msgtype": "text", "text": {"content": "x"}}, at=datetime.now(UTC)
        )
        worker.start()
        deadline = time.monotonic() + 5
        while row(services, outbox_id).status != "sent":
            assert time.monotonic() < deadline, "the worker did not send the row"
            time.sleep(0.01)
    finally:
        worker.stop()
        services.close()
    assert worker._thread is not None and not worker._thread.is_alive()


def test_development_without_credentials_logs_instead_of_sending(tmp_path: Path, sqlite_url: str) -> None:
    from bot.outbox import log_only
    from tests.conftest import make_settings

    settings = make_settings(sqlite_url, tmp_path, wechat_app_secret="", wecom_secret="")
    senders = make_senders(Services(settings))
    assert senders["wecom_app"] is log_only and senders["wechat_custom"] is log_only
    production_like = make_senders(Services(make_settings(sqlite_url, tmp_path)))
    assert production_like["wecom_app"] is not log_only
