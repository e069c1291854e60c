"""Repository functions for the core tables. Each takes a Session and keyword arguments, and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import insert_unless_duplicate
from storage.models import (
    PRIORITY_RED,
    PRIORITY_ROUTINE,
    ApiToken,
    Community,
    DialogueState,
    InboundMessage,
    OutboundMessage,
    OutboxMessage,
    Resident,
    SeenNonce,
)

# --- communities -------------------------------------------------------------------------------


def upsert_community(
    session: Session, *, code: str, name: str, qr_scene: str | None, config: dict[str, Any]
) -> Community:
    community = session.scalar(select(Community).where(Community.code == code))
    if community is None:
        community = Community(code=code, name=name, qr_scene=qr_scene, config=config)
        session.add(community)
    else:
        community.name = name
        community.qr_scene = qr_scene
        community.config = config
    session.flush()
    return community


def list_communities(session: Session) -> list[Community]:
    return list(session.scalars(select(Community).order_by(Community.id)))


def community_by_scene(session: Session, *, scene: str) -> Community | None:
    return session.scalar(select(Community).where(Community.qr_scene == scene))


def community_by_code(session: Session, *, code: str) -> Community | None:
    return session.scalar(select(Community).where(Community.code == code))


# --- residents ---------------------------------------------------------------------------------


def get_or_create_resident(session: Session, *, openid: str) -> Resident:
    resident = session.scalar(select(Resident).where(Resident.openid == openid))
    if resident is not None:
        return resident
    resident = Resident(openid=openid, active=True)
    if not insert_unless_duplicate(session, resident):
        # Another worker created the same resident a moment ago.
        resident = session.scalars(select(Resident).where(Resident.openid == openid)).one()
    return resident


# The message path's statements are built once: building and caching a statement per call costs more
# than running it (see benchmarks/webhook.py).
_RESIDENTS = cast(Table, Resident.__table__)
_INBOUND = cast(Table, InboundMessage.__table__)
_OUTBOUND = cast(Table, OutboundMessage.__table__)
_FIND_RESIDENT = select(_RESIDENTS.c.id, _RESIDENTS.c.community_id).where(_RESIDENTS.c.openid == bindparam("openid"))
_NEW_RESIDENT = {
    name: dialect.insert(_RESIDENTS)
    .values(openid=bindparam("openid"), active=True, created_at=bindparam("now"))
    .on_conflict_do_nothing(index_elements=["openid"])
    .returning(_RESIDENTS.c.id, _RESIDENTS.c.community_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_MESSAGE_WINDOW = (
    update(_RESIDENTS).where(_RESIDENTS.c.id == bindparam("resident")).values(last_inbound_at=bindparam("at"))
)
_EVENT_WINDOW = (
    update(_RESIDENTS).where(_RESIDENTS.c.id == bindparam("resident")).values(window_event_at=bindparam("at"))
)


@dataclass(frozen=True)
class Sender:
    id: int
    community_id: int | None


def sender(session: Session, *, openid: str, now: datetime) -> Sender:
    """The resident behind an openid, created on their first message; two statements at most."""
    row = session.execute(_FIND_RESIDENT, {"openid": openid}).first()
    if row is None:
        name = session.get_bind().dialect.name
        row = session.execute(_NEW_RESIDENT[name], {"openid": openid, "now": now}).first()
        if row is None:
            # Another worker created the same resident a moment ago.
            row = session.execute(_FIND_RESIDENT, {"openid": openid}).one()
    return Sender(row.id, row.community_id)


def open_window(session: Session, *, resident_id: int, by_message: bool, at: datetime) -> None:
    """Note when the resident opened WeChat's customer-service window (see handlers/service_window.py)."""
    statement = _MESSAGE_WINDOW if by_message else _EVENT_WINDOW
    session.execute(statement, {"resident": resident_id, "at": at})


_ALL_ABOUT = (
    select(Resident, Community, DialogueState)
    .outerjoin(Community, Community.id == Resident.community_id)
    .outerjoin(DialogueState, DialogueState.resident_id == Resident.id)
    .where(Resident.openid == bindparam("openid"))
)


