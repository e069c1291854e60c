"""Property tests: whatever a validly signed request carries, the webhook answers 200 or 400, never 500."""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wechatpy.crypto import PrpCrypto

from bot.app import create_app
from bot.services import Services
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.wechat import FakeWeChat, sign

# Every example shares one app and database: building them is what a fixture is for, and each example
# sends a different message, so they do not interfere.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ACCEPTABLE = {200, 400}

pytestmark = pytest.mark.usefixtures("knowledge_index_built_once")


@pytest.fixture
def fuzz_client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    services = Services(make_settings(sqlite_url, tmp_path))
    with TestClient(create_app(services.settings, services), raise_server_exceptions=False) as client:
        yield client
    services.close()


def signed_path(**extra: str) -> str:
    ts = str(int(time.time()))
    nonce = f"fuzz{next(_NONCES)}"  # a fresh nonce per callback, as WeChat sends
    query = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, **extra}
    return "/wechat?" + urlencode(query)


_NONCES = itertools.count(1)


def post_plain(client: TestClient, body: bytes) -> int:
    response = client.post(signed_path(), content=body)
    return response.status_code


def post_safe(client: TestClient, encrypted: str) -> int:
    ts = str(int(time.time()))
    query = {
        "signature": sign(TOKEN, ts, "nonce123"),
        "timestamp": ts,
        "nonce": "nonce123",
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, ts, "nonce123", encrypted),
    }
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    return client.post("/wechat?" + urlencode(query), content=body).status_code


@FUZZ
@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes_never_fail_the_server(fuzz_client: TestClient, body: bytes) -> None:
    assert post_plain(fuzz_client, body) in ACCEPTABLE


# Text as it could arrive in any field: control characters, markup, CDATA terminators, astral characters.
TEXT = st.text(max_size=300) | st.sampled_from(["]]>", "<", "&", "&amp;", "<![CDATA[", "\x00", "\ufffe", "😀" * 50])


@FUZZ
@given(content=TEXT)
def test_arbitrary_text_in_a_text_message_never_fails_the_server(fuzz_client: TestClient, content: str) -> None:
    wechat = FakeWeChat(TOKEN, APP_ID, AES_KEY)
    # Raw, as a careless sender would put it, and escaped, as WeChat does.
    for inner in (f"<![CDATA[{content}]]>", escape(content)):
        xml = wechat.xml("openid-fuzz", "text", f"<Content>{inner}</Content><MsgId>{time.time_ns()}</MsgId>")
        assert post_plain(fuzz_client, xml.encode()) in ACCEPTABLE


FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "ToUserName": TEXT,
        "FromUserName": TEXT,
        "CreateTime": TEXT | st.integers(min_value=-(2**70), max_value=2**70).map(str),
        "MsgType": TEXT | st.sampled_from(["text", "voice", "image", "location", "event", "link", "video"]),
        "Content": TEXT,
        "MsgId": TEXT | st.integers(min_value=-(2**70), max_value=2**70).map(str),
        "Event": TEXT | st.sampled_from(["subscribe", "unsubscribe", "CLICK", "SCAN", "LOCATION", "VIEW"]),
        "EventKey": TEXT | st.sampled_from(["qrscene_101", "qrscene_", "HELP", ""]),
        "Recognition": TEXT,
        "Location_X": TEXT,
        "Location_Y": TEXT,
        "Latitude": TEXT,
        "Label": TEXT,
        "PicUrl": TEXT,
        "MediaId": TEXT,
    },
)


def to_xml(fields: dict[str, str]) -> bytes:
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return f"<xml>{inner}</xml>".encode()


@FUZZ
@given(fields=FIELDS)
def test_arbitrary_fields_in_a_signed_message_never_fail_the_server(
    fuzz_client: TestClient, fields: dict[str, str]
) -> None:
    assert post_plain(fuzz_client, to_xml(fields)) in ACCEPTABLE


@FUZZ
@given(fields=FIELDS)
def test_arbitrary_fields_in_an_encrypted_message_never_fail_the_server(
    fuzz_client: TestClient, fields: dict[str, str]
) -> None:
    plaintext = to_xml(fields).decode()
    encrypted = PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt(plaintext, APP_ID).decode()
    assert post_safe(fuzz_client, encrypted) in ACCEPTABLE


@FUZZ
@given(raw=st.binary(max_size=512))
def test_arbitrary_ciphertext_under_a_valid_msg_signature_is_a_bad_request(fuzz_client: TestClient, raw: bytes) -> None:
    assert post_safe(fuzz_client, base64.b64encode(raw).decode()) == 400


@FUZZ
@given(encrypt=st.text(max_size=200))
def test_arbitrary_text_as_the_encrypt_element_is_refused(fuzz_client: TestClient, encrypt: str) -> None:
    # 403 when the XML parser's view of the element differs from what was signed (whitespace is
    # trimmed), 400 otherwise; never a server error.
    assert post_safe(fuzz_client, encrypt.replace("]]>", "")) in {400, 403}


@settings(FUZZ, max_examples=30)
@given(fields=FIELDS)
def test_arbitrary_fields_are_stored_or_refused_on_every_backend(client: TestClient, fields: dict[str, str]) -> None:
    # PostgreSQL enforces column lengths and rejects what SQLite stores: a refusal there must still be
    # a 400 (or an answer), not a database error.
    fields.setdefault("FromUserName", "openid-fuzz")
    fields.setdefault("CreateTime", str(int(time.time())))
    assert post_plain(client, to_xml(fields)) in ACCEPTABLE
