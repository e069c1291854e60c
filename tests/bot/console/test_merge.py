"""Merging a duplicate ticket into the one that handles the same problem, and splitting it back out, from
the ticket page and from WeCom: both residents hear the main ticket's progress and are asked to rate it."""

from __future__ import annotations

from urllib.parse import unquote_plus

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from storage import tickets as store
from storage.models import OutboxMessage
from tests.bot.console.conftest import log_in, report
from tests.support.people import Worker
from tests.support.wechat import FakeWeChat


def _ticket(services: Services, code: str) -> tuple[str, list[str]]:
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        assert ticket is not None
        return ticket.status, [r.openid for r in store.followers(session, ticket_id=ticket.id)]


def _told(services: Services, openid: str) -> list[str]:
    with services.sessions.begin() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == openid).order_by(OutboxMessage.id)
        ).all()
        return [str((row.payload.get("text") or {}).get("content", "")) for row in rows]


def test_a_duplicate_merged_from_the_ticket_page_hears_the_main_tickets_progress_and_can_be_split(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    main = report(client, wechat, "openid-merge-a", "1号楼门口路灯坏了")
    dup = report(client, wechat, "openid-merge-b", "2号楼门口路灯坏了")
    csrf = log_in(client, "zhangli")
    page = client.get(f"/console/tickets/{dup}")
    assert f'<option value="{main}">' in page.text  # offered as the same problem

    for target, refusal in ((dup, "不能合并到它自己"), ("ZZZZZZ", "没有找到本社区的工单 ZZZZZZ"), ("", "请")):
        answer = client.post(f"/console/tickets/{dup}/act", data={"action": "merge", "target": target, "csrf": csrf})
        assert answer.status_code == 303 and refusal in unquote_plus(answer.headers["location"])
    assert _ticket(services, dup)[0] == "open"

    answer = client.post(f"/console/tickets/{dup}/act", data={"action": "merge", "target": main, "csrf": csrf})
    assert f"已将工单 {dup} 合并到 {main}" in unquote_plus(answer.headers["location"])
    assert _ticket(services, dup)[0] == "merged"
    assert _ticket(services, main)[1] == ["openid-merge-a", "openid-merge-b"]
    assert any(f"已合并到工单 {main}" in text for text in _told(services, "openid-merge-b"))
    page = client.get(f"/console/tickets/{dup}").text
    assert "已合并到工单" in page and "拆分" in page
    assert f"工单 {dup} 并入" in client.get(f"/console/tickets/{main}").text
    again = client.post(f"/console/tickets/{dup}/act", data={"action": "merge", "target": main, "csrf": csrf})
    assert "不能再" in unquote_plus(again.headers["location"])

    # Split: open again with its own deadline; its resident no longer follows the other ticket.
    answer = client.post(f"/console/tickets/{dup}/act", data={"action": "split", "csrf": csrf})
    assert "拆分出来单独处理" in unquote_plus(answer.headers["location"])
    assert _ticket(services, dup)[0] == "open"
    assert _ticket(services, main)[1] == ["openid-merge-a"]
    assert any("不是同一件事" in text for text in _told(services, "openid-merge-b"))

    # Merged again, from WeCom this time; resolving the main ticket asks both residents to rate it.
    assert "合并到" in Worker(client, "zhangli").say(f"合并 {dup} {main}")
    Worker(client, "zhangli").say(f"办结 {main} 灯头换好了")
    for openid in ("openid-merge-a", "openid-merge-b"):
        assert any(main in text and "打分" in text for text in _told(services, openid)), openid


def test_a_ticket_of_another_grid_or_a_closed_one_cannot_be_merged_into(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    mine = report(client, wechat, "openid-merge-c", "1号楼门口路灯坏了")
    theirs = report(client, wechat, "openid-merge-d", "6号楼门口路灯坏了")  # 陈刚's grid
    done = report(client, wechat, "openid-merge-e", "2号楼门口路灯坏了")
    csrf = log_in(client, "zhangli")
    answer = client.post(f"/console/tickets/{mine}/act", data={"action": "merge", "target": theirs, "csrf": csrf})
    assert f"没有找到本社区的工单 {theirs}" in unquote_plus(answer.headers["location"])
    client.post(f"/console/tickets/{done}/act", data={"action": "resolve", "note": "修好了", "csrf": csrf})
    answer = client.post(f"/console/tickets/{mine}/act", data={"action": "merge", "target": done, "csrf": csrf})
    assert "不能再合并进去" in unquote_plus(answer.headers["location"])
    assert _ticket(services, mine)[0] == "open"
