"""Fixtures for the office API: the demo communities, one open ticket and one ledger entry to find, a client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.services import Services
from bot.settings import Settings
from handlers.communities import load_communities, parse_community_file
from storage import activities as arepo
from storage import ledger as lrepo
from storage import repositories as repo
from storage import rewards as rrepo
from storage import tickets as store
from storage.models import utcnow
from tests.conftest import make_settings
from tests.support.fake_api import FakeApi

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "community.yaml"
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


@dataclass(frozen=True)
class Seeded:
    ticket: str  # an open ticket of 和平社区, held by zhangli
    entry_id: int  # a 10-point award in 和平社区


@pytest.fixture
def settings(db_url: str, tmp_path: Path, api: FakeApi) -> Settings:
    return make_settings(db_url, tmp_path, wechat_api_base=api.base, wecom_api_base=api.base)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = Services(settings)
    yield services
    services.close()


@pytest.fixture
def seeded(services: Services) -> Seeded:
    now = utcnow()
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
        community = repo.community_by_code(session, code="heping")
        assert community is not None
        resident = repo.get_or_create_resident(session, openid="openid-api-resident")
        ticket = store.create_ticket(
            session,
            community_id=community.id,
            reporter_id=resident.id,
            category="lighting",
            colour="blue",
            description="3号楼东边的路灯坏了",
            place="3号楼",
            building="3",
            unit=None,
            assignee="zhangli",
            due_at=now + timedelta(days=3),
            remind_at=now + timedelta(days=2),
            now=now,
            actor=f"resident:{resident.id}",
        )
        entry = lrepo.post_entry(
            session,
            resident_id=resident.id,
            community_id=community.id,
            unit="points",
            amount=10,
            kind="award",
            reason="楼道清理",
            now=now,
        )
        assert entry is not None
        return Seeded(ticket=ticket.code, entry_id=entry.id)


@pytest.fixture
def client(services: Services, seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services)) as test_client:
        yield test_client


def counts(services: Services) -> dict[str, int]:
    """How many rows the API could have written, to show a refusal wrote none."""
    tables = {
        "activities": arepo.Activity,
        "ledger": lrepo.LedgerEntry,
        "ticket_events": store.TicketEvent,
        "vouchers": rrepo.Voucher,
    }
    with services.sessions.begin() as session:
        found = {name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in tables.items()}
        tickets = session.scalars(select(store.Ticket)).all()
        found["ticket_changes"] = sum(t.updated_at != t.created_at or t.status != "open" for t in tickets)
        return found
