"""Ratings in residents' words, by every resident who followed the ticket, through the real webhook."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.services import Services
from handlers.tickets.status import score_in_words, score_of
from storage import tickets as store
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

from .conftest import worker
from .test_journey import code_in, load


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("3分", 3),
        ("3分吧", 3),
        ("五分 师傅辛苦了", 5),
        ("给他们打五分吧修得挺快的", 5),
        ("我要给上次修灯的师傅打个分 5分", 5),
        ("10分", 10),
        ("等了30分钟才来", None),
        ("打了5分钟电话没人接", None),
        ("3号楼路灯坏了", None),
    ],
)
def test_a_score_in_numbers(text: str, score: int | None) -> None:
    assert score_of(text) == score


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("还行", 3),
        ("一般般吧 来得有点慢", 3),
        ("不满意", 2),
        ("根本没修好 还在冒", 1),
        ("差评 修了跟没修一样", 1),
        ("满意满意", 5),
        ("3号楼楼道灯坏了好几盏 晚上上下楼只能摸黑 老人孩子都不方便 麻烦尽快来人看看", None),
    ],
)
def test_a_score_in_words(text: str, score: int | None) -> None:
    assert score_in_words(text) == score


def test_every_follower_may_rate_once(
    client: TestClient, services: Services, wechat: FakeWeChat, resident: Resident
) -> None:
    code = code_in(resident.say("3号楼东边的路灯坏了"))
    neighbour = Resident(client, wechat, "openid-resident-b")
    neighbour.join("101")
    assert code in neighbour.say("3号楼东边路灯不亮")
    worker(client, "zhangli").say(f"办结 {code} 已更换灯头")

    assert "4 分" in neighbour.say("挺好的")
    assert load(services, code).status == "closed"
    assert "5 分" in resident.say("5分")
    again = neighbour.say("5分")
    assert "没有待评价" in again
    with services.sessions.begin() as session:
        ticket = store.ticket_by_code(session, code=code)
        assert ticket is not None
        rated = [e.actor for e in store.events_for(session, ticket_id=ticket.id) if e.action == "rated"]
    assert len(rated) == 2 and len(set(rated)) == 2


def test_a_follower_who_says_it_is_not_fixed_reopens_the_ticket(
    client: TestClient, services: Services, wechat: FakeWeChat, resident: Resident
) -> None:
    code = code_in(resident.say("6号楼地下室漏水"))
    neighbour = Resident(client, wechat, "openid-resident-b")
    neighbour.join("101")
    neighbour.say("6号楼地下室又在漏水")
    worker(client, "chengang").say(f"办结 {code} 已处理")
    assert "5 分" in resident.say("满意")
    assert "重新打开" in neighbour.say("根本没修好 还在冒")
    assert load(services, code).status == "reopened"
