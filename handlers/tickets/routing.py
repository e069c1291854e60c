"""Who is responsible for a community's tickets: grid workers by building, teams, duty and escalation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage.models import Community


@dataclass(frozen=True)
class Routing:
    """A community's people for tickets, read from its community file (stored as Community.config)."""

    duty: str | None
    grid_of_building: dict[str, str] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    leader: str | None = None
    street: str | None = None
    template_id: str | None = None
    urgency: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, community: Community) -> Routing:
        config: dict[str, Any] = community.config or {}

        def userid(worker: Any) -> str | None:
            value = worker.get("wecom_userid") if isinstance(worker, dict) else None
            return str(value) if value else None

        grid_of_building = {
            str(building): user
            for grid in config.get("grids") or []
            if (user := userid(grid.get("worker")))
            for building in grid.get("buildings") or []
        }
        teams = {str(cat): user for cat, worker in (config.get("teams") or {}).items() if (user := userid(worker))}
        escalation = config.get("escalation") or {}
        return cls(
            duty=userid(config.get("duty")),
            grid_of_building=grid_of_building,
            teams=teams,
            leader=userid(escalation.get("leader")),
            street=userid(escalation.get("street")),
            template_id=config.get("ticket_template_id"),
            urgency=config.get("urgency"),
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
