"""What operators watch, in the Prometheus format: counts each process keeps, the queue read at scrape time.

Counters and the latency histogram live in the process that counts (with PROMETHEUS_MULTIPROC_DIR set,
prometheus-client's multiprocess mode sums every `serve --workers N` process). The outbox's depth and
age and the alerts not yet delivered are read from the database when /metrics is scraped, so every
process, and every `shegong worker`, reports the same figures.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from handlers.clock import Clock
from storage.models import PRIORITY_RED
from storage.outbox import outbox_backlog, undelivered_alerts

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
router = APIRouter()

REGISTRY = CollectorRegistry()

MESSAGES = Counter(
    "shegong_messages",
    "Messages and events from residents, by kind (text, voice, event, ...) and outcome",
    ["kind", "outcome"],
    registry=REGISTRY,
)
REPLY_LATENCY = Histogram(
    "shegong_reply_latency_seconds",
    "From a message's arrival to its reply being ready",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
LATE_REPLIES = Counter(
    "shegong_replies_late",
    "Replies not ready within the budget, sent afterwards as customer-service messages",
    registry=REGISTRY,
)
SENDS = Counter(
    "shegong_outbox_sends",
    "Outbox send attempts by channel, result (sent, retry, postponed, dead, unknown) and API error code",
    ["channel", "result", "code"],
    registry=REGISTRY,
)
HANDLER_FAILURES = Counter(
    "shegong_handler_failures",
    "Messages whose handler raised (the resident got the apology)",
    registry=REGISTRY,
)


def count_message(kind: str, outcome: str) -> None:
    """One message or event handled: `outcome` is what became of it (replied, deferred, failed, ...)."""
    MESSAGES.labels(kind=kind or "unknown", outcome=outcome).inc()


def observe_reply_latency(seconds: float, late: bool) -> None:
    """How long a reply took; `late` when it missed the budget and leaves as a customer-service message."""
    REPLY_LATENCY.observe(max(seconds, 0.0))
    if late:
        LATE_REPLIES.inc()


def observe_reply_since(started: float, *, budget: float) -> None:
    """The webhook's answer is ready `started` (time.monotonic()) ago: late when past the reply budget."""
    seconds = time.monotonic() - started
    observe_reply_latency(seconds, late=seconds >= budget)


def count_handler_failure() -> None:
    HANDLER_FAILURES.inc()


def count_send(channel: str, result: str, code: str = "") -> None:
    """One outbox send attempt; `code` is WeChat's or WeCom's errcode, or how the request failed."""
    SENDS.labels(channel=channel, result=result, code=code).inc()


def priority_label(priority: int) -> str:
    return "red" if priority >= PRIORITY_RED else "routine"


class QueueCollector(Collector):
    """The outbox as the database has it at scrape time, for every process alike."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("shegong_outbox_depth", "Outbox rows still to leave", labels=["channel", "priority"])
        age = GaugeMetricFamily(
            "shegong_outbox_oldest_age_seconds",
            "Age of the oldest outbox row still to leave",
            labels=["channel", "priority"],
        )
        alerts = GaugeMetricFamily(
            "shegong_alerts_undelivered",
            "Alerts to workers not delivered: waiting, being sent, or of unknown fate",
            labels=["priority"],
        )
        readable = GaugeMetricFamily("shegong_outbox_readable", "1 if the scrape could read the outbox")
        try:
            with self.sessions.begin() as session:
                backlog = outbox_backlog(session)
                undelivered = undelivered_alerts(session)
        except SQLAlchemyError as exc:
            # A scrape during an outage says so rather than failing: the database is what is down.
            log.warning("metrics: the outbox cannot be read (%s)", type(exc).__name__)
            readable.add_metric([], 0)
            yield readable
            return
        now = self.clock()
        for row in backlog:
            labels = [row.channel, priority_label(row.priority)]
            depth.add_metric(labels, row.depth)
            age.add_metric(labels, _age(now, row.oldest))
        totals = {"red": 0, "routine": 0}
        for priority, count in undelivered.items():
            totals[priority_label(priority)] += count
        for label, count in totals.items():
            alerts.add_metric([label], count)
        readable.add_metric([], 1)
        yield from (depth, age, alerts, readable)


def _age(now: datetime, oldest: datetime | None) -> float:
    return max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


def render(sessions: sessionmaker[Session], clock: Clock) -> tuple[bytes, str]:
    """The text a scrape gets, and its content type."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # every process, summed
    else:
        registry.register(_Counted())
    registry.register(QueueCollector(sessions, clock))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Counted(Collector):
    """This process's own counters."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def scrape_refusal(settings: Settings, authorization: str | None) -> str | None:
    """Why a scrape is refused, or None. Production serves /metrics only with SHEGONG_METRICS_TOKEN as a
    bearer token (a reverse proxy makes every request look local, so the address proves nothing)."""
    expected = settings.metrics_token
    if not expected:
        if settings.is_development:
            return None
        return "metrics are off: set SHEGONG_METRICS_TOKEN and scrape with it as a bearer token"
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return "a valid bearer token is required"
    return None


@router.get("/metrics", include_in_schema=False)
def scrape(request: Request) -> Response:
    services: Services = request.app.state.services
    refused = scrape_refusal(services.settings, request.headers.get("authorization"))
    if refused is not None:
        status = 403 if not services.settings.metrics_token else 401
        return PlainTextResponse(refused, status_code=status, headers={"www-authenticate": "Bearer"})
    body, content_type = render(services.sessions, services.clock)
    return Response(body, media_type=content_type)
