"""Proposals end to end: proposed by message, published on WeCom, supported once per household, on the
agenda at the threshold, the meeting scheduled through the API, the decision pushed to every supporter."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.services import Services
from storage import activities as arepo
from storage import ledger as lrepo
from storage import participation as store
from storage.tickets import Ticket
from tests.handlers.participation.conftest import ADMIN, cards_to, number_in, pushed_to, resident, worker


def ticket_count(services: Services) -> int:
    with services.sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_a_proposal_goes_from_a_message_to_a_decision_pushed_to_every_supporter(
    client: TestClient, services: Services
) -> None:
    a = resident(client, "openid-a", "我住3号楼2单元502")
    reply = a.say("我有个建议：小区里加几张乒乓球台")
    code = number_in(reply, "P")
    assert "乒乓球台" in reply and "记下" in reply
    assert ticket_count(services) == 0, "a proposal is not a repair ticket"
    assert any(f"P{code}" in title for title in cards_to(services, "wangxiaoyan"))

    # Not yet published: nobody can support it.
    b = resident(client, "openid-b")
    assert "没有找到可以附议" in b.say(f"附议 P{code}")

    assert "已发布" in worker(client).say(f"发布 P{code}")
    assert any("已经公布" in text for text in pushed_to(services, "openid-a"))

    # B has not said where they live: asked warmly, and the support counts once they answer.
    asked = b.say(f"附议 P{code}")
    assert "门牌号" in asked and "附议成功" not in asked
    answered = b.say("5号楼1单元101")
    assert "5号楼1单元101" in answered and "附议成功" in answered and "还差 1 户" in answered

    # C lives with A: one support per household, refused politely.
    c = resident(client, "openid-c", "3号楼2单元502")
    assert "附议成功" in c.say(f"我也支持{code}号建议")
    assert "已经附议过" in a.say(f"附议 P{code}")
    with services.sessions.begin() as session:
        proposal = store.proposal_by_id(session, proposal_id=code)
        assert proposal is not None and proposal.status == "on_agenda"
        assert store.support_count(session, proposal_id=code) == 2
    assert any("列入议程" in title for title in cards_to(services, "wangxiaoyan"))

    meeting = client.post(
        f"/api/proposals/{code}/meeting",
        headers=ADMIN,
        json={
            "worker": "zhangli",
            "start": "2026-12-20T14:00+08:00",
            "end": "2026-12-20T16:00+08:00",
            "place": "活动室",
        },
    )
    assert meeting.status_code == 201, meeting.text
    with services.sessions.begin() as session:
        proposal = store.proposal_by_id(session, proposal_id=code)
        assert proposal is not None and proposal.activity_id is not None
        activity = session.get(arepo.Activity, proposal.activity_id)
        assert activity is not None and activity.kind == "meeting"
    for openid in ("openid-a", "openid-b", "openid-c"):
        assert any("居民议事会" in text for text in pushed_to(services, openid)), openid

    assert "已记录" in worker(client).say(f"决定 P{code} 同意，12月底前在3号楼旁安装两张球台")
    for openid in ("openid-a", "openid-b", "openid-c"):
        decided = [text for text in pushed_to(services, openid) if "有结果了" in text]
        assert len(decided) == 1 and "安装两张球台" in decided[0], openid

    with services.sessions.begin() as session:
        entries = {e.reason for e in lrepo.entries_for(session)}
    assert f"提出建议 P{code}" in entries and f"附议建议 P{code}" in entries


def test_a_repair_suggestion_is_still_a_ticket(client: TestClient, services: Services) -> None:
    a = resident(client, "openid-a", "我住3号楼2单元502")
    assert "建议" not in a.say("建议你们把路灯修一下")
    assert ticket_count(services) == 1
    with services.sessions.begin() as session:
        assert store.list_proposals(session, community_id=None) == []


def test_voice_and_variants_become_proposals_and_a_change_of_mind_files_nothing(
    client: TestClient, services: Services
) -> None:
    a = resident(client, "openid-a", "我住3号楼2单元502")
    assert "P" in a.speak("我有个建议小区门口加个快递柜吧快递太多了没地方放")
    assert "P" in a.say("能不能在小区里多装几个长椅")
    # Announced, then thought better of it.
    assert "说说您的想法" in a.say("提个建议")
    assert "没关系" in a.say("算了")
    # Announced, then said.
    assert "说说您的想法" in a.say("我有个建议")
    assert "编号" in a.say("在小区里组织一次跳蚤市场")
    with services.sessions.begin() as session:
        texts = sorted(p.text for p in store.list_proposals(session, community_id=None))
    assert len(texts) == 3 and ticket_count(services) == 0
    assert "在小区里组织一次跳蚤市场" in texts


def test_a_refusal_reaches_the_proposer_with_its_reason_and_outsiders_cannot_act(
    client: TestClient, services: Services
) -> None:
    a = resident(client, "openid-a", "我住3号楼2单元502")
    code = number_in(a.say("建议小区里多种点桂花树"), "P")
    # 李建国 works for 幸福里: not his community's proposal.
    assert "无权处理" in worker(client, "lijianguo").say(f"发布 P{code}")
    assert "理由" in worker(client).say(f"不予采纳 P{code}")
    assert "已不予采纳" in worker(client).say(f"不予采纳 P{code} 绿化带下面有管线，不能种大树")
    refusal = [t for t in pushed_to(services, "openid-a") if "没有被采纳" in t]
    assert len(refusal) == 1 and "管线" in refusal[0]
    # Refused, so no points for proposing it.
    with services.sessions.begin() as session:
        assert not any("提出建议" in e.reason for e in lrepo.entries_for(session))
    again = client.post(f"/api/proposals/{code}/publish", headers=ADMIN, json={"worker": "zhangli"})
    assert again.status_code == 409


def test_a_worker_who_writes_a_proposal_command_wrong_is_shown_how(client: TestClient, services: Services) -> None:
    assert "不予采纳 P12 理由" in worker(client).say("发布 建议")
    assert "没有找到建议 P404" in worker(client).say("发布 404")
    assert "接单" in worker(client).say("你好")
