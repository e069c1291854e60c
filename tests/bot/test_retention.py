"""Conversation text is purged after the retention period; the record that a message came stays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.pipeline import handle_message, record_message
from bot.scheduler import retention_job
from bot.services import Services
from handlers.messages import Inbound
from storage.models import InboundMessage, OutboundMessage, utcnow


def test_text_older_than_the_retention_period_is_blanked(services: Services) -> None:
    long_ago = utcnow() - timedelta(days=services.settings.retention_days + 1)
    old = Inbound(
        sender="r1", kind="text", text="我想问问高龄补贴怎么申请", created_at=long_ago, msg_id=1, raw_type="text"
    )
    recent = Inbound(sender="r1", kind="text", text="你好", created_at=utcnow(), msg_id=2, raw_type="text")
    for msg, when in ((old, long_ago), (recent, utcnow())):
        recorded = record_message(services, msg, now=when)
        handle_message(services, msg, recorded.inbound_id, now=when)

    retention_job(services)(utcnow())

    with services.sessions.begin() as session:
        rows = {row.msg_id: row for row in session.scalars(select(InboundMessage))}
        replies = list(session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))
        assert rows[1].content is None and rows[1].status == "replied"
        assert rows[2].content == "你好"
        assert replies[0].content is None
        assert replies[1].content
