"""Volunteer sign-up by message, end to end through signed and encrypted WeChat XML."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.services import Services
from handlers.clock import FixedClock
from handlers.privacy import DecryptionError, decrypt_phone
from handlers.volunteering.signup import map_skills, normalize_mobile, parse_yes_no
from storage import volunteers as vrepo
from tests.handlers.volunteering.conftest import resident_id, talk


def test_signup_conversation_registers_an_encrypted_phone_and_skills(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    zhang = talk(client, "openid-zhang")
    assert "怎么称呼" in zhang.say("我想当志愿者")
    assert "手机号" in zhang.say("我叫张伟")
    assert "不对" in zhang.say("12345")
    assert "专长" in zhang.say("138 0013 8000")
    assert "有空" in zhang.say("我是律师，也会修电脑")
    assert "同意" in zhang.say("周末上午")
    done = zhang.say("同意")
    assert "登记好了" in done and "法律" in done

    with services.sessions.begin() as session:
        rid = resident_id(services, "openid-zhang")
        volunteer = vrepo.volunteer_for_resident(session, resident_id=rid)
        assert volunteer is not None and volunteer.consent and volunteer.community_id == community
        assert "13800138000" not in volunteer.phone_encrypted
        assert decrypt_phone(services.settings.secret_key, volunteer.phone_encrypted) == "13800138000"
        with pytest.raises(DecryptionError):
            decrypt_phone("another-key", volunteer.phone_encrypted)
        assert [v.id for v in vrepo.volunteers_with_skill(session, community_id=community, skill="legal")] == [
            volunteer.id
        ]
        assert vrepo.volunteers_with_skill(session, community_id=community, skill="computer")
        assert not vrepo.volunteers_with_skill(session, community_id=community, skill="medical")

    assert "已经是登记的志愿者" in zhang.say("我想当志愿者")


def test_no_consent_means_not_registered(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    li = talk(client, "openid-li")
    li.say("我想当志愿者")
    li.say("李阿姨")
    li.say("13912345678")
    li.say("没有")
    li.say("工作日下午")
    assert "没有保存" in li.say("不同意")
    with services.sessions.begin() as session:
        assert vrepo.volunteer_for_resident(session, resident_id=resident_id(services, "openid-li")) is None


def test_a_command_in_the_middle_of_the_form_pauses_it(
    client: TestClient, services: Services, community: int, clock: FixedClock
) -> None:
    wang = talk(client, "openid-wang")
    wang.say("我想当志愿者")
    answered = wang.say("积分")
    assert "积分" in answered and "报名还没填完" in answered
    # The form waits: the name is still the answer it asked for.
    assert "手机号" in wang.say("王强")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("12800138000", None),
        ("1380013800", None),
        ("010-12345678", None),
    ],
)
def test_mainland_mobile_numbers(text: str, expected: str | None) -> None:
    assert normalize_mobile(text) == expected


def test_free_text_maps_to_the_skill_vocabulary() -> None:
    assert set(map_skills("退休心理医生")) == {"psychological"}
    assert set(map_skills("我是电工，会修家电")) == {"electrical", "repair"}
    assert set(map_skills("小学老师")) == {"teaching"}
    assert set(map_skills("护士")) == {"medical"}
    assert map_skills("没有") == {}
    assert set(map_skills("会包饺子")) == {"other"}
    assert parse_yes_no("同意") is True and parse_yes_no("不同意") is False and parse_yes_no("随便") is None
