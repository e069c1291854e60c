"""Objections to an allocation during its notice period, through the real signed webhook, seen on the public
board and by the worker on duty; refused once the period has ended, when the allocation may take effect."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.services import Services
from handlers.board.objection import parse_objection
from handlers.board.services import BoardRefused, mark_effective
from handlers.clock import FixedClock
from storage import board as store
from tests.handlers.board.conftest import ADMIN, community, publish, talk, wecom_cards


def objections(services: Services) -> int:
    with services.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(store.Objection)) or 0


def test_an_objection_in_the_notice_period_is_counted_on_the_board_and_reaches_the_duty_worker(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    number = publish(services, clock)
    page = client.get("/board/heping")
    assert page.status_code == 200
    assert f"A{number} 小区健身器材更新" in page.text
    assert "公示中，还剩 7 天" in page.text

    clock.advance(timedelta(days=2))
    answer = talk(client, "openid-objector-1").say(f"异议 A{number} 器材放在3号楼窗户底下太吵了")
    assert "收到" in answer and f"A{number}" in answer and "转给社区工作人员" in answer
    # A second resident speaks without punctuation, in lower case, and gives the reason when asked.
    someone = talk(client, "openid-objector-2")
    asked = someone.speak(f"我对a{number}有异议")
    assert "理由" in asked and "记下" not in asked
    done = someone.say("钱应该先修电梯")
    assert "收到" in done
    assert objections(services) == 2

    page = client.get("/board/heping")
    assert 'class="objections">2<' in page.text
    assert "器材放在3号楼" not in page.text  # counted, never shown: the reasons may say who is writing
    cards = wecom_cards(services, prefix="objection:")
    assert [c.recipient for c in cards] == ["wangxiaoyan", "wangxiaoyan"]
    card = cards[0].payload["textcard"]
    assert f"A{number}" in card["title"] and "器材放在3号楼" in card["description"]
    assert card["url"] == f"https://shegong.example.cn/board/heping#A{number}"
    # Workers read the reasons through the office API, without who gave them.
    read = client.get(f"/api/board/heping/allocations/{number}/objections", headers=ADMIN).json()
    assert [o["reason"] for o in read] == ["器材放在3号楼窗户底下太吵了", "钱应该先修电梯"]

    # Once is enough: the same resident again is told so, and nothing more is kept or sent.
    again = talk(client, "openid-objector-1").say(f"异议 A{number} 还是太吵")
    assert "已经" in again and "提过" in again
    assert objections(services) == 2 and len(wecom_cards(services, prefix="objection:")) == 2

    # The worker cannot make it effective before the notice period ends.
    with services.sessions.begin() as session, pytest.raises(BoardRefused) as refused:
        mark_effective(session, community=community(session), allocation_id=number, now=clock())
    assert refused.value.reason == "notice_running" and "2 条异议" in refused.value.message

    clock.advance(timedelta(days=5, minutes=1))
    late = talk(client, "openid-objector-3").say(f"异议 A{number} 太贵了")
    assert "公示期已在" in late and "结束" in late and "收到" not in late
    assert objections(services) == 2
    with services.sessions.begin() as session:
        allocation = mark_effective(session, community=community(session), allocation_id=number, now=clock())
        assert allocation.status == "effective"
    assert "已生效" in client.get("/board/heping").text


def test_a_resident_who_changes_their_mind_keeps_nothing(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    number = publish(services, clock)
    someone = talk(client, "openid-undecided")
    assert "理由" in someone.say(f"异议A{number}")
    assert "不提了" in someone.say("算了")
    assert objections(services) == 0 and not wecom_cards(services, prefix="objection:")


def test_an_unknown_number_and_another_communitys_allocation_are_answered_plainly(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    with services.sessions.begin() as session:
        other = community(session, "xingfu")
    number = publish(services, clock)
    assert "没有找到" in talk(client, "openid-lost").say("异议 A999 不同意")
    # A resident of 幸福里 cannot object to 和平社区's allocation.
    assert "没有找到" in talk(client, "openid-xingfu", scene="102").say(f"异议 A{number} 不同意")
    assert objections(services) == 0
    assert other.code == "xingfu"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("异议 A5 理由", (5, "")),  # the word of the example itself: the reason is asked for
        ("异议 A5 钱花得不值", (5, "钱花得不值")),
        ("异议：a12，钱太多", (12, "钱太多")),
        ("我对A5有异议 理由是离楼太近", (5, "离楼太近")),
        ("异议A五", (5, "")),
        ("反对 A 3 号 不公平", (3, "不公平")),
        ("A7有意见", (7, "")),
        ("3号楼灯坏了", None),
        ("我有异议", None),
    ],
)
def test_the_command_in_residents_words(text: str, expected: tuple[int, str] | None) -> None:
    assert parse_objection(text) == expected


def test_an_objection_sent_while_asked_something_else_is_taken_and_the_question_waits(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    number = publish(services, clock)
    resident = talk(client, "openid-objector-busy")
    asked = resident.say("路灯坏了")
    assert "具体在哪里" in asked
    answer = resident.say(f"异议 A{number} 器材放在3号楼窗户底下太吵了")
    assert "收到" in answer and f"A{number}" in answer
    assert "还没办完" in answer  # the lamp's question still waits
    assert objections(services) == 1
    filed = resident.say("5号楼门口")
    assert "工单" in filed and "5号楼" in filed
