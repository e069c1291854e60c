"""The WeChat callback end to end: requests built and encrypted with wechatpy, posted through the app.

Protocol checks run on SQLite only (`quick_client`); anything about what gets stored, deduplicated or
queued runs on SQLite and PostgreSQL (`client`, `services`, `db_url`).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import xmltodict
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from bot import webhook
from bot.app import create_app
from bot.outbox import drain_once, make_senders
from bot.pipeline import retry_failed_messages
from bot.services import Services
from storage import repositories as repo
from storage.db import make_engine
from storage.models import Community, InboundMessage, OutboundMessage, OutboxMessage, Resident
from tests.conftest import AES_KEY, APP_ID, PREVIOUS_AES_KEY, TOKEN, make_settings
from tests.support.fake_api import fake_api
from tests.support.wechat import FakeWeChat, sign

MODES = ("plain", "compatible", "safe")
# Another valid 43-character key that the server does not know.
UNKNOWN_AES_KEY = "Zyxwvutsrqponmlkjihgfedcba9876543210ABCDEFG"


# --- helpers -----------------------------------------------------------------------------------------

pytestmark = pytest.mark.usefixtures("knowledge_index_built_once")


@pytest.fixture
def wechat() -> FakeWeChat:
    return FakeWeChat(TOKEN, APP_ID, AES_KEY)


@pytest.fixture
def quick_services(sqlite_url: str, tmp_path: Path) -> Iterator[Services]:
    services = Services(make_settings(sqlite_url, tmp_path))
    yield services
    services.close()


@pytest.fixture
def quick_client(quick_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(quick_services.settings, quick_services)) as test_client:
        yield test_client


def add_community(services: Services, code: str, name: str, scene: str, duty: str) -> None:
    with services.sessions.begin() as session:
        repo.upsert_community(
            session,
            code=code,
            name=name,
            qr_scene=scene,
            config={"gas_hotline": "96777", "duty": {"name": "值班员", "wecom_userid": duty}},
        )


def add_heping(services: Services) -> None:
    add_community(services, "heping", "和平社区", "101", "wangxiaoyan")


def add_xingfu(services: Services) -> None:
    add_community(services, "xingfu", "幸福里社区", "102", "lijianguo")


def count(services: Services, model: type[Any]) -> int:
    with services.sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def resident(services: Services, openid: str) -> Resident | None:
    with services.sessions.begin() as session:
        return repo.resident_by_openid(session, openid=openid)


def community_of(services: Services, openid: str) -> Community | None:
    with services.sessions.begin() as session:
        found = repo.resident_by_openid(session, openid=openid)
        return session.get(Community, found.community_id) if found and found.community_id else None


def query_of(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}


def post(client: TestClient, wechat: FakeWeChat, xml: str, mode: str, **kwargs: Any) -> Any:
    path, body = wechat.request(xml, mode=mode, **kwargs)
    return client.post(path, content=body)


def reply_of(wechat: FakeWeChat, response: Any, mode: str, *, aes_key: str | None = None) -> dict[str, Any] | None:
    """The reply message as a dict, decrypted in the encrypted modes; None for "success"."""
    assert response.status_code == 200, response.text
    if response.text in ("success", ""):
        return None
    assert response.headers["content-type"].startswith("application/xml")
    outer = xmltodict.parse(response.text)["xml"]
    if mode == "plain":
        assert "Encrypt" not in outer
        return dict(outer)
    # The encrypted modes answer with ciphertext only, signed with msg_signature.
    assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    plaintext = wechat.decrypt_reply(response.text, timestamp=outer["TimeStamp"], aes_key=aes_key)
    return dict(xmltodict.parse(plaintext)["xml"])


def reply_text(wechat: FakeWeChat, response: Any, mode: str = "safe") -> str | None:
    reply = reply_of(wechat, response, mode)
    return None if reply is None else str(reply["Content"])


def safe_request_with(encrypted: str, *, ts: str | None = None, account: str = "gh_shegong") -> tuple[str, bytes]:
    """A safe-mode request whose Encrypt is anything we like, with valid signature and msg_signature."""
    ts = ts or str(int(time.time()))
    query = {
        "signature": sign(TOKEN, ts, "nonce123"),
        "timestamp": ts,
        "nonce": "nonce123",
        "openid": "ignored",
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, ts, "nonce123", encrypted),
    }
    body = f"<xml><ToUserName><![CDATA[{account}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return "/wechat?" + urlencode(query), body.encode()


def encrypt_with(plaintext: str, *, aes_key: str = AES_KEY, app_id: str = APP_ID) -> str:
    return str(PrpCrypto(base64.b64decode(aes_key + "=")).encrypt(plaintext, app_id).decode())


def plain_request(body: bytes, *, ts: str | None = None, signature: str | None = None) -> tuple[str, bytes]:
    ts = ts or str(int(time.time()))
    query = {"signature": signature or sign(TOKEN, ts, "nonce123"), "timestamp": ts, "nonce": "nonce123"}
    return "/wechat?" + urlencode(query), body


def wait_until(condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# --- URL check -----------------------------------------------------------------------------------------


def _url_check(ts: int, echostr: str, *, token: str = TOKEN) -> str:
    query = {"signature": sign(token, str(ts), "n0nce"), "timestamp": str(ts), "nonce": "n0nce", "echostr": echostr}
    return "/wechat?" + urlencode(query)


@pytest.mark.parametrize("echostr", ["5927782489442352469", "a+b/c=d e&f", "回声"])
def test_url_check_answers_echostr_byte_for_byte_as_plain_text(quick_client: TestClient, echostr: str) -> None:
    response = quick_client.get(_url_check(int(time.time()), echostr))
    assert response.status_code == 200
    assert response.content == echostr.encode()
    assert response.headers["content-type"].startswith("text/plain")


def test_url_check_with_a_bad_signature_is_forbidden(quick_client: TestClient) -> None:
    response = quick_client.get(_url_check(int(time.time()), "12345", token="someone-elses-token"))
    assert response.status_code == 403
    assert "12345" not in response.text


@pytest.mark.parametrize("offset", [-360, 360])
def test_url_check_with_a_stale_timestamp_is_forbidden(quick_client: TestClient, offset: int) -> None:
    response = quick_client.get(_url_check(int(time.time()) + offset, "12345"))
    assert response.status_code == 403


# --- every message type in every mode ----------------------------------------------------------------

MessageCase = tuple[Callable[[FakeWeChat, str], str], str | None]

MESSAGES: dict[str, MessageCase] = {
    "text": (lambda w, u: w.text(u, "你好"), "有什么可以帮您"),
    "voice": (lambda w, u: w.voice(u, "帮助"), "我可以帮您"),
    "voice-unrecognised": (lambda w, u: w.voice(u, ""), "语音我没听清"),
    "image": (lambda w, u: w.image(u), "照片收到了"),
    "location": (lambda w, u: w.location(u, 39.9, 116.4), "位置收到了"),
    "subscribe": (lambda w, u: w.event(u, "subscribe"), "欢迎关注"),
    "subscribe-qrscene": (lambda w, u: w.event(u, "subscribe", "qrscene_101"), "欢迎关注"),
    "unsubscribe": (lambda w, u: w.event(u, "unsubscribe"), None),
    "click": (lambda w, u: w.event(u, "CLICK", "HELP"), "我可以帮您"),
    "scan": (lambda w, u: w.event(u, "SCAN", "101"), "已为您登记为和平社区的居民"),
    "shortvideo": (
        lambda w, u: w.xml(u, "shortvideo", "<MediaId><![CDATA[v1]]></MediaId><MsgId>42</MsgId>"),
        "这种消息我还看不懂",
    ),
    "unknown-type": (lambda w, u: w.xml(u, "hologram", "<MsgId>43</MsgId>"), "这种消息我还看不懂"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(MESSAGES))
def test_each_message_type_is_answered_in_the_mode_it_came_in(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat, mode: str, kind: str
) -> None:
    add_heping(quick_services)
    build, expected = MESSAGES[kind]
    response = post(quick_client, wechat, build(wechat, "openid-a"), mode)
    reply = reply_of(wechat, response, mode)
    if expected is None:
        assert reply is None
        assert response.text == "success"
    else:
        assert reply is not None
        assert reply["MsgType"] == "text"
        assert expected in reply["Content"]
        # Addressed back to the resident, from the account they wrote to.
        assert reply["ToUserName"] == "openid-a"
        assert reply["FromUserName"] == wechat.account
    assert count(quick_services, InboundMessage) == 1


@pytest.mark.parametrize("mode", ["compatible", "safe"])
def test_the_previous_aes_key_is_accepted_and_the_reply_uses_it(
    quick_client: TestClient, quick_services: Services, mode: str
) -> None:
    old = FakeWeChat(TOKEN, APP_ID, PREVIOUS_AES_KEY)
    response = post(quick_client, old, old.text("openid-a", "你好"), mode)
    reply = reply_of(old, response, mode, aes_key=PREVIOUS_AES_KEY)
    assert reply is not None and "有什么可以帮您" in reply["Content"]
    # The current key cannot read it: the reply went out under the key that decrypted the request.
    outer = xmltodict.parse(response.text)["xml"]
    with pytest.raises(Exception):  # noqa: B017 - wechatpy raises a bare Exception subclass or UnicodeDecodeError
        WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
            response.text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
        )


def test_a_message_under_an_unknown_key_is_refused(quick_client: TestClient, quick_services: Services) -> None:
    stranger = FakeWeChat(TOKEN, APP_ID, UNKNOWN_AES_KEY)
    response = post(quick_client, stranger, stranger.text("openid-a", "你好"), "safe")
    assert response.status_code == 400
    assert count(quick_services, InboundMessage) == 0


# --- requests that must be refused, leaving no trace ---------------------------------------------------


def _bad_signature(w: FakeWeChat) -> tuple[str, bytes]:
    path, body = w.request(w.text("openid-a", "你好"), mode="plain")
    return path.replace("signature=", "signature=0", 1), body


def _bad_signature_safe(w: FakeWeChat) -> tuple[str, bytes]:
    path, body = w.request(w.text("openid-a", "你好"), mode="safe")
    query = query_of(path)
    query["signature"] = sign("wrong-token", query["timestamp"], query["nonce"])
    return "/wechat?" + urlencode(query), body


def _bad_msg_signature(w: FakeWeChat) -> tuple[str, bytes]:
    path, body = w.request(w.text("openid-a", "你好"), mode="safe")
    query = query_of(path)
    query["msg_signature"] = sign(TOKEN, query["timestamp"], query["nonce"], "something else")
    return "/wechat?" + urlencode(query), body


def _no_signature(w: FakeWeChat) -> tuple[str, bytes]:
    return "/wechat?timestamp=" + str(int(time.time())), w.text("openid-a", "你好").encode()


def _stale(mode: str, offset: int) -> Callable[[FakeWeChat], tuple[str, bytes]]:
    return lambda w: w.request(w.text("openid-a", "你好"), mode=mode, timestamp=int(time.time()) + offset)


FORBIDDEN: dict[str, Callable[[FakeWeChat], tuple[str, bytes]]] = {
    "bad-signature": _bad_signature,
    "bad-signature-safe-mode": _bad_signature_safe,
    "bad-msg-signature": _bad_msg_signature,
    "no-signature": _no_signature,
    "stale-plain": _stale("plain", -360),
    "stale-safe": _stale("safe", -3600),
    "from-the-future": _stale("compatible", 360),
}


@pytest.mark.parametrize("case", list(FORBIDDEN))
def test_unsigned_or_stale_requests_are_forbidden_and_leave_nothing(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat, case: str
) -> None:
    path, body = FORBIDDEN[case](wechat)
    response = quick_client.post(path, content=body)
    assert response.status_code == 403
    assert count(quick_services, InboundMessage) == 0
    assert count(quick_services, Resident) == 0


def test_a_delivery_a_few_minutes_late_is_still_accepted(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat
) -> None:
    path, body = wechat.request(wechat.text("openid-a", "你好"), mode="safe", timestamp=int(time.time()) - 240)
    assert quick_client.post(path, content=body).status_code == 200
    assert count(quick_services, InboundMessage) == 1


ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    "<xml><ToUserName><![CDATA[gh_shegong]]></ToUserName><FromUserName><![CDATA[openid-a]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>&lol2;</Content>"
    "<MsgId>77</MsgId></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><FromUserName>openid-a</FromUserName><CreateTime>1700000000</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>78</MsgId></xml>"
)


def _random_ciphertext(size: int) -> Callable[[FakeWeChat], tuple[str, bytes]]:
    return lambda w: safe_request_with(base64.b64encode(os.urandom(size)).decode())


UNREADABLE: dict[str, Callable[[FakeWeChat], tuple[str, bytes]]] = {
    "malformed-xml": lambda w: plain_request(b"<xml><FromUserName>openid-a</FromUser"),
    "not-xml": lambda w: plain_request(b"hello"),
    "empty-body": lambda w: plain_request(b""),
    "wrong-root": lambda w: plain_request(b"<message><FromUserName>a</FromUserName></message>"),
    "not-utf8": lambda w: plain_request(w.text("openid-a", "你好").encode("gb18030")),
    "no-sender": lambda w: plain_request(b"<xml><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>"),
    "bad-create-time": lambda w: plain_request(
        b"<xml><FromUserName>a</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>"
    ),
    "huge-create-time": lambda w: plain_request(
        b"<xml><FromUserName>a</FromUserName><CreateTime>99999999999999999999</CreateTime><MsgType>text</MsgType></xml>"
    ),
    "entity-plain": lambda w: plain_request(ENTITY.encode()),
    "external-entity-plain": lambda w: plain_request(EXTERNAL_ENTITY.encode()),
    "entity-in-ciphertext": lambda w: safe_request_with(encrypt_with(ENTITY)),
    "entity-in-envelope": lambda w: (
        safe_request_with("x")[0],
        b'<!DOCTYPE xml [<!ENTITY e "x">]><xml><Encrypt>&e;</Encrypt></xml>',
    ),
    "malformed-xml-in-ciphertext": lambda w: safe_request_with(encrypt_with("<xml><FromUserName>a")),
    "ciphertext-random-32": _random_ciphertext(32),
    "ciphertext-random-64": _random_ciphertext(64),
    "ciphertext-not-a-block": _random_ciphertext(15),
    "ciphertext-empty-decode": lambda w: safe_request_with("!!!!"),
    "ciphertext-not-base64": lambda w: safe_request_with("a"),
    "ciphertext-wrong-app-id": lambda w: safe_request_with(
        encrypt_with(w.text("openid-a", "你好"), app_id="wx0000000000000000")
    ),
    "ciphertext-unknown-key": lambda w: safe_request_with(
        encrypt_with(w.text("openid-a", "你好"), aes_key=UNKNOWN_AES_KEY)
    ),
    "no-encrypt-element": lambda w: (
        safe_request_with("x")[0],
        b"<xml><ToUserName>gh_shegong</ToUserName></xml>",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_signed_but_unreadable_requests_are_bad_requests_and_leave_nothing(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat, case: str
) -> None:
    path, body = UNREADABLE[case](wechat)
    response = quick_client.post(path, content=body)
    assert response.status_code == 400, response.text
    assert count(quick_services, InboundMessage) == 0
    assert count(quick_services, Resident) == 0
    assert "root:" not in response.text


def test_a_body_over_64_kib_is_refused_before_anything_is_read(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat
) -> None:
    path, _ = wechat.request(wechat.text("openid-a", "x"), mode="plain")
    big = wechat.text("openid-a", "长" * 30_000).encode()  # 90,000 bytes of UTF-8
    assert len(big) > 64 * 1024
    response = quick_client.post(path, content=big)
    assert response.status_code == 413
    assert count(quick_services, InboundMessage) == 0


def test_a_chunked_body_over_64_kib_is_refused(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat
) -> None:
    path, _ = wechat.request(wechat.text("openid-a", "x"), mode="plain")

    def chunks() -> Iterator[bytes]:  # no content-length: the limit must hold while streaming
        yield b"<xml><Content><![CDATA["
        for _ in range(70):
            yield b"a" * 1024
        yield b"]]></Content></xml>"

    response = quick_client.post(path, content=chunks())
    assert response.status_code == 413
    assert count(quick_services, InboundMessage) == 0


def test_a_body_just_under_the_limit_is_accepted(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat
) -> None:
    # Padded with an element the bot ignores, so the size and not the text is under test.
    xml = wechat.text("openid-a", "你好")
    xml = xml.replace("</xml>", "<Padding></Padding></xml>")
    xml = xml.replace("<Padding>", "<Padding>" + "a" * (64 * 1024 - len(xml.encode())))
    assert len(xml.encode()) == 64 * 1024
    path, body = wechat.request(xml, mode="plain")
    assert quick_client.post(path, content=body).status_code == 200
    assert count(quick_services, InboundMessage) == 1


# --- retries and deduplication (both backends) ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_three_deliveries_of_one_crisis_message_alert_once_and_reply_alike(
    client: TestClient, services: Services, wechat: FakeWeChat, mode: str
) -> None:
    add_heping(services)
    xml = wechat.text("openid-c", "我不想活了", msg_id=9_000_000_000_000_000_001)
    replies = [reply_text(wechat, post(client, wechat, xml, mode), mode) for _ in range(3)]
    assert replies[0] is not None and "12356" in replies[0]
    assert replies == [replies[0]] * 3
    assert count(services, InboundMessage) == 1
    assert count(services, OutboundMessage) == 1
    with services.sessions.begin() as session:
        alerts = list(session.scalars(select(OutboxMessage)))
        inbound = session.scalars(select(InboundMessage)).one()
        assert inbound.msg_id == 9_000_000_000_000_000_001  # 64-bit MsgId kept whole
        assert inbound.intent == "crisis"
    assert len(alerts) == 1
    assert alerts[0].channel == "wecom_app"
    # A first-time resident of the only community: the alert reaches that community's duty worker.
    assert alerts[0].recipient == "wangxiaoyan"


def test_a_retry_gets_the_same_reply_even_if_it_would_differ_now(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    xml = wechat.text("openid-r", "积分")
    first = reply_text(wechat, post(client, wechat, xml, "safe"))
    # The answer to a fresh "积分" would now be the community menu; the retry must not change its mind.
    add_heping(services)
    add_xingfu(services)
    assert reply_text(wechat, post(client, wechat, wechat.text("openid-s", "积分"), "safe")) != first
    assert reply_text(wechat, post(client, wechat, xml, "safe")) == first


def test_events_are_deduplicated_by_sender_time_and_event(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    created = int(time.time())
    subscribe = wechat.event("openid-e", "subscribe", create_time=created)
    answers = [reply_text(wechat, post(client, wechat, subscribe, "safe")) for _ in range(3)]
    assert answers[0] is not None and "欢迎关注" in answers[0]
    assert answers == [answers[0]] * 3
    assert count(services, InboundMessage) == 1
    # A different event in the same second, the same event a second later, or another resident: new.
    post(client, wechat, wechat.event("openid-e", "CLICK", "HELP", create_time=created), "safe")
    post(client, wechat, wechat.event("openid-e", "subscribe", create_time=created + 1), "safe")
    post(client, wechat, wechat.event("openid-f", "subscribe", create_time=created), "safe")
    assert count(services, InboundMessage) == 4
    with services.sessions.begin() as session:
        assert all(row.msg_id is None for row in session.scalars(select(InboundMessage)))


class HeldDispatcher:
    """Holds every dispatch until released, to line deliveries up the way a slow handler would."""

    def __init__(self, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._original = services.dispatcher.dispatch
        monkeypatch.setattr(services.dispatcher, "dispatch", self)

    def __call__(self, ctx: Any, msg: Any) -> Any:
        self.entered.set()
        self.release.wait(5)
        return self._original(ctx, msg)


def test_a_retry_racing_the_first_delivery_gets_the_same_reply_and_runs_nothing_twice(
    db_url: str, tmp_path: Path, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(db_url, tmp_path, reply_budget_seconds=5.0)
    services = Services(settings)
    add_heping(services)
    held = HeldDispatcher(services, monkeypatch)
    xml = wechat.text("openid-h", "转人工")
    try:
        with TestClient(create_app(settings, services)) as client:
            responses: dict[str, Any] = {}

            def deliver(name: str) -> None:
                responses[name] = post(client, wechat, xml, "safe")

            first = threading.Thread(target=deliver, args=("first",))
            first.start()
            assert held.entered.wait(5)
            retry = threading.Thread(target=deliver, args=("retry",))
            retry.start()
            time.sleep(0.1)  # let the retry reach the claim the first delivery holds
            held.release.set()
            first.join(5)
            retry.join(5)
        answers = {name: reply_text(wechat, response) for name, response in responses.items()}
        assert "工作人员" in (answers["first"] or "")
        assert answers["retry"] == answers["first"]
        assert count(services, InboundMessage) == 1
        assert count(services, OutboxMessage) == 1  # one "please contact the resident" alert
    finally:
        held.release.set()
        services.close()


def test_a_retry_after_the_answer_was_deferred_queues_nothing_more(
    db_url: str, tmp_path: Path, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(db_url, tmp_path, reply_budget_seconds=0.2)
    services = Services(settings)
    add_heping(services)
    held = HeldDispatcher(services, monkeypatch)
    xml = wechat.text("openid-h", "转人工")
    try:
        with TestClient(create_app(settings, services)) as client:
            assert post(client, wechat, xml, "safe").text == "success"
            # WeChat gave up and retries while the first delivery is still being handled.
            assert post(client, wechat, xml, "safe").text == "success"
            held.release.set()
            client.app.state.executor.shutdown(wait=True)  # type: ignore[attr-defined]
        assert _inbound_status(services) == "deferred"
        assert count(services, InboundMessage) == 1
        with services.sessions.begin() as session:
            channels = sorted(row.channel for row in session.scalars(select(OutboxMessage)))
        assert channels == ["wechat_custom", "wecom_app"]  # one late reply, one alert
    finally:
        held.release.set()
        services.close()


# --- residents and communities (both backends) ----------------------------------------------------------


def test_subscribing_by_qr_code_assigns_the_community_and_unsubscribing_deactivates(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    add_heping(services)
    add_xingfu(services)
    welcome = reply_text(wechat, post(client, wechat, wechat.event("openid-q", "subscribe", "qrscene_101"), "safe"))
    assert welcome is not None and "和平社区" in welcome
    assert "回复序号" not in welcome  # the QR code told us; no need to ask
    joined = community_of(services, "openid-q")
    assert joined is not None and joined.qr_scene == "101"

    # Scanning another community's code later moves the resident.
    moved = reply_text(wechat, post(client, wechat, wechat.event("openid-q", "SCAN", "102"), "safe"))
    assert moved is not None and "幸福里社区" in moved
    moved_to = community_of(services, "openid-q")
    assert moved_to is not None and moved_to.qr_scene == "102"

    gone = post(client, wechat, wechat.event("openid-q", "unsubscribe"), "safe")
    assert gone.status_code == 200 and gone.text == "success"
    left = resident(services, "openid-q")
    assert left is not None and left.active is False and left.unsubscribed_at is not None

    post(client, wechat, wechat.event("openid-q", "subscribe", create_time=int(time.time()) + 1), "safe")
    back = resident(services, "openid-q")
    assert back is not None and back.active is True and back.unsubscribed_at is None


def test_a_plain_subscribe_with_several_communities_asks_which_one(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    add_heping(services)
    add_xingfu(services)
    welcome = reply_text(wechat, post(client, wechat, wechat.event("openid-p", "subscribe"), "safe"))
    assert welcome is not None and "1. 和平社区" in welcome and "2. 幸福里社区" in welcome
    chosen = reply_text(wechat, post(client, wechat, wechat.text("openid-p", "2"), "safe"))
    assert chosen is not None and "幸福里社区的居民" in chosen
    assert (community_of(services, "openid-p") or Community()).code == "xingfu"


def test_each_resident_chooses_their_community_by_number_and_gets_their_answer(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    add_heping(services)
    add_xingfu(services)
    for openid in ("openid-1", "openid-2"):
        # Points are kept per community: the one step that cannot go on without it asks.
        menu = reply_text(wechat, post(client, wechat, wechat.text(openid, "积分"), "safe"))
        assert menu is not None and "请问您住在哪个社区" in menu
    # Answered in the opposite order: each resident's choice is their own.
    second = reply_text(wechat, post(client, wechat, wechat.text("openid-2", "1"), "safe"))
    first = reply_text(wechat, post(client, wechat, wechat.text("openid-1", "二"), "safe"))
    assert second is not None and "和平社区的居民" in second and "积分" in second  # then the pending question
    assert first is not None and "幸福里社区的居民" in first
    assert (community_of(services, "openid-2") or Community()).code == "heping"
    assert (community_of(services, "openid-1") or Community()).code == "xingfu"
    # Chosen once: the next message is answered directly.
    again = reply_text(wechat, post(client, wechat, wechat.text("openid-1", "你好"), "safe"))
    assert again is not None and "请问您住在哪个社区" not in again


@pytest.mark.parametrize(
    ("event", "opens"),
    [
        ("<Event>CLICK</Event><EventKey>HELP</EventKey>", True),
        ("<Event>subscribe</Event>", True),
        (
            "<Event>LOCATION</Event><Latitude>39.9</Latitude><Longitude>116.4</Longitude><Precision>50</Precision>",
            False,
        ),
        ("<Event>VIEW</Event><EventKey>https://example.invalid/</EventKey>", False),
        ("<Event>TEMPLATESENDJOBFINISH</Event><MsgID>200163836</MsgID><Status>success</Status>", False),
    ],
)
def test_only_what_the_resident_does_opens_the_customer_service_window(
    client: TestClient, services: Services, wechat: FakeWeChat, event: str, opens: bool
) -> None:
    # A late reply or ticket update may only go out as a customer-service message inside the window;
    # WeChat's own notices (one follows every template message) must not reopen it. An event opens
    # only the 1 minute window: the 48 h one (last_inbound_at) is the resident's messages' alone.
    post(client, wechat, wechat.xml("openid-w", "event", event), "safe")
    opened = resident(services, "openid-w")
    assert opened is not None
    assert (opened.window_event_at is not None) is opens
    assert opened.last_inbound_at is None


def test_a_message_opens_the_48_hour_window_not_the_event_one(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    post(client, wechat, wechat.text("openid-m", "你好"), "safe")
    opened = resident(services, "openid-m")
    assert opened is not None
    assert opened.last_inbound_at is not None and opened.window_event_at is None


def test_a_crisis_is_answered_before_asking_for_the_community(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    add_heping(services)
    add_xingfu(services)
    answer = reply_text(wechat, post(client, wechat, wechat.text("openid-x", "我不想活了"), "safe"))
    assert answer is not None and "12356" in answer and "回复序号" not in answer
    assert count(services, OutboxMessage) == 1


def test_oversized_fields_from_wechat_do_not_fail_the_database(
    client: TestClient, services: Services, wechat: FakeWeChat
) -> None:
    # Columns have lengths; PostgreSQL enforces them. A signed message with odd fields gets an answer
    # (or a 400), never a database error that would make WeChat retry it forever.
    odd_type = wechat.xml("openid-o", "t" * 100, "<MsgId>5</MsgId>")
    odd_event = wechat.event("openid-o", "E" * 100, "k" * 1000)
    long_sender = wechat.text("o" * 300, "你好")
    for xml in (odd_type, odd_event, long_sender):
        response = post(client, wechat, xml, "safe")
        assert response.status_code in (200, 400), response.text


# --- a database that refuses writes ----------------------------------------------------------------------


def read_only_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = make_engine(url)

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        return engine
    return make_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})


@pytest.mark.parametrize("mode", MODES)
def test_a_database_that_refuses_writes_answers_503_and_nothing_else(
    services: Services, wechat: FakeWeChat, mode: str
) -> None:
    broken = Services(services.settings, engine=read_only_engine(services.settings.database_url))
    xml = wechat.text("openid-d", "你好")
    try:
        with TestClient(create_app(broken.settings, broken)) as client:
            response = post(client, wechat, xml, mode)
        assert response.status_code == 503
        assert "<xml" not in response.text and "帮" not in response.text
        assert count(services, InboundMessage) == 0
    finally:
        broken.close()
    # WeChat retries once the database is back: the message was not lost, and is answered once.
    with TestClient(create_app(services.settings, services)) as client:
        assert "有什么可以帮您" in (reply_of(wechat, post(client, wechat, xml, mode), mode) or {}).get("Content", "")
    assert count(services, InboundMessage) == 1


def test_an_unrecordable_message_answers_503(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT INTO inbound_message", {}, Exception("disk I/O error"))

    monkeypatch.setattr(repo, "record_inbound", refuse)
    response = post(quick_client, wechat, wechat.text("openid-d", "你好"), "safe")
    assert response.status_code == 503
    assert "<xml" not in response.text
    assert count(quick_services, InboundMessage) == 0


def test_a_message_recorded_but_not_handled_is_handled_on_the_retry(
    client: TestClient, services: Services, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_heping(services)
    real = webhook.handle_message
    calls: list[int] = []

    def fail_first(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE inbound_message", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(webhook, "handle_message", fail_first)
    xml = wechat.text("openid-d", "我不想活了")
    assert post(client, wechat, xml, "safe").status_code == 503
    with services.sessions.begin() as session:
        assert session.scalars(select(InboundMessage)).one().status == "received"
    answer = reply_text(wechat, post(client, wechat, xml, "safe"))
    assert answer is not None and "12356" in answer
    assert count(services, InboundMessage) == 1
    assert count(services, OutboxMessage) == 1
    # And a third delivery replays the stored answer without handling anything.
    assert reply_text(wechat, post(client, wechat, xml, "safe")) == answer
    assert len(calls) == 2


def test_a_handler_error_gets_a_polite_apology_not_a_500(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: Any, msg: Any) -> Any:
        raise RuntimeError("a bug in a handler")

    monkeypatch.setattr(quick_services.dispatcher, "dispatch", broken)
    xml = wechat.text("openid-b", "你好")
    answer = reply_text(wechat, post(quick_client, wechat, xml, "safe"))
    assert answer is not None and "抱歉" in answer
    with quick_services.sessions.begin() as session:
        assert session.scalars(select(InboundMessage)).one().status == "failed"
    # The retry is told the same, and the handler is not run again.
    assert reply_text(wechat, post(quick_client, wechat, xml, "safe")) == answer


def test_a_failed_message_is_tried_again_and_its_answer_pushed(
    db_url: str, tmp_path: Path, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_api() as api:
        settings = make_settings(db_url, tmp_path, wechat_api_base=api.base, wecom_api_base=api.base)
        services = Services(settings)
        try:
            add_heping(services)
            real = services.dispatcher.dispatch
            calls: list[int] = []

            def flaky(ctx: Any, msg: Any) -> Any:
                calls.append(1)
                if len(calls) == 1:
                    raise RuntimeError("a passing fault in a handler")
                return real(ctx, msg)

            monkeypatch.setattr(services.dispatcher, "dispatch", flaky)
            with TestClient(create_app(settings, services)) as client:
                answer = reply_text(wechat, post(client, wechat, wechat.text("openid-r", "你好"), "safe"))
            assert answer is not None and "自动再试" in answer and "记下了" not in answer
            assert _status_of_only(services) == ("failed", 1)
            # Not due yet: nothing happens.
            assert retry_failed_messages(services) == 0
            later = services.clock() + timedelta(minutes=2)
            assert retry_failed_messages(services, now=later) == 1
            assert _status_of_only(services) == ("deferred", 1)
            assert drain_once(services, make_senders(services), now=later) == 1
            sends = api.sent("/cgi-bin/message/custom/send")
            assert len(sends) == 1 and "有什么可以帮您" in sends[0].body["text"]["content"]
            assert api.sent("/cgi-bin/message/send") == []  # nobody had to be told
        finally:
            services.close()


def test_a_message_that_keeps_failing_reaches_the_worker_on_duty(
    db_url: str, tmp_path: Path, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_api() as api:
        settings = make_settings(db_url, tmp_path, wechat_api_base=api.base, wecom_api_base=api.base)
        services = Services(settings)
        try:
            add_heping(services)

            def broken(ctx: Any, msg: Any) -> Any:
                raise RuntimeError("a bug in a handler")

            monkeypatch.setattr(services.dispatcher, "dispatch", broken)
            with TestClient(create_app(settings, services)) as client:
                post(client, wechat, wechat.text("openid-k", "楼道灯坏了三天了"), "safe")
            later = services.clock()
            for minutes in (2, 8):
                later += timedelta(minutes=minutes)
                assert retry_failed_messages(services, now=later) == 1
            assert retry_failed_messages(services, now=later + timedelta(hours=1)) == 0
            with services.sessions.begin() as session:
                (failed,) = repo.failed_messages(session)
                assert (failed.attempts, failed.retry_at, failed.content) == (3, None, "楼道灯坏了三天了")
            drain_once(services, make_senders(services), now=later)
            (card,) = api.sent("/cgi-bin/message/send")
            assert card.body["touser"] == "wangxiaoyan"
            assert "处理失败" in str(card.body) and "楼道灯坏了三天了" in str(card.body)
            (pushed,) = api.sent("/cgi-bin/message/custom/send")
            assert "工作人员" in pushed.body["text"]["content"]
        finally:
            services.close()


def _status_of_only(services: Services) -> tuple[str, int]:
    with services.sessions.begin() as session:
        row = session.scalars(select(InboundMessage)).one()
        return row.status, row.attempts


def test_a_logged_plaintext_url_reposted_with_another_body_is_refused(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat
) -> None:
    """Plaintext mode's signature covers the URL, not the body: the URL is good for its own message only."""
    path, body = wechat.request(wechat.text("openid-real", "你好", msg_id=41), mode="plain")
    first = quick_client.post(path, content=body)
    assert first.status_code == 200 and "有什么可以帮您" in first.text
    # WeChat's retry of the same message on the same URL gets the same answer.
    again = quick_client.post(path, content=body)
    assert again.status_code == 200 and again.text == first.text
    forged = wechat.text("openid-attacker", "我的积分", msg_id=42).encode()
    refused = quick_client.post(path, content=forged)
    assert refused.status_code == 403
    assert resident(quick_services, "openid-attacker") is None
    assert count(quick_services, InboundMessage) == 1


