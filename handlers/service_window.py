"""WeChat's customer-service window: when a message may be pushed to a resident as a customer-service message.

A resident's message allows 5 customer-service messages within 48 h; a menu click, follow or QR scan allows
3 within 1 minute. The two are tracked apart (Resident.last_inbound_at, Resident.window_event_at) because a
click must not extend an expired message window: WeChat would answer 45015 and the message would be lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from storage import repositories as repo
from storage.models import Resident


@dataclass(frozen=True)
class Window:
    span: str
    length: timedelta
    limit: int
    opened_by: str


MESSAGE_WINDOW = Window("48 h", timedelta(hours=48), 5, "the resident's last message")
EVENT_WINDOW = Window("1 minute", timedelta(minutes=1), 3, "the resident's last menu click, follow or scan")


def _refusal(window: Window, opened_at: datetime | None, sent: int, now: datetime) -> str | None:
    if opened_at is None:
        return f"{window.span} window never opened"
    # Closed at the boundary itself: "within 48 h" gives no margin for a send that reaches WeChat late.
    if now - opened_at >= window.length:
        return f"{window.span} window closed ({window.span} or more since {window.opened_by})"
    if sent >= window.limit:
        return f"{window.span} window limit reached ({window.limit} messages already sent since {window.opened_by})"
    return None


def refusal(resident: Resident, *, sent_since_message: int, sent_since_event: int, now: datetime) -> str | None:
    """None if a customer-service message may go out now (either window allows it), otherwise why not.

    `sent_since_message` and `sent_since_event` count the customer-service messages already sent to the
    resident since `last_inbound_at` and since `window_event_at`.
    """
    by_message = _refusal(MESSAGE_WINDOW, resident.last_inbound_at, sent_since_message, now)
    if by_message is None:
        return None
    by_event = _refusal(EVENT_WINDOW, resident.window_event_at, sent_since_event, now)
    if by_event is None:
        return None
    return f"no customer-service message allowed: {by_message}; {by_event}"


def push_fits_window(session: Session, resident: Resident, now: datetime) -> bool:
    """Whether a message queued now for the resident should go as a customer-service message (else by
    template): the 48 h window is open with room left after what is already queued or sent in it. The
    1 minute window after a click is too short to plan a queued message on."""
    opened = resident.last_inbound_at
    claimed = repo.custom_messages_claimed_since(session, recipient=resident.openid, since=opened) if opened else 0
    return _refusal(MESSAGE_WINDOW, opened, claimed, now) is None
