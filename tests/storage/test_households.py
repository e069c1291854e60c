"""Households: one per address, found from a resident's address, never made twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services import Services
from storage import repositories as repo
from storage.households import Household, household_at, household_of, residents_of
from storage.models import Community


@pytest.fixture
def session(services: Services) -> Iterator[Session]:
    with services.sessions.begin() as open_session:
        yield open_session


def _community(session: Session) -> Community:
    community = Community(code="heping", name="和平社区", config={})
    session.add(community)
    session.flush()
    return community


def test_two_residents_of_one_flat_share_a_household(session: Session) -> None:
    community = _community(session)
    wife = repo.get_or_create_resident(session, openid="wife")
    husband = repo.get_or_create_resident(session, openid="husband")
    neighbour = repo.get_or_create_resident(session, openid="neighbour")
    for resident, room in ((wife, "502"), (husband, "502"), (neighbour, "501")):
        resident.community_id, resident.building, resident.unit, resident.room = community.id, "3", "2", room
    session.flush()

    home = household_of(session, wife)
    assert home is not None and home.label == "3号楼2单元502室"
    assert household_of(session, husband) is home
    assert household_of(session, neighbour) is not home
    assert [r.openid for r in residents_of(session, home)] == ["wife", "husband"]
    assert session.scalar(select(func.count()).select_from(Household)) == 2


def test_no_household_without_a_room_or_community(session: Session) -> None:
    community = _community(session)
    resident = repo.get_or_create_resident(session, openid="someone")
    assert household_of(session, resident) is None
    resident.community_id, resident.building = community.id, "3"
    assert household_of(session, resident) is None


def test_a_household_is_looked_up_without_being_made(session: Session) -> None:
    community = _community(session)
    assert household_at(session, community.id, "7", None, "101", create=False) is None
    made = household_at(session, community.id, "7", None, "101")
    assert made is not None and made.label == "7号楼101室"
    assert household_at(session, community.id, "7", "", "101", create=False) is made
