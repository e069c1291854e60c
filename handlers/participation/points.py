"""Points for taking part: proposing, supporting, voting, answering a return-visit question.

The amounts and each kind's monthly cap are data in the community file (`points_rules`); the entry goes
through the ledger in the caller's transaction, under the resident's lock, so two messages at once cannot
both slip under the cap, and the action and its points are kept or lost together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.volunteering.activities import rules_for
from handlers.volunteering.rules import PointsRules, month_bounds, month_of
from storage import ledger as lrepo

Taking = Literal["proposal", "support", "vote", "return_visit"]
REASONS: dict[Taking, str] = {
    "proposal": "提出建议",
    "support": "附议建议",
    "vote": "参与表决",
    "return_visit": "回答回访",
}


def amount_and_cap(rules: PointsRules, kind: Taking) -> tuple[int, int]:
    amount = int(getattr(rules, f"{kind}_points"))
    cap = int(getattr(rules, f"{kind}_monthly_cap"))
    return amount, cap


def earned_this_month(session: Session, *, resident_id: int, kind: Taking, now: datetime) -> int:
    start, end = month_bounds(month_of(now))
    total = session.scalar(
        select(func.coalesce(func.sum(lrepo.LedgerEntry.amount), 0)).where(
            lrepo.LedgerEntry.resident_id == resident_id,
            lrepo.LedgerEntry.unit == "points",
            lrepo.LedgerEntry.source_key.like(f"take_part:{kind}:%"),
            lrepo.LedgerEntry.created_at >= start,
            lrepo.LedgerEntry.created_at < end,
        )
    )
    return int(total or 0)


def award_participation(
    session: Session,
    *,
    resident_id: int,
    community_id: int | None,
    kind: Taking,
    cause: str,
    now: datetime,
    what: str = "",
) -> int:
    """Points for one act of taking part, up to the month's cap; 0 when capped or paid already.

    `cause` names the act ("P12", "V3:household 7"): the same cause never pays twice."""
    amount, cap = amount_and_cap(rules_for(session, community_id), kind)
    if amount <= 0:
        return 0
    lrepo.lock_resident(session, resident_id=resident_id)
    room = cap - earned_this_month(session, resident_id=resident_id, kind=kind, now=now)
    amount = min(amount, room)
    if amount <= 0:
        return 0
    entry = lrepo.post_entry(
        session,
        resident_id=resident_id,
        community_id=community_id,
        unit="points",
        amount=amount,
        kind="award",
        reason=(REASONS[kind] + (f" {what}" if what else ""))[:500],
        now=now,
        source_key=f"take_part:{kind}:{cause}"[:200],
    )
    return entry.amount if entry is not None else 0
