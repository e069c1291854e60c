"""Drains the transactional outbox: leases due rows, sends them, retries with backoff, never loses one.

Each row is leased just before it is sent, the most urgent first, for longer than its send can take (the
client starts no request after its budget): a lease covering a whole batch would have to last the batch's
worst case, and a drainer that died would hold every row of it that long. A send whose fate is unknown
(the request went out, no answer came back) is never repeated blindly: WeCom messages carry WeCom's
duplicate check and are resent only within its interval; WeChat offers none, so the row is marked
`unknown` and left for a person to check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import metrics
from bot.clients import (
    MAX_DUPLICATE_CHECK_SECONDS,
    ApiError,
    OutcomeUnknown,
    OutOfTime,
    WeChatClient,
    WeComClient,
    send_budget_seconds,
    worst_case_send_seconds,
)
from bot.services import Services
from bot.settings import Settings
from handlers import service_window
from handlers.privacy import DecryptionError, unseal_message
from handlers.tickets.cards import CARD_UPDATE
from handlers.tickets.unreachable import push_failed
from storage import repositories as repo
from storage import wecom_cards
from storage.models import PRIORITY_RED, OutboxMessage, Resident
from storage.outbox import Claim, claim_next_outbox, mark_outbox_unknown, note_first_send

log = logging.getLogger(__name__)

# Database work around a send, and clocks that differ a little between machines.
LEASE_MARGIN = timedelta(seconds=30)
# WeCom drops app messages silently past 30 a minute or 1000 an hour per member: stay under, and keep
# some of each for red alerts, so routine messages cannot use up what a crisis needs.
WECOM_PER_MINUTE = 30
WECOM_PER_HOUR = 1000
RED_RESERVE_PER_MINUTE = 5
RED_RESERVE_PER_HOUR = 50
# How long WeCom's duplicate check remembers a row's message: a red alert for WeCom's maximum, so its
# resends stay covered through a long outage; a routine one for WeCom's default, so that the same text
# sent again on purpose later (a daily reminder) is not taken for a duplicate.
RED_DUPLICATE_CHECK = timedelta(seconds=MAX_DUPLICATE_CHECK_SECONDS)
ROUTINE_DUPLICATE_CHECK = timedelta(minutes=30)
# Channels whose sends WeCom deduplicates: a send of unknown fate may be repeated within the interval.
DEDUPLICATED = frozenset({"wecom_app"})
# Channels that reach residents: a message that dies there is shown on its ticket.
TO_RESIDENTS = frozenset({"wechat_custom", "wechat_template"})


def lease_for(settings: Settings) -> timedelta:
    """A row's lease: longer than the worst case of one send, so nobody else takes it meanwhile."""
    return timedelta(seconds=worst_case_send_seconds(settings.api_timeout_seconds)) + LEASE_MARGIN


def duplicate_check(priority: int) -> timedelta:
    return RED_DUPLICATE_CHECK if priority >= PRIORITY_RED else ROUTINE_DUPLICATE_CHECK


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
    priority: int = 0
    created_at: datetime | None = None
    first_sent_at: datetime | None = None
    # The previous lease ran out mid-send: the message may already have gone out.
    abandoned: bool = False

    @classmethod
    def from_claim(cls, claim: Claim) -> Delivery:
        r = claim.row
        return cls(
            r.id,
            r.channel,
            r.recipient,
            dict(r.payload),
            r.attempts,
            r.priority,
            r.created_at,
            r.first_sent_at,
            claim.abandoned,
        )


