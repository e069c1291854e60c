"""Ticket storage on SQLite and PostgreSQL: codes, followers, events, duplicates, filters, due tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services import Services
from storage import repositories as repo
from storage import tickets as store
from storage.tickets import TicketFilter

NOW = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)


def _ticket(services: Services, *, building: str, colour: str = "blue", category: str = "lighting") -> str:
    with services.sessions.begin() as session:
        community = repo.community_by_code(session, code="heping")
        assert community is not None
        resident = repo.get_or_create_resident(session, openid=f"storage-{building}-{colour}")
        ticket = store.create_ticket(
            session,
            community_id=community.id,
            reporter_id=resident.id,
            category=category,
            colour=colour,
            description="路灯坏了",
            place=f"{building}号楼",
            building=building,
            unit=None,
            assignee="zhangli",
            due_at=NOW + timedelta(days=1),
            remind_at=NOW + timedelta(hours=18),
            now=NOW,
            actor=f"resident:{resident.id}",
            source_key=f"inbound:{building}{colour}",
        )
        return ticket.code


def test_create_find_follow_and_list(services: Services) -> None:
    code = _ticket(services, building="3")
    _ticket(services, building="5", colour="red", category="parking")
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code.lower())
        assert ticket is not None and ticket.status == "open" and ticket.created_at == NOW
        assert [e.action for e in store.events_for(session, ticket_id=ticket.id)] == ["created"]
        assert [r.id for r in store.followers(session, ticket_id=ticket.id)] == [ticket.reporter_id]
        assert store.event_by_source(session, source_key="inbound:3blue") is not None

        candidates = store.open_at_building(session, community_id=ticket.community_id, building="3")
        assert [t.id for t in candidates] == [ticket.id]
        assert store.open_at_building(session, community_id=ticket.community_id, building="4") == []

        other = repo.get_or_create_resident(session, openid="storage-neighbour")
        assert store.add_follower(session, ticket_id=ticket.id, resident_id=other.id, now=NOW)
        assert not store.add_follower(session, ticket_id=ticket.id, resident_id=other.id, now=NOW)
        assert [t.code for t in store.tickets_followed_by(session, resident_id=other.id)] == [code]

        red = store.list_tickets(session, where=TicketFilter(colour="red"))
        assert [t.building for t in red] == ["5"]
        assert [t.code for t in store.list_tickets(session, where=TicketFilter(building="3"))] == [code]
        assert store.list_tickets(session, where=TicketFilter(overdue_at=NOW)) == []
        assert len(store.list_tickets(session, where=TicketFilter(overdue_at=NOW + timedelta(days=2)))) == 2

        ticket.status = "closed"
    with services.sessions.begin() as session:
        assert store.open_at_building(session, community_id=ticket.community_id, building="3") == []


def test_tickets_needing_attention(services: Services) -> None:
    _ticket(services, building="1")
    with services.sessions.begin() as session:
        assert list(store.tickets_needing_attention(session, now=NOW + timedelta(hours=17))) == []
        due = list(store.tickets_needing_attention(session, now=NOW + timedelta(hours=19)))
        assert len(due) == 1
        due[0].reminded = True
    with services.sessions.begin() as session:
        assert list(store.tickets_needing_attention(session, now=NOW + timedelta(hours=19))) == []
        overdue = list(store.tickets_needing_attention(session, now=NOW + timedelta(days=2)))
        assert len(overdue) == 1
        overdue[0].chain_exhausted = True
    with services.sessions.begin() as session:
        assert list(store.tickets_needing_attention(session, now=NOW + timedelta(days=2))) == []
