"""The workers' web console: login sessions, one-time login links, and the ticket list's query.

Sessions and links live in the database because production runs several server processes. Only a
SHA-256 digest of each token is stored: the token itself is in the worker's cookie or link, never here.
Repository functions take a Session and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, String, and_, false, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base
from storage.tickets import OPEN_STATUSES, Ticket


class ConsoleSession(Base):
    """A logged-in worker's browser; `csrf_token` must come back with every change they make."""

    __tablename__ = "console_session"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16))  # oauth | link | dev
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class LoginLink(Base):
    """A one-time login link sent to a worker through the WeCom app: valid a few minutes, used once."""

    __tablename__ = "console_login_link"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    token: str  # goes into the cookie; only its digest is stored
    csrf_token: str


def open_session(session: Session, *, worker: str, via: str, now: datetime, ttl: timedelta) -> OpenedSession:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(
        ConsoleSession(
            digest=_digest(token), worker=worker, csrf_token=csrf, via=via, created_at=now, expires_at=now + ttl
        )
    )
    session.flush()
    return OpenedSession(token, csrf)


def live_session(session: Session, *, token: str, now: datetime) -> ConsoleSession | None:
    row = session.get(ConsoleSession, _digest(token))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    return row


def end_session(session: Session, *, token: str, now: datetime) -> None:
    row = session.get(ConsoleSession, _digest(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now


def issue_login_link(session: Session, *, worker: str, now: datetime, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    session.add(LoginLink(digest=_digest(token), worker=worker, created_at=now, expires_at=now + ttl))
    session.flush()
    return token


def use_login_link(session: Session, *, token: str, now: datetime) -> str | None:
    """The worker a live, unused link belongs to, marking it used; None for an unknown, used or expired link.

    One conditional UPDATE: two browsers presenting the same link at once cannot both get in."""
    digest = _digest(token)
    used = session.execute(
        update(LoginLink)
        .where(LoginLink.digest == digest, LoginLink.used_at.is_(None), LoginLink.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(used, "rowcount", 0) != 1:
        return None
    return session.scalar(select(LoginLink.worker).where(LoginLink.digest == digest))


# --- the ticket list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """What one worker sees of one community: all of it, or some buildings plus the tickets they hold."""

    community_id: int
    everything: bool
    worker: str
    buildings: frozenset[str] = frozenset()

    def clause(self) -> ColumnElement[bool]:
        same = Ticket.community_id == self.community_id
        if self.everything:
            return same
        mine: ColumnElement[bool] = Ticket.assignee == self.worker
        if self.buildings:
            mine = or_(mine, Ticket.building.in_(sorted(self.buildings)))
        return and_(same, mine)


def visible(reach: Sequence[Reach]) -> ColumnElement[bool]:
    return or_(*(r.clause() for r in reach)) if reach else false()


TABS = ("mine", "unassigned", "overdue", "all")


@dataclass(frozen=True)
class ConsoleFilter:
    tab: str = "mine"
    worker: str = ""
    community_id: int | None = None
    buildings: frozenset[str] | None = None  # a grid's buildings
    building: str | None = None
    category: str | None = None
    colour: str | None = None
    status: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


def _where(reach: Sequence[Reach], where: ConsoleFilter, now: datetime) -> list[ColumnElement[bool]]:
    conditions = [visible(reach)]
    if where.tab == "mine":
        conditions += [Ticket.assignee == where.worker, Ticket.status.in_(OPEN_STATUSES)]
    elif where.tab == "unassigned":
        conditions.append(Ticket.status == "open")
    elif where.tab == "overdue":
        conditions += [Ticket.status.in_(OPEN_STATUSES), Ticket.due_at < now]
    if where.community_id is not None:
        conditions.append(Ticket.community_id == where.community_id)
    if where.buildings is not None:
        conditions.append(Ticket.building.in_(sorted(where.buildings)))
    for column, value in (
        (Ticket.building, where.building),
        (Ticket.category, where.category),
        (Ticket.colour, where.colour),
        (Ticket.status, where.status),
    ):
        if value:
            conditions.append(column == value)
    if where.created_from is not None:
        conditions.append(Ticket.created_at >= where.created_from)
    if where.created_before is not None:
        conditions.append(Ticket.created_at < where.created_before)
    return conditions


def ticket_page(
    session: Session, *, reach: Sequence[Reach], where: ConsoleFilter, now: datetime, limit: int, offset: int = 0
) -> list[Ticket]:
    """One page of the tickets a worker may see, nearest deadline first."""
    query = (
        select(Ticket).where(*_where(reach, where, now)).order_by(Ticket.due_at, Ticket.id).limit(limit).offset(offset)
    )
    return list(session.scalars(query))


def ticket_count(session: Session, *, reach: Sequence[Reach], where: ConsoleFilter, now: datetime) -> int:
    return int(session.scalar(select(func.count(Ticket.id)).where(*_where(reach, where, now))) or 0)
