"""志愿者与能人库 and 积分 in the console: the skills register searched the way workers ask, a resident's
ledger reversed by click and reason, rewards restocked within bounds, and vouchers written off by code."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.services import Services
from handlers.privacy import encrypt_phone
from storage import ledger as lrepo
from storage.models import Community, Resident, utcnow
from storage.rewards import Reward, Voucher
from storage.volunteers import register_volunteer
from tests.bot.console.conftest import log_in, resident
from tests.support.wechat import FakeWeChat


def _someone(client: TestClient, services: Services, wechat: FakeWeChat, openid: str, name: str, building: str) -> int:
    resident(client, wechat, openid)
    with services.sessions.begin() as session:
        row = session.scalar(select(Resident).where(Resident.openid == openid))
        assert row is not None
        row.display_name, row.building, row.unit, row.room = name, building, "1", "101"
        return row.id


def _volunteer(services: Services, resident_id: int, name: str, skills: dict[str, str], community: str) -> None:
    with services.sessions.begin() as session:
        community_id = session.scalar(select(Community.id).where(Community.code == community))
        register_volunteer(
            session,
            resident_id=resident_id,
            community_id=community_id,
            name=name,
            phone_encrypted=encrypt_phone(services.settings.secret_key, "13700002222"),
            skills=skills,
            availability="周末上午",
            now=utcnow(),
        )


def _award(services: Services, resident_id: int, amount: int, reason: str) -> int:
    with services.sessions.begin() as session:
        community_id = session.scalar(select(Resident.community_id).where(Resident.id == resident_id))
        entry = lrepo.post_entry(
            session,
            resident_id=resident_id,
            community_id=community_id,
            unit="points",
            amount=amount,
            kind="award",
            reason=reason,
            now=utcnow(),
        )
        assert entry is not None
        return entry.id


def _balance(services: Services, resident_id: int) -> int:
    with services.sessions.begin() as session:
        return lrepo.balance(session, resident_id=resident_id)


def _follow(client: TestClient, response: object) -> str:
    location = response.headers["location"]  # type: ignore[attr-defined]
    return client.get(location).text


def test_the_skills_register_is_searched_by_what_volunteers_can_do(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    fixer = _someone(client, services, wechat, "openid-vol-1", "周师傅", "2")
    lawyer = _someone(client, services, wechat, "openid-vol-2", "钱律师", "6")
    _volunteer(services, fixer, "周师傅", {"computer": "会修电脑手机"}, "heping")
    _volunteer(services, lawyer, "钱律师", {"legal": "退休法官"}, "heping")
    outsider = _someone(client, services, wechat, "openid-vol-3", "孙阿姨", "1")
    _volunteer(services, outsider, "孙阿姨", {"caregiving": ""}, "xingfu")
    log_in(client, "zhangli")
    everyone = client.get("/console/volunteers").text
    assert "周师傅" in everyone and "钱律师" in everyone and "孙阿姨" not in everyone
    assert "137****2222" in everyone and "13700002222" not in everyone
    by_words = client.get("/console/volunteers?q=修电脑").text
    assert "周师傅" in by_words and "钱律师" not in by_words
    by_skill_name = client.get("/console/volunteers?q=法律").text
    assert "钱律师" in by_skill_name and "周师傅" not in by_skill_name
    by_skill = client.get("/console/volunteers?skill=legal").text
    assert "钱律师" in by_skill and "周师傅" not in by_skill
    assert "没有找到" in client.get("/console/volunteers?q=100%25").text


def test_a_points_entry_is_reversed_by_click_and_reason_and_a_voucher_is_written_off_once(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    elder = _someone(client, services, wechat, "openid-points", "王大爷", "3")
    _award(services, elder, 50, "社区议事会")
    mistaken = _award(services, elder, 30, "敬老院志愿服务")
    csrf = log_in(client, "zhangli")
    found = client.get("/console/points?find=王大爷").text
    assert "王大爷" in found and "80 分" in found
    page = client.get(f"/console/points/{elder}").text
    assert "敬老院志愿服务" in page and "冲正" in page

    no_reason = client.post(
        f"/console/points/{elder}/reverse", data={"entry_id": mistaken, "reason": " ", "csrf": csrf}
    )
    assert "请写明冲正的原因" in _follow(client, no_reason)
    assert _balance(services, elder) == 80
    done = client.post(
        f"/console/points/{elder}/reverse", data={"entry_id": mistaken, "reason": "当天没有到场", "csrf": csrf}
    )
    assert "已冲正：-30 分" in _follow(client, done)
    assert _balance(services, elder) == 50
    twice = client.post(f"/console/points/{elder}/reverse", data={"entry_id": mistaken, "reason": "再来", "csrf": csrf})
    assert "已经冲正过了" in _follow(client, twice)
    assert _balance(services, elder) == 50

    # The resident spends 20 on a canteen voucher through WeChat; its code is written off once, here.
    answer = resident(client, wechat, "openid-points").say("兑换 食堂券")
    match = re.search(r"兑换码：([A-Z0-9]+)", answer)
    assert match, answer
    code = match.group(1)
    with services.sessions.begin() as session:
        redemption = session.scalar(select(Voucher.entry_id).where(Voucher.code == code))
    refused = client.post(
        f"/console/points/{elder}/reverse", data={"entry_id": redemption, "reason": "退", "csrf": csrf}
    )
    assert "作废券" in _follow(client, refused)
    assert _balance(services, elder) == 30
    used = client.post("/console/vouchers/use", data={"code": code.lower(), "csrf": csrf})
    assert f"已核销 {code}：食堂券" in _follow(client, used)
    again = client.post("/console/vouchers/use", data={"code": code, "csrf": csrf})
    assert "已经核销过了" in _follow(client, again)
    unknown = client.post("/console/vouchers/use", data={"code": "NOPE42", "csrf": csrf})
    assert "没有这个券码" in _follow(client, unknown)

    # Another grid's resident is not there to look up.
    other = _someone(client, services, wechat, "openid-points-6", "陈奶奶", "6")
    assert client.get(f"/console/points/{other}").status_code == 404
    assert "没有找到“陈奶奶”" in client.get("/console/points?find=陈奶奶").text
    forged = client.post(f"/console/points/{other}/reverse", data={"entry_id": 1, "reason": "x", "csrf": csrf})
    assert forged.status_code == 404


def test_restocking_is_bounded_and_only_for_those_who_answer_for_the_community(
    client: TestClient, services: Services
) -> None:
    with services.sessions.begin() as session:
        reward = session.scalar(select(Reward).where(Reward.name == "食堂券"))
        assert reward is not None
        reward_id, stock = reward.id, reward.stock

    def current() -> int:
        with services.sessions.begin() as session:
            row = session.get(Reward, reward_id)
            assert row is not None
            return row.stock

    csrf = log_in(client, "zhangli")  # a grid worker: sees the stock, does not restock
    assert "食堂券" in client.get("/console/rewards").text
    assert client.post(f"/console/rewards/{reward_id}/stock", data={"by": "20", "csrf": csrf}).status_code == 403
    client.cookies.clear()
    csrf = log_in(client, "wangxiaoyan")
    assert client.post(f"/console/rewards/{reward_id}/stock", data={"by": "20", "csrf": "forged"}).status_code == 403
    added = client.post(f"/console/rewards/{reward_id}/stock", data={"by": "20", "csrf": csrf})
    assert f"食堂券：库存 {stock + 20}" in _follow(client, added)
    for absurd in ("99999", "0", "abc", "1e3", "--5", ""):
        answer = client.post(f"/console/rewards/{reward_id}/stock", data={"by": absurd, "csrf": csrf})
        assert "数量请填 1 到 1000" in _follow(client, answer), absurd
    too_many = client.post(f"/console/rewards/{reward_id}/stock", data={"by": f"-{stock + 21}", "csrf": csrf})
    assert "库存不够减" in _follow(client, too_many)
    assert current() == stock + 20
    off = client.post(f"/console/rewards/{reward_id}/stock", data={"by": "-5", "csrf": csrf})
    assert f"库存 {stock + 15}" in _follow(client, off)
