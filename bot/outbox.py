"""Drains the transactional outbox: leases due rows, sends them, retries with backoff, never loses one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clients import ApiError, WeChatClient, WeComClient
from bot.services import Services
from handlers import service_window
from storage import repositories as repo
from storage.models import OutboxMessage, Resident

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
# WeCom drops app messages silently past 30 a minute or 1000 an hour per member: stay under.
WECOM_PER_MINUTE = 30
WECOM_PER_HOUR = 1000


class Undeliverable(Exception):
    """Final: the message can never be delivered (window closed, no recipient)."""


class Postpone(Exception):
    """Not now, not a failure: a rate limit on our side. Try again at `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


@dataclass(frozen=True)
class Delivery:
    id: int
    channel: str
    recipient: str
    payload: dict[str, Any]
    attempts: int


Send = Callable[[Session, Delivery, datetime], None]


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def _message_body(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k in ("msgtype", "text", "textcard", "news", "image", "markdown")}


def _sent_since(session: Session, *, channel: str, recipient: str, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.recipient == recipient,
                OutboxMessage.status == "sent",
                OutboxMessage.sent_at >= since,
            )
        )
        or 0
    )


class Senders:
    """One send function per channel, each checking its own limits before calling the API."""

    def __init__(self, wechat: WeChatClient, wecom: WeComClient) -> None:
        self.wechat = wechat
        self.wecom = wecom

    def by_channel(self) -> dict[str, Send]:
        return {
            "wechat_custom": self.send_custom,
            "wechat_template": self.send_template,
            "wecom_app": self.send_wecom,
        }

    def send_custom(self, session: Session, job: Delivery, now: datetime) -> None:
        resident = session.scalar(select(Resident).where(Resident.openid == job.recipient))
        if resident is None or not resident.active:
            raise Undeliverable("resident unknown or unsubscribed")

        def sent_since(opened: datetime | None) -> int:
            if opened is None:
                return 0
            return _sent_since(session, channel="wechat_custom", recipient=job.recipient, since=opened)

        refused = service_window.refusal(
            resident,
            sent_since_message=sent_since(resident.last_inbound_at),
            sent_since_event=sent_since(resident.window_event_at),
            now=now,
        )
        if refused:
            raise Undeliverable(refused)
        self.wechat.send_custom(job.recipient, _message_body(job.payload))

    def send_template(self, session: Session, job: Delivery, now: datetime) -> None:
        template = {k: v for k, v in job.payload.items() if k in ("template_id", "url", "data", "miniprogram")}
        self.wechat.send_template(job.recipient, template)

    def send_wecom(self, session: Session, job: Delivery, now: datetime) -> None:
        if not job.recipient or job.recipient.startswith("@"):
            raise Undeliverable(f"no WeCom user to send to ({job.recipient!r})")
        minute = _sent_since(session, channel="wecom_app", recipient=job.recipient, since=now - timedelta(minutes=1))
        hour = _sent_since(session, channel="wecom_app", recipient=job.recipient, since=now - timedelta(hours=1))
        if minute >= WECOM_PER_MINUTE:
            raise Postpone(now + timedelta(minutes=1))
        if hour >= WECOM_PER_HOUR:
            raise Postpone(now + timedelta(minutes=10))
        self.wecom.send_app_message(job.recipient, _message_body(job.payload))


def drain_once(services: Services, senders: dict[str, Send], *, now: datetime | None = None, limit: int = 20) -> int:
    """Send what is due; returns how many rows were attempted."""
    now = now or services.clock()
    with services.sessions.begin() as session:
        rows = repo.claim_due_outbox(session, now=now, lease=LEASE, limit=limit)
        jobs = [Delivery(r.id, r.channel, r.recipient, dict(r.payload), r.attempts) for r in rows]
    for job in jobs:
        _deliver(services, senders, job, now)
    return len(jobs)


def _deliver(services: Services, senders: dict[str, Send], job: Delivery, now: datetime) -> None:
    send = senders.get(job.channel)
    try:
        with services.sessions.begin() as session:
            if send is None:
                raise Undeliverable(f"no sender for channel {job.channel}")
            send(session, job, now)
            repo.mark_outbox_sent(session, outbox_id=job.id, now=now)
        return
    except Postpone as wait:
        with services.sessions.begin() as session:
            repo.mark_outbox_retry(session, outbox_id=job.id, error="rate limited on our side", retry_at=wait.until)
            # A postponement is not a failed attempt.
            row = session.get(OutboxMessage, job.id)
            if row is not None:
                row.attempts = max(row.attempts - 1, 0)
        return
    except Undeliverable as exc:
        log.warning("outbox %s undeliverable: %s", job.id, exc)
        error = str(exc)
        final = True
    except ApiError as exc:
        log.warning("outbox %s failed: %s", job.id, exc)
        error, final = str(exc), exc.final
    except Exception as exc:  # network errors, unexpected answers: retry later
        log.warning("outbox %s failed: %r", job.id, exc)
        error, final = repr(exc), False
    with services.sessions.begin() as session:
        # Only a final answer ends a message; anything passing (busy, rate limit, network) keeps it
        # queued, retried at most hourly, so an alert is delayed by an outage but never lost.
        if final:
            repo.mark_outbox_dead(session, outbox_id=job.id, error=error)
        else:
            repo.mark_outbox_retry(session, outbox_id=job.id, error=error, retry_at=now + backoff(job.attempts))


def log_only(session: Session, job: Delivery, now: datetime) -> None:
    """Development without API credentials: show what would be sent instead of calling WeChat."""
    log.info(
        "development: not sent (no credentials) %s to %s: %s", job.channel, job.recipient, _message_body(job.payload)
    )


def make_senders(services: Services) -> dict[str, Send]:
    settings = services.settings
    senders = Senders(WeChatClient(settings, services.sessions), WeComClient(settings, services.sessions)).by_channel()
    if settings.is_development:
        # A newcomer's `make run` has no WeChat or WeCom account: log the messages so the demo shows them.
        if not settings.wechat_app_secret:
            senders["wechat_custom"] = senders["wechat_template"] = log_only
        if not settings.wecom_secret:
            senders["wecom_app"] = log_only
    return senders


class OutboxWorker:
    """Drains in a background thread until stopped (the embedded default, and `shegong worker`)."""

    def __init__(self, services: Services, senders: dict[str, Send] | None = None) -> None:
        self.services = services
        self.senders = senders or make_senders(services)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.periodic: list[Callable[[datetime], None]] = []

    def run_forever(self) -> None:
        poll = self.services.settings.outbox_poll_seconds
        while not self._stop.is_set():
            try:
                now = self.services.clock()
                for job in self.periodic:
                    job(now)
                busy = drain_once(self.services, self.senders, now=now)
            except Exception:
                log.exception("outbox drain failed; trying again")
                busy = 0
            if not busy:
                self._stop.wait(poll)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
