"""Ticket cards as WeCom template cards with 接单 / 办结 buttons: a click through the real, encrypted WeCom
callback runs the action, and the cards change once each with the response_code kept in the database."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from storage import tickets as store
from storage.wecom_cards import WeComCard
from tests.support.fake_api import FakeApi
from tests.support.people import click_card
from tests.support.wechat import FakeWeChat

from .conftest import SEND, UPDATE, cards_to, code_in, customs_to, drain, resident, texts_to, worker


def status(services: Services, code: str) -> tuple[str | None, str]:
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        assert ticket is not None
        return ticket.assignee, ticket.status


def test_a_new_ticket_card_has_buttons_and_opens_the_ticket(
    client: TestClient, services: Services, api: FakeApi, wechat: FakeWeChat
) -> None:
    code = code_in(resident(client, wechat).say("3号楼东边的路灯坏了"))
    drain(services)
    [card] = cards_to(api, "zhangli")
    assert card["card_type"] == "button_interaction" and code in card["main_title"]["title"]
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [
        ("接单", f"accept:{code}"),
        ("办结", f"resolve:{code}"),
    ]
    assert card["card_action"]["url"].endswith(f"/console/tickets/{code}")
    assert len(card["task_id"]) <= 128 and card["task_id"] != cards_to(api, "liushifu")[0]["task_id"]
    assert len(card["main_title"]["title"]) <= 36 and len(card["sub_title_text"]) <= 112
    assert all(len(item["keyname"]) <= 5 for item in card["horizontal_content_list"])
    with services.sessions.begin() as session:
        rows = list(session.scalars(select(WeComCard).where(WeComCard.ticket_code == code)))
        assert {r.userid for r in rows} == {"zhangli", "liushifu"} and all(r.response_code for r in rows)


def test_accept_then_resolve_by_button_updates_every_card_once(
    client: TestClient, services: Services, api: FakeApi, wechat: FakeWeChat
) -> None:
    someone = resident(client, wechat)
    code = code_in(someone.say("3号楼东边的路灯坏了"))
    drain(services)
    [card] = cards_to(api, "zhangli")
    zhangli = worker(client, "zhangli")
    pressed = api.click_code()
    assert click_card(zhangli, task_id=card["task_id"], key=f"accept:{code}", response_code=pressed) == "success"
    assert status(services, code) == ("zhangli", "accepted")
    # WeCom retrying the same click changes nothing more.
    click_card(zhangli, task_id=card["task_id"], key=f"accept:{code}", response_code=pressed)
    drain(services)
    assert any("已接单" in t and code in t for t in texts_to(api, "zhangli"))
    assert len([t for t in customs_to(api, someone.openid) if "已有工作人员接单" in t]) == 1
    updates = {c.body["userids"][0]: c.body for c in api.deliveries(UPDATE)}
    # Her card keeps only 办结; the lighting team's says who took it.
    assert [b["text"] for b in updates["zhangli"]["template_card"]["button_list"]] == ["办结"]
    assert updates["liushifu"]["button"]["replace_name"] == "张丽已接单"
    assert len(api.sent(UPDATE)) == 2 and all(c.delivered for c in api.sent(UPDATE))

    resolved = api.click_code()
    click_card(zhangli, task_id=card["task_id"], key=f"resolve:{code}", response_code=resolved)
    drain(services)
    assert status(services, code)[1] == "resolved"
    last = api.sent(UPDATE)[-1].body
    assert last["response_code"] == resolved and last["button"]["replace_name"] == "已办结"
    # Every code was used once, and none twice.
    assert len(api.sent(UPDATE)) == 3 and all(c.delivered for c in api.sent(UPDATE))


def test_a_second_worker_pressing_accept_is_told_who_holds_it(
    client: TestClient, services: Services, api: FakeApi, wechat: FakeWeChat
) -> None:
    someone = resident(client, wechat)
    code = code_in(someone.say("3号楼东边的路灯坏了"))
    drain(services)
    assert "已接单" in worker(client, "zhangli").say(f"接单 {code}")
    [card] = cards_to(api, "liushifu")
    click_card(
        worker(client, "liushifu"), task_id=card["task_id"], key=f"accept:{code}", response_code=api.click_code()
    )
    drain(services)
    assert status(services, code) == ("zhangli", "accepted")
    assert any("已由 张丽 接单" in t for t in texts_to(api, "liushifu"))
    assert len([t for t in customs_to(api, someone.openid) if "已有工作人员接单" in t]) == 1
    assert [c.body["button"]["replace_name"] for c in api.deliveries(UPDATE) if c.body["userids"] == ["liushifu"]] == [
        "张丽已接单",
        "张丽已接单",
    ]


def test_an_expired_response_code_is_not_used_and_a_strange_button_changes_nothing(
    client: TestClient, services: Services, api: FakeApi, wechat: FakeWeChat
) -> None:
    code = code_in(resident(client, wechat).say("3号楼东边的路灯坏了"))
    drain(services)
    with services.sessions.begin() as session:
        for row in session.scalars(select(WeComCard)):
            row.code_expires_at = row.created_at  # 72 hours have passed
    [card] = cards_to(api, "zhangli")
    zhangli = worker(client, "zhangli")
    click_card(zhangli, task_id=card["task_id"], key=f"delete:{code}", response_code=api.click_code())
    assert status(services, code) == ("zhangli", "open")
    assert "已接单" in zhangli.say(f"接单 {code}")
    drain(services)
    assert api.sent(UPDATE) == []
    assert len(api.sent(SEND)) >= 2


def test_an_escalation_card_names_the_holder_and_offers_transfer_by_name(
    client: TestClient, services: Services, api: FakeApi, wechat: FakeWeChat
) -> None:
    from datetime import timedelta

    from bot.outbox import drain_once, make_senders
    from bot.scheduler import run_sla_check
    from tests.support.fake_api import card_text

    code = code_in(resident(client, wechat).say("3号楼东边的路灯坏了"))
    assert "已接单" in worker(client, "zhangli").say(f"接单 {code}")
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        assert ticket is not None
        due = ticket.due_at
    run_sla_check(services, now=due - timedelta(minutes=1))  # the reminder
    assert run_sla_check(services, now=due + timedelta(minutes=1)).escalated == 1
    senders = make_senders(services)
    while drain_once(services, senders, now=due + timedelta(minutes=2)):
        pass
    [card] = [c for c in api.deliveries(SEND) if c.body.get("touser") == "zhoushuji"]
    shown = card_text(card.body)
    assert "负责人 张丽" in shown and "zhangli" not in shown and "转派 工单号 姓名" in shown
