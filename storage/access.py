"""Who may use the office API, for which community, and the record of what they read or changed.

Residents confide health, family and legal matters (PIPL art. 28): each worker gets a key of their own,
bound to their community, and every API request is written to the audit log before any data leaves.
Keys are stored as SHA-256 digests; the key itself is shown once, when it is issued.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, Community, utcnow

KEY_PREFIX = "sgk_"


class WorkerKey(Base):
    """A bearer key for one worker; community_id None means every community (the office's own staff)."""

    __tablename__ = "worker_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One API request: who, for which community, what was asked. Written before the answer is built."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("worker_key.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # read | export | change
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[int | None] = mapped_column(Integer)


@dataclass(frozen=True)
class IssuedKey:
    id: int
    key: str  # shown once; only its digest is stored


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_key(session: Session, *, worker: str, community_id: int | None, label: str = "", now: datetime) -> IssuedKey:
    worker = worker.strip()
    if not worker or len(worker) > 64:
        raise ValueError("the worker's WeCom userid must be 1 to 64 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = WorkerKey(worker=worker, community_id=community_id, digest=digest_of(key), label=label[:200], created_at=now)
    session.add(row)
    session.flush()
    return IssuedKey(row.id, key)


def key_for(session: Session, key: str) -> WorkerKey | None:
    """The live key row for a presented key, or None (unknown or revoked)."""
    row = session.scalar(select(WorkerKey).where(WorkerKey.digest == digest_of(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_key(session: Session, *, key_id: int, now: datetime) -> WorkerKey | None:
    row = session.get(WorkerKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
    return row


def list_keys(session: Session) -> Sequence[tuple[WorkerKey, str | None]]:
    """Every key with its community code (None: every community), newest first."""
    rows = session.execute(
        select(WorkerKey, Community.code)
        .outerjoin(Community, Community.id == WorkerKey.community_id)
        .order_by(WorkerKey.id.desc())
    )
    return [(key, code) for key, code in rows]


def record(
    session: Session,
    *,
    actor: str,
    key_id: int | None,
    community_id: int | None,
    action: str,
    method: str,
    path: str,
    query: dict[str, Any],
    now: datetime,
) -> AuditEntry:
    entry = AuditEntry(
        at=now,
        actor=actor[:80],
        key_id=key_id,
        community_id=community_id,
        action=action,
        method=method[:8],
        path=path[:300],
        query=query,
    )
    session.add(entry)
    session.flush()
    return entry


def set_status(session: Session, *, entry_id: int, status: int) -> None:
    entry = session.get(AuditEntry, entry_id)
    if entry is not None:
        entry.status = status


def recent_entries(session: Session, *, limit: int = 50, actor: str | None = None) -> Sequence[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return session.scalars(query).all()
