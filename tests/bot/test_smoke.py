from fastapi.testclient import TestClient

from tests.conftest import AES_KEY, APP_ID, TOKEN
from tests.support.wechat import FakeWeChat


def test_text_message_in_safe_mode_gets_an_encrypted_reply(client: TestClient) -> None:
    wechat = FakeWeChat(TOKEN, APP_ID, AES_KEY)
    path, body = wechat.request(wechat.text("openid-1", "你好"), mode="safe")
    response = client.post(path, content=body)
    assert response.status_code == 200
    ts = path.split("timestamp=")[1].split("&")[0]
    reply = wechat.decrypt_reply(response.text, timestamp=ts)
    assert "帮" in reply
