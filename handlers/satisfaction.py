"""Closing the loop on satisfaction (plan, do, check, act): a rolling satisfaction rate per ticket category and
per grid from residents' ratings; below the community's line an improvement task opens for its leader, with
the low-rated tickets attached and a review date; it closes when the ratings since it opened are back at or
above the line.

`check_satisfaction` is run daily by the scheduler, in one transaction. Two workers running it at once open
one task per scope (a unique key decides) and send one card per task (the outbox's dedupe key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from handlers.board.rules import SatisfactionRules, percent
from handlers.board.services import local_day
from handlers.communities import CommunitySpec, spec_of
from handlers.notify import CardLine, console_url, wecom_card
from handlers.runtime import Settings
from handlers.tickets.rules import CATEGORY_NAMES
from storage import repositories as repo
from storage import satisfaction as store
from storage.models import Community
from storage.satisfaction import ImprovementTask, RatingRow

# The most low-rated tickets a task lists; the rest are counted.
MAX_ATTACHED = 20


@dataclass(frozen=True)
class Rate:
    scope: str  # category | grid
    key: str
    name: str
    ratings: int
    satisfied: int
    low: tuple[RatingRow, ...] = field(default_factory=tuple)

    @property
    def percent(self) -> float:
        return percent(self.satisfied, self.ratings)


def _grid_of(spec: CommunitySpec) -> dict[str, tuple[str, str]]:
    return {building: (grid.code, grid.name) for grid in spec.grids for building in grid.buildings}


def rates(
    rows: Iterable[RatingRow], spec: CommunitySpec, *, since: dict[tuple[str, str], datetime] | None = None
) -> list[Rate]:
    """The satisfaction of each category and each grid over `rows` (a grid only for tickets with a building);
    `since` leaves out a scope's ratings before a moment (the close of its last task)."""
    rules = spec.satisfaction
    grids = _grid_of(spec)
    since = since or {}
    groups: dict[tuple[str, str], list[RatingRow]] = {}

    def add(scope: tuple[str, str], row: RatingRow) -> None:
        start = since.get(scope)
        if start is None or row.rated_at >= start:
            groups.setdefault(scope, []).append(row)

    for row in rows:
        add(("category", row.category), row)
        grid = grids.get(row.building or "")
        if grid is not None:
            add(("grid", grid[0]), row)
    names = {code: name for code, name in grids.values()}
    found = []
    for (scope, key), group in sorted(groups.items()):
        name = CATEGORY_NAMES.get(key, key) if scope == "category" else names.get(key, key)
        low = tuple(r for r in group if r.score < rules.satisfied_score)
        found.append(Rate(scope, key, name, len(group), len(group) - len(low), low))
    return found


def below_line(rate: Rate, rules: SatisfactionRules) -> bool:
    return rate.ratings >= rules.min_ratings and rate.percent < rules.threshold_percent


def recovered(rate: Rate, rules: SatisfactionRules) -> bool:
    return rate.ratings >= rules.min_ratings and rate.percent >= rules.threshold_percent


@dataclass
class SatisfactionReport:
    opened: list[str] = field(default_factory=list)  # "G3 照明"
    closed: list[str] = field(default_factory=list)
    reviewed: list[str] = field(default_factory=list)


def _owner(spec: CommunitySpec) -> str | None:
    if spec.escalation is not None:
        return spec.escalation.leader.wecom_userid
    return spec.duty.wecom_userid if spec.duty else None


def _scope_label(task: ImprovementTask) -> str:
    return f"{'类别' if task.scope == 'category' else '网格'}「{task.scope_name}」"


def check_satisfaction(session: Session, settings: Settings, *, now: datetime) -> SatisfactionReport:
    report = SatisfactionReport()
    for community in repo.list_communities(session):
        check_community(session, settings, community=community, now=now, report=report)
    return report