@pytest.mark.parametrize("coordinate", ["nan", "1e400", "-inf", "北纬"])
def test_a_location_with_a_coordinate_that_is_not_a_number_is_kept_and_answered(
    client: TestClient, services: Services, wechat: FakeWeChat, coordinate: str
) -> None:
    """Regression: NaN and infinity once made every retry 503 on PostgreSQL (JSON has no NaN), losing it."""
    add_heping(services)
    xml = wechat.location("openid-where", 0.0, 121.47).replace("<Location_X>0.0</", f"<Location_X>{coordinate}</")
    assert post(client, wechat, xml, "safe").status_code == 200
    with services.sessions.begin() as session:
        row = session.scalars(select(InboundMessage)).one()
        assert row.msg_type == "location" and "latitude" not in row.payload


@pytest.mark.parametrize("timestamp", ["9" * 400, "9" * 5000, "-1", "1e9", ""])
def test_an_absurd_timestamp_is_refused_before_anything_is_read(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat, timestamp: str
) -> None:
    path = f"/wechat?signature={sign(TOKEN, timestamp, 'n')}&timestamp={timestamp}&nonce=n"
    assert quick_client.post(path, content=wechat.text("openid-t", "你好").encode()).status_code == 403
    assert count(quick_services, InboundMessage) == 0


