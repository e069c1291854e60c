"""The outbox queue as its drainer sees it: lease the next row, settle its fate, measure the backlog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import OutboxMessage

# A row that can still leave: waiting for its turn, or leased by a drainer.
WAITING = ("pending", "sending")


@dataclass(frozen=True)
class Claim:
    row: OutboxMessage
    # The previous lease ran out while the row was being sent: that drainer died or stalled mid-send,
    # so the message may have gone out.
    abandoned: bool


def claim_next_outbox(session: Session, *, now: datetime, lease: timedelta) -> Claim | None:
    """Lease the most urgent due row (red first, then oldest); two drainers never lease the same row.

    On PostgreSQL SKIP LOCKED keeps drainers apart without waiting; on SQLite the lease is an update that
    checks again that the row is due, and a row another drainer took in between is passed over.
    """
    is_due = ((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now)) | (
        (OutboxMessage.status == "sending") & (OutboxMessage.locked_until < now)
    )
    due = (
        select(OutboxMessage)
        .where(is_due)
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    for _ in range(20):  # each miss is a row another drainer has just leased
        row = session.scalars(due).first()
        if row is None:
            return None
        abandoned = row.status == "sending"
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, is_due)
            .values(status="sending", locked_until=now + lease, attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        session.refresh(row)
        if result.rowcount:  # type: ignore[attr-defined]
            return Claim(row, abandoned)
    return None


def note_first_send(session: Session, *, outbox_id: int, at: datetime) -> None:
    """Remember when the row's message first went out (kept if already set)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.first_sent_at.is_(None))
        .values(first_sent_at=at)
    )


def mark_outbox_unknown(session: Session, *, outbox_id: int, error: str) -> None:
    """The message may have been delivered and nobody can tell: never sent again without a person's check."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(status="unknown", locked_until=None, last_error=error[:2000])
    )


@dataclass(frozen=True)
class Backlog:
    channel: str
    priority: int
    depth: int
    oldest: datetime | None


def outbox_backlog(session: Session) -> list[Backlog]:
    """Rows still to leave, by channel and priority, with the oldest one's creation time."""
    rows = session.execute(
        select(OutboxMessage.channel, OutboxMessage.priority, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status.in_(WAITING))
        .group_by(OutboxMessage.channel, OutboxMessage.priority)
    ).all()
    return [Backlog(channel, priority, depth, oldest) for channel, priority, depth, oldest in rows]


def undelivered_alerts(session: Session) -> dict[int, int]:
    """Alerts to workers (WeCom) not delivered, by priority: waiting, leased, or of unknown fate."""
    rows = session.execute(
        select(OutboxMessage.priority, func.count())
        .where(OutboxMessage.channel == "wecom_app", OutboxMessage.status.in_((*WAITING, "unknown")))
        .group_by(OutboxMessage.priority)
    ).all()
    return {priority: count for priority, count in rows}