def resident_in_full(
    session: Session, *, openid: str
) -> tuple[Resident, Community | None, DialogueState | None] | None:
    """The resident, the community they chose and where they are in a flow, in one query."""
    row = session.execute(_ALL_ABOUT, {"openid": openid}).first()
    return (row[0], row[1], row[2]) if row is not None else None


def resident_by_openid(session: Session, *, openid: str) -> Resident | None:
    return session.scalar(select(Resident).where(Resident.openid == openid))


# --- inbound and outbound messages --------------------------------------------------------------


@dataclass(frozen=True)
class InboundRef:
    id: int
    status: str


_NEW_INBOUND = {
    name: dialect.insert(_INBOUND)
    .on_conflict_do_nothing(index_elements=["dedupe_key"])
    .returning(_INBOUND.c.id, _INBOUND.c.status)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_INBOUND_BY_KEY = select(_INBOUND.c.id, _INBOUND.c.status).where(_INBOUND.c.dedupe_key == bindparam("key"))
_CLAIM = (
    update(_INBOUND)
    .where(_INBOUND.c.id == bindparam("inbound"), _INBOUND.c.status == "received")
    .values(status="handling")
)
_FINISH = (
    update(_INBOUND)
    .where(_INBOUND.c.id == bindparam("inbound"))
    .values(
        status=bindparam("new_status"),
        handled_at=bindparam("at"),
        intent=bindparam("new_intent"),
        confidence=bindparam("new_confidence"),
    )
)


def record_inbound(session: Session, *, dedupe_key: str, **fields: Any) -> tuple[InboundRef, bool]:
    """Insert the message unless it was seen before; returns (its id and status, created).

    One statement for a new message (INSERT ... ON CONFLICT DO NOTHING RETURNING): the database's
    unique index, not a prior SELECT, decides between concurrent deliveries of the same message.
    """
    values = {**fields, "dedupe_key": dedupe_key}
    name = session.get_bind().dialect.name
    row = session.execute(_NEW_INBOUND[name], values).first()
    if row is not None:
        return InboundRef(row.id, row.status), True
    row = session.execute(_INBOUND_BY_KEY, {"key": dedupe_key}).one()
    return InboundRef(row.id, row.status), False


_SEEN = cast(Table, SeenNonce.__table__)
_NEW_NONCE = {
    name: dialect.insert(_SEEN).on_conflict_do_nothing(index_elements=["key"]).returning(_SEEN.c.key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_NONCE_OWNER = select(_SEEN.c.dedupe_key).where(_SEEN.c.key == bindparam("nonce"))


def nonce_is_fresh(session: Session, *, key: str, dedupe_key: str, now: datetime) -> bool:
    """Remember a callback URL for the message it came with; False if it came before with another message
    (a logged URL re-posted with a forged body). The same message again is WeChat's retry: fresh."""
    name = session.get_bind().dialect.name
    if session.execute(_NEW_NONCE[name], {"key": key, "dedupe_key": dedupe_key, "seen_at": now}).first():
        return True
    return session.execute(_NONCE_OWNER, {"nonce": key}).scalar_one_or_none() in (dedupe_key, None)


def forget_nonces(session: Session, *, before: datetime) -> int:
    return int(session.execute(delete(SeenNonce).where(SeenNonce.seen_at < before)).rowcount)  # type: ignore[attr-defined]


def claim_inbound(session: Session, *, inbound_id: int) -> bool:
    """Take the message for handling; only one of WeChat's concurrent retries wins."""
    result = session.execute(_CLAIM, {"inbound": inbound_id})
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_inbound(
    session: Session,
    *,
    inbound_id: int,
    status: str,
    now: datetime,
    intent: str | None = None,
    confidence: float | None = None,
) -> None:
    session.execute(
        _FINISH,
        {"inbound": inbound_id, "new_status": status, "at": now, "new_intent": intent, "new_confidence": confidence},
    )


def fail_inbound(session: Session, *, inbound_id: int, now: datetime, delays: Sequence[timedelta]) -> int:
    """Mark the message's handling failed; the next try is due after the delay for this attempt, or never
    once the delays are used up. Returns the number of failed attempts so far."""
    attempts = int(
        session.execute(
            update(_INBOUND)
            .where(_INBOUND.c.id == inbound_id)
            .values(status="failed", handled_at=now, attempts=_INBOUND.c.attempts + 1)
            .returning(_INBOUND.c.attempts)
        ).scalar_one()
    )
    retry_at = now + delays[attempts - 1] if attempts <= len(delays) else None
    session.execute(update(_INBOUND).where(_INBOUND.c.id == inbound_id).values(retry_at=retry_at))
    return attempts


@dataclass(frozen=True)
class StoredInbound:
    id: int
    openid: str
    msg_type: str
    event: str | None
    content: str | None
    payload: dict[str, Any]
    msg_id: int | None
    created_time: datetime


def take_due_retries(session: Session, *, now: datetime, limit: int = 20) -> list[StoredInbound]:
    """Failed messages whose next try is due, set back to "received" so one worker handles each."""
    query = (
        select(
            _INBOUND.c.id,
            _RESIDENTS.c.openid,
            _INBOUND.c.msg_type,
            _INBOUND.c.event,
            _INBOUND.c.content,
            _INBOUND.c.payload,
            _INBOUND.c.msg_id,
            _INBOUND.c.created_time,
        )
        .join(_RESIDENTS, _RESIDENTS.c.id == _INBOUND.c.resident_id)
        .where(_INBOUND.c.status == "failed", _INBOUND.c.retry_at <= now)
        .order_by(_INBOUND.c.retry_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=_INBOUND, skip_locked=True)
    rows = [StoredInbound(**row._mapping) for row in session.execute(query)]
    if rows:
        session.execute(
            update(_INBOUND)
            .where(_INBOUND.c.id.in_([r.id for r in rows]), _INBOUND.c.status == "failed")
            .values(status="received", retry_at=None)
        )
    return rows


def failed_messages(session: Session, *, community_id: int | None = None, limit: int = 100) -> list[InboundMessage]:
    """Messages whose handling failed for good (no retry left), newest first: a person must look at them."""
    query = select(InboundMessage).where(InboundMessage.status == "failed", InboundMessage.retry_at.is_(None))
    if community_id is not None:
        query = query.where(InboundMessage.community_id == community_id)
    return list(session.scalars(query.order_by(InboundMessage.id.desc()).limit(limit)))


_NEW_OUTBOUND = insert(_OUTBOUND)


def note_reply(
    session: Session,
    *,
    channel: str,
    kind: str,
    content: str | None,
    community_id: int | None,
    resident_id: int | None,
    inbound_id: int | None,
    now: datetime,
) -> None:
    """Record a reply the bot gave (the message path's form of `record_outbound`: one statement, no row back)."""
    session.execute(
        _NEW_OUTBOUND,
        {
            "created_at": now,
            "channel": channel,
            "kind": kind,
            "content": content,
            "payload": {},
            "community_id": community_id,
            "resident_id": resident_id,
            "inbound_id": inbound_id,
        },
    )


def record_outbound(
    session: Session,
    *,
    channel: str,
    kind: str,
    content: str | None,
    payload: dict[str, Any],
    community_id: int | None,
    resident_id: int | None,
    now: datetime,
    inbound_id: int | None = None,
) -> OutboundMessage:
    row = OutboundMessage(
        created_at=now,
        channel=channel,
        kind=kind,
        content=content,
        payload=payload,
        community_id=community_id,
        resident_id=resident_id,
        inbound_id=inbound_id,
    )
    session.add(row)
    session.flush()
    return row


def reply_for_inbound(session: Session, *, inbound_id: int) -> OutboundMessage | None:
    return session.scalar(
        select(OutboundMessage)
        .where(OutboundMessage.inbound_id == inbound_id, OutboundMessage.channel == "passive")
        .order_by(OutboundMessage.id.desc())
        .limit(1)
    )


def count_custom_messages_since(session: Session, *, resident_id: int, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(
                OutboundMessage.resident_id == resident_id,
                OutboundMessage.channel == "custom",
                OutboundMessage.created_at >= since,
            )
        )
        or 0
    )


def custom_messages_claimed_since(session: Session, *, recipient: str, since: datetime) -> int:
    """Customer-service messages queued for (or already sent to) a resident since `since`, dead ones aside."""
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.channel == "wechat_custom",
                OutboxMessage.recipient == recipient,
                OutboxMessage.status != "dead",
                OutboxMessage.created_at >= since,
            )
        )
        or 0
    )


