"""Core tables: communities, residents, every inbound and outbound message, dialogue state, outbox, tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.masking import MaskedJSON, MaskedText


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite would otherwise hand back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Community(Base):
    __tablename__ = "community"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The scene value of the subscribe QR code posted in this community (qrscene_<value>).
    qr_scene: Mapped[str | None] = mapped_column(String(64), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Resident(Base):
    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    building: Mapped[str | None] = mapped_column(String(32))
    unit: Mapped[str | None] = mapped_column(String(32))
    room: Mapped[str | None] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(64))
    phone_encrypted: Mapped[str | None] = mapped_column(Text)
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # WeChat's customer-service window has two openings (see bot/service_window.py): the resident's last
    # message (48 h, 5 messages) and their last menu click, follow or scan (1 minute, 3 messages).
    last_inbound_at: Mapped[datetime | None]
    window_event_at: Mapped[datetime | None]
    # We ask a resident which community they live in once; after that only a QR scan changes it.
    community_asked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMessage(Base):
    """Every message or event WeChat delivered, recorded once before it is handled."""

    __tablename__ = "inbound_message"
    __table_args__ = (Index("ix_inbound_message_retry", "status", "retry_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "m:<MsgId>" for messages, "e:<openid>:<CreateTime>:<Event>" for events (their MsgId is 0).
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    msg_id: Mapped[int | None] = mapped_column(BigInteger)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    msg_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[str | None] = mapped_column(String(64))
    content: Mapped[str | None] = mapped_column(MaskedText)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_time: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # received -> handling -> replied | deferred | failed; failed -> received again while retries are left
    status: Mapped[str] = mapped_column(String(16), default="received")
    intent: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None]
    handled_at: Mapped[datetime | None]
    # Handling attempts that failed, and when the next one is due (None: no more retries).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[datetime | None]


class OutboundMessage(Base):
    """Every reply the bot gave: passive replies in the HTTP response and pushed messages alike."""

    __tablename__ = "outbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # passive | custom | template
    kind: Mapped[str] = mapped_column(String(16))  # text | image | news | empty
    content: Mapped[str | None] = mapped_column(MaskedText)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeenNonce(Base):
    """The signed URL of a plaintext-mode callback (its signature does not cover the body), kept for the
    timestamp window: the same URL again is only WeChat retrying the same message."""

    __tablename__ = "seen_nonce"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class DialogueState(Base):
    """Where a resident is in a multi-turn flow ("which building?"); expires on its own."""

    __tablename__ = "dialogue_state"

    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# Outbox priorities: higher goes first. A red alert (a crisis, a red ticket) jumps routine messages.
PRIORITY_ROUTINE = 0
PRIORITY_RED = 10


class OutboxMessage(Base):
    """A message the bot sends on its own initiative, written in the transaction that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))  # wechat_custom | wechat_template | wecom_app
    recipient: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(MaskedJSON, default=dict)
    # pending -> sending -> sent | dead | unknown ; back to pending with a later next_attempt_at on failure.
    # unknown: the API may have delivered it (a timeout after sending) and cannot be asked; never re-sent.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    priority: Mapped[int] = mapped_column(Integer, default=PRIORITY_ROUTINE, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Lets a caller make "send this once" idempotent (e.g. one alert per ticket event).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # When the message first went on the wire: WeCom's duplicate check on a resend counts from here.
    first_sent_at: Mapped[datetime | None]


class ApiToken(Base):
    """Access tokens shared by all workers, refreshed by one at a time under a row lock."""

    __tablename__ = "api_token"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