def check_community(
    session: Session, settings: Settings, *, community: Community, now: datetime, report: SatisfactionReport
) -> None:
    spec = spec_of(community)
    rules = spec.satisfaction
    # Check and act first: a task opened today is not judged on the ratings that opened it.
    for task in store.open_tasks(session, community_id=community.id, for_update=True):
        since = store.ratings_between(session, community_id=community.id, start=task.opened_at, end=now)
        latest = next((r for r in rates(since, spec) if (r.scope, r.key) == (task.scope, task.scope_key)), None)
        task.rate_latest = latest.percent if latest else None
        task.ratings_latest = latest.ratings if latest else 0
        task.checked_at = now
        if latest is not None and recovered(latest, rules):
            store.close_task(task, now=now)
            report.closed.append(f"{task.number} {task.scope_name}")
            _card(session, settings, community, task, now, kind="closed")
        elif now >= task.review_at:
            report.reviewed.append(f"{task.number} {task.scope_name}")
            _card(session, settings, community, task, now, kind="review")
    window = store.ratings_between(
        session, community_id=community.id, start=now - timedelta(days=rules.window_days), end=now
    )
    # The ratings that opened a task that has since closed do not open another one.
    closed = store.last_closed(session, community_id=community.id, after=now - timedelta(days=rules.window_days))
    for rate in rates(window, spec, since=closed):
        if not below_line(rate, rules):
            continue
        attached = sorted(rate.low, key=lambda r: (r.score, r.rated_at))[:MAX_ATTACHED]
        task = ImprovementTask(
            community_id=community.id,
            scope=rate.scope,
            scope_key=rate.key,
            scope_name=rate.name,
            owner=_owner(spec),
            status="open",
            opened_at=now,
            review_at=now + timedelta(days=rules.review_days),
            rate_opened=rate.percent,
            ratings_opened=rate.ratings,
            tickets=[{"id": r.ticket_id, "code": r.code, "score": r.score} for r in attached],
        )
        if store.open_task(session, task):
            report.opened.append(f"{task.number} {task.scope_name}")
            _card(session, settings, community, task, now, kind="opened")


def _card(
    session: Session, settings: Settings, community: Community, task: ImprovementTask, now: datetime, *, kind: str
) -> None:
    spec = spec_of(community)
    rules = spec.satisfaction
    line = f"{rules.threshold_percent}%"
    before = f"开单时 {task.rate_opened:g}%（{task.ratings_opened} 条评价，近 {rules.window_days} 天）"
    after = (
        f"开单以来 {task.rate_latest:g}%（{task.ratings_latest} 条评价）"
        if task.rate_latest is not None
        else "开单以来还没有新评价"
    )
    codes = "、".join(t["code"] for t in task.tickets[:6]) or "无"
    lines: list[CardLine]
    if kind == "opened":
        title = f"满意度改进任务 {task.number}：{_scope_label(task)}低于 {line}"
        lines = [
            ("highlight", before),
            ("gray", f"{community.name} · 复查日期 {local_day(task.review_at)}"),
            ("normal", f"低分工单：{codes}"),
            ("normal", "请找出原因、定改进措施，复查时看开单以来的满意率。"),
        ]
    elif kind == "closed":
        title = f"改进任务 {task.number} 已完成：{_scope_label(task)}满意率回到 {line} 以上"
        lines = [("highlight", after), ("gray", before), ("normal", "谢谢大家！")]
    else:
        title = f"改进任务 {task.number} 到复查日期：{_scope_label(task)}"
        lines = [("highlight", after), ("gray", before), ("normal", f"满意率回到 {line} 以上任务自动关闭。")]
    first = task.tickets[0]["code"] if task.tickets else None
    url = console_url(settings, f"/console/tickets/{first}" if first else "/console/tickets?tab=all")
    repo.enqueue_outbox(
        session,
        channel="wecom_app",
        recipient=task.owner or "@duty",
        payload=wecom_card(title, lines, url=url),
        community_id=community.id,
        now=now,
        dedupe_key=f"improvement:{task.id}:{kind}",
    )
