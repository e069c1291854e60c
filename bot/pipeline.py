"""A message's trip after the edge: record it once, handle it in one transaction, record the reply.

The same functions serve the WeChat webhook, `shegong chat` and `shegong ask`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast, get_args

from sqlalchemy.orm import Session

from bot import metrics
from bot.dispatcher import URGENT
from bot.services import Services
from handlers.base import Context
from handlers.messages import EmptyReply, Inbound, InboundKind, Reply, TextReply, reply_text
from handlers.notify import duty_worker, resident_place, wecom_card
from handlers.privacy import seal_message
from handlers.residents import adopt_only_community
from intents import Classification, Intent
from storage import repositories as repo
from storage import safecheck
from storage.masking import has_identifiers
from storage.models import InboundMessage

log = logging.getLogger(__name__)

APOLOGY = "抱歉，系统刚才出了点小问题，没能马上处理您的消息。过几分钟会自动再试，处理好了就回复您；着急的话请直接联系社区居委会。"
GAVE_UP = "抱歉，您刚才的消息还是没能处理好，已经请社区工作人员来看，会尽快联系您。"
# After the first failure (in the webhook) a message is tried again after each of these; then a person sees it.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5))


class Handoff:
    """Decides, once, whether a reply goes back in the HTTP response or later as a pushed message."""

    def __init__(self, on_recorded: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._expired = False
        self._replied = False
        self._on_recorded = on_recorded
        self.inbound_id: int | None = None

    def mark_recorded(self, inbound_id: int) -> None:
        """The message is kept: from now on the webhook may acknowledge it without an answer."""
        self.inbound_id = inbound_id
        if self._on_recorded is not None:
            self._on_recorded()

    def expire(self) -> bool:
        """The webhook gives up waiting; False if the reply was already committed to the response."""
        with self._lock:
            if self._replied:
                return False
            self._expired = True
            return True

    def take_reply(self) -> bool:
        """The handler is about to commit its reply; False if the webhook has already answered."""
        with self._lock:
            if self._expired:
                return False
            self._replied = True
            return True


@dataclass(frozen=True)
class Recorded:
    inbound_id: int
    created: bool
    status: str


@dataclass(frozen=True)
class Handled:
    reply: Reply | None  # None when the reply goes out later through the outbox
    classification: Classification
    status: str


class ReplayRefused(Exception):
    """A plaintext-mode callback URL seen before with another message: a logged URL re-posted."""


def record_message(
    services: Services, msg: Inbound, *, now: datetime | None = None, url_key: str | None = None
) -> Recorded:
    """Keep the message before anything else happens; a retry finds the first record.

    `url_key` identifies the signed callback URL in plaintext mode, where the signature does not cover the
    body: it is good for the one message it first came with (WeChat's retries included)."""
    now = now or services.clock()
    with services.sessions.begin() as session:
        if url_key is not None and not repo.nonce_is_fresh(session, key=url_key, dedupe_key=msg.dedupe_key, now=now):
            raise ReplayRefused(msg.dedupe_key)
        resident = repo.sender(session, openid=msg.sender, now=now)
        row, created = repo.record_inbound(
            session,
            dedupe_key=msg.dedupe_key,
            msg_id=msg.msg_id if msg.kind != "event" else None,
            community_id=resident.community_id,
            resident_id=resident.id,
            msg_type=msg.raw_type or msg.kind,
            event=msg.event,
            content=msg.text or None,
            payload=_payload(msg, services.settings.secret_key),
            created_time=msg.created_at,
            received_at=now,
        )
        if created:
            _open_service_window(session, resident.id, msg, now)
            if msg.kind != "event":
                safecheck.mark_contact(session, resident_id=resident.id, at=now)  # any message is 报平安
        return Recorded(row.id, created, row.status)


# Events by which the resident opens WeChat's short customer-service window (1 minute). Not among them:
# a location reported on opening the chat, a tap on a menu link, leaving, and WeChat's own notices (a
# template message's TEMPLATESENDJOBFINISH arrives after every template we send).
_WINDOW_EVENTS = frozenset({"subscribe", "subscribe_scan", "scan", "click", "scancode_push", "scancode_waitmsg"})


def _open_service_window(session: Session, resident_id: int, msg: Inbound, now: datetime) -> None:
    # Kept apart: a click must not stretch the 48 h window that only a message opens.
    if msg.kind != "event":
        repo.open_window(session, resident_id=resident_id, by_message=True, at=now)
    elif msg.event in _WINDOW_EVENTS:
        repo.open_window(session, resident_id=resident_id, by_message=False, at=now)


def _payload(msg: Inbound, secret_key: str) -> dict[str, Any]:
    fields = {
        "event_key": msg.event_key,
        "media_id": msg.media_id,
        "pic_url": msg.pic_url,
        "latitude": msg.latitude,
        "longitude": msg.longitude,
        "label": msg.label,
    }
    payload = {k: v for k, v in fields.items() if v is not None}
    if msg.text and secret_key and has_identifiers(msg.text):
        # The stored content is masked (storage/masking.py); the words in full are sealed beside it.
        payload["sealed"] = seal_message(secret_key, msg.text)
    return payload


def stored_reply(services: Services, inbound_id: int) -> tuple[str, Reply | None]:
    """For a retry: the first delivery's status and the reply it gave in the HTTP response, if any."""
    with services.sessions.begin() as session:
        row = session.get(InboundMessage, inbound_id)
        status = row.status if row else "missing"
        out = repo.reply_for_inbound(session, inbound_id=inbound_id)
        if out is None:
            return status, None
        if out.kind == "text":
            return status, TextReply(out.content or "")
        return status, EmptyReply()


def handle_message(
    services: Services, msg: Inbound, inbound_id: int, *, handoff: Handoff | None = None, now: datetime | None = None
) -> Handled | None:
    """Handle a recorded message in one transaction; None if another delivery already took it."""
    now = now or services.clock()
    try:
        with services.sessions.begin() as session:
            if not repo.claim_inbound(session, inbound_id=inbound_id):
                return None
            ctx = _context(services, session, msg, inbound_id, now)
            reply, cls = _dispatch(services, ctx, msg)
            in_response = handoff is None or handoff.take_reply()
            status = "replied" if in_response else "deferred"
            _record_reply(ctx, reply, in_response=in_response)
            repo.finish_inbound(
                session,
                inbound_id=inbound_id,
                status=status,
                now=now,
                intent=cls.intent.value,
                confidence=cls.confidence,
            )
            return Handled(reply if in_response else None, cls, status)
    except Exception:
        log.exception("handling inbound message %s failed", inbound_id)
        metrics.count_handler_failure()
        return _apologise(services, msg, inbound_id, handoff=handoff, now=now)


def _context(services: Services, session: Session, msg: Inbound, inbound_id: int, now: datetime) -> Context:
    found = repo.resident_in_full(session, openid=msg.sender)
    if found is None:
        resident, community, state = repo.get_or_create_resident(session, openid=msg.sender), None, None
    else:
        resident, community, state = found
    ctx = Context(
        session=session,
        settings=services.settings,
        services=services,
        resident=resident,
        now=now,
        inbound_id=inbound_id,
        community=community,
    )
    ctx.preload_dialogue(state)
    return ctx


def _dispatch(services: Services, ctx: Context, msg: Inbound) -> tuple[Reply, Classification]:
    # A question is answered at once, whether or not the resident's community is known: the handlers whose
    # next step needs it (a ticket, volunteering, points) ask for it themselves (handlers/residents.py).
    dispatcher = services.dispatcher
    if ctx.community is None and msg.kind != "event":
        adopt_only_community(ctx)
    result = dispatcher.dispatch(ctx, msg)
    reply = result.reply
    pending = ctx.extras.pop("redispatch_text", None)
    if pending:
        # The resident chose their community; now answer what they first asked.
        again = dispatcher.dispatch(ctx, replace(msg, kind="text", text=str(pending), event=None))
        reply = _join(reply, again.reply)
    return reply, result.classification


def _join(first: Reply, second: Reply) -> Reply:
    a, b = reply_text(first), reply_text(second)
    if a and b:
        return TextReply(f"{a}\n\n{b}")
    return second if b else first


def _record_reply(ctx: Context, reply: Reply, *, in_response: bool) -> None:
    text = reply_text(reply)
    repo.note_reply(
        ctx.session,
        channel="passive" if in_response else "custom",
        kind=reply.kind,
        content=text,
        community_id=ctx.community_id,
        resident_id=ctx.resident.id,
        inbound_id=ctx.inbound_id,
        now=ctx.now,
    )
    if not in_response and text:
        ctx.send_later(
            channel="wechat_custom",
            recipient=ctx.resident.openid,
            payload={"msgtype": "text", "text": {"content": text}, "resident_id": ctx.resident.id},
            dedupe_key=f"late-reply:{ctx.inbound_id}",
        )


def _apologise(services: Services, msg: Inbound, inbound_id: int, *, handoff: Handoff | None, now: datetime) -> Handled:
    """The handler failed and its transaction is gone: say so truthfully, and keep the message for a retry.

    The first failure answers the resident; retries fail quietly; the last one tells the resident a person
    will look, and alerts the worker on duty with what the resident said.
    """
    cls = services.dispatcher.classify(msg)
    # If this write fails too, the exception reaches the webhook, which answers 503 so WeChat retries.
    with services.sessions.begin() as session:
        ctx = _context(services, session, msg, inbound_id, now)
        attempts = repo.fail_inbound(session, inbound_id=inbound_id, now=now, delays=RETRY_DELAYS)
        in_response = handoff is None or handoff.take_reply()
        gave_up = attempts > len(RETRY_DELAYS)
        # Retries in between fail quietly: the resident was told once already.
        reply = TextReply(GAVE_UP if gave_up else APOLOGY) if attempts == 1 or gave_up else None
        if reply is not None:
            _record_reply(ctx, reply, in_response=in_response)
        if gave_up:
            _surface_failure(ctx, msg, cls)
    return Handled(reply if in_response else None, Classification(Intent.UNKNOWN, 0.0, "error"), "failed")


def _surface_failure(ctx: Context, msg: Inbound, cls: Classification) -> None:
    level = "red" if cls.intent in URGENT else "yellow"
    card = wecom_card(
        "【待人工处理】居民消息处理失败",
        [
            ("highlight", "系统多次处理失败，请人工查看并联系居民"),
            ("gray", f"{ctx.community.name if ctx.community else '未分配社区'} · {resident_place(ctx)}"),
            ("normal", f"居民原话：{(msg.text or msg.raw_type or msg.kind)[:200]}"),
        ],
    )
    ctx.send_later(
        channel="wecom_app",
        recipient=duty_worker(ctx) or "@duty",
        payload=card | {"level": level, "resident_id": ctx.resident.id},
        dedupe_key=f"failed:{ctx.inbound_id}",
    )


def retry_failed_messages(services: Services, *, now: datetime | None = None) -> int:
    """Handle again the messages whose retry is due (the scheduler calls this); the reply goes out pushed."""
    now = now or services.clock()
    with services.sessions.begin() as session:
        due = repo.take_due_retries(session, now=now)
    for row in due:
        late = Handoff()
        late.expire()
        handle_message(services, _inbound_of(row), row.id, handoff=late, now=now)
    return len(due)


_KINDS = frozenset(get_args(InboundKind)) - {"unknown"}


def _inbound_of(row: repo.StoredInbound) -> Inbound:
    payload = row.payload or {}
    return Inbound(
        sender=row.openid,
        kind=cast(InboundKind, row.msg_type) if row.msg_type in _KINDS else "unknown",
        created_at=row.created_time,
        text=row.content or "",
        msg_id=row.msg_id,
        event=row.event,
        event_key=payload.get("event_key"),
        media_id=payload.get("media_id"),
        pic_url=payload.get("pic_url"),
        latitude=payload.get("latitude"),
        longitude=payload.get("longitude"),
        label=payload.get("label"),
        raw_type=row.msg_type,
    )
