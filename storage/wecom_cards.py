"""WeCom template cards sent about tickets, and the response_code that lets us change each one.

WeCom hands out a response_code with the send of an interactive card and with every click on it; each is
good for one `message/update_template_card` within 72 hours. It is kept here (every server process sees it)
and taken exactly once: `take_live_codes` clears it in the caller's transaction. Repository functions take
a Session and never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base

RESPONSE_CODE_LIFETIME = timedelta(hours=72)


class WeComCard(Base):
    __tablename__ = "wecom_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    # WeCom's task_id: unique per app, at most 128 of [0-9A-Za-z_@-].
    task_id: Mapped[str] = mapped_column(String(128), unique=True)
    ticket_code: Mapped[str] = mapped_column(String(8), index=True)
    userid: Mapped[str] = mapped_column(String(64))
    response_code: Mapped[str | None] = mapped_column(String(512))
    code_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


def add_card(session: Session, *, task_id: str, ticket_code: str, userid: str, now: datetime) -> WeComCard:
    """A card queued for sending (the same task_id twice: the one row)."""
    card = session.scalar(select(WeComCard).where(WeComCard.task_id == task_id))
    if card is None:
        card = WeComCard(task_id=task_id, ticket_code=ticket_code, userid=userid, created_at=now)
        session.add(card)
        session.flush()
    return card


def card_by_task(session: Session, *, task_id: str) -> WeComCard | None:
    return session.scalar(select(WeComCard).where(WeComCard.task_id == task_id))


def remember_code(session: Session, *, task_id: str, response_code: str, now: datetime) -> WeComCard | None:
    """Keep the newest response_code of a card (a click's replaces the send's); None for an unknown card."""
    card = card_by_task(session, task_id=task_id)
    if card is None or not response_code:
        return None
    card.response_code = response_code
    card.code_expires_at = now + RESPONSE_CODE_LIFETIME
    return card


def take_live_codes(session: Session, *, ticket_code: str, now: datetime) -> list[tuple[WeComCard, str]]:
    """Every card of the ticket with an unexpired response_code, each code cleared as it is taken: it is
    good once, and the caller queues the update that spends it in the same transaction."""
    cards = session.scalars(
        select(WeComCard)
        .where(WeComCard.ticket_code == ticket_code, WeComCard.response_code.is_not(None))
        .order_by(WeComCard.id)
        .with_for_update()
    )
    taken: list[tuple[WeComCard, str]] = []
    for card in cards:
        code, expires = card.response_code, card.code_expires_at
        card.response_code = None
        if code and expires is not None and expires > now:
            taken.append((card, code))
    return taken
