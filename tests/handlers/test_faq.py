"""Questions answered from the knowledge base, through the real webhook and database."""

from __future__ import annotations

import pytest
import xmltodict
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.services import Services
from handlers.faq import LEGAL_NOTICE
from knowledge_base.entries import Entry
from knowledge_base.index import Hit, Signals
from storage import repositories as repo
from storage.consultations import Consultation
from storage.models import OutboxMessage
from tests.conftest import AES_KEY, APP_ID, TOKEN
from tests.support.wechat import FakeWeChat

WECHAT = FakeWeChat(TOKEN, APP_ID, AES_KEY)


def _community(services: Services) -> None:
    with services.sessions.begin() as session:
        repo.upsert_community(
            session,
            code="heping",
            name="和平社区",
            qr_scene="101",
            config={
                "duty": {"name": "王", "wecom_userid": "duty-wang"},
                "consultants": {"legal": [{"name": "李律师", "wecom_userid": "lawyer-li"}]},
            },
        )


def _say(client: TestClient, text: str, sender: str = "resident-1") -> str:
    path, body = WECHAT.request(WECHAT.text(sender, text), mode="plain")
    response = client.post(path, content=body)
    assert response.status_code == 200
    return response.text


def _count(services: Services, model: type, **where: object) -> int:
    with services.sessions.begin() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(session.scalar(query) or 0)


def test_a_clear_legal_question_is_answered_with_its_basis_and_the_notice(
    client: TestClient, services: Services
) -> None:
    _community(services)
    reply = _say(client, "收到短信说医保卡被冻结了，让我点链接解冻")
    assert "96110" in reply or "诈骗" in reply
    assert "依据" in reply
    assert LEGAL_NOTICE in reply


def test_a_psychological_question_gets_practical_steps(client: TestClient, services: Services) -> None:
    _community(services)
    reply = _say(client, "晚上躺下脑子里全是事情，两三点都睡不着")
    assert any(word in reply for word in ("睡眠", "失眠", "放松", "作息"))
    assert "12356" in reply


def test_asking_for_a_lawyer_creates_a_routed_consultation(client: TestClient, services: Services) -> None:
    _community(services)
    reply = _say(client, "我想找个律师咨询一下")
    assert "联系您" in reply
    assert _count(services, Consultation, domain="legal", assigned_to="lawyer-li") == 1
    assert _count(services, OutboxMessage, channel="wecom_app", recipient="lawyer-li") == 1


def test_a_crisis_is_answered_with_a_hotline_and_one_alert_despite_retries(
    client: TestClient, services: Services
) -> None:
    _community(services)
    xml = WECHAT.text("resident-2", "我真的不想活了", msg_id=424242)
    replies = []
    for _ in range(3):  # WeChat's three deliveries of one message
        path, body = WECHAT.request(xml, mode="plain")
        replies.append(client.post(path, content=body).text)
    contents = [xmltodict.parse(reply)["xml"]["Content"] for reply in replies]  # CreateTime may differ
    assert "12356" in contents[0]
    assert contents[0] == contents[1] == contents[2]
    assert _count(services, OutboxMessage, channel="wecom_app", recipient="duty-wang") == 1


def test_choosing_among_weak_matches_by_number(client: TestClient, services: Services) -> None:
    _community(services)
    reply = _say(client, "残疾证在哪里办", sender="resident-3")
    assert "回复序号" in reply
    answer = _say(client, "1", sender="resident-3")
    assert "残" in answer and "回复序号" not in answer


def test_an_unanswerable_legal_question_names_volunteer_lawyers_to_the_worker(
    client: TestClient, services: Services
) -> None:
    from handlers.privacy import encrypt_phone
    from storage.models import utcnow
    from storage.volunteers import register_volunteer

    with services.sessions.begin() as session:
        community = repo.upsert_community(
            session,
            code="xingfu",
            name="幸福里社区",
            qr_scene=None,
            config={"duty": {"name": "李", "wecom_userid": "duty-li"}},
        )
        lawyer = repo.get_or_create_resident(session, openid="lawyer-openid")
        lawyer.community_id = community.id
        session.flush()
        register_volunteer(
            session,
            resident_id=lawyer.id,
            community_id=community.id,
            name="张律师",
            phone_encrypted=encrypt_phone(services.settings.secret_key, "13800138000"),
            skills={"legal": "律师"},
            availability="周末",
            now=utcnow(),
        )
    reply = _say(client, "我想找律师问问", sender="resident-9")
    assert "联系您" in reply
    with services.sessions.begin() as session:
        card = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "duty-li")).one()
    description = card.payload["textcard"]["description"]
    assert "张律师（138****8000）" in description
    assert "13800138000" not in description


class _NearMiss:
    """A knowledge index whose best hit is psychological and only near: below "weak", above the floor."""

    def __init__(self, score: float) -> None:
        entry = Entry(id="psych-test-001", domain="psych", question="亲人走了以后总想哭", answer="1. 允许自己难过。")
        self.hit = Hit(entry, score, Signals(0.5, 0.5, 0.5, 1.0, 1.0, 0.2, 0.2, 1.0, 0.05))

    def search(self, query: str, k: int = 5, domain: str | None = None, community: str | None = None) -> list[Hit]:
        return [self.hit]


@pytest.mark.parametrize(("score", "guided"), [(0.2, True), (0.1, False)])
def test_distress_we_cannot_match_well_gets_guidance_and_a_person(
    client: TestClient, services: Services, score: float, guided: bool
) -> None:
    _community(services)
    services.__dict__["knowledge"] = _NearMiss(score)
    reply = _say(client, "家里老人走了以后我一直缓不过来", sender="resident-7")
    assert ("允许自己难过" in reply) is guided  # practical steps now, when the nearest entry is close enough
    assert "联系您" in reply  # and a person follows up either way
    assert "12356" in reply
    # Guidance given is not followed by "I could not answer that"; only an honest hand-over says so.
    assert ("一时答不好" in reply) is not guided
    assert _count(services, Consultation, domain="psych") == 1


@pytest.mark.parametrize("words", ["转人工", "转人工 我要找心理咨询师"])
def test_asking_for_a_person_is_not_told_the_question_was_too_hard(
    client: TestClient, services: Services, words: str
) -> None:
    _community(services)
    reply = _say(client, words, sender="resident-8")
    assert "联系您" in reply
    assert "一时答不好" not in reply
    assert "duty-wang" not in reply
    assert _count(services, Consultation) == 1


def test_a_question_in_traditional_characters_is_answered_like_its_simplified_form(
    client: TestClient, services: Services
) -> None:
    _community(services)
    traditional = _say(client, "收到簡訊說醫保卡被凍結了，讓我點連結解凍", sender="resident-10")
    assert "96110" in traditional or "诈骗" in traditional
    assert "依据" in traditional
