"""Bad input changes nothing and never answers 500: unknown codes, other people's tickets, wrong community."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from wechatpy.crypto import PrpCrypto

from bot.services import Services
from tests.support.fake_api import FakeApi
from tests.support.people import CORP_ID, WECOM_AES_KEY, WECOM_TOKEN, Resident
from tests.support.wechat import FakeWeChat, sign

from .conftest import ADMIN, worker
from .test_journey import actions, code_in, load


def test_resident_mistakes(client: TestClient, wechat: FakeWeChat, services: Services, resident: Resident) -> None:
    code = code_in(resident.say("3号楼东边的路灯坏了"))
    assert "没有找到工单 ZZZZZZ" in resident.say("查询 ZZZZZZ")
    stranger = Resident(client, wechat, "openid-stranger")
    stranger.join()
    refused = stranger.say(f"查询 {code}")
    assert "不是您反映的问题" in refused and "3号楼" not in refused
    assert "您还没有报修记录" in stranger.say("我的报修")
    assert "没有待评价" in stranger.say("4")
    assert "没有待评价" in resident.say("3")  # open, not resolved: nothing to rate
    assert load(services, code).rating is None
    assert actions(services, code) == ["created"]


def test_worker_mistakes_change_nothing(client: TestClient, services: Services, resident: Resident) -> None:
    code = code_in(resident.say("3号楼东边的路灯坏了"))
    outsider = worker(client, "lijianguo")  # duty worker of 幸福里社区, not 和平社区
    assert "不属于您所在的社区" in outsider.say(f"接单 {code}")
    assert "不属于您所在的社区" in outsider.say(f"办结 {code} 已处理")
    nobody = worker(client, "no-such-user")
    assert "不属于您所在的社区" in nobody.say(f"接单 {code}")
    zhangli = worker(client, "zhangli")
    assert "没有找到工单 ZZZZZZ" in zhangli.say("接单 ZZZZZZ")
    assert "不是本社区登记的工作人员" in zhangli.say(f"转派 {code} lijianguo")
    assert "进展说明" in zhangli.say(f"进展 {code}")
    assert "可用指令" in zhangli.say("你好")
    ticket = load(services, code)
    assert (ticket.status, ticket.assignee) == ("open", "zhangli")
    assert actions(services, code) == ["created"]

    assert "已转派给 物业电工班 刘师傅" in zhangli.say(f"转派 {code} liushifu 请换灯泡")
    assert load(services, code).assignee == "liushifu"
    assert "已办结" in worker(client, "liushifu").say(f"办结 {code} 已更换")
    assert "不能再接单" in zhangli.say(f"接单 {code}")
    assert actions(services, code) == ["created", "transferred", "resolved"]


def test_a_retried_wecom_message_acts_once(client: TestClient, services: Services, resident: Resident) -> None:
    code = code_in(resident.say("3号楼东边的路灯坏了"))
    zhangli = worker(client, "zhangli")
    zhangli.say(f"进展 {code} 已联系电工")
    zhangli.ids[0] -= 1  # WeCom retries with the same MsgId
    assert "已经处理过" in zhangli.say(f"进展 {code} 已联系电工")
    assert actions(services, code) == ["created", "progress"]


def test_api_needs_the_token(client: TestClient) -> None:
    assert client.get("/api/tickets").status_code == 401
    assert client.get("/api/tickets", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/tickets", headers={"Authorization": "Basic admin-token-for-tests"}).status_code == 401
    assert client.post("/api/tickets/ABCDEF/accept", json={"worker": "zhangli"}).status_code == 401


def test_api_lists_filters_and_acts_within_the_community(
    client: TestClient, services: Services, api: FakeApi, resident: Resident
) -> None:
    blue = code_in(resident.say("3号楼东边的路灯坏了"))
    red = code_in(resident.say("消防通道被私家车堵住了，在6号楼"))
    listed = client.get("/api/tickets", headers=ADMIN).json()["tickets"]
    assert {t["code"] for t in listed} == {blue, red}
    reds = client.get("/api/tickets", params={"colour": "red"}, headers=ADMIN).json()["tickets"]
    assert [(t["code"], t["assignee"], t["building"]) for t in reds] == [(red, "chengang", "6")]
    assert client.get("/api/tickets", params={"building": "3"}, headers=ADMIN).json()["tickets"][0]["code"] == blue
    assert client.get("/api/tickets", params={"overdue": "true"}, headers=ADMIN).json()["tickets"] == []
    assert client.get("/api/tickets", params={"community": "nowhere"}, headers=ADMIN).status_code == 404
    assert client.get("/api/tickets", params={"colour": "purple"}, headers=ADMIN).status_code == 422

    assert client.get("/api/tickets/ZZZZZZ", headers=ADMIN).status_code == 404
    outside = client.post(f"/api/tickets/{red}/accept", headers=ADMIN, json={"worker": "lijianguo"})
    assert outside.status_code == 403 and "不属于" in outside.json()["message"]
    assert client.post(f"/api/tickets/{red}/explode", headers=ADMIN, json={"worker": "chengang"}).status_code == 422
    accepted = client.post(f"/api/tickets/{red}/accept", headers=ADMIN, json={"worker": "chengang"})
    assert accepted.status_code == 200 and accepted.json()["ticket"]["status"] == "accepted"
    moved = client.post(f"/api/tickets/{red}/transfer", headers=ADMIN, json={"worker": "chengang", "to": "zhoushuji"})
    assert moved.status_code == 200
    events = client.get(f"/api/tickets/{red}", headers=ADMIN).json()["events"]
    assert [(e["actor"], e["action"]) for e in events] == [
        (events[0]["actor"], "created"),
        ("api:chengang", "accepted"),
        ("api:chengang", "transferred"),
    ]
    # Red: the grid worker and the duty worker are alerted at once; the transfer alerts the new holder.
    from .conftest import drain, sent_cards

    drain(services)
    users = [user for user, title in sent_cards(api) if red in title]
    assert sorted(users) == ["chengang", "wangxiaoyan", "zhoushuji"]


def test_wecom_url_check_answers_the_decrypted_echostr(client: TestClient) -> None:
    import base64

    key = base64.b64decode(WECOM_AES_KEY + "=")
    echostr = PrpCrypto(key).encrypt("5927782489442352469", CORP_ID).decode()
    ts, nonce = str(int(time.time())), "n1"
    query = {
        "msg_signature": sign(WECOM_TOKEN, ts, nonce, echostr),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }
    response = client.get("/wecom?" + urlencode(query))
    assert response.status_code == 200 and response.text == "5927782489442352469"
    query["msg_signature"] = "0" * 40
    assert client.get("/wecom?" + urlencode(query)).status_code == 403
    query["msg_signature"] = sign(WECOM_TOKEN, ts, nonce, "garbage")
    query["echostr"] = "garbage"
    assert client.get("/wecom?" + urlencode(query)).status_code == 400


def test_wecom_posts_that_are_not_ours_are_refused(client: TestClient) -> None:
    ts = str(int(time.time()))
    body = b"<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>"
    assert client.post(f"/wecom?msg_signature=bad&timestamp={ts}&nonce=n", content=body).status_code == 403
    good = sign(WECOM_TOKEN, ts, "n", "abc")
    assert client.post(f"/wecom?msg_signature={good}&timestamp={ts}&nonce=n", content=body).status_code == 400
    assert client.post(f"/wecom?msg_signature={good}&timestamp=1&nonce=n", content=body).status_code == 403
    assert client.post(f"/wecom?msg_signature={good}&timestamp={ts}&nonce=n", content=b"<xml").status_code == 400
