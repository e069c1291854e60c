"""End to end: signed WeChat XML in, encrypted WeCom commands, the fake API recording what went out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.scheduler import run_sla_check
from bot.services import Services
from storage import tickets as store
from storage.models import OutboxMessage, utcnow
from storage.models import Resident as ResidentRow
from storage.tickets import Ticket
from tests.support.fake_api import FakeApi, card_text, card_title
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

from .conftest import ADMIN, customs_to, drain, sent_cards, worker

CODE = re.compile(r"工单号? ?([2-9A-HJKMNP-Z]{6})")


def code_in(reply: str) -> str:
    match = CODE.search(reply)
    assert match, reply
    return match.group(1)


def load(services: Services, code: str) -> Ticket:
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        assert ticket is not None
        return ticket


def actions(services: Services, code: str) -> list[str]:
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        assert ticket is not None
        return [e.action for e in store.events_for(session, ticket_id=ticket.id)]


def photos_to(api: FakeApi, userid: str) -> list[tuple[str, str]]:
    """(ticket code in the title, picture URL) of every WeCom picture message sent to `userid`."""
    return [
        (c.body["news"]["articles"][0]["title"].split()[1], c.body["news"]["articles"][0]["picurl"])
        for c in api.sent("/cgi-bin/message/send")
        if c.body["touser"] == userid and "news" in c.body
    ]


def test_report_alert_accept_progress_resolve_and_rate(
    client: TestClient, services: Services, api: FakeApi, resident: Resident
) -> None:
    reply = resident.say("3号楼东边的路灯坏了一个星期了")
    code = code_in(reply)
    assert "蓝色·照明" in reply and "3号楼" in reply and "前处理回复" in reply
    assert code in resident.photo()

    drain(services)
    cards = [c for c in api.sent("/cgi-bin/message/send") if "template_card" in c.body]
    assert sorted(c.body["touser"] for c in cards) == ["liushifu", "zhangli"]  # grid worker and lighting team
    # The photo sent after the report goes to whoever holds the ticket, as a picture they can open.
    assert photos_to(api, "zhangli") == [(code, "http://example.invalid/p.jpg")]
    title, shown = card_title(cards[0].body) or "", card_text(cards[0].body)
    assert code in title and "照明" in title
    assert "3号楼东边的路灯坏了一个星期了" in shown and "未登记" in shown

    zhangli = worker(client, "zhangli")
    assert "已接单" in zhangli.say(f"接单 {code}")
    assert "已记录进展" in zhangli.say(f"进展 {code} 已联系电工")
    drain(services)
    told = customs_to(api, resident.openid)
    assert any("接单" in text for text in told) and any("已联系电工" in text for text in told)

    status = resident.say(f"查询 {code}")
    assert "处理中" in status and "已联系电工" in status
    assert code in resident.say("修了吗")
    assert code in resident.say("我的报修")

    assert "已办结" in zhangli.say(f"办结 {code} 已更换灯泡")
    drain(services)
    assert any("已更换灯泡" in text and "1-5" in text for text in customs_to(api, resident.openid))

    assert "1 到 5" in resident.say("9")
    assert load(services, code).status == "resolved"
    assert "谢谢" in resident.say("5")
    done = load(services, code)
    assert (done.status, done.rating) == ("closed", 5)
    assert actions(services, code) == ["created", "photo", "accepted", "progress", "resolved", "rated"]

    detail = client.get(f"/api/tickets/{code}", headers=ADMIN).json()
    assert detail["status"] == "closed" and detail["events"][2]["actor"] == "worker:zhangli"


def test_low_rating_reopens_and_asks_the_worker_to_call_back(
    client: TestClient, services: Services, api: FakeApi, resident: Resident
) -> None:
    code = code_in(resident.say("2号楼电梯坏了，老人上不去"))
    assert load(services, code).colour == "yellow"
    response = client.post(
        f"/api/tickets/{code}/resolve", headers=ADMIN, json={"worker": "zhangli", "note": "已通知维保"}
    )
    assert response.status_code == 200 and response.json()["ticket"]["status"] == "resolved"
    reply = resident.say("2")
    assert "重新打开" in reply
    assert load(services, code).status == "reopened"
    drain(services)
    assert ("zhangli", f"【回访】工单 {code} 居民评价 2 分") in sent_cards(api)


def test_the_bot_asks_once_for_the_place_and_takes_a_location_message(
    services: Services, api: FakeApi, resident: Resident
) -> None:
    asked = resident.say("路灯坏了好几天了")
    assert "具体在哪里" in asked
    assert "照片收到了" in resident.photo()
    code = code_in(resident.location(39.91, 116.40))
    ticket = load(services, code)
    assert ticket.place == "和平路1号" and ticket.latitude == 39.91
    assert ticket.assignee == "wangxiaoyan"  # no building: the duty worker
    assert actions(services, code) == ["created", "photo"]
    drain(services)
    assert photos_to(api, "wangxiaoyan") == [(code, "http://example.invalid/p.jpg")]


def test_a_plain_answer_is_the_place_and_a_saved_address_is_used(
    client: TestClient, wechat: FakeWeChat, services: Services
) -> None:
    asker = Resident(client, wechat, "openid-asker")
    asker.join()
    assert "具体在哪里" in asker.say("路灯坏了好几天了")
    code = code_in(asker.say("小区北门"))
    assert load(services, code).place == "小区北门"

    settled = Resident(client, wechat, "openid-settled")
    settled.join()
    assert "5号楼2单元" in settled.say("我住5栋2单元")
    code = code_in(settled.say("楼道的灯不亮了"))
    ticket = load(services, code)
    assert (ticket.building, ticket.unit, ticket.assignee) == ("5", "2", "chengang")


def test_a_second_report_joins_the_open_ticket_and_hears_its_updates(
    client: TestClient, wechat: FakeWeChat, services: Services, api: FakeApi, resident: Resident
) -> None:
    code = code_in(resident.say("3号楼东边的路灯坏了"))
    neighbour = Resident(client, wechat, "openid-neighbour")
    neighbour.join()
    joined = neighbour.say("3号楼的路灯又不亮了")
    assert code in joined and "“3号楼东边的路灯坏了”" in joined and "已登记" in joined
    drain(services)
    # One ticket, one set of alerts, and the holder hears who joined and what they added.
    assert sent_cards(api)[-1] == ("zhangli", f"工单 {code} 又有居民反映")
    added = api.sent("/cgi-bin/message/send")[-1].body["textcard"]["description"]
    assert "3号楼的路灯又不亮了" in added and "第 2 位" in added
    worker(client, "zhangli").say(f"进展 {code} 电工明天上午来")
    drain(services)
    assert any("电工明天上午来" in t for t in customs_to(api, resident.openid))
    assert any("电工明天上午来" in t for t in customs_to(api, neighbour.openid))
    assert code in neighbour.say(f"查询 {code}")
    assert actions(services, code) == ["created", "joined", "progress"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("3号楼东边的路灯坏了", "3号楼1单元楼道灯不亮"),
        ("2号楼楼道灯坏了", "2号楼门口的路灯也坏了"),
        ("3号楼1单元电梯坏了", "3号楼2单元电梯也坏了"),
        ("4号楼消防通道被车堵了", "4号楼楼道里有人给电瓶车充电"),
        ("3号楼东边路灯坏了", "3号楼西边路灯不亮"),
    ],
)
def test_another_problem_at_the_same_building_is_its_own_ticket(
    client: TestClient, wechat: FakeWeChat, services: Services, resident: Resident, first: str, second: str
) -> None:
    code = code_in(resident.say(first))
    neighbour = Resident(client, wechat, "openid-neighbour")
    neighbour.join()
    reply = neighbour.say(second)
    assert code not in reply and "已登记" in reply
    assert code_in(reply) != code


def test_the_same_problem_in_other_words_joins_and_says_what_and_when(
    client: TestClient, wechat: FakeWeChat, services: Services, resident: Resident
) -> None:
    code = code_in(resident.say("6号楼地下室漏水"))
    neighbour = Resident(client, wechat, "openid-neighbour")
    neighbour.join()
    reply = neighbour.say("6号楼地下室的水越来越多了 都漫到车库了")
    assert code in reply and "“6号楼地下室漏水”" in reply and "月" in reply and "不是同一个" in reply
    assert actions(services, code) == ["created", "joined"]


def test_saying_it_is_another_one_files_it_on_its_own(
    client: TestClient, wechat: FakeWeChat, services: Services, resident: Resident
) -> None:
    code = code_in(resident.say("3号楼东边路灯坏了"))
    neighbour = Resident(client, wechat, "openid-neighbour")
    neighbour.join()
    assert code in neighbour.say("3号楼东边又有个路灯不亮")
    reply = neighbour.say("不是一个 我说的是车棚边上那根")
    own = code_in(reply)
    assert own != code and "单独登记" in reply
    assert actions(services, code) == ["created", "joined", "left"]
    with services.sessions.begin() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == own))
        assert ticket is not None and ticket.building == "3" and "车棚" in ticket.description
        followers = store.followers(session, ticket_id=load(services, code).id)
        assert [r.openid for r in followers] == [resident.openid]
    # Said again later, it is an ordinary message: nothing else is split off.
    assert code_in(neighbour.say(f"查询 {own}")) == own


def test_the_reporter_who_reports_again_can_say_it_is_another_one(services: Services, resident: Resident) -> None:
    code = code_in(resident.say("3号楼东边路灯坏了"))
    assert code in resident.say("3号楼东边又有个路灯不亮")
    own = code_in(resident.say("不是同一个 是车棚边上那根"))
    assert own != code
    assert actions(services, code) == ["created", "joined", "left"]
    assert actions(services, own) == ["created"]


def test_reminder_then_escalation_up_the_chain_once_per_level(
    services: Services, api: FakeApi, resident: Resident
) -> None:
    code = code_in(resident.say("3号楼东边的路灯坏了"))
    drain(services)
    first = load(services, code)
    assert first.remind_at < first.due_at

    remind_at = first.remind_at + timedelta(minutes=1)
    assert run_sla_check(services, now=remind_at).reminded == 1
    assert run_sla_check(services, now=remind_at).reminded == 0
    after_due = first.due_at + timedelta(minutes=1)
    assert run_sla_check(services, now=after_due).escalated == 1
    assert run_sla_check(services, now=after_due).escalated == 0
    second = load(services, code)
    assert second.escalation_level == 1 and second.due_at > after_due
    assert run_sla_check(services, now=second.due_at + timedelta(minutes=1)).escalated == 1
    third = load(services, code)
    report = run_sla_check(services, now=third.due_at + timedelta(minutes=1))
    assert report.escalated == 0 and load(services, code).chain_exhausted

    drain(services, now=third.due_at + timedelta(hours=1))
    titles = [(user, title) for user, title in sent_cards(api) if "新工单" not in title]
    assert titles == [
        ("zhangli", f"【提醒·蓝色】工单 {code} 将于 {_local(first.due_at)} 到期"),
        ("zhoushuji", f"【升级·蓝色】工单 {code} 逾期未办结"),
        ("heping-street", f"【升级·蓝色】工单 {code} 逾期未办结"),
    ]
    assert actions(services, code) == ["created", "reminded", "escalated", "escalated", "overdue"]


def _local(moment: object) -> str:
    from handlers.tickets.workdays import format_local

    return format_local(moment)  # type: ignore[arg-type]


def test_wecom_down_for_a_while_loses_no_alert_and_sends_none_twice(
    services: Services, api: FakeApi, resident: Resident
) -> None:
    api.down = True
    codes = [code_in(resident.say("3号楼东边的路灯坏了")), code_in(resident.say("6号楼门口垃圾没人清运，很臭"))]
    now = utcnow()
    drain(services, now=now)
    drain(services, now=now + timedelta(minutes=5))
    with services.sessions.begin() as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wecom_app")))
        assert rows and all(r.status == "pending" and r.attempts >= 1 for r in rows)
    api.down = False
    before = len(api.calls)
    drain(services, now=now + timedelta(hours=2))
    drain(services, now=now + timedelta(hours=3))
    delivered = [
        (c.body["touser"], card_title(c.body)) for c in api.calls[before:] if c.path == "/cgi-bin/message/send"
    ]
    assert len(delivered) == len(set(delivered)) == 3  # lighting: grid worker + team; sanitation: grid worker
    assert {user for user, _ in delivered} == {"zhangli", "liushifu", "chengang"}
    assert all(any(code in title for code in codes) for _, title in delivered)
    with services.sessions.begin() as session:
        assert all(r.status == "sent" for r in session.scalars(select(OutboxMessage)))


def age_last_message(services: Services, openid: str, age: timedelta) -> None:
    """Pretend the resident's last message was sent `age` ago."""
    with services.sessions.begin() as session:
        row = session.scalar(select(ResidentRow).where(ResidentRow.openid == openid))
        assert row is not None
        row.last_inbound_at = utcnow() - age


