"""Property tests for the WeCom callback: whatever a validly signed and encrypted worker message carries,
/wecom answers 200 or 400, never 500, and a command it cannot read changes no ticket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import pytest
import xmltodict
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from wechatpy.work.crypto import WeChatCrypto

from bot.app import create_app
from bot.services import Services
from handlers.communities import load_communities, parse_community_file
from storage.tickets import TicketEvent
from tests.bot.test_fuzz_xml import ACCEPTABLE, FUZZ, TEXT
from tests.conftest import make_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "community.yaml"
CORP_ID = "ww-fuzz-corp"
WECOM_TOKEN = "wecom-token-for-fuzz"
WECOM_AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
CRYPTO = WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, CORP_ID)

pytestmark = pytest.mark.usefixtures("knowledge_index_built_once")


@pytest.fixture
def wecom_client(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Services]]:
    services = Services(
        make_settings(sqlite_url, tmp_path, wecom_corp_id=CORP_ID, wecom_token=WECOM_TOKEN, wecom_aes_key=WECOM_AES_KEY)
    )
    with services.sessions.begin() as session:
        load_communities(session, parse_community_file(EXAMPLE))
    with TestClient(create_app(services.settings, services), raise_server_exceptions=False) as client:
        yield client, services
    services.close()


def post_encrypted(client: TestClient, xml: str) -> int:
    nonce, ts = "fuzznonce", str(int(time.time()))
    envelope = xmltodict.parse(CRYPTO.encrypt_message(xml, nonce, ts))["xml"]
    query = urlencode({"msg_signature": envelope["MsgSignature"], "timestamp": ts, "nonce": nonce})
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    )
    return client.post(f"/wecom?{query}", content=body.encode()).status_code


WORKER_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "ToUserName": TEXT,
        "FromUserName": TEXT | st.sampled_from(["zhangli", "chengang", "lijianguo", ""]),
        "CreateTime": TEXT | st.integers(min_value=-(2**70), max_value=2**70).map(str),
        "MsgType": TEXT | st.sampled_from(["text", "image", "event", "voice"]),
        "Content": TEXT
        | st.sampled_from(["接单", "接单 ", "办结 ABCDEF", "转派", "进展 ZZZZZZ " + "长" * 2000, "帮助"]),
        "MsgId": TEXT | st.integers(min_value=-(2**70), max_value=2**70).map(str),
        "AgentID": TEXT,
        "Event": TEXT,
    },
)


def events(services: Services) -> int:
    with services.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(TicketEvent)) or 0


@FUZZ
@given(fields=WORKER_FIELDS)
def test_arbitrary_worker_messages_never_fail_the_callback(
    wecom_client: tuple[TestClient, Services], fields: dict[str, str]
) -> None:
    client, services = wecom_client
    xml = "<xml>" + "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items()) + "</xml>"
    assert post_encrypted(client, xml) in ACCEPTABLE
    assert events(services) == 0  # there are no tickets, so nothing a worker sends can change one


@FUZZ
@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes_never_fail_the_callback(wecom_client: tuple[TestClient, Services], body: bytes) -> None:
    client, _ = wecom_client
    ts = str(int(time.time()))
    response = client.post(
        f"/wecom?{urlencode({'msg_signature': 'x' * 40, 'timestamp': ts, 'nonce': 'n'})}", content=body
    )
    assert response.status_code in ACCEPTABLE | {403}
