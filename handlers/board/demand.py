"""Where demand is: last quarter's tickets, questions and proposals suggest how to split the flexible budget.

The community file sets the split (`board`: 70 % base, 30 % flexible, of which 5 % of the whole is kept as
an emergency reserve). What is left of the flexible share is suggested across purposes in proportion to
what residents asked for; the worker adjusts the amounts and publishes them as allocations of the flexible
pool, through the same notice period as any other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.board.rules import CATEGORY_PURPOSE, DOMAIN_PURPOSE, PURPOSE_NAMES, PURPOSES, percent
from handlers.board.services import BoardRefused, publish_allocation
from handlers.communities import spec_of
from storage import board as store
from storage.models import Community
from storage.participation import Proposal

# "Last quarter": the 91 days before now.
QUARTER = timedelta(days=91)


# What a proposal asks for, by the words residents use; the first purpose whose words it has.
_PROPOSAL_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("elderly", ("老人", "老年", "养老", "助老", "长者", "食堂")),
    ("children", ("孩子", "儿童", "小孩", "青少年", "托管", "滑梯")),
    ("parking", ("停车", "车位", "充电桩", "车棚", "非机动车")),
    ("culture", ("乒乓", "篮球", "健身", "广场舞", "活动室", "文体", "书屋", "棋牌")),
    ("environment", ("垃圾", "绿化", "卫生", "种树", "花", "环境")),
    ("safety", ("监控", "安全", "消防", "防盗", "护栏")),
    ("assistance", ("困难", "帮扶", "低保", "残疾")),
    ("facilities", ("维修", "电梯", "长椅", "座椅", "路面", "扶手", "雨棚", "设施")),
)


def proposal_purpose(text: str) -> str:
    for purpose, words in _PROPOSAL_WORDS:
        if any(word in text for word in words):
            return purpose
    return "other"


def proposal_demand(session: Session, *, community_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """Proposals per purpose (refused ones left out), read from their words."""
    texts = session.scalars(
        select(Proposal.text).where(
            Proposal.community_id == community_id,
            Proposal.created_at >= start,
            Proposal.created_at < end,
            Proposal.status != "refused",
        )
    )
    return dict(Counter(proposal_purpose(text) for text in texts))


@dataclass(frozen=True)
class DemandLine:
    purpose: str
    name: str
    tickets: int
    questions: int
    proposals: int
    share: float  # percent of the demand
    amount_fen: int

    @property
    def demand(self) -> int:
        return self.tickets + self.questions + self.proposals


@dataclass(frozen=True)
class Suggestion:
    code: str
    since: datetime
    until: datetime
    total_fen: int
    base_fen: int
    flexible_fen: int
    reserve_fen: int
    lines: list[DemandLine]

    @property
    def to_share_fen(self) -> int:
        return self.flexible_fen - self.reserve_fen


def _split(amount_fen: int, weights: dict[str, int]) -> dict[str, int]:
    """`amount_fen` in whole yuan across `weights`, largest remainders first, so the parts add up exactly."""
    total = sum(weights.values())
    if not total:
        return dict.fromkeys(weights, 0)
    yuan, fen_left = divmod(amount_fen, 100)
    exact = {k: yuan * w / total for k, w in weights.items()}
    parts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (-(exact[k] - parts[k]), k))[: yuan - sum(parts.values())]:
        parts[k] += 1
    result = {k: v * 100 for k, v in parts.items()}
    if fen_left:
        biggest = max(result, key=lambda k: (result[k], k))
        result[biggest] += fen_left
    return result


def suggest_split(session: Session, *, community: Community, now: datetime, total_fen: int | None = None) -> Suggestion:
    """The suggested split of `total_fen` (default: every budget recorded for the community)."""
    rules = spec_of(community).board
    total = store.totals(session, community_id=community.id).budget_fen if total_fen is None else total_fen
    since = now - QUARTER
    counts = store.demand_counts(session, community_id=community.id, start=since, end=now)
    proposals = proposal_demand(session, community_id=community.id, start=since, end=now)
    tickets: dict[str, int] = {}
    for category, n in counts["tickets"].items():
        purpose = CATEGORY_PURPOSE.get(category, "other")
        tickets[purpose] = tickets.get(purpose, 0) + n
    questions: dict[str, int] = {}
    for domain, n in counts["questions"].items():
        if domain in DOMAIN_PURPOSE:
            purpose = DOMAIN_PURPOSE[domain]
            questions[purpose] = questions.get(purpose, 0) + n
    weights = {
        p: tickets.get(p, 0) + questions.get(p, 0) + proposals.get(p, 0)
        for p in PURPOSES
        if tickets.get(p, 0) + questions.get(p, 0) + proposals.get(p, 0)
    }
    flexible = total * rules.flexible_percent // 100
    reserve = total * rules.reserve_percent // 100
    amounts = _split(flexible - reserve, weights)
    all_demand = sum(weights.values())
    lines = [
        DemandLine(
            purpose=p,
            name=PURPOSE_NAMES[p],
            tickets=tickets.get(p, 0),
            questions=questions.get(p, 0),
            proposals=proposals.get(p, 0),
            share=percent(weights[p], all_demand),
            amount_fen=amounts[p],
        )
        for p in sorted(weights, key=lambda p: (-weights[p], PURPOSES.index(p)))
    ]
    return Suggestion(community.code, since, now, total, total - flexible, flexible, reserve, lines)


def publish_split(
    session: Session,
    *,
    community: Community,
    suggestion: Suggestion,
    amounts: dict[str, int],
    worker: str,
    now: datetime,
) -> list[store.Allocation]:
    """Publish the flexible share as the worker adjusted it (purpose -> fen); the adjusted total may not
    exceed what the flexible share leaves after the reserve."""
    unknown = sorted(set(amounts) - set(PURPOSE_NAMES))
    if unknown:
        raise BoardRefused("invalid", f"用途 {', '.join(unknown)} 不认识，可选：{', '.join(PURPOSE_NAMES)}。")
    total = sum(amounts.values())
    if total > suggestion.to_share_fen:
        raise BoardRefused(
            "over_budget",
            f"调整后合计 {total / 100:g} 元，超过弹性部分扣除应急储备后的 {suggestion.to_share_fen / 100:g} 元。",
        )
    demand = {line.purpose: line for line in suggestion.lines}
    published = []
    for purpose, fen in amounts.items():
        if fen <= 0:
            continue
        line = demand.get(purpose)
        why = f"近一季度居民反映 {line.demand} 次" if line else "工作人员调整"
        published.append(
            publish_allocation(
                session,
                community=community,
                title=f"弹性资金：{PURPOSE_NAMES[purpose]}",
                purpose=purpose,
                pool="flexible",
                amount_fen=fen,
                beneficiaries=f"有{PURPOSE_NAMES[purpose]}需求的居民",
                note=why,
                worker=worker,
                now=now,
            )
        )
    return published