def test_a_closed_window_gets_a_template_message(
    client: TestClient, services: Services, api: FakeApi, resident: Resident
) -> None:
    code = code_in(resident.say("3号楼东边的路灯坏了"))
    age_last_message(services, resident.openid, timedelta(days=3))
    worker(client, "zhangli").say(f"接单 {code}")
    drain(services)
    templates = api.sent("/cgi-bin/message/template/send")
    assert len(templates) == 1 and templates[0].body["template_id"] == "TPL-ticket-progress"
    assert templates[0].body["data"]["keyword1"]["value"] == code
    assert customs_to(api, resident.openid) == []


@pytest.mark.parametrize("clicked", [timedelta(hours=1), timedelta(seconds=10)])
def test_a_recent_menu_click_does_not_reopen_a_closed_window(
    client: TestClient, services: Services, api: FakeApi, resident: Resident, clicked: timedelta
) -> None:
    # A click opens only WeChat's 1 minute window: a ticket update sent as a customer-service message on
    # its strength would be refused with 45015 and the resident would never hear of it.
    code = code_in(resident.say("3号楼东边的路灯坏了"))
    age_last_message(services, resident.openid, timedelta(days=3))
    resident.click()
    with services.sessions.begin() as session:
        row = session.scalar(select(ResidentRow).where(ResidentRow.openid == resident.openid))
        assert row is not None and row.window_event_at is not None
        assert row.last_inbound_at is not None and utcnow() - row.last_inbound_at > timedelta(days=2)
        row.window_event_at = utcnow() - clicked
    worker(client, "zhangli").say(f"接单 {code}")
    drain(services)
    templates = api.sent("/cgi-bin/message/template/send")
    assert len(templates) == 1 and templates[0].body["data"]["keyword1"]["value"] == code
    assert customs_to(api, resident.openid) == []


