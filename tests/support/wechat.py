"""Builds requests the way WeChat's servers do, with wechatpy itself, for end-to-end tests."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from urllib.parse import urlencode

import xmltodict
from wechatpy.crypto import WeChatCrypto

_ids = count(7_000_000_000_000_000_001)
_nonces = count(1)


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


@dataclass
class FakeWeChat:
    token: str
    app_id: str
    aes_key: str
    account: str = "gh_shegong"
    nonce: str = "nonce123"
    sent: list[dict[str, Any]] = field(default_factory=list)

    def xml(self, sender: str, msg_type: str, body: str, *, create_time: int | None = None) -> str:
        created = create_time if create_time is not None else int(time.time())
        return (
            f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}</xml>"
        )

    def text(self, sender: str, content: str, *, msg_id: int | None = None) -> str:
        msg_id = msg_id or next(_ids)
        return self.xml(sender, "text", f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>")

    def voice(self, sender: str, recognition: str, *, msg_id: int | None = None) -> str:
        msg_id = msg_id or next(_ids)
        return self.xml(
            sender,
            "voice",
            f"<MediaId><![CDATA[media1]]></MediaId><Format><![CDATA[amr]]></Format>"
            f"<Recognition><![CDATA[{recognition}]]></Recognition><MsgId>{msg_id}</MsgId>",
        )

    def image(self, sender: str, *, msg_id: int | None = None) -> str:
        msg_id = msg_id or next(_ids)
        return self.xml(
            sender,
            "image",
            f"<PicUrl><![CDATA[http://example.invalid/p.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId><MsgId>{msg_id}</MsgId>",
        )

    def location(self, sender: str, lat: float, lng: float, *, msg_id: int | None = None) -> str:
        msg_id = msg_id or next(_ids)
        return self.xml(
            sender,
            "location",
            f"<Location_X>{lat}</Location_X><Location_Y>{lng}</Location_Y><Scale>15</Scale>"
            f"<Label><![CDATA[和平路1号]]></Label><MsgId>{msg_id}</MsgId>",
        )

    def event(self, sender: str, event: str, key: str | None = None, *, create_time: int | None = None) -> str:
        body = f"<Event><![CDATA[{event}]]></Event>"
        if key is not None:
            body += f"<EventKey><![CDATA[{key}]]></EventKey>"
        return self.xml(sender, "event", body, create_time=create_time)

    def request(self, xml: str, *, mode: str = "safe", timestamp: int | None = None) -> tuple[str, bytes]:
        """(path with query, body) for one of the three modes: plain, compatible, safe."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = f"{self.nonce}{next(_nonces)}"  # WeChat sends a fresh nonce with every callback
        query: dict[str, str] = {
            "signature": sign(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": "ignored",
        }
        if mode == "plain":
            return "/wechat?" + urlencode(query), xml.encode()
        crypto = WeChatCrypto(self.token, self.aes_key, self.app_id)
        envelope = crypto.encrypt_message(xml, nonce, ts)
        encrypted = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        query.update({"encrypt_type": "aes", "msg_signature": sign(self.token, ts, nonce, encrypted)})
        if mode == "compatible":
            inner = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
            return "/wechat?" + urlencode(query), inner.encode()
        body = (
            f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return "/wechat?" + urlencode(query), body.encode()

    def exchange(self, client: Any, xml: str, *, mode: str = "safe") -> str:
        """Post a message through the webhook and return the text of the reply ("" for none)."""
        path, body = self.request(xml, mode=mode)
        response = client.post(path, content=body)
        assert response.status_code == 200, response.text
        if response.text == "success":
            return ""
        reply = response.text
        if mode != "plain":
            reply = self.decrypt_reply(reply, timestamp=path.split("timestamp=")[1].split("&")[0])
        return str(xmltodict.parse(reply)["xml"].get("Content") or "")

    def decrypt_reply(self, body: str, *, timestamp: str, aes_key: str | None = None) -> str:
        crypto = WeChatCrypto(self.token, aes_key or self.aes_key, self.app_id)
        envelope = xmltodict.parse(body)["xml"]
        return str(crypto.decrypt_message(body, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]))