Send = Callable[[Session, Delivery, datetime], None]


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def _message_body(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in payload.items()
        if k in ("msgtype", "text", "textcard", "news", "image", "markdown", "template_card")
    }


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

    def __init__(self, wechat: WeChatClient, wecom: WeComClient, *, budget: float | None = None) -> None:
        self.wechat = wechat
        self.wecom = wecom
        self.budget = budget

    def by_channel(self) -> dict[str, Send]:
        return {
            "wechat_custom": self.send_custom,
            "wechat_template": self.send_template,
            "wecom_app": self.send_wecom,
            CARD_UPDATE: self.update_card,
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
        self.wechat.send_custom(job.recipient, _message_body(job.payload), budget=self.budget)

    def send_template(self, session: Session, job: Delivery, now: datetime) -> None:
        template = {k: v for k, v in job.payload.items() if k in ("template_id", "url", "data", "miniprogram")}
        self.wechat.send_template(job.recipient, template, budget=self.budget)

    def send_wecom(self, session: Session, job: Delivery, now: datetime) -> None:
        if not job.recipient or job.recipient.startswith("@"):
            raise Undeliverable(f"no WeCom user to send to ({job.recipient!r})")
        red = job.priority >= PRIORITY_RED
        per_minute = WECOM_PER_MINUTE if red else WECOM_PER_MINUTE - RED_RESERVE_PER_MINUTE
        per_hour = WECOM_PER_HOUR if red else WECOM_PER_HOUR - RED_RESERVE_PER_HOUR
        minute = _sent_since(session, channel="wecom_app", recipient=job.recipient, since=now - timedelta(minutes=1))
        if minute >= per_minute:
            raise Postpone(now + timedelta(minutes=1))
        hour = _sent_since(session, channel="wecom_app", recipient=job.recipient, since=now - timedelta(hours=1))
        if hour >= per_hour:
            raise Postpone(now + timedelta(minutes=10))
        answer = self.wecom.send_app_message(
            job.recipient,
            self._opened(job.payload),
            duplicate_check_seconds=int(duplicate_check(job.priority).total_seconds()),
            budget=self.budget,
        )
        card = job.payload.get("template_card")
        if isinstance(card, dict) and answer.get("response_code"):
            # Kept with the card, in this transaction, so any server can change the card later (once).
            wecom_cards.remember_code(
                session, task_id=str(card.get("task_id")), response_code=str(answer["response_code"]), now=now
            )

    def _opened(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The message as the worker reads it: a sealed text (a resident's whole number, which the outbox
        stores masked) is opened with the secret key just before it leaves."""
        body = _message_body(payload)
        sealed, key = payload.get("sealed_text"), self.wecom.settings.secret_key
        if isinstance(sealed, str) and key:
            try:
                body["text"] = {"content": unseal_message(key, sealed)}
            except DecryptionError:
                log.warning("a sealed WeCom text could not be opened; sending it masked")
        return body

    def update_card(self, session: Session, job: Delivery, now: datetime) -> None:
        """Change a ticket card with the response_code WeCom gave for it (good once, for 72 hours)."""
        expires = datetime.fromisoformat(str(job.payload.get("expires_at") or "2000-01-01T00:00:00+00:00"))
        if expires <= now:
            raise Undeliverable("the card's response_code has expired")
        change = {k: v for k, v in job.payload.items() if k in ("button", "template_card")}
        self.wecom.update_template_card(job.recipient, str(job.payload["response_code"]), change, budget=self.budget)


def drain_once(services: Services, senders: dict[str, Send], *, now: datetime | None = None, limit: int = 20) -> int:
    """Send what is due, one row at a time, each leased just before its send; how many were attempted.
    Without `now`, each row's time is read from the services' clock when it is leased."""
    lease = lease_for(services.settings)
    attempted = 0
    while attempted < limit:
        at = now or services.clock()
        with services.sessions.begin() as session:
            claim = claim_next_outbox(session, now=at, lease=lease)
            if claim is None:
                break
            job = Delivery.from_claim(claim)
        attempted += 1
        _deliver(services, senders, job, at, lease)
    return attempted


def _deliver(services: Services, senders: dict[str, Send], job: Delivery, now: datetime, lease: timedelta) -> None:
    if job.abandoned and not _resend_covered(job, now, now + lease):
        _fate_unknown(services, job, now, lease, "the last drainer's lease ran out while it was sending")
        return
    send = senders.get(job.channel)
    answered = False
    try:
        with services.sessions.begin() as session:
            if send is None:
                raise Undeliverable(f"no sender for channel {job.channel}")
            send(session, job, now)
            answered = True
            repo.mark_outbox_sent(session, outbox_id=job.id, now=now)
            note_first_send(session, outbox_id=job.id, at=now)
        metrics.count_send(job.channel, "sent", "0")
        return
    except Postpone as wait:
        with services.sessions.begin() as session:
            repo.mark_outbox_retry(session, outbox_id=job.id, error="rate limited on our side", retry_at=wait.until)
            # A postponement is not a failed attempt.
            row = session.get(OutboxMessage, job.id)
            if row is not None:
                row.attempts = max(row.attempts - 1, 0)
        metrics.count_send(job.channel, "postponed", "rate_limit")
        return
    except OutcomeUnknown as exc:
        _fate_unknown(services, job, now, lease, str(exc))
        return
    except Undeliverable as exc:
        log.warning("outbox %s undeliverable: %s", job.id, exc)
        error, final, code = str(exc), True, "undeliverable"
    except ApiError as exc:
        log.warning("outbox %s failed: %s", job.id, exc)
        error, final, code = str(exc), exc.final, str(exc.code)
    except OutOfTime as exc:
        log.warning("outbox %s: %s", job.id, exc)
        error, final, code = str(exc), False, "out_of_time"
    except Exception as exc:  # network errors, unexpected answers: retry later
        if answered:
            # Delivered, but the database did not take the news: the row stays leased, and whoever takes
            # it after the lease treats it as of unknown fate rather than sending it again.
            log.warning("outbox %s sent but not marked: %r", job.id, exc)
            metrics.count_send(job.channel, "unknown", "not_recorded")
            return
        log.warning("outbox %s failed: %r", job.id, exc)
        error, final, code = repr(exc), False, _failure_code(exc)
    with services.sessions.begin() as session:
        # Only a final answer ends a message; anything passing (busy, rate limit, network) keeps it
        # queued, retried at most hourly, so an alert is delayed by an outage but never lost.
        if final:
            repo.mark_outbox_dead(session, outbox_id=job.id, error=error)
            if job.channel in TO_RESIDENTS:
                _resident_not_reached(services, session, job, error, now)
        else:
            repo.mark_outbox_retry(session, outbox_id=job.id, error=error, retry_at=now + backoff(job.attempts))
    metrics.count_send(job.channel, "dead" if final else "retry", code)


def _resident_not_reached(services: Services, session: Session, job: Delivery, error: str, now: datetime) -> None:
    """A message about a ticket that will never reach its resident: on the ticket, and to the worker who
    acted. In a savepoint, so that whatever goes wrong here cannot keep the row from being marked dead."""
    try:
        with session.begin_nested():
            push_failed(session, services.settings, job.payload, reason=error, now=now)
    except Exception:
        log.exception("outbox %s: could not record that the resident was not reached", job.id)


def _fate_unknown(services: Services, job: Delivery, now: datetime, lease: timedelta, error: str) -> None:
    """The message may have gone out. Resend it only where WeCom's duplicate check still covers the resend
    (counted from the first send: the row's creation when that was never recorded); otherwise mark it."""
    retry_at = now + backoff(job.attempts)
    covered = _resend_covered(job, now, retry_at + lease)
    with services.sessions.begin() as session:
        note_first_send(session, outbox_id=job.id, at=_first_send(job, now))
        if covered:
            note = f"fate unknown ({error}); resent under WeCom's duplicate check"
            repo.mark_outbox_retry(session, outbox_id=job.id, error=note, retry_at=retry_at)
        else:
            mark_outbox_unknown(session, outbox_id=job.id, error=f"fate unknown, not resent: {error}")
    log.warning("outbox %s: fate unknown (%s); %s", job.id, error, "resending" if covered else "not resent")
    metrics.count_send(job.channel, "retry" if covered else "unknown", "unknown")


def _first_send(job: Delivery, now: datetime) -> datetime:
    # Never later than the real first send: an abandoned lease's send was after the row was created.
    return job.first_sent_at or (job.created_at if job.abandoned else None) or now


def _resend_covered(job: Delivery, now: datetime, done_by: datetime) -> bool:
    """Whether a resend finished by `done_by` still falls within WeCom's duplicate check of the first."""
    return job.channel in DEDUPLICATED and done_by <= _first_send(job, now) + duplicate_check(job.priority)


def _failure_code(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"http_{exc.response.status_code}"
    if isinstance(exc, httpx.TransportError):
        return "network"
    return "error"


def log_only(session: Session, job: Delivery, now: datetime) -> None:
    """Development without API credentials: show what would be sent instead of calling WeChat."""
    log.info(
        "development: not sent (no credentials) %s to %s: %s", job.channel, job.recipient, _message_body(job.payload)
    )


def make_senders(services: Services) -> dict[str, Send]:
    settings = services.settings
    senders = Senders(
        WeChatClient(settings, services.sessions),
        WeComClient(settings, services.sessions),
        budget=send_budget_seconds(settings.api_timeout_seconds),
    ).by_channel()
    if settings.is_development:
        # A newcomer's `make run` has no WeChat or WeCom account: log the messages so the demo shows them.
        if not settings.wechat_app_secret:
            senders["wechat_custom"] = senders["wechat_template"] = log_only
        if not settings.wecom_secret:
            senders["wecom_app"] = senders[CARD_UPDATE] = log_only
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
                busy = drain_once(self.services, self.senders)  # each row at its own time
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
