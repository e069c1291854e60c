"""GET /metrics: the counts after a burst of messages, the outbox read from the database, and who may scrape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tenacity import wait_none

from bot import clients as apiclient
from bot import metrics
from bot.app import create_app
from bot.outbox import drain_once, make_senders
from bot.services import Services
from bot.settings import Settings
from storage import repositories as repo
from storage.models import utcnow
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.fake_api import FakeApi
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

WECOM = "/cgi-bin/message/send"


@pytest.fixture
def app_services(db_url: str, tmp_path: Path, api: FakeApi) -> Iterator[Services]:
    services = Services(make_settings(db_url, tmp_path, wechat_api_base=api.base, wecom_api_base=api.base))
    yield services
    services.close()


@pytest.fixture
def scraper(app_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(app_services.settings, app_services)) as client:
        yield client


def scrape(client: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_scrape_after_a_burst_of_messages_shows_the_counts(scraper: TestClient, app_services: Services) -> None:
    before = scrape(scraper)
    someone = Resident(scraper, FakeWeChat(TOKEN, APP_ID, AES_KEY), "openid-metrics")
    for n in range(6):
        someone.say(f"你好{n}")
    someone.click()

    after = scrape(scraper)
    texts = value(after, "shegong_messages_total", kind="text", outcome="replied")
    assert texts - value(before, "shegong_messages_total", kind="text", outcome="replied") == 6
    events = value(after, "shegong_messages_total", kind="event", outcome="replied")
    assert events - value(before, "shegong_messages_total", kind="event", outcome="replied") == 1
    answered = value(after, "shegong_reply_latency_seconds_count") - value(
        before, "shegong_reply_latency_seconds_count"
    )
    assert answered == 7
    assert value(after, "shegong_replies_late_total") == value(before, "shegong_replies_late_total")


def test_the_outbox_is_read_from_the_database_at_scrape_time(
    scraper: TestClient, app_services: Services, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apiclient, "wait_exponential", lambda **_: wait_none())
    queued_at = utcnow() - timedelta(minutes=10)
    card = {"msgtype": "textcard", "textcard": {"title": "t", "description": "d", "url": "u"}}
    with app_services.sessions.begin() as session:
        for n in range(3):
            repo.enqueue_outbox(
                session,
                channel="wecom_app",
                recipient=f"worker{n}",
                payload=card | {"level": "red"},
                community_id=None,
                now=queued_at,
            )
        repo.enqueue_outbox(
            session, channel="wecom_app", recipient="worker9", payload=card, community_id=None, now=utcnow()
        )
    first = scrape(scraper)
    assert value(first, "shegong_outbox_depth", channel="wecom_app", priority="red") == 3
    assert value(first, "shegong_outbox_depth", channel="wecom_app", priority="routine") == 1
    assert value(first, "shegong_outbox_oldest_age_seconds", channel="wecom_app", priority="red") >= 600
    assert value(first, "shegong_alerts_undelivered", priority="red") == 3
    assert value(first, "shegong_outbox_readable") == 1

    api.failures[WECOM] = [-1] * 3  # the first send: busy, three times over
    drain_once(app_services, make_senders(app_services))
    second = scrape(scraper)
    assert value(second, "shegong_outbox_depth", channel="wecom_app", priority="red") == 1
    assert value(second, "shegong_outbox_depth", channel="wecom_app", priority="routine") == 0
    assert value(second, "shegong_alerts_undelivered", priority="red") == 1
    sent = value(second, "shegong_outbox_sends_total", channel="wecom_app", result="sent", code="0")
    assert sent - value(first, "shegong_outbox_sends_total", channel="wecom_app", result="sent", code="0") == 3
    busy = value(second, "shegong_outbox_sends_total", channel="wecom_app", result="retry", code="-1")
    assert busy - value(first, "shegong_outbox_sends_total", channel="wecom_app", result="retry", code="-1") == 1


def test_a_failing_handler_is_counted(scraper: TestClient, app_services: Services) -> None:
    real = app_services.dispatcher

    class Broken:
        """Classifies as the real one does; every handler raises."""

        def classify(self, msg: object) -> object:
            return real.classify(msg)  # type: ignore[arg-type]

        def dispatch(self, ctx: object, msg: object) -> object:
            raise RuntimeError("the handler broke")

    before = scrape(scraper)
    app_services.__dict__["dispatcher"] = Broken()
    Resident(scraper, FakeWeChat(TOKEN, APP_ID, AES_KEY), "openid-broken").say("你好")
    after = scrape(scraper)
    assert value(after, "shegong_handler_failures_total") - value(before, "shegong_handler_failures_total") == 1


def test_a_reply_past_the_budget_counts_as_late() -> None:
    samples = {s.name: s.value for f in metrics.REGISTRY.collect() for s in f.samples if not s.labels}
    metrics.observe_reply_since(time.monotonic() - 4.5, budget=4.0)
    metrics.observe_reply_since(time.monotonic() - 0.1, budget=4.0)
    now = {s.name: s.value for f in metrics.REGISTRY.collect() for s in f.samples if not s.labels}
    assert now["shegong_replies_late_total"] - samples["shegong_replies_late_total"] == 1
    assert now["shegong_reply_latency_seconds_count"] - samples["shegong_reply_latency_seconds_count"] == 2


def test_a_scrape_while_the_database_is_down_says_so(tmp_path: Path) -> None:
    services = Services(make_settings(f"sqlite:///{tmp_path}/missing/dir/shegong.db", tmp_path))
    try:
        body, _ = metrics.render(services.sessions, services.clock)
    finally:
        services.close()
    assert "shegong_outbox_readable 0.0" in body.decode()


# --- who may scrape ----------------------------------------------------------------------------------------


def production(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"env": "production", **changes})


def app_with(settings: Settings, services: Services) -> TestClient:
    return TestClient(create_app(settings, Services(settings, services.engine)))


def test_production_serves_metrics_only_with_its_bearer_token(app_services: Services) -> None:
    settings = production(app_services.settings, metrics_token="a-long-metrics-token-4f9c2e")
    with app_with(settings, app_services) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"authorization": "Basic a-long-metrics-token-4f9c2e"}).status_code == 401
        allowed = scrape(client, authorization="Bearer a-long-metrics-token-4f9c2e")
        assert value(allowed, "shegong_outbox_readable") == 1


def test_production_without_a_metrics_token_serves_none(app_services: Services) -> None:
    with app_with(production(app_services.settings), app_services) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 403 and "SHEGONG_METRICS_TOKEN" in refused.text


def test_development_serves_metrics_openly(scraper: TestClient) -> None:
    assert value(scrape(scraper), "shegong_outbox_readable") == 1


def test_wechat_retrying_a_handled_message_counts_as_a_duplicate(scraper: TestClient) -> None:
    wechat = FakeWeChat(TOKEN, APP_ID, AES_KEY)
    before = scrape(scraper)
    path, body = wechat.request(wechat.text("openid-retry", "你好"), mode="safe")
    for _ in range(3):
        assert scraper.post(path, content=body).status_code == 200
    after = scrape(scraper)
    duplicates = value(after, "shegong_messages_total", kind="text", outcome="duplicate")
    assert duplicates - value(before, "shegong_messages_total", kind="text", outcome="duplicate") == 2
