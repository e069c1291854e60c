"""What a worker asks of their desk in WeCom: "我的工单" lists what they hold, a bare "接单" takes the
oldest ticket nobody has accepted that is theirs to take (the same reach as the console's)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from handlers.communities import spec_of
from handlers.notify import staff_of
from handlers.tickets.notices import STATUS_NAMES, describe
from handlers.tickets.workdays import format_local
from storage import desk
from storage import repositories as repo
from storage.console import Reach
from storage.models import Community
from storage.tickets import Ticket


@dataclass(frozen=True)
class Desk:
    reach: tuple[Reach, ...]
    team_categories: dict[int, frozenset[str]]


def desk_of(session: Session, worker: str) -> Desk:
    """Where a worker may take tickets: the whole community for its duty worker, leader and street office,
    their grid's buildings for a grid worker, and their team's categories for a team member."""
    reach: list[Reach] = []
    teams: dict[int, frozenset[str]] = {}
    for community in repo.list_communities(session):
        spec = spec_of(community)
        escalation = spec.escalation
        whole = (spec.duty and spec.duty.wecom_userid == worker) or (
            escalation
            and (
                escalation.leader.wecom_userid == worker
                or (escalation.street is not None and escalation.street.wecom_userid == worker)
            )
        )
        if whole:
            reach.append(Reach(community.id, everything=True, worker=worker))
            continue
        buildings = frozenset(b for g in spec.grids if g.worker.wecom_userid == worker for b in g.buildings)
        if buildings:
            reach.append(Reach(community.id, everything=False, worker=worker, buildings=buildings))
        categories = frozenset(c for c, person in spec.teams.items() if person.wecom_userid == worker)
        if categories:
            teams[community.id] = categories
    return Desk(tuple(reach), teams)


def take_next(session: Session, worker: str) -> Ticket | None:
    """The oldest ticket nobody has accepted that this worker may take, locked for the taking."""
    found = desk_of(session, worker)
    if not found.reach and not found.team_categories:
        return None
    return desk.oldest_takeable(session, reach=found.reach, team_categories=found.team_categories)


def list_held(session: Session, worker: str, *, limit: int = 10) -> str:
    """The answer to "我的工单": the worker's open tickets, nearest deadline first, each with its code."""
    tickets = desk.held_by(session, worker=worker, limit=limit + 1)
    if not tickets:
        return "您手上暂时没有未办结的工单。\n发送“接单”可领取最早一张待接单的工单。"
    lines = [f"您手上未办结的工单（{min(len(tickets), limit)} 张，按时限排列）："]
    for ticket in tickets[:limit]:
        lines.append(
            f"· {ticket.code} {describe(ticket)} {ticket.place or '地点未说明'}"
            f"（{STATUS_NAMES.get(ticket.status, ticket.status)}，{format_local(ticket.due_at)} 前）"
        )
    if len(tickets) > limit:
        lines.append("还有更多，请在工作台查看。")
    lines.append("回复“进展 工单号 说明”或“办结 工单号 说明”。")
    return "\n".join(lines)


def resolve_worker(community: Community | None, workers: set[str], said: str) -> tuple[str | None, str]:
    """The WeCom userid a worker meant by `said` (a userid, a name, or part of one: "刘师傅" for
    "物业电工班 刘师傅"), or None and why not (nobody, or several people by that name)."""
    staff = {userid: name for userid, name in staff_of(community).items() if userid in workers}
    if said in staff:
        return said, ""
    exact = [userid for userid, name in staff.items() if name == said]
    found = exact or [userid for userid, name in staff.items() if said and said in name]
    if len(found) == 1:
        return found[0], ""
    if found:
        options = "、".join(f"{staff[u]}（{u}）" for u in sorted(found))
        return None, f"本社区有 {len(found)} 位工作人员叫“{said}”：{options}。请写全名或账号，未转派。"
    everyone = "、".join(staff[u] for u in sorted(staff)) or "（无）"
    return None, f"“{said or '（空）'}”不是本社区登记的工作人员，未转派。可转派给：{everyone}。"
