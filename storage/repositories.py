"""Repository functions for the core tables. Each takes a Session and keyword arguments, and never commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import insert_unless_duplicate, is_postgres
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


def resident_and_community(session: Session, *, openid: str) -> tuple[Resident, Community | None] | None:
    """The resident and the community they chose, in one query."""
    row = session.execute(
        select(Resident, Community)
        .outerjoin(Community, Community.id == Resident.community_id)
        .where(Resident.openid == openid)
    ).first()
    return (row[0], row[1]) if row is not None else None


def resident_by_openid(session: Session, *, openid: str) -> Resident | None:
    return session.scalar(select(Resident).where(Resident.openid == openid))


# --- inbound and outbound messages --------------------------------------------------------------


def record_inbound(session: Session, *, dedupe_key: str, **fields: Any) -> tuple[InboundMessage, bool]:
    """Insert the message unless it was seen before; returns (row, created).

    One statement for a new message (INSERT ... ON CONFLICT DO NOTHING RETURNING): the database's
    unique index, not a prior SELECT, decides between concurrent deliveries of the same message.
    """
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    created = session.scalars(
        insert(InboundMessage)
        .values(dedupe_key=dedupe_key, **fields)
        .on_conflict_do_nothing(index_elements=[InboundMessage.dedupe_key])
        .returning(InboundMessage)
    ).one_or_none()
    if created is not None:
        return created, True
    return session.scalars(select(InboundMessage).where(InboundMessage.dedupe_key == dedupe_key)).one(), False


def claim_inbound(session: Session, *, inbound_id: int) -> bool:
    """Take the message for handling; only one of WeChat's concurrent retries wins."""
    result = session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, InboundMessage.status == "received")
        .values(status="handling")
    )
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
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id)
        .values(status=status, handled_at=now, intent=intent, confidence=confidence)
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