def test_updates_past_the_fifth_message_in_the_window_go_by_template(
    client: TestClient, services: Services, api: FakeApi, resident: Resident
) -> None:
    # WeChat allows 5 customer-service messages per 48 h window; a sixth would be refused and lost.
    code = code_in(resident.say("3号楼东边的路灯坏了"))
    zhangli = worker(client, "zhangli")
    zhangli.say(f"接单 {code}")
    for step in range(5):
        zhangli.say(f"进展 {code} 第{step + 1}次进展")
    drain(services)
    told = customs_to(api, resident.openid)
    assert len(told) == 5 and "接单" in told[0]
    templates = api.sent("/cgi-bin/message/template/send")
    assert [t.body["data"]["keyword3"]["value"] for t in templates] == ["第5次进展"]
    with services.sessions.begin() as session:
        dead = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "dead")).all()
        assert dead == []


def test_a_report_from_a_resident_who_skipped_the_community_question_is_filed_after_asking_again(
    client: TestClient, wechat: FakeWeChat, services: Services
) -> None:
    newcomer = Resident(client, wechat, "openid-no-community")  # followed without a community's QR code
    assert "哪个社区" not in newcomer.say("你好")  # a greeting is answered; nothing needs the community yet
    again = newcomer.say("6号楼的消防通道被车堵住了")
    assert "登记报修要先知道您住在哪个社区" in again and "1. 和平社区" in again
    code = code_in(newcomer.say("1"))
    ticket = load(services, code)
    assert (ticket.building, ticket.colour) == ("6", "red")
    assert actions(services, code) == ["created"]
