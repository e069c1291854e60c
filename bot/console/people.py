"""Who a console user is and what they see, read from the community file as the API keys' scoping is.

A grid worker sees their grid's buildings and whatever is assigned to them; a community's leader and its
duty worker see the whole community; the street office sees every community. Anyone else named in a
community file (a team, a consultant) sees what is assigned to them. Someone named nowhere sees nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from handlers.communities import CommunitySpec, spec_of
from storage import repositories as repo
from storage.console import Reach
from storage.tickets import Ticket


@dataclass(frozen=True)
class GridInfo:
    code: str
    name: str
    buildings: frozenset[str]


@dataclass(frozen=True)
class CommunityInfo:
    id: int
    code: str
    name: str
    grids: tuple[GridInfo, ...]
    buildings: tuple[str, ...]
    # userid -> name, for "transfer to" and for naming people instead of userids
    staff: dict[str, str]


@dataclass(frozen=True)
class Viewer:
    userid: str
    name: str
    reach: tuple[Reach, ...]
    # Communities whose residents' phones this worker sees in full (its leader, the street office).
    leads: frozenset[int]
    communities: tuple[CommunityInfo, ...]
    csrf_token: str = ""
    names: dict[str, str] = field(default_factory=dict)

    def sees(self, ticket: Ticket) -> bool:
        for r in self.reach:
            if r.community_id != ticket.community_id:
                continue
            if r.everything or ticket.assignee == self.userid or (ticket.building or "") in r.buildings:
                return True
        return False

    def sees_phone(self, ticket: Ticket) -> bool:
        """Full phone numbers: for whoever holds the ticket and the community's leaders."""
        return ticket.assignee == self.userid or ticket.community_id in self.leads

    def community(self, community_id: int) -> CommunityInfo | None:
        return next((c for c in self.communities if c.id == community_id), None)

    def name_of(self, userid: str | None) -> str:
        if not userid:
            return "未指派"
        return self.names.get(userid, userid)


def _staff(spec: CommunitySpec) -> dict[str, str]:
    people = [spec.duty, *(g.worker for g in spec.grids), *spec.teams.values()]
    if spec.escalation:
        people += [spec.escalation.leader, spec.escalation.street]
    people += [*spec.consultants.legal, *spec.consultants.psych, *spec.consultants.service]
    staff: dict[str, str] = {}
    for person in people:
        if person is not None:
            staff.setdefault(person.wecom_userid, person.name)
    return staff


def directory(session: Session) -> list[tuple[int, CommunitySpec, CommunityInfo]]:
    rows = []
    for community in repo.list_communities(session):
        spec = spec_of(community)
        info = CommunityInfo(
            id=community.id,
            code=community.code,
            name=community.name,
            grids=tuple(GridInfo(g.code, g.name, frozenset(g.buildings)) for g in spec.grids),
            buildings=tuple(spec.buildings) or tuple(b for g in spec.grids for b in g.buildings),
            staff=_staff(spec),
        )
        rows.append((community.id, spec, info))
    return rows


def names(session: Session) -> dict[str, str]:
    """Every worker's name by WeCom userid, across communities."""
    known: dict[str, str] = {}
    for _, _, info in directory(session):
        for userid, name in info.staff.items():
            known.setdefault(userid, name)
    return known


def viewer_for(session: Session, userid: str, *, csrf_token: str = "") -> Viewer | None:
    """The console user with this WeCom userid, or None when no community file names them."""
    communities = directory(session)
    known: dict[str, str] = {}
    for _, _, info in communities:
        for uid, name in info.staff.items():
            known.setdefault(uid, name)
    if userid not in known:
        return None
    street = any(
        spec.escalation and spec.escalation.street and spec.escalation.street.wecom_userid == userid
        for _, spec, _ in communities
    )
    reach: list[Reach] = []
    leads: set[int] = set()
    seen: list[CommunityInfo] = []
    for community_id, spec, info in communities:
        leader = bool(spec.escalation and spec.escalation.leader.wecom_userid == userid)
        duty = bool(spec.duty and spec.duty.wecom_userid == userid)
        if street or leader:
            leads.add(community_id)
        if street or leader or duty:
            reach.append(Reach(community_id, everything=True, worker=userid))
        elif userid in info.staff:
            buildings = frozenset(b for g in spec.grids if g.worker.wecom_userid == userid for b in g.buildings)
            reach.append(Reach(community_id, everything=False, worker=userid, buildings=buildings))
        else:
            continue
        seen.append(info)
    return Viewer(
        userid=userid,
        name=known[userid],
        reach=tuple(reach),
        leads=frozenset(leads),
        communities=tuple(seen),
        csrf_token=csrf_token,
        names=known,
    )
