"""The one module that speaks WeChat's callback protocol: signatures, AES, XML in and out.

wechatpy does the parsing and the cipher; the checks it does unsafely or not at all (constant-time
signature comparison, timestamp window, key rotation, fail-closed parsing) are done here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import secrets
import struct
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import xmltodict
from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.replies import ArticlesReply as WxArticlesReply
from wechatpy.replies import ImageReply as WxImageReply
from wechatpy.replies import TextReply as WxTextReply

from handlers.messages import EmptyReply, ImageReply, Inbound, NewsReply, Reply, TextReply


class BadSignature(Exception):
    """The request did not come from WeChat (or not with our token): answer 403."""


class BadMessage(Exception):
    """Signed, but unreadable: wrong key, corrupt ciphertext, malformed XML. Answer 400."""


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def timestamp_fresh(timestamp: str | None, *, window: int, now: float | None = None) -> bool:
    if not timestamp or len(timestamp) > 12:  # seconds since 1970 have 10 digits until the year 2286
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    return abs((now if now is not None else time.time()) - sent) <= window


def _decode_key(aes_key: str) -> bytes:
    key = base64.b64decode(aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


# The lengths of the inbound_message and resident columns these fields are stored in.
MAX_OPENID = 64
MAX_TYPE = 32
MAX_EVENT = 64

_DECRYPT_ERRORS = (struct.error, UnicodeDecodeError, ValueError, binascii.Error, InvalidAppIdException, IndexError)


@dataclass(frozen=True)
class Codec:
    """AES for one app id, accepting the current and the previous EncodingAESKey."""

    token: str
    app_id: str
    keys: tuple[bytes, ...]

    @classmethod
    def from_settings(cls, token: str, app_id: str, aes_key: str, previous_key: str = "") -> Codec | None:
        keys = tuple(_decode_key(k) for k in (aes_key, previous_key) if k)
        return cls(token, app_id, keys) if keys else None

    def decrypt(self, encrypted: str) -> tuple[str, int]:
        """(plaintext, index of the key that worked); BadMessage if none did."""
        for index, key in enumerate(self.keys):
            try:
                return PrpCrypto(key).decrypt(encrypted, self.app_id), index
            except _DECRYPT_ERRORS:
                continue
        raise BadMessage("ciphertext does not decrypt with any configured key")

    def encrypt(self, plaintext: str, *, key_index: int, nonce: str, timestamp: str) -> str:
        encrypted = PrpCrypto(self.keys[key_index]).encrypt(plaintext, self.app_id).decode()
        signature = sha1_signature(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )


def parse_envelope(body: bytes) -> dict[str, Any]:
    """The outer <xml> as a dict; entity declarations and malformed XML are BadMessage."""
    try:
        parsed = xmltodict.parse(body.decode("utf-8"), disable_entities=True)
    except Exception as exc:  # expat errors, entity refusal (ValueError), bad UTF-8
        raise BadMessage(f"malformed XML: {type(exc).__name__}") from exc
    xml = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(xml, dict):
        raise BadMessage("no <xml> root")
    return xml


def _float(value: Any) -> float | None:
    """A coordinate, or None for anything that is not a finite number ("nan", "1e400" would not store as JSON)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def to_inbound(xml_text: str) -> Inbound:
    """Parse decrypted message XML and map it to our typed Inbound."""
    return inbound_from_fields(parse_envelope(xml_text.encode("utf-8")))


def _as_wechatpy_reads(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as wechatpy's parse_message leaves them, failing where it fails, without parsing the
    XML a second time: a scan-to-subscribe becomes Event "subscribe_scan" with the scene as EventKey."""
    data = dict(fields)
    msg_type = data.get("MsgType")
    if not isinstance(msg_type, str):
        raise BadMessage("unreadable message: no MsgType")
    msg_type = msg_type.lower()
    if msg_type == "event" or msg_type.startswith("device_"):
        if "Event" in data and not isinstance(data["Event"], str):
            raise BadMessage("unreadable message: bad Event")
        event = data["Event"].lower() if "Event" in data else None
        key = data.get("EventKey")
        if event == "subscribe" and key:
            if not isinstance(key, str):
                raise BadMessage("unreadable message: bad EventKey")
            if key.startswith(("scanbarcode|", "scanimage|")):
                data["Event"] = "subscribe_scan_product"
            elif key.startswith("qrscene_"):
                data["Event"] = "subscribe_scan"
                data["EventKey"] = key.removeprefix("qrscene_")
    return data


def inbound_from_fields(fields: dict[str, Any]) -> Inbound:
    """Map the fields of a parsed message (parse_envelope's dict) to our typed Inbound."""
    data = _as_wechatpy_reads(fields)
    sender = str(data.get("FromUserName") or "")
    if not sender:
        raise BadMessage("no FromUserName")
    if len(sender) > MAX_OPENID:
        # OpenIDs are 28 characters; a longer one is not a resident we could store.
        raise BadMessage("FromUserName too long")
    try:
        created = datetime.fromtimestamp(int(data.get("CreateTime") or 0), UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadMessage("bad CreateTime") from exc
    # Clipped to their columns: PostgreSQL refuses longer values, and a refusal would answer 503
    # and have WeChat retry a message that can never be stored.
    raw_type = str(data.get("MsgType") or "unknown").lower()[:MAX_TYPE]
    msg_id = _msg_id(data.get("MsgId"))
    base = Inbound(sender=sender, kind="unknown", created_at=created, msg_id=msg_id, raw_type=raw_type)
    if raw_type == "text":
        return replace(base, kind="text", text=str(data.get("Content") or ""))
    if raw_type == "voice":
        return replace(base, kind="voice", text=str(data.get("Recognition") or ""), media_id=data.get("MediaId"))
    if raw_type == "image":
        return replace(base, kind="image", media_id=data.get("MediaId"), pic_url=data.get("PicUrl"))
    if raw_type == "location":
        return replace(
            base,
            kind="location",
            latitude=_float(data.get("Location_X")),
            longitude=_float(data.get("Location_Y")),
            label=data.get("Label"),
        )
    if raw_type == "event":
        event = str(data.get("Event") or "").lower()[:MAX_EVENT]
        key = data.get("EventKey")
        if event == "subscribe" and isinstance(key, str) and key.startswith("qrscene_"):
            event = "subscribe_scan"
        return replace(
            base,
            kind="event",
            event=event,
            event_key=str(key) if key is not None else None,
            latitude=_float(data.get("Latitude")),
            longitude=_float(data.get("Longitude")),
        )
    return base


def _msg_id(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    # MsgId is a 64-bit number; anything else is not one we can key on.
    return number if 0 < number < 2**63 else None


def render_reply(reply: Reply, *, to_user: str, from_user: str) -> str | None:
    """The reply XML, or None for "nothing to say" (the webhook answers 'success')."""
    common = {"source": from_user, "target": to_user, "time": int(time.time())}
    if isinstance(reply, TextReply):
        if not reply.text:
            return None
        return str(WxTextReply(content=reply.text, **common).render())
    if isinstance(reply, ImageReply):
        return str(WxImageReply(media_id=reply.media_id, **common).render())
    if isinstance(reply, NewsReply):
        news = WxArticlesReply(**common)
        for article in reply.articles[:8]:
            news.add_article(
                {"title": article.title, "description": article.description, "url": article.url, "image": article.image}
            )
        return str(news.render())
    if isinstance(reply, EmptyReply):
        return None
    raise TypeError(f"unknown reply {reply!r}")


def new_nonce() -> str:
    return secrets.token_hex(8)