def purge_message_text(session: Session, *, before: datetime) -> int:
    """Blank conversation text older than the retention period (PIPL art. 47); keep the metadata."""
    inbound = session.execute(
        update(InboundMessage)
        .where(InboundMessage.received_at < before, InboundMessage.content.is_not(None))
        .values(content=None, payload={})
    )
    outbound = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.created_at < before, OutboundMessage.content.is_not(None))
        .values(content=None, payload={})
    )
    return int(inbound.rowcount + outbound.rowcount)  # type: ignore[attr-defined]


# --- dialogue state ------------------------------------------------------------------------------


def get_dialogue(session: Session, *, resident_id: int, now: datetime) -> DialogueState | None:
    state = session.get(DialogueState, resident_id)
    if state is not None and state.expires_at <= now:
        session.delete(state)
        session.flush()
        return None
    return state


def set_dialogue(
    session: Session,
    *,
    resident_id: int,
    flow: str,
    step: str,
    data: dict[str, Any],
    now: datetime,
    ttl: timedelta,
) -> DialogueState:
    state = session.get(DialogueState, resident_id)
    if state is None:
        state = DialogueState(resident_id=resident_id, flow=flow, step=step)
        session.add(state)
    state.flow, state.step, state.data = flow, step, dict(data)
    state.expires_at = now + ttl
    state.updated_at = now
    session.flush()
    return state


