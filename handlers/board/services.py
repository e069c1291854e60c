"""What workers do on the notice board (record a budget, publish an allocation, record its progress and
spending, mark it effective once the notice period is over), and what the public page shows.

The API, the CLI and the console call these; each runs in the caller's transaction. A refusal raises
`BoardRefused` before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from handlers.board.rules import POOL_NAMES, PURPOSE_NAMES, PURPOSES, SOURCE_NAMES
from handlers.clock import CHINA_TZ
from handlers.communities import spec_of
from storage import board as store
from storage.models import Community

# Column bounds (storage/board.py): an amount fits BIGINT fen; a period is "2026" or "2026-Q4".
MAX_AMOUNT_FEN = 10**15

RefusalReason = Literal[
    "unknown", "other_community", "notice_running", "already_effective", "withdrawn", "invalid", "over_budget"
]


class BoardRefused(Exception):
    """Why a board change was refused, in words a worker reads; nothing was written."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _check_amount(amount_fen: int) -> None:
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        raise BoardRefused("invalid", "金额必须大于 0（单位：元，最多两位小数）。")


def record_budget(
    session: Session,
    *,
    community: Community,
    period: str,
    title: str,
    source: str,
    amount_fen: int,
    note: str = "",
    worker: str,
    now: datetime,
) -> store.Budget:
    if source not in SOURCE_NAMES:
        known = "、".join(f"{k}（{v}）" for k, v in SOURCE_NAMES.items())
        raise BoardRefused("invalid", f"资金来源 {source!r} 不认识，可选：{known}。")
    _check_amount(amount_fen)
    if not title.strip() or not period.strip():
        raise BoardRefused("invalid", "请写明预算名称和所属期间（如 2026）。")
    return store.add_budget(
        session,
        community_id=community.id,
        period=period.strip(),
        title=title.strip(),
        source=source,
        amount_fen=amount_fen,
        note=note.strip(),
        created_by=worker,
        now=now,
    )


def publish_allocation(
    session: Session,
    *,
    community: Community,
    title: str,
    purpose: str,
    amount_fen: int,
    beneficiaries: str,
    pool: str = "base",
    note: str = "",
    worker: str,
    now: datetime,
) -> store.Allocation:
    """Put an allocation on the board; it may take effect once the community's notice period has passed."""
    if purpose not in PURPOSE_NAMES:
        known = "、".join(f"{k}（{v}）" for k, v in PURPOSE_NAMES.items())
        raise BoardRefused("invalid", f"用途 {purpose!r} 不认识，可选：{known}。")
    if pool not in POOL_NAMES:
        raise BoardRefused("invalid", f"资金部分 {pool!r} 不认识，可选：{'、'.join(POOL_NAMES)}。")
    _check_amount(amount_fen)
    if not title.strip() or not beneficiaries.strip():
        raise BoardRefused("invalid", "请写明这笔钱做什么、给哪些居民受益。")
    days = spec_of(community).board.notice_days
    return store.add_allocation(
        session,
        community_id=community.id,
        title=title.strip(),
        purpose=purpose,
        pool=pool,
        amount_fen=amount_fen,
        beneficiaries=beneficiaries.strip(),
        note=note.strip(),
        created_by=worker,
        now=now,
        notice_ends_at=now + timedelta(days=days),
    )


def allocation_in(session: Session, *, community: Community, allocation_id: int) -> store.Allocation:
    """The community's allocation, locked for a change; another community's is answered as unknown."""
    allocation = store.allocation_by_id(session, allocation_id=allocation_id, for_update=True)
    if allocation is None or allocation.community_id != community.id:
        raise BoardRefused("unknown", f"{community.name}没有公示项目 A{allocation_id}。")
    return allocation


def local_day(moment: datetime) -> str:
    local = moment.astimezone(CHINA_TZ)
    return f"{local.year}年{local.month}月{local.day}日"


def mark_effective(session: Session, *, community: Community, allocation_id: int, now: datetime) -> store.Allocation:
    allocation = allocation_in(session, community=community, allocation_id=allocation_id)
    if allocation.status == "effective":
        raise BoardRefused("already_effective", f"{allocation.number} 已经生效了。")
    if allocation.status == "withdrawn":
        raise BoardRefused("withdrawn", f"{allocation.number} 已撤回，不能生效。")
    if now < allocation.notice_ends_at:
        objections = store.objection_counts(session, allocation_ids=[allocation.id]).get(allocation.id, 0)
        raise BoardRefused(
            "notice_running",
            f"{allocation.number} 还在公示期，{local_day(allocation.notice_ends_at)} "
            f"{allocation.notice_ends_at.astimezone(CHINA_TZ):%H:%M} 公示期满后才能生效"
            f"（目前收到 {objections} 条异议）。",
        )
    allocation.status = "effective"
    allocation.effective_at = now
    return allocation


