"""Nothing to a resident is dropped silently: a message that cannot reach them is on the ticket, the worker
who acted is told whom to call (the whole number, as they hold the ticket), and the console lists them."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from handlers.privacy import encrypt_phone
from storage import tickets as store
from storage.models import Resident as ResidentRow
from tests.bot.console.conftest import log_in
from tests.support.fake_api import FakeApi
from tests.support.wechat import FakeWeChat

from .conftest import code_in, customs_to, drain, resident, texts_to, worker

PHONE = "13812345678"


def quiet_for_two_days(services: Services, openid: str, *, phone: str | None = PHONE) -> None:
    """The resident last wrote 49 hours ago (no template message is configured), with a phone on file."""
    with services.sessions.begin() as session:
        row = session.scalar(select(ResidentRow).where(ResidentRow.openid == openid))
        assert row is not None and row.last_inbound_at is not None
        row.last_inbound_at -= timedelta(hours=49)
        row.window_event_at = None
        row.display_name = "李阿姨"
        row.phone_encrypted = encrypt_phone(services.settings.secret_key, phone) if phone else None


def events(services: Services, code: str) -> list[tuple[str, str | None]]:
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        assert ticket is not None
        return [(e.action, e.note) for e in store.events_for(session, ticket_id=ticket.id)]


def test_resolving_when_the_window_has_closed_says_whom_to_call_never_that_the_resident_was_asked(
    client: TestClient, services: Services, api: FakeApi, wechat: FakeWeChat
) -> None:
    someone = resident(client, wechat)
    code = code_in(someone.say("3号楼东边的路灯坏了"))
    zhangli = worker(client, "zhangli")
    assert "已接单" in zhangli.say(f"接单 {code}")
    quiet_for_two_days(services, someone.openid)
    answer = zhangli.say(f"办结 {code} 已更换灯泡")
    assert "已办结" in answer and "已请居民评价" not in answer
    assert f"居民收不到，请电话联系 {PHONE}" in answer
    unreachable = [note for action, note in events(services, code) if action == "unreachable"]
    assert len(unreachable) == 1 and "已更换灯泡" in (unreachable[0] or "")
    drain(services)
    assert not [t for t in customs_to(api, someone.openid) if "已处理完毕" in t]

    log_in(client, "zhangli")
    listed = client.get("/console/unreachable")
    assert listed.status_code == 200 and code in listed.text and PHONE in listed.text and "李阿姨" in listed.text
    exported = client.get("/console/unreachable.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.text.startswith("\ufeff时间,工单号,居民")
    assert any(PHONE in row and "李阿姨" in row and "已更换灯泡" in row for row in exported.text.splitlines())
    timeline = client.get(f"/console/tickets/{code}")
    assert "居民收不到" in timeline.text


def test_a_worker_who_does_not_hold_it_sees_a_masked_number(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    someone = resident(client, wechat)
    code = code_in(someone.say("3号楼东边的路灯坏了"))
    quiet_for_two_days(services, someone.openid)
    answer = worker(client, "liushifu").say(f"进展 {code} 明天来修")
    assert "居民收不到，请电话联系 138****5678" in answer and PHONE not in answer
    # A worker of the other grid does not see that resident at all.
    log_in(client, "chengang")
    assert code not in client.get("/console/unreachable").text


def test_a_send_that_wechat_refuses_later_is_on_the_ticket_and_told_to_the_worker(
    client: TestClient, services: Services, api: FakeApi, wechat: FakeWeChat
) -> None:
    someone = resident(client, wechat)
    code = code_in(someone.say("3号楼东边的路灯坏了"))
    zhangli = worker(client, "zhangli")
    answer = zhangli.say(f"接单 {code}")
    assert "居民收不到" not in answer  # inside the window: queued as a customer-service message
    with services.sessions.begin() as session:
        row = session.scalar(select(ResidentRow).where(ResidentRow.openid == someone.openid))
        assert row is not None
        row.phone_encrypted = encrypt_phone(services.settings.secret_key, PHONE)
    api.failures["/cgi-bin/message/custom/send"] = [45015]  # too late / unfollowed: final
    drain(services)
    assert [a for a, _ in events(services, code)].count("unreachable") == 1
    told = texts_to(api, "zhangli")
    assert any(code in t and f"居民收不到，请电话联系 {PHONE}" in t for t in told), told


def test_resolving_from_the_console_is_told_over_wecom_too(
    client: TestClient, services: Services, api: FakeApi, wechat: FakeWeChat
) -> None:
    someone = resident(client, wechat)
    code = code_in(someone.say("3号楼东边的路灯坏了"))
    quiet_for_two_days(services, someone.openid, phone=None)
    csrf = log_in(client, "zhangli")
    done = client.post(f"/console/tickets/{code}/act", data={"action": "resolve", "note": "已修好", "csrf": csrf})
    assert done.status_code == 303
    drain(services)
    told = texts_to(api, "zhangli")
    assert any(code in t and "没有登记电话，请上门联系（报修地点 3号楼" in t for t in told), told
