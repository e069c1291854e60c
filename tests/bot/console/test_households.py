"""户档 in the console: the household's grid worker and leaders see its file and history, anyone else 404;
each page is audited; "登记今日平安" records the day's check-in; the silent-needs list."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from handlers.wellbeing.checkins import enrol
from handlers.wellbeing.files import add_contact, add_member, record_consent
from handlers.wellbeing.history import send_silent_lists
from storage import access
from storage import repositories as repo
from storage.households import household_at
from storage.models import OutboxMessage, utcnow
from storage.safecheck import CheckDay

from .conftest import log_in


def _household(services: Services) -> int:
    now = utcnow()
    with services.sessions.begin() as session:
        community = repo.community_by_code(session, code="heping")
        assert community is not None
        home = household_at(session, community.id, "3", "2", "502")
        assert home is not None
        key = services.settings.secret_key
        record_consent(session, home, given_by="张秀英本人", wording="", now=now - timedelta(days=30))
        member = add_member(
            session,
            key,
            community,
            home,
            name="张秀英",
            tags=["独居", "残疾"],
            phone="13812345678",
            health="高血压",
            by="t",
            now=now - timedelta(days=30),
        )
        add_contact(session, key, home, role="family", name="李明", phone="13987654321", by="t", now=now)
        enrol(session, community=community, member=member, household=home, name="张阿姨", minute=480, by="t", now=now)
        return home.id


def test_the_grid_worker_sees_the_file_others_get_404_and_reads_are_audited(
    client: TestClient, services: Services
) -> None:
    household_id = _household(services)
    log_in(client, "chengang")  # the other grid's worker
    assert client.get(f"/console/households/{household_id}").status_code == 404
    csrf = log_in(client, "zhangli")
    shown = client.get(f"/console/households/{household_id}")
    assert shown.status_code == 200
    assert "张秀英" in shown.text and "残疾" in shown.text and "13987654321" in shown.text and "高血压" in shown.text
    assert 'href="/console/households"' in shown.text  # the nav entry
    answer = client.post(f"/console/households/{household_id}/checkin", data={"how": "visit", "csrf": csrf})
    assert answer.status_code == 303
    with services.sessions.begin() as session:
        [day] = session.scalars(select(CheckDay)).all()
        assert day.status == "safe" and day.resolved_by == "worker:zhangli"
        paths = [(e.actor, e.path) for e in access.recent_entries(session) if "households" in e.path]
        assert ("console:zhangli", f"/console/households/{household_id}") in paths
        assert ("console:zhangli", f"/console/households/{household_id}/checkin") in paths
    assert "worker:zhangli" in client.get(f"/console/households/{household_id}").text
    refused = client.post(f"/console/households/{household_id}/checkin", data={"how": "visit"})
    assert refused.status_code == 403  # no CSRF token


def test_silent_special_group_households_are_listed_weekly_for_their_grid_worker(
    client: TestClient, services: Services
) -> None:
    household_id = _household(services)
    now = utcnow() + timedelta(days=8)
    with services.sessions.begin() as session:
        community = repo.community_by_code(session, code="heping")
        assert community is not None
        assert send_silent_lists(session, services.settings, community, now=now) == 1
        assert send_silent_lists(session, services.settings, community, now=now + timedelta(hours=1)) == 0
        [card] = session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("silent:%"))).all()
        assert card.recipient == "zhangli" and "3号楼2单元502室" in str(card.payload)
    log_in(client, "zhangli")
    listed = client.get("/console/households")
    assert listed.status_code == 200
    # Nobody in the household has ever been heard from: it is on the list, linked to its file.
    assert f'href="/console/households/{household_id}"' in listed.text and "张秀英" in listed.text
