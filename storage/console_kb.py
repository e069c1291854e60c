"""The console's knowledge-base queries: entries by words, and the questions residents asked that the
bot could not answer (handed to a person, or met with "您是想问下面哪一个" choices), grouped. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from storage.consultations import Consultation
from storage.knowledge import KnowledgeEntry
from storage.models import InboundMessage, OutboundMessage

# How the bot's reply begins when it was not sure and offered the nearest entries (handlers/faq.py).
CHOICES_PREFIX = "您是想问下面哪一个"


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_entries(session: Session, *, text: str, domain: str = "", limit: int = 50) -> list[KnowledgeEntry]:
    query = select(KnowledgeEntry)
    if text.strip():
        pattern = _like(text.strip())
        query = query.where(
            or_(
                KnowledgeEntry.question.like(pattern, escape="\\"),
                KnowledgeEntry.answer.like(pattern, escape="\\"),
                KnowledgeEntry.topic.like(pattern, escape="\\"),
                KnowledgeEntry.entry_id.like(pattern, escape="\\"),
            )
        )
    if domain:
        query = query.where(KnowledgeEntry.domain == domain)
    return list(session.scalars(query.order_by(KnowledgeEntry.collection, KnowledgeEntry.entry_id).limit(limit)))


@dataclass(frozen=True)
class Unanswered:
    question: str
    times: int
    last_at: datetime
    how: str  # handover | choices
    domain: str = ""


def unanswered_questions(
    session: Session, *, community_ids: Sequence[int], since: datetime, limit: int = 50
) -> list[Unanswered]:
    """The same question asked again counts once, with how many times and when last."""
    handed = session.execute(
        select(
            Consultation.question,
            func.count(Consultation.id),
            func.max(Consultation.created_at),
            func.min(Consultation.domain),
        )
        .where(Consultation.community_id.in_(community_ids), Consultation.created_at >= since)
        .group_by(Consultation.question)
        .order_by(func.count(Consultation.id).desc(), func.max(Consultation.created_at).desc())
        .limit(limit)
    )
    rows = [Unanswered(q, int(n), at, "handover", d or "") for q, n, at, d in handed if q and q.strip()]
    weak = session.execute(
        select(InboundMessage.content, func.count(InboundMessage.id), func.max(InboundMessage.received_at))
        .join(OutboundMessage, OutboundMessage.inbound_id == InboundMessage.id)
        .where(
            InboundMessage.community_id.in_(community_ids),
            InboundMessage.received_at >= since,
            OutboundMessage.content.like(CHOICES_PREFIX + "%"),
        )
        .group_by(InboundMessage.content)
        .order_by(func.count(InboundMessage.id).desc(), func.max(InboundMessage.received_at).desc())
        .limit(limit)
    )
    handed_over = {r.question for r in rows}
    rows += [Unanswered(q, int(n), at, "choices") for q, n, at in weak if q and q.strip() and q not in handed_over]
    rows.sort(key=lambda r: (-r.times, -r.last_at.timestamp()))
    return rows[:limit]