# --- the 5-second budget ---------------------------------------------------------------------------------


def test_a_slow_answer_goes_out_later_as_a_customer_service_message(
    db_url: str, tmp_path: Path, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_api() as api:
        settings = make_settings(
            db_url, tmp_path, reply_budget_seconds=0.2, wechat_api_base=api.base, wecom_api_base=api.base
        )
        services = Services(settings)
        held = HeldDispatcher(services, monkeypatch)  # slow until the webhook has answered
        try:
            with TestClient(create_app(settings, services)) as client:
                started = time.monotonic()
                response = post(client, wechat, wechat.text("openid-slow", "你好"), "safe")
                elapsed = time.monotonic() - started
                held.release.set()
                assert response.status_code == 200 and response.text == "success"
                assert elapsed < 2.0
                wait_until(lambda: _inbound_status(services) == "deferred")

            with services.sessions.begin() as session:
                queued = session.scalars(select(OutboxMessage)).one()
                assert queued.channel == "wechat_custom" and queued.recipient == "openid-slow"
                recorded = session.scalars(select(OutboundMessage)).one()
                assert recorded.channel == "custom"
            assert drain_once(services, make_senders(services)) == 1

            sends = api.sent("/cgi-bin/message/custom/send")
            assert len(sends) == 1
            assert sends[0].body["touser"] == "openid-slow"
            assert sends[0].body["msgtype"] == "text"
            assert "有什么可以帮您" in sends[0].body["text"]["content"]
            assert "resident_id" not in sends[0].body
            assert sends[0].query["access_token"] == "token-1"
            with services.sessions.begin() as session:
                assert session.scalars(select(OutboxMessage)).one().status == "sent"
        finally:
            held.release.set()
            services.close()


def test_a_database_stalled_past_the_budget_still_gets_the_reply_to_the_resident(
    db_url: str, tmp_path: Path, wechat: FakeWeChat
) -> None:
    """The budget counts from the request's start, recording included: a lock held past it must not turn
    into a reply written into a connection WeChat has dropped."""
    with fake_api() as api:
        settings = make_settings(
            db_url, tmp_path, reply_budget_seconds=0.5, wechat_api_base=api.base, wecom_api_base=api.base
        )
        services = Services(settings)
        try:
            with TestClient(create_app(settings, services)) as client:
                add_heping(services)
                assert post(client, wechat, wechat.text("openid-stall", "你好", msg_id=1), "safe").status_code == 200
                blocker = make_engine(db_url)
                with blocker.connect() as conn:
                    # Another transaction holds the resident's row (on SQLite: the whole database) for 1.5 s.
                    conn.execute(
                        Resident.__table__.update()
                        .where(Resident.__table__.c.openid == "openid-stall")
                        .values(display_name="locked")
                    )
                    threading.Timer(1.5, conn.commit).start()
                    started = time.monotonic()
                    response = post(client, wechat, wechat.text("openid-stall", "你好", msg_id=2), "safe")
                    elapsed = time.monotonic() - started
                blocker.dispose()
                assert response.status_code == 200 and response.text == "success"
                assert elapsed >= 1.4  # it waited for the message to be kept before acknowledging it
                wait_until(lambda: _status_of(services, "m:2") == "deferred")
            assert drain_once(services, make_senders(services)) == 1
            sends = api.sent("/cgi-bin/message/custom/send")
            assert [s.body["touser"] for s in sends] == ["openid-stall"]
            assert "有什么可以帮您" in sends[0].body["text"]["content"]
        finally:
            services.close()


def _status_of(services: Services, dedupe_key: str) -> str | None:
    with services.sessions.begin() as session:
        row = session.scalars(select(InboundMessage).where(InboundMessage.dedupe_key == dedupe_key)).first()
        return row.status if row else None


def _inbound_status(services: Services) -> str | None:
    with services.sessions.begin() as session:
        row = session.scalars(select(InboundMessage)).first()
        return row.status if row else None


def test_a_fast_answer_within_the_budget_queues_nothing(
    quick_client: TestClient, quick_services: Services, wechat: FakeWeChat
) -> None:
    assert reply_text(wechat, post(quick_client, wechat, wechat.text("openid-f", "你好"), "safe"))
    assert count(quick_services, OutboxMessage) == 0
    assert _inbound_status(quick_services) == "replied"
