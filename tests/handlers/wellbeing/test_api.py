"""POST /api/signals with a device key, and household files through /api/households, scoped and audited."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from handlers.clock import FixedClock
from handlers.wellbeing.files import add_contact, record_consent
from storage import access
from storage import repositories as repo
from storage.household_files import issue_device_key
from storage.households import household_at
from storage.safecheck import CheckDay
from storage.tickets import Ticket
from tests.support.fake_api import FakeApi

from .conftest import cards_to, customs_to, resident, tick

ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


def _setup(services: Services, clock: FixedClock) -> tuple[int, str, dict[str, str], dict[str, str]]:
    """The household at 3号楼2单元502 with a device key, and keys for its grid worker and another grid's."""
    with services.sessions.begin() as session:
        community = repo.community_by_code(session, code="heping")
        assert community is not None
        home = household_at(session, community.id, "3", "2", "502")
        assert home is not None
        record_consent(session, home, given_by="张阿姨本人", wording="", now=clock.now)
        add_contact(
            session,
            services.settings.secret_key,
            home,
            role="family",
            name="李明",
            phone="13812345678",
            by="t",
            now=clock.now,
        )
        _, device = issue_device_key(session, household_id=home.id, label="水表", now=clock.now)
        mine = access.issue_key(session, worker="zhangli", community_id=community.id, now=clock.now).key
        other = access.issue_key(session, worker="chengang", community_id=community.id, now=clock.now).key
        return home.id, device, {"Authorization": f"Bearer {mine}"}, {"Authorization": f"Bearer {other}"}


def test_an_sos_raises_a_red_visit_task_and_alerts_the_duty_worker_at_once(
    client: TestClient, services: Services, clock: FixedClock, api: FakeApi
) -> None:
    _, device, _, _ = _setup(services, clock)
    answer = client.post("/api/signals", headers={"Authorization": f"Bearer {device}"}, json={"kind": "sos"})
    assert answer.status_code == 202, answer.text
    code = answer.json()["ticket"]
    tick(services, clock)
    with services.sessions.begin() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket is not None and ticket.colour == "red" and ticket.assignee == "zhangli"
    assert any("上门" in t for t in cards_to(api, "wangxiaoyan"))
    assert any("上门" in t for t in cards_to(api, "zhangli"))
    # A device key is good for signals only; a worker's key cannot send signals.
    assert client.get("/api/tickets", headers={"Authorization": f"Bearer {device}"}).status_code == 401
    assert client.post("/api/signals", headers=ADMIN, json={"kind": "sos"}).status_code == 403
    assert (
        client.post("/api/signals", headers={"Authorization": "Bearer sgd_nope"}, json={"kind": "sos"}).status_code
        == 401
    )
    assert (
        client.post("/api/signals", headers={"Authorization": f"Bearer {device}"}, json={"kind": "fire"}).status_code
        == 422
    )


def test_a_silence_starts_the_same_chain_as_a_missed_check_in(
    client: TestClient, services: Services, clock: FixedClock, api: FakeApi
) -> None:
    aunt = resident(client, "openid-aunt")
    aunt.say("我住3号楼2单元502")
    aunt.say("我想每天报个平安，早上6点")
    _, device, _, _ = _setup(services, clock)
    meter = {"Authorization": f"Bearer {device}"}
    clock.now = clock.now.replace(hour=22, minute=0)  # 06:00 on 29 November: the prompt
    tick(services, clock)
    assert len(customs_to(api, "openid-aunt")) == 1
    answer = client.post("/api/signals", headers=meter, json={"kind": "no_water", "detail": "06:00 起未用水"})
    # Today's check is already open: the silence joins its chain rather than starting another.
    assert answer.status_code == 202 and answer.json() == {"action": "escalation", "ticket": None, "started": 0}
    clock.advance(timedelta(minutes=10))
    aunt.say("好")
    tick(services, clock)
    clock.advance(timedelta(minutes=50))  # 07:00: the door sensor says nobody has come out since
    answer = client.post("/api/signals", headers=meter, json={"kind": "door_closed"})
    assert answer.json() == {"action": "escalation", "ticket": None, "started": 1}
    tick(services, clock)
    prompts = customs_to(api, "openid-aunt")
    assert len(prompts) == 2 and "今天还好吗" in prompts[1]  # a new prompt, from the signal
    clock.advance(timedelta(minutes=60))  # 08:00: the chain's second prompt, timed from the signal
    tick(services, clock)
    assert len(customs_to(api, "openid-aunt")) == 3
    with services.sessions.begin() as session:
        [day] = session.scalars(select(CheckDay)).all()
        assert (day.cause, day.step, day.status) == ("door_closed", 1, "open")


def test_a_household_file_is_for_its_grid_worker_only_and_each_read_is_audited(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    household_id, _, mine, other = _setup(services, clock)
    assert client.get(f"/api/households/{household_id}", headers=other).status_code == 404
    assert client.get("/api/households/999", headers=mine).status_code == 404
    shown = client.get(f"/api/households/{household_id}", headers=mine)
    assert shown.status_code == 200
    assert shown.json()["contacts"][0]["phone"] == "138****5678"
    full = client.get(f"/api/households/{household_id}", headers=mine, params={"reveal": "true"})
    assert full.json()["contacts"][0]["phone"] == "13812345678"
    with services.sessions.begin() as session:
        reads = [(e.actor, e.status) for e in access.recent_entries(session) if e.path.startswith("/api/households")]
        assert reads == [
            ("worker:zhangli", 200),
            ("worker:zhangli", 200),
            ("worker:zhangli", 404),
            ("worker:chengang", 404),
        ]
    refused = client.post(f"/api/households/{household_id}/checkin", headers=mine, json={"how": "visit"})
    assert refused.status_code == 409
