"""Fixtures for ticket tests: the fake WeChat/WeCom API, the demo community file, and protocol helpers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
import xmltodict
from fastapi.testclient import TestClient
from wechatpy.work.crypto import WeChatCrypto

from bot.outbox import drain_once, make_senders
from bot.services import Services
from bot.settings import Settings
from handlers.communities import load_communities, parse_community_file
from storage.models import utcnow
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.fake_api import FakeApi
from tests.support.wechat import FakeWeChat

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "community.yaml"
CORP_ID = "ww-test-corp"
WECOM_TOKEN = "wecom-token-for-tests"
WECOM_AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


@pytest.fixture
def settings(db_url: str, tmp_path: Path, api: FakeApi) -> Settings:
    return make_settings(
        db_url,
        tmp_path,
        wechat_api_base=api.base,
        wecom_api_base=api.base,
        wecom_corp_id=CORP_ID,
        wecom_token=WECOM_TOKEN,
        wecom_aes_key=WECOM_AES_KEY,
        ticket_template_id="TPL-ticket-progress",
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = Services(settings)
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
    yield services
    services.close()


@pytest.fixture
def wechat() -> FakeWeChat:
    return FakeWeChat(TOKEN, APP_ID, AES_KEY)


@dataclass
class Resident:
    """A resident talking to the official account through the real webhook (safe mode)."""

    client: TestClient
    wechat: FakeWeChat
    openid: str

    def _post(self, xml: str) -> str:
        return self.wechat.exchange(self.client, xml)

    def say(self, text: str) -> str:
        return self._post(self.wechat.text(self.openid, text))

    def photo(self) -> str:
        return self._post(self.wechat.image(self.openid))

    def location(self, lat: float, lng: float) -> str:
        return self._post(self.wechat.location(self.openid, lat, lng))

    def join(self, scene: str = "101") -> str:
        return self._post(self.wechat.event(self.openid, "subscribe", f"qrscene_{scene}"))

    def click(self, key: str = "HELP") -> str:
        return self._post(self.wechat.event(self.openid, "CLICK", key))


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
            f"<Content><![CDATA[{text}]]></Content><MsgId>{self.ids[0]}</MsgId><AgentID>1000002</AgentID></xml>"
        )
        nonce, ts = "wecomnonce", str(int(time.time()))
        envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, ts))["xml"]
        query = urlencode({"msg_signature": envelope["MsgSignature"], "timestamp": ts, "nonce": nonce})
        body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt><AgentID>1000002</AgentID></xml>"
        response = self.client.post(f"/wecom?{query}", content=body.encode())
        assert response.status_code == 200, response.text
        reply = xmltodict.parse(response.text)["xml"]
        plain = crypto.decrypt_message(response.text, reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"])
        return str(xmltodict.parse(plain)["xml"]["Content"])


@pytest.fixture
def resident(client: TestClient, wechat: FakeWeChat) -> Resident:
    someone = Resident(client, wechat, "openid-resident-a")
    someone.join("101")
    return someone


def worker(client: TestClient, userid: str) -> Worker:
    return Worker(client, userid)


def drain(services: Services, *, now: object = None, rounds: int = 5) -> None:
    senders = make_senders(services)
    for _ in range(rounds):
        if not drain_once(services, senders, now=now or utcnow()):  # type: ignore[arg-type]
            break


def sent_cards(api: FakeApi) -> list[tuple[str, str]]:
    """(userid, title) of every WeCom app message the fake server accepted."""
    return [
        (c.body["touser"], c.body["textcard"]["title"])
        for c in api.sent("/cgi-bin/message/send")
        if "textcard" in c.body
    ]


def customs_to(api: FakeApi, openid: str) -> list[str]:
    return [c.body["text"]["content"] for c in api.sent("/cgi-bin/message/custom/send") if c.body["touser"] == openid]
