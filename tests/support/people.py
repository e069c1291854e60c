"""The people in end-to-end tests: a resident on WeChat and a worker on WeCom, speaking the real protocols.

Every test that talks to the bot goes through these, so a conversation in a test is exactly what the
webhook and the WeCom callback see in production: signed, encrypted XML.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import xmltodict
from fastapi.testclient import TestClient
from wechatpy.work.crypto import WeChatCrypto

from tests.support.wechat import FakeWeChat

# The test WeCom app (the settings in tests point at these).
CORP_ID = "ww-test-corp"
WECOM_TOKEN = "wecom-token-for-tests"
WECOM_AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
AGENT_ID = "1000002"


@dataclass
class Resident:
    """A resident talking to the official account through the real webhook (safe mode)."""

    client: TestClient
    wechat: FakeWeChat
    openid: str

    def post(self, xml: str) -> str:
        return self.wechat.exchange(self.client, xml)

    def say(self, text: str, *, msg_id: int | None = None) -> str:
        return self.post(self.wechat.text(self.openid, text, msg_id=msg_id))

    def speak(self, recognition: str) -> str:
        """A voice message, as WeChat's speech recognition transcribed it."""
        return self.post(self.wechat.voice(self.openid, recognition))

    def photo(self) -> str:
        return self.post(self.wechat.image(self.openid))

    def location(self, lat: float, lng: float) -> str:
        return self.post(self.wechat.location(self.openid, lat, lng))

    def join(self, scene: str = "101") -> str:
        """Follow the account by scanning a community's QR code."""
        return self.post(self.wechat.event(self.openid, "subscribe", f"qrscene_{scene}"))

    def click(self, key: str = "HELP") -> str:
        return self.post(self.wechat.event(self.openid, "CLICK", key))


@dataclass
class Worker:
    """A community worker sending WeCom app messages to the /wecom callback, encrypted as WeCom does."""

    client: TestClient
    userid: str
    ids: list[int] = field(default_factory=lambda: [int(time.time() * 1000)])

    def say(self, text: str) -> str:
        crypto = WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, CORP_ID)
        self.ids[0] += 1
        xml = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{self.userid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{self.ids[0]}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
        )
        nonce, ts = "wecomnonce", str(int(time.time()))
        envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, ts))["xml"]
        query = urlencode({"msg_signature": envelope["MsgSignature"], "timestamp": ts, "nonce": nonce})
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt>"
            f"<AgentID>{AGENT_ID}</AgentID></xml>"
        )
        response = self.client.post(f"/wecom?{query}", content=body.encode())
        assert response.status_code == 200, response.text
        reply = xmltodict.parse(response.text)["xml"]
        plain = crypto.decrypt_message(response.text, reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"])
        return str(xmltodict.parse(plain)["xml"]["Content"])


def click_card(worker: Worker, *, task_id: str, key: str, response_code: str) -> str:
    """The worker presses a button on a template card: WeCom posts a `template_card_event` to /wecom,
    encrypted like any callback. The body of the callback's answer ("success" for a click)."""
    crypto = WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, CORP_ID)
    xml = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{worker.userid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
        f"<TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID></xml>"
    )
    nonce, ts = "wecomnonce", str(int(time.time()))
    envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, ts))["xml"]
    query = urlencode({"msg_signature": envelope["MsgSignature"], "timestamp": ts, "nonce": nonce})
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt>"
        f"<AgentID>{AGENT_ID}</AgentID></xml>"
    )
    response = worker.client.post(f"/wecom?{query}", content=body.encode())
    assert response.status_code == 200, response.text
    return response.text