def set_progress(
    session: Session, *, community: Community, allocation_id: int, progress: int, now: datetime
) -> store.Allocation:
    if not 0 <= progress <= 100:
        raise BoardRefused("invalid", "进度是 0 到 100 之间的百分数。")
    allocation = allocation_in(session, community=community, allocation_id=allocation_id)
    if allocation.status == "withdrawn":
        raise BoardRefused("withdrawn", f"{allocation.number} 已撤回。")
    allocation.progress = progress
    return allocation


def record_spending(
    session: Session,
    *,
    community: Community,
    allocation_id: int,
    amount_fen: int,
    note: str,
    spent_at: datetime,
    worker: str,
    now: datetime,
) -> store.Spending:
    _check_amount(amount_fen)
    if not note.strip():
        raise BoardRefused("invalid", "请写明这笔支出的用途（如：购买健身器材 3 件）。")
    allocation = allocation_in(session, community=community, allocation_id=allocation_id)
    if allocation.status == "withdrawn":
        raise BoardRefused("withdrawn", f"{allocation.number} 已撤回，不能记支出。")
    spent = sum(s.amount_fen for s in store.spending_for(session, allocation_ids=[allocation.id])[allocation.id])
    if spent + amount_fen > allocation.amount_fen:
        raise BoardRefused("over_budget", f"{allocation.number} 的支出合计会超过分配的金额，请核对（或先调整分配）。")
    return store.add_spending(
        session,
        allocation_id=allocation.id,
        amount_fen=amount_fen,
        note=note.strip(),
        spent_at=spent_at,
        recorded_by=worker,
        now=now,
    )


# --- what the public page shows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendingLine:
    when: str
    amount_fen: int
    note: str


@dataclass(frozen=True)
class AllocationView:
    number: str
    title: str
    purpose: str
    purpose_name: str
    pool_name: str
    amount_fen: int
    beneficiaries: str
    progress: int
    status: str  # notice | effective
    published: str
    notice_ends: str
    days_left: int  # whole days left in the notice period (0 once over)
    objections: int
    spent_fen: int
    spending: list[SpendingLine] = field(default_factory=list)

    @property
    def in_notice(self) -> bool:
        return self.status == "notice" and self.days_left > 0


@dataclass(frozen=True)
class BoardView:
    code: str
    name: str
    budget_fen: int
    by_source: list[tuple[str, int]]  # (source name, fen)
    allocated_fen: int
    spent_fen: int
    allocations: list[AllocationView]
    notice_days: int
    by_purpose: list[tuple[str, int]]  # (purpose name, fen), the pie chart


def days_left(ends: datetime, now: datetime) -> int:
    seconds = (ends - now).total_seconds()
    return 0 if seconds <= 0 else int(-(-seconds // 86400))


def board_view(session: Session, *, community: Community, now: datetime) -> BoardView:
    rows = store.allocations_for(session, community_id=community.id)
    ids = [a.id for a in rows]
    spending = store.spending_for(session, allocation_ids=ids)
    objections = store.objection_counts(session, allocation_ids=ids)
    views = []
    for a in rows:
        lines = [SpendingLine(local_day(s.spent_at), s.amount_fen, s.note) for s in spending[a.id]]
        views.append(
            AllocationView(
                number=a.number,
                title=a.title,
                purpose=a.purpose,
                purpose_name=PURPOSE_NAMES.get(a.purpose, a.purpose),
                pool_name=POOL_NAMES.get(a.pool, a.pool),
                amount_fen=a.amount_fen,
                beneficiaries=a.beneficiaries,
                progress=a.progress,
                status=a.status,
                published=local_day(a.published_at),
                notice_ends=local_day(a.notice_ends_at),
                days_left=days_left(a.notice_ends_at, now) if a.status == "notice" else 0,
                objections=objections.get(a.id, 0),
                spent_fen=sum(line.amount_fen for line in lines),
                spending=lines,
            )
        )
    totals = store.totals(session, community_id=community.id)
    by_purpose: dict[str, int] = {}
    for view in views:
        by_purpose[view.purpose] = by_purpose.get(view.purpose, 0) + view.amount_fen
    return BoardView(
        code=community.code,
        name=community.name,
        budget_fen=totals.budget_fen,
        by_source=[(SOURCE_NAMES[s], totals.by_source[s]) for s in SOURCE_NAMES if totals.by_source.get(s)],
        allocated_fen=totals.allocated_fen,
        spent_fen=totals.spent_fen,
        allocations=views,
        notice_days=spec_of(community).board.notice_days,
        by_purpose=[(PURPOSE_NAMES[p], by_purpose[p]) for p in PURPOSES if by_purpose.get(p)],
    )
