"""Who is responsible for a community's tickets: grid workers by building, teams, duty and escalation."""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.communities import CommunitySpec, spec_of
from handlers.tickets.rules import DEFAULT_URGENCY, UrgencyRule, urgency_rules
from storage.models import Community


@dataclass(frozen=True)
class Routing:
    """A community's people for tickets, read from its community file."""

    duty: str | None
    grid_of_building: dict[str, str] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    leader: str | None = None
    street: str | None = None
    template_id: str | None = None
    urgency: tuple[UrgencyRule, ...] = DEFAULT_URGENCY

    @classmethod
    def of(cls, spec: CommunitySpec) -> Routing:
        escalation = spec.escalation
        return cls(
            duty=spec.duty.wecom_userid if spec.duty else None,
            grid_of_building={building: grid.worker.wecom_userid for grid in spec.grids for building in grid.buildings},
            teams={category: worker.wecom_userid for category, worker in spec.teams.items()},
            leader=escalation.leader.wecom_userid if escalation else None,
            street=escalation.street.wecom_userid if escalation and escalation.street else None,
            template_id=spec.ticket_template_id,
            urgency=urgency_rules(spec.urgency),
        )

    def responsible(self, building: str | None) -> str | None:
        """The grid worker of the building; the duty worker when the building is unknown or in no grid."""
        return self.grid_of_building.get(building or "") or self.duty

    def chain(self, assignee: str | None) -> list[str]:
        """Escalation order: whoever holds the ticket, then the community leader, then the street office."""
        chain: list[str] = []
        for user in (assignee or self.duty, self.leader, self.street):
            if user and user not in chain:
                chain.append(user)
        return chain

    def workers(self) -> set[str]:
        everyone = {self.duty, self.leader, self.street, *self.grid_of_building.values(), *self.teams.values()}
        return {user for user in everyone if user}


NOBODY = Routing(duty=None)


def routing_for(community: Community | None) -> Routing:
    """The routing of a stored community; nobody at all when the ticket's community is gone."""
    return Routing.of(spec_of(community)) if community is not None else NOBODY
