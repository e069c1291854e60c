"""Satisfaction from ticket ratings, and the improvement tasks opened when a category or grid rates too low.

A task is open while `open_key` holds "<community>:<scope>:<key>"; the column is unique, so two workers
running the daily check at once open one task, never two. Closing it clears the key (NULLs do not clash).
Repository functions take a Session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import insert_unless_duplicate
from storage.models import Base
from storage.tickets import Ticket, TicketEvent


class ImprovementTask(Base):
    """Plan, do, check, act: a category or grid whose 30-day satisfaction fell below the line."""

    __tablename__ = "improvement_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))  # category | grid
    scope_key: Mapped[str] = mapped_column(String(32))
    scope_name: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(64))  # the leader's WeCom userid
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    open_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    opened_at: Mapped[datetime]
    review_at: Mapped[datetime]
    rate_opened: Mapped[float] = mapped_column(Float)
    ratings_opened: Mapped[int] = mapped_column(Integer)
    # The low-rated tickets behind it: [{"id": .., "code": .., "score": ..}, ...]
    tickets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rate_latest: Mapped[float | None] = mapped_column(Float)
    ratings_latest: Mapped[int | None] = mapped_column(Integer)
    checked_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    @property
    def number(self) -> str:
        return f"G{self.id}"


@dataclass(frozen=True)
class RatingRow:
    ticket_id: int
    code: str
    category: str
    building: str | None
    score: int
    rated_at: datetime


def ratings_between(session: Session, *, community_id: int, start: datetime, end: datetime) -> list[RatingRow]:
    """Every rating given in [start, end): one row per rating event (two followers' ratings both count)."""
    query = (
        select(Ticket.id, Ticket.code, Ticket.category, Ticket.building, TicketEvent.data, TicketEvent.created_at)
        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
        .where(
            Ticket.community_id == community_id,
            TicketEvent.action == "rated",
            TicketEvent.created_at >= start,
            TicketEvent.created_at < end,
        )
        .order_by(TicketEvent.created_at, TicketEvent.id)
    )
    rows = []
    for ticket_id, code, category, building, data, rated_at in session.execute(query):
        score = (data or {}).get("score")
        if isinstance(score, int) and 1 <= score <= 5:
            rows.append(RatingRow(ticket_id, code, category, building, score, rated_at))
    return rows


def open_key(community_id: int, scope: str, scope_key: str) -> str:
    return f"{community_id}:{scope}:{scope_key}"


def open_task(session: Session, task: ImprovementTask) -> bool:
    """Insert the task; False (nothing written) when one is already open for the same scope."""
    task.open_key = open_key(task.community_id, task.scope, task.scope_key)
    return insert_unless_duplicate(session, task)


def open_tasks(session: Session, *, community_id: int, for_update: bool = False) -> list[ImprovementTask]:
    query = select(ImprovementTask).where(
        ImprovementTask.community_id == community_id, ImprovementTask.status == "open"
    )
    if for_update:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query.order_by(ImprovementTask.id)))


def tasks_for(session: Session, *, community_id: int, limit: int = 100) -> list[ImprovementTask]:
    query = (
        select(ImprovementTask)
        .where(ImprovementTask.community_id == community_id)
        .order_by(ImprovementTask.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def last_closed(session: Session, *, community_id: int, after: datetime) -> dict[tuple[str, str], datetime]:
    """When each (scope, key)'s last task closed, for tasks closed after `after`."""
    query = (
        select(ImprovementTask.scope, ImprovementTask.scope_key, func.max(ImprovementTask.closed_at))
        .where(ImprovementTask.community_id == community_id, ImprovementTask.closed_at >= after)
        .group_by(ImprovementTask.scope, ImprovementTask.scope_key)
    )
    return {(str(scope), str(key)): closed for scope, key, closed in session.execute(query) if closed is not None}


def close_task(task: ImprovementTask, *, now: datetime) -> None:
    task.status = "closed"
    task.closed_at = now
    task.open_key = None
