"""The points and time-credit ledger: entries, balances, corrections and the lock that serialises them.

Repository functions take a Session and keyword arguments and never commit. The ledger is append-only:
a balance is the sum of its entries, and every entry that takes points away is written only while the
resident's row is locked, so two transactions cannot both spend the same points.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, bindparam, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import insert_unless_duplicate, is_postgres
from storage.models import Base, Resident, utcnow

Unit = Literal["points", "minutes"]
# The ledger grows forever: 64-bit ids on PostgreSQL; SQLite autoincrements only an INTEGER primary key.
ENTRY_ID = BigInteger().with_variant(Integer, "sqlite")
EntryKind = Literal["award", "redemption", "adjustment", "reversal", "expiry", "time_spend"]


class LedgerEntry(Base):
    """One append-only movement of points or time credits; a balance is the sum of these."""

    __tablename__ = "ledger_entry"
    __table_args__ = (Index("ix_ledger_resident_unit", "resident_id", "unit"),)

    id: Mapped[int] = mapped_column(ENTRY_ID, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    unit: Mapped[str] = mapped_column(String(8))  # points | minutes
    amount: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    # What caused the entry, unique so the same cause never pays twice: "award:<resident>:<activity>:<kind>".
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"), index=True)
    worker: Mapped[str | None] = mapped_column(String(64))
    # A correction points at the entry it undoes; unique, so an entry is reversed at most once.
    reverses_id: Mapped[int | None] = mapped_column(ENTRY_ID, ForeignKey("ledger_entry.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- errors ---------------------------------------------------------------------------------------


class LedgerError(Exception):
    """A ledger operation refused; the message is for the worker or the log, not the resident."""


class InsufficientBalance(LedgerError):
    pass


class EntryNotFound(LedgerError):
    pass


class AlreadyReversed(LedgerError):
    pass


# --- the resident's lock ---------------------------------------------------------------------------


def lock_resident(session: Session, *, resident_id: int) -> None:
    """Serialise everything that reads and then writes one resident's ledger or attendance."""
    if is_postgres(session):
        session.execute(select(Resident.id).where(Resident.id == resident_id).with_for_update())
    else:
        # SQLite locks the whole database on the first write; a no-op write takes that lock now.
        session.execute(update(Resident).where(Resident.id == resident_id).values(active=Resident.active))


# --- entries and balances ----------------------------------------------------------------------------


def balance(session: Session, *, resident_id: int, unit: Unit = "points") -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.resident_id == resident_id, LedgerEntry.unit == unit
        )
    )
    return int(total or 0)


# "积分" runs these on every ask: built once (see storage/repositories.py).
_BALANCES = (
    select(LedgerEntry.unit, func.sum(LedgerEntry.amount))
    .where(LedgerEntry.resident_id == bindparam("resident"))
    .group_by(LedgerEntry.unit)
)
_RECENT = (
    select(LedgerEntry)
    .where(LedgerEntry.resident_id == bindparam("resident"))
    .order_by(LedgerEntry.id.desc())
    .limit(bindparam("limit"))
)


def balances(session: Session, *, resident_id: int) -> dict[str, int]:
    """Every unit's balance in one query (units with no entries are absent)."""
    rows = session.execute(_BALANCES, {"resident": resident_id})
    return {str(unit): int(total or 0) for unit, total in rows}


def recent_entries(session: Session, *, resident_id: int, limit: int = 5) -> list[LedgerEntry]:
    return list(session.scalars(_RECENT, {"resident": resident_id, "limit": limit}))


def entries_for(session: Session, *, resident_id: int | None = None) -> list[LedgerEntry]:
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    if resident_id is not None:
        query = query.where(LedgerEntry.resident_id == resident_id)
    return list(session.scalars(query))


def post_entry(
    session: Session,
    *,
    resident_id: int,
    community_id: int | None,
    unit: Unit,
    amount: int,
    kind: EntryKind,
    reason: str,
    now: datetime,
    source_key: str | None = None,
    activity_id: int | None = None,
    worker: str | None = None,
    reverses_id: int | None = None,
) -> LedgerEntry | None:
    """Append one entry; None if an entry with this source key exists (the cause was paid already).

    Entries that take something away are checked against the balance under the resident's lock, so the
    balance never goes negative whatever runs at the same time.
    """
    if not reason.strip():
        raise LedgerError("every ledger entry needs a reason")
    if amount < 0:
        lock_resident(session, resident_id=resident_id)
        if balance(session, resident_id=resident_id, unit=unit) + amount < 0:
            raise InsufficientBalance(f"balance too low for {amount} {unit}")
    if source_key is not None and session.scalar(select(LedgerEntry.id).where(LedgerEntry.source_key == source_key)):
        return None
    entry = LedgerEntry(
        resident_id=resident_id,
        community_id=community_id,
        unit=unit,
        amount=amount,
        kind=kind,
        reason=reason[:500],
        source_key=source_key,
        activity_id=activity_id,
        worker=worker,
        reverses_id=reverses_id,
        created_at=now,
    )
    if not insert_unless_duplicate(session, entry):
        # A concurrent transaction wrote the same source key (or reversed the same entry) first.
        return None
    return entry


def award_key(*, resident_id: int, activity_id: int, kind: str) -> str:
    return f"award:{resident_id}:{activity_id}:{kind}"


def reverse_entry(session: Session, *, entry_id: int, reason: str, worker: str, now: datetime) -> LedgerEntry:
    """Correct an entry by appending its opposite; the original stays as it was."""
    if not reason.strip():
        raise LedgerError("a reversal needs a reason")
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise EntryNotFound(f"no ledger entry {entry_id}")
    if original.kind == "reversal":
        raise LedgerError("a reversal cannot itself be reversed; add a new entry instead")
    if original.kind == "redemption":
        # Points spent on a voucher come back only with the voucher: refusing keeps stock and points in step.
        raise LedgerError("a redemption is undone by cancelling its voucher, not by reversing the entry")
    lock_resident(session, resident_id=original.resident_id)
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry_id)) is not None:
        raise AlreadyReversed(f"entry {entry_id} was reversed already")
    entry = post_entry(
        session,
        resident_id=original.resident_id,
        community_id=original.community_id,
        unit="minutes" if original.unit == "minutes" else "points",
        amount=-original.amount,
        kind="reversal",
        reason=reason,
        now=now,
        source_key=f"reverse:{entry_id}",
        activity_id=original.activity_id,
        worker=worker,
        reverses_id=entry_id,
    )
    if entry is None:
        raise AlreadyReversed(f"entry {entry_id} was reversed already")
    return entry


def points_between(session: Session, *, resident_id: int, start: datetime, end: datetime, unit: Unit = "points") -> int:
    """Net points (awards less reversals and spending) entered in [start, end)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.resident_id == resident_id,
            LedgerEntry.unit == unit,
            LedgerEntry.kind.in_(("award", "reversal", "adjustment")),
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
    )
    return int(total or 0)
