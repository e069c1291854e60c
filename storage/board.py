"""The community's public notice board: budgets and where they come from, allocations, spending, objections.

Money is kept in fen (分) as integers, never as floats. An allocation is published with a notice period; it
is "notice" until a worker marks it "effective", which the service refuses before the period has ended.
Repository functions take a Session and keyword arguments and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.activities import Attendance
from storage.consultations import Consultation
from storage.db import insert_unless_duplicate
from storage.ledger import LedgerEntry
from storage.masking import MaskedText
from storage.models import Base
from storage.tickets import Ticket

SOURCES = ("government", "company", "residents", "foundation")
ALLOCATION_STATUSES = ("notice", "effective", "withdrawn")
POOLS = ("base", "flexible", "reserve")


class Budget(Base):
    """Money the community has for a period, and who gave it."""

    __tablename__ = "board_budget"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    period: Mapped[str] = mapped_column(String(16))  # "2026", or "2026-Q4"
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # one of SOURCES
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Allocation(Base):
    """A share of the budget for one purpose and group of beneficiaries, shown on the board as A<id>."""

    __tablename__ = "board_allocation"
    __table_args__ = (Index("ix_board_allocation_community_status", "community_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(32))
    pool: Mapped[str] = mapped_column(String(16), default="base")  # one of POOLS
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    beneficiaries: Mapped[str] = mapped_column(String(200))
    progress: Mapped[int] = mapped_column(Integer, default=0)  # 0-100
    status: Mapped[str] = mapped_column(String(16), default="notice")
    published_at: Mapped[datetime]
    # The end of the notice period: the earliest moment it may be marked effective.
    notice_ends_at: Mapped[datetime]
    effective_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")

    @property
    def number(self) -> str:
        return f"A{self.id}"


class Spending(Base):
    """Money actually spent under an allocation (a receipt's worth)."""

    __tablename__ = "board_spending"

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("board_allocation.id", ondelete="CASCADE"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(500))
    spent_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Objection(Base):
    """A resident's objection to an allocation during its notice period: one per resident per allocation."""

    __tablename__ = "board_objection"
    __table_args__ = (UniqueConstraint("allocation_id", "resident_id", name="uq_board_objection_resident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("board_allocation.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    reason: Mapped[str] = mapped_column(MaskedText)
    created_at: Mapped[datetime]


# --- budgets --------------------------------------------------------------------------------------------


def add_budget(
    session: Session,
    *,
    community_id: int,
    period: str,
    title: str,
    source: str,
    amount_fen: int,
    note: str,
    created_by: str,
    now: datetime,
) -> Budget:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    row = Budget(
        community_id=community_id,
        period=period,
        title=title,
        source=source,
        amount_fen=amount_fen,
        note=note,
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def budgets_for(session: Session, *, community_id: int, period: str | None = None) -> list[Budget]:
    query = select(Budget).where(Budget.community_id == community_id)
    if period is not None:
        query = query.where(Budget.period == period)
    return list(session.scalars(query.order_by(Budget.id)))


# --- allocations ----------------------------------------------------------------------------------------


def add_allocation(
    session: Session,
    *,
    community_id: int,
    title: str,
    purpose: str,
    pool: str,
    amount_fen: int,
    beneficiaries: str,
    note: str,
    created_by: str,
    now: datetime,
    notice_ends_at: datetime,
) -> Allocation:
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}")
    row = Allocation(
        community_id=community_id,
        title=title,
        purpose=purpose,
        pool=pool,
        amount_fen=amount_fen,
        beneficiaries=beneficiaries,
        note=note,
        progress=0,
        status="notice",
        published_at=now,
        notice_ends_at=notice_ends_at,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row


def allocation_by_id(session: Session, *, allocation_id: int, for_update: bool = False) -> Allocation | None:
    query = select(Allocation).where(Allocation.id == allocation_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def allocations_for(session: Session, *, community_id: int, include_withdrawn: bool = False) -> list[Allocation]:
    query = select(Allocation).where(Allocation.community_id == community_id)
    if not include_withdrawn:
        query = query.where(Allocation.status != "withdrawn")
    return list(session.scalars(query.order_by(Allocation.id)))


def published_between(session: Session, *, community_id: int, start: datetime, end: datetime) -> list[Allocation]:
    query = select(Allocation).where(
        Allocation.community_id == community_id,
        Allocation.published_at >= start,
        Allocation.published_at < end,
        Allocation.status != "withdrawn",
    )
    return list(session.scalars(query.order_by(Allocation.id)))


# --- spending -------------------------------------------------------------------------------------------


def add_spending(
    session: Session,
    *,
    allocation_id: int,
    amount_fen: int,
    note: str,
    spent_at: datetime,
    recorded_by: str,
    now: datetime,
) -> Spending:
    row = Spending(
        allocation_id=allocation_id,
        amount_fen=amount_fen,
        note=note,
        spent_at=spent_at,
        recorded_by=recorded_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def spending_for(session: Session, *, allocation_ids: Sequence[int]) -> dict[int, list[Spending]]:
    found: dict[int, list[Spending]] = {i: [] for i in allocation_ids}
    if not allocation_ids:
        return found
    query = select(Spending).where(Spending.allocation_id.in_(allocation_ids)).order_by(Spending.spent_at, Spending.id)
    for row in session.scalars(query):
        found[row.allocation_id].append(row)
    return found


def spent_between(session: Session, *, community_id: int, start: datetime, end: datetime) -> int:
    query = (
        select(func.coalesce(func.sum(Spending.amount_fen), 0))
        .join(Allocation, Allocation.id == Spending.allocation_id)
        .where(Allocation.community_id == community_id, Spending.spent_at >= start, Spending.spent_at < end)
    )
    return int(session.scalar(query) or 0)


# --- objections -----------------------------------------------------------------------------------------


def add_objection(session: Session, *, allocation_id: int, resident_id: int, reason: str, now: datetime) -> bool:
    """Keep the objection; False (nothing written) when this resident already objected to it."""
    row = Objection(allocation_id=allocation_id, resident_id=resident_id, reason=reason, created_at=now)
    return insert_unless_duplicate(session, row)


def objection_of(session: Session, *, allocation_id: int, resident_id: int) -> Objection | None:
    return session.scalar(
        select(Objection).where(Objection.allocation_id == allocation_id, Objection.resident_id == resident_id)
    )


def objection_counts(session: Session, *, allocation_ids: Sequence[int]) -> dict[int, int]:
    if not allocation_ids:
        return {}
    query = (
        select(Objection.allocation_id, func.count())
        .where(Objection.allocation_id.in_(allocation_ids))
        .group_by(Objection.allocation_id)
    )
    return {int(a): int(n) for a, n in session.execute(query)}


def objections_for(session: Session, *, allocation_id: int) -> list[Objection]:
    query = select(Objection).where(Objection.allocation_id == allocation_id).order_by(Objection.id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class BoardTotals:
    budget_fen: int
    by_source: dict[str, int]
    allocated_fen: int
    spent_fen: int


def totals(session: Session, *, community_id: int) -> BoardTotals:
    by_source: dict[str, int] = {}
    query: Any = (
        select(Budget.source, func.sum(Budget.amount_fen))
        .where(Budget.community_id == community_id)
        .group_by(Budget.source)
    )
    for source, amount in session.execute(query):
        by_source[str(source)] = int(amount or 0)
    allocated = session.scalar(
        select(func.coalesce(func.sum(Allocation.amount_fen), 0)).where(
            Allocation.community_id == community_id, Allocation.status != "withdrawn"
        )
    )
    spent = session.scalar(
        select(func.coalesce(func.sum(Spending.amount_fen), 0))
        .join(Allocation, Allocation.id == Spending.allocation_id)
        .where(Allocation.community_id == community_id)
    )
    return BoardTotals(sum(by_source.values()), by_source, int(allocated or 0), int(spent or 0))


# --- figures for the monthly report --------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFigures:
    reported: int
    handled: int  # resolved in the month
    on_time: int  # of those handled, resolved by their deadline
    by_category: dict[str, int]  # reported in the month


def ticket_figures(session: Session, *, community_id: int, start: datetime, end: datetime) -> TicketFigures:
    by_category = {
        str(category): int(n)
        for category, n in session.execute(
            select(Ticket.category, func.count())
            .where(Ticket.community_id == community_id, Ticket.created_at >= start, Ticket.created_at < end)
            .group_by(Ticket.category)
        )
    }
    handled_query = select(Ticket.resolved_at, Ticket.due_at).where(
        Ticket.community_id == community_id, Ticket.resolved_at >= start, Ticket.resolved_at < end
    )
    handled = on_time = 0
    for resolved_at, due_at in session.execute(handled_query):
        if resolved_at is None:
            continue
        handled += 1
        on_time += int(resolved_at <= due_at)
    return TicketFigures(sum(by_category.values()), handled, on_time, by_category)


@dataclass(frozen=True)
class PeopleFigures:
    volunteer_minutes: int
    volunteer_stays: int
    volunteers: int
    points_awarded: int
    points_redeemed: int


def people_figures(session: Session, *, community_id: int, start: datetime, end: datetime) -> PeopleFigures:
    minutes, stays, people = session.execute(
        select(
            func.coalesce(func.sum(Attendance.credited_minutes), 0),
            func.count(Attendance.id),
            func.count(func.distinct(Attendance.resident_id)),
        ).where(
            Attendance.community_id == community_id,
            Attendance.checked_out_at >= start,
            Attendance.checked_out_at < end,
        )
    ).one()

    def points(kind: str) -> int:
        total = session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.community_id == community_id,
                LedgerEntry.unit == "points",
                LedgerEntry.kind == kind,
                LedgerEntry.created_at >= start,
                LedgerEntry.created_at < end,
            )
        )
        return int(total or 0)

    return PeopleFigures(int(minutes or 0), int(stays or 0), int(people or 0), points("award"), -points("redemption"))


def demand_counts(session: Session, *, community_id: int, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """What residents asked for in [start, end): tickets per category and consultations per domain."""
    tickets = session.execute(
        select(Ticket.category, func.count())
        .where(Ticket.community_id == community_id, Ticket.created_at >= start, Ticket.created_at < end)
        .group_by(Ticket.category)
    )
    questions = session.execute(
        select(Consultation.domain, func.count())
        .where(
            Consultation.community_id == community_id,
            Consultation.created_at >= start,
            Consultation.created_at < end,
        )
        .group_by(Consultation.domain)
    )
    return {
        "tickets": {str(k): int(n) for k, n in tickets},
        "questions": {str(k): int(n) for k, n in questions},
    }
