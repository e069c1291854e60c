"""A worker's desk in WeCom text: the open tickets they hold, and the oldest one nobody has accepted yet.

Repository functions take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from storage.console import Reach, visible
from storage.tickets import OPEN_STATUSES, Ticket


def held_by(session: Session, *, worker: str, limit: int = 10) -> list[Ticket]:
    """The open tickets a worker holds, nearest deadline first."""
    query = (
        select(Ticket)
        .where(Ticket.assignee == worker, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.due_at, Ticket.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def oldest_takeable(
    session: Session, *, reach: Sequence[Reach], team_categories: dict[int, frozenset[str]]
) -> Ticket | None:
    """The oldest ticket nobody has accepted that the worker sees (their reach), or that belongs to a team
    they are on (category per community), locked so two workers cannot take the same one at once."""
    scope: list[ColumnElement[bool]] = [visible(reach)]
    for community_id, categories in team_categories.items():
        if categories:
            scope.append(and_(Ticket.community_id == community_id, Ticket.category.in_(sorted(categories))))
    query = (
        select(Ticket)
        .where(Ticket.status == "open", or_(*scope))
        .order_by(Ticket.created_at, Ticket.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(query).first()
