"""知识库 in the console: a question the bot could not answer shows up grouped, becomes an entry in one
click, the preview shows the bot's answer, and once saved (and edited) the bot answers residents with it."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.services import Services
from storage.access import AuditEntry
from storage.knowledge import KnowledgeEntry
from tests.bot.console.conftest import log_in, resident
from tests.support.wechat import FakeWeChat

QUESTION = "社区的共享轮椅在哪里借"
HANDED_OVER = "我想找律师问问遗嘱怎么写才算数"


def test_an_unanswered_question_becomes_an_entry_the_bot_answers_with_and_an_edit_is_answered_too(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    # Two residents ask for a person about the same thing: one line, asked twice.
    for openid in ("openid-kb-1", "openid-kb-2"):
        assert "法律志愿者或工作人员" in resident(client, wechat, openid).say(HANDED_OVER)
    csrf = log_in(client, "wangxiaoyan")

    home = client.get("/console/kb")
    assert home.status_code == 200
    row = re.search(rf"<td>{HANDED_OVER}</td><td>(\d+)</td>.*?href=\"([^\"]+)\"", home.text, re.S)
    assert row, home.text
    assert row.group(1) == "2"  # the same question twice is one line
    new = client.get(row.group(2).replace("&amp;", "&"))
    assert f'value="{HANDED_OVER}"' in new.text and '<option value="legal" selected>' in new.text

    # The worker writes the entry residents keep needing; the bot answered the wheelchair question with a
    # neighbouring entry about disability aids before.

    answer = "共享轮椅在居委会一楼值班室，带上身份证登记就能借，一次最多借 7 天。"
    shown = client.post(
        "/console/kb/preview",
        data={"domain": "service", "question": QUESTION, "answer": answer},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer in shown.text and "12345" in shown.text  # the bot's own footer for public-service answers

    bad = client.post("/console/kb/save", data={"domain": "service", "question": QUESTION, "answer": "", "csrf": csrf})
    assert bad.status_code == 400 and "回答请写" in bad.text
    with services.sessions.begin() as session:
        before = session.scalar(select(func.count(KnowledgeEntry.id)).where(KnowledgeEntry.collection == "console"))
    assert before == 0

    saved = client.post(
        "/console/kb/save",
        data={
            "domain": "service",
            "question": QUESTION,
            "paraphrases": "轮椅去哪借\n借轮椅",
            "answer": answer,
            "csrf": csrf,
        },
    )
    assert saved.status_code == 303
    location = saved.headers["location"]
    assert "已新建" in unquote(location)
    services.live_knowledge.refresh()  # what every server's watcher does within SHEGONG_KB_CHECK_SECONDS
    assert "居委会一楼值班室" in resident(client, wechat, "openid-kb-3").say(QUESTION)

    entry_id = location.split("/console/kb/entry/console/")[1].split("?")[0]
    edited = answer.replace("一楼值班室", "二楼服务窗口")
    changed = client.post(
        "/console/kb/save",
        data={
            "entry_id": entry_id,
            "domain": "service",
            "question": QUESTION,
            "paraphrases": "借轮椅",
            "answer": edited,
            "csrf": csrf,
        },
    )
    assert changed.status_code == 303 and "已保存修改" in unquote(changed.headers["location"])
    services.live_knowledge.refresh()
    assert "二楼服务窗口" in resident(client, wechat, "openid-kb-4").say(QUESTION)
    with services.sessions.begin() as session:
        assert session.scalar(select(func.count(KnowledgeEntry.id)).where(KnowledgeEntry.collection == "console")) == 1

    found = client.get("/console/kb?q=共享轮椅")
    assert f"/console/kb/entry/console/{entry_id}" in found.text
    with services.sessions.begin() as session:
        audited = [r.path for r in session.scalars(select(AuditEntry).where(AuditEntry.actor == "console:wangxiaoyan"))]
    assert "/console/kb" in audited


def test_the_teams_entries_are_shown_not_edited_and_a_forged_token_saves_nothing(
    client: TestClient, services: Services
) -> None:
    csrf = log_in(client, "zhangli")
    with services.sessions.begin() as session:
        team = session.scalars(select(KnowledgeEntry).where(KnowledgeEntry.collection == "default")).first()
        assert team is not None
        team_id, team_question = team.entry_id, team.question
    page = client.get(f"/console/kb/entry/default/{team_id}")
    assert page.status_code == 200 and "团队审核的条目" in page.text and 'name="entry_id"' not in page.text
    refused = client.post(
        "/console/kb/save",
        data={"entry_id": team_id, "domain": "legal", "question": team_question, "answer": "改掉", "csrf": csrf},
    )
    assert refused.status_code == 404
    assert client.get("/console/kb/entry/default/no-such-entry").status_code == 404
    forged = client.post(
        "/console/kb/save", data={"domain": "service", "question": "测试问题", "answer": "测试回答", "csrf": "forged"}
    )
    assert forged.status_code == 403
    other = client.post(
        "/console/kb/save",
        data={"domain": "service", "question": "测试问题", "answer": "测试回答", "community": "xingfu", "csrf": csrf},
    )
    assert other.status_code == 400 and "只能为您负责的社区" in other.text
    with services.sessions.begin() as session:
        assert session.scalar(select(func.count(KnowledgeEntry.id)).where(KnowledgeEntry.collection == "console")) == 0


def test_questions_met_with_choices_are_listed_grouped_beside_the_hand_overs(
    client: TestClient, services: Services
) -> None:
    from storage.models import Community, InboundMessage, OutboundMessage, utcnow

    now = utcnow()
    with services.sessions.begin() as session:
        heping = session.scalar(select(Community.id).where(Community.code == "heping"))
        xingfu = session.scalar(select(Community.id).where(Community.code == "xingfu"))
        for n, (community, text) in enumerate(
            [(heping, "老房子过户要交什么税"), (heping, "老房子过户要交什么税"), (xingfu, "别的社区问的事")]
        ):
            inbound = InboundMessage(
                dedupe_key=f"m:choices-{n}",
                community_id=community,
                msg_type="text",
                content=text,
                created_time=now,
                received_at=now,
                status="replied",
            )
            session.add(inbound)
            session.flush()
            session.add(
                OutboundMessage(
                    community_id=community,
                    inbound_id=inbound.id,
                    channel="passive",
                    kind="text",
                    content="您是想问下面哪一个？回复序号就行：\n1. 房屋买卖要交哪些税",
                    created_at=now,
                )
            )
    log_in(client, "zhangli")
    page = client.get("/console/kb").text
    row = re.search(r"<td>老房子过户要交什么税</td><td>(\d+)</td>.*?<td>([^<]+)</td>\s*<td><a", page, re.S)
    assert row and row.group(1) == "2", page
    assert "没答准" in page and "别的社区问的事" not in page
