"""警报与咨询 in the console: a resident's crisis alert and consultation request, acknowledged, assigned by
name, escalated and closed with a note; scoped like tickets; reminders stop once someone acknowledges."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from handlers.alerts import remind_unacknowledged
from handlers.privacy import encrypt_phone
from storage.access import AuditEntry
from storage.alerts import CrisisAlert
from storage.consultations import Consultation
from storage.models import OutboxMessage, Resident, utcnow
from tests.bot.console.conftest import log_in, resident
from tests.support.fake_api import FakeApi
from tests.support.wechat import FakeWeChat


def _in_building(services: Services, openid: str, building: str, phone: str = "") -> None:
    with services.sessions.begin() as session:
        row = session.scalar(select(Resident).where(Resident.openid == openid))
        assert row is not None
        row.building, row.display_name = building, "刘阿姨"
        if phone:
            row.phone_encrypted = encrypt_phone(services.settings.secret_key, phone)


def _crisis(client: TestClient, services: Services, wechat: FakeWeChat, openid: str, building: str) -> int:
    someone = resident(client, wechat, openid)
    _in_building(services, openid, building, "13900001111")
    answer = someone.say("我不想活了 活着没意思")
    assert "12356" in answer
    with services.sessions.begin() as session:
        alert = session.scalars(select(CrisisAlert).order_by(CrisisAlert.id.desc())).first()
        assert alert is not None and alert.status == "open"
        return alert.id


def _cards(services: Services, recipient: str) -> list[OutboxMessage]:
    with services.sessions.begin() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.channel == "wecom_app", OutboxMessage.recipient == recipient)
                .order_by(OutboxMessage.id)
            )
        )


def _csrf(text: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', text)
    assert match
    return match.group(1)


def test_an_alert_card_leads_to_its_page_where_the_duty_worker_handles_it(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    alert_id = _crisis(client, services, wechat, "openid-alert-1", "3")
    card = _cards(services, "wangxiaoyan")[-1].payload["textcard"]
    assert card["url"].endswith(f"/console/alerts/alert/{alert_id}")
    assert "处理后在工作台登记" in card["description"]

    csrf = log_in(client, "wangxiaoyan")
    listing = client.get("/console/alerts")
    assert listing.status_code == 200 and f"警报 #{alert_id}" in listing.text and "待确认" in listing.text
    page = client.get(f"/console/alerts/alert/{alert_id}")
    assert page.status_code == 200
    assert "我不想活了" in page.text and "刘阿姨" in page.text and "3号楼" in page.text
    assert "139****1111" in page.text and "13900001111" not in page.text
    shown = client.post(f"/console/alerts/alert/{alert_id}/phone", headers={"X-CSRF-Token": csrf})
    assert "13900001111" in shown.text

    done = client.post(f"/console/alerts/alert/{alert_id}/act", data={"action": "acknowledge", "csrf": csrf})
    assert done.status_code == 303
    assert "已确认收到" in client.get(done.headers["location"]).text

    # Given to a colleague by the name people use for him; he hears of it on WeCom with a link.
    given = client.post(
        f"/console/alerts/alert/{alert_id}/act", data={"action": "assign", "target": "刘师傅", "csrf": csrf}
    )
    assert "已交给物业电工班 刘师傅" in client.get(given.headers["location"]).text
    assert _cards(services, "liushifu")[-1].payload["textcard"]["url"].endswith(f"/console/alerts/alert/{alert_id}")
    unknown = client.post(
        f"/console/alerts/alert/{alert_id}/act", data={"action": "assign", "target": "不认识的人", "csrf": csrf}
    )
    assert "名册里没有" in client.get(unknown.headers["location"]).text

    escalated = client.post(f"/console/alerts/alert/{alert_id}/act", data={"action": "escalate", "csrf": csrf})
    assert "已上报给周书记" in client.get(escalated.headers["location"]).text
    assert _cards(services, "zhoushuji")

    # Closing needs a word on what was done; an empty note closes nothing.
    empty = client.post(f"/console/alerts/alert/{alert_id}/act", data={"action": "close", "note": "  ", "csrf": csrf})
    assert "关闭前请写一句" in client.get(empty.headers["location"]).text
    closed = client.post(
        f"/console/alerts/alert/{alert_id}/act",
        data={"action": "close", "note": "已电话联系，女儿已到家陪着", "csrf": csrf},
    )
    assert "已关闭" in client.get(closed.headers["location"]).text
    with services.sessions.begin() as session:
        row = session.get(CrisisAlert, alert_id)
        assert row is not None
        assert (row.status, row.acknowledged_by, row.assigned_to, row.closed_by) == (
            "closed",
            "wangxiaoyan",
            "liushifu",
            "wangxiaoyan",
        )
        assert row.note == "已电话联系，女儿已到家陪着"
    assert f"警报 #{alert_id}" not in client.get("/console/alerts").text
    assert f"警报 #{alert_id}" in client.get("/console/alerts?closed=1").text


def test_another_grids_alert_is_not_found_and_a_forged_token_changes_nothing(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    theirs = _crisis(client, services, wechat, "openid-alert-6", "6")  # 陈刚's grid
    mine = _crisis(client, services, wechat, "openid-alert-2", "2")  # 张丽's grid
    csrf = log_in(client, "zhangli")
    assert client.get(f"/console/alerts/alert/{theirs}").status_code == 404
    assert (
        client.post(f"/console/alerts/alert/{theirs}/act", data={"action": "acknowledge", "csrf": csrf}).status_code
        == 404
    )
    listing = client.get("/console/alerts").text
    assert f"警报 #{mine}" in listing and f"警报 #{theirs}" not in listing
    assert client.get("/console/alerts/nonsense/1").status_code == 404

    forged = client.post(f"/console/alerts/alert/{mine}/act", data={"action": "acknowledge", "csrf": csrf + "x"})
    assert forged.status_code == 403
    with services.sessions.begin() as session:
        row = session.get(CrisisAlert, mine)
        assert row is not None and row.acknowledged_at is None


def test_the_alert_page_is_audited_before_it_is_shown(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    alert_id = _crisis(client, services, wechat, "openid-alert-audit", "3")
    log_in(client, "zhangli")
    client.get(f"/console/alerts/alert/{alert_id}")
    client.get("/console/alerts")
    with services.sessions.begin() as session:
        seen = [
            (r.action, r.path) for r in session.scalars(select(AuditEntry).where(AuditEntry.actor == "console:zhangli"))
        ]
    assert ("read", f"/console/alerts/alert/{alert_id}") in seen and ("read", "/console/alerts") in seen


def test_an_unacknowledged_alert_is_sent_again_then_escalated_and_an_acknowledged_one_is_left_alone(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    ignored = _crisis(client, services, wechat, "openid-alert-ignored", "3")
    seen = _crisis(client, services, wechat, "openid-alert-seen", "4")
    csrf = log_in(client, "wangxiaoyan")
    client.post(f"/console/alerts/alert/{seen}/act", data={"action": "acknowledge", "csrf": csrf})
    before = len(_cards(services, "wangxiaoyan"))
    now = utcnow()
    with services.sessions.begin() as session:
        assert remind_unacknowledged(session, services.settings, now=now + timedelta(minutes=3)) == 0
        assert remind_unacknowledged(session, services.settings, now=now + timedelta(minutes=11)) == 1
    reminders = _cards(services, "wangxiaoyan")[before:]
    assert len(reminders) == 1 and f"警报 #{ignored}" in reminders[0].payload["textcard"]["title"]
    with services.sessions.begin() as session:
        assert remind_unacknowledged(session, services.settings, now=now + timedelta(minutes=22)) == 1
        assert remind_unacknowledged(session, services.settings, now=now + timedelta(minutes=60)) == 0
        row = session.get(CrisisAlert, ignored)
        assert row is not None and row.escalated_at is not None
    escalations = [c for c in _cards(services, "zhoushuji") if f"警报 #{ignored}" in c.payload["textcard"]["title"]]
    assert len(escalations) == 1
    assert not any(f"警报 #{seen}" in c.payload["textcard"]["title"] for c in _cards(services, "zhoushuji"))


def test_a_consultation_request_is_handled_on_the_same_page(
    client: TestClient, services: Services, wechat: FakeWeChat, console_api: FakeApi
) -> None:
    someone = resident(client, wechat, "openid-consult")
    _in_building(services, "openid-consult", "2")
    answer = someone.say("我想找律师咨询一下")
    assert "律师" in answer or "工作人员" in answer
    with services.sessions.begin() as session:
        consultation = session.scalars(select(Consultation).order_by(Consultation.id.desc())).first()
        assert consultation is not None
        consultation_id, consultant = consultation.id, consultation.assigned_to
    assert consultant is not None
    card = _cards(services, consultant)[-1].payload["textcard"]
    assert card["url"].endswith(f"/console/alerts/consultation/{consultation_id}")
    csrf = log_in(client, "zhangli")
    assert f"咨询 #{consultation_id}" in client.get("/console/alerts").text
    closed = client.post(
        f"/console/alerts/consultation/{consultation_id}/act",
        data={"action": "close", "note": "何律师已回电解答", "csrf": csrf},
    )
    assert "已关闭" in client.get(closed.headers["location"]).text
    with services.sessions.begin() as session:
        row = session.get(Consultation, consultation_id)
        assert row is not None and row.status == "closed" and row.note == "何律师已回电解答"