def clear_dialogue(session: Session, *, resident_id: int) -> None:
    session.execute(delete(DialogueState).where(DialogueState.resident_id == resident_id))


# --- outbox ----------------------------------------------------------------------------------------


def enqueue_outbox(
    session: Session,
    *,
    channel: str,
    recipient: str,
    payload: dict[str, Any],
    community_id: int | None,
    now: datetime,
    dedupe_key: str | None = None,
    priority: int | None = None,
) -> OutboxMessage | None:
    """Queue a message in the caller's transaction; a repeated dedupe_key queues nothing. Without a
    `priority`, a red alert (payload level "red") jumps the queue and anything else waits its turn."""
    if dedupe_key is not None and session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ):
        return None
    row = OutboxMessage(
        channel=channel,
        recipient=recipient,
        payload=payload,
        community_id=community_id,
        dedupe_key=dedupe_key,
        status="pending",
        priority=priority if priority is not None else outbox_priority(payload),
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def outbox_priority(payload: dict[str, Any]) -> int:
    return PRIORITY_RED if payload.get("level") == "red" else PRIORITY_ROUTINE


def claim_due_outbox(session: Session, *, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
    """Lease due rows to this worker; two workers never lease the same row.

    On PostgreSQL, SKIP LOCKED keeps them apart without waiting. SQLite ignores FOR UPDATE (and pysqlite
    reads outside the transaction), so each row is leased by an update that checks again that it is
    due: a row another worker leased in the meantime is left out.
    """
    is_due = ((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now)) | (
        (OutboxMessage.status == "sending") & (OutboxMessage.locked_until < now)
    )
    due = (
        select(OutboxMessage)
        .where(is_due)
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    leased = []
    for row in session.scalars(due).all():
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, is_due)
            .values(status="sending", locked_until=now + lease, attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            session.refresh(row)
            leased.append(row)
    return leased


def mark_outbox_sent(session: Session, *, outbox_id: int, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(status="sent", sent_at=now, locked_until=None, last_error=None)
    )


def mark_outbox_retry(session: Session, *, outbox_id: int, error: str, retry_at: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(status="pending", next_attempt_at=retry_at, locked_until=None, last_error=error[:2000])
    )


def mark_outbox_dead(session: Session, *, outbox_id: int, error: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(status="dead", locked_until=None, last_error=error[:2000])
    )


# --- access tokens -----------------------------------------------------------------------------------


def lock_token(session: Session, *, name: str) -> ApiToken:
    """The token row, locked for update so only one worker refreshes it at a time."""
    row = session.scalar(select(ApiToken).where(ApiToken.name == name).with_for_update())
    if row is not None:
        return row
    insert_unless_duplicate(session, ApiToken(name=name))
    return session.scalars(select(ApiToken).where(ApiToken.name == name).with_for_update()).one()


def peek_token(session: Session, *, name: str) -> ApiToken | None:
    return session.get(ApiToken, name)
