"""WeCom cards lead to the console page where the worker can act, and name people rather than userids."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.services import Services
from bot.settings import Settings
from tests.bot.console.conftest import console_settings, drain, log_in, report
from tests.support.fake_api import FakeApi, card_text
from tests.support.wechat import FakeWeChat

PUBLIC = "https://shegong.example.org"


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path, console_api: FakeApi) -> Settings:
    return console_settings(sqlite_url, tmp_path, console_api, public_url=PUBLIC)


def _cards(api: FakeApi, userid: str) -> list[dict[str, str]]:
    """Each ticket card (a WeCom template card) as what it shows and where it leads."""
    return [
        {"description": card_text(c.body), "url": c.body["template_card"]["card_action"]["url"]}
        for c in api.sent("/cgi-bin/message/send")
        if c.body.get("touser") == userid and "template_card" in c.body
    ]


def test_a_ticket_card_opens_the_ticket_in_the_console(
    client: TestClient, services: Services, console_api: FakeApi, wechat: FakeWeChat
) -> None:
    code = report(client, wechat, "openid-card", "3号楼楼道灯坏了")
    drain(services)
    cards = _cards(console_api, "zhangli")
    assert cards and cards[0]["url"] == f"{PUBLIC}/console/tickets/{code}"


def test_a_transfer_card_names_who_passed_it_on(
    client: TestClient, services: Services, console_api: FakeApi, wechat: FakeWeChat
) -> None:
    code = report(client, wechat, "openid-transfer", "3号楼楼道灯坏了")
    csrf = log_in(client, "zhangli")
    moved = client.post(f"/console/tickets/{code}/act", data={"action": "transfer", "target": "chengang", "csrf": csrf})
    assert moved.status_code == 303 and "notice=" in moved.headers["location"]
    drain(services)
    card = _cards(console_api, "chengang")[-1]
    assert "张丽 将此工单转给您" in card["description"] and "zhangli" not in card["description"]
    assert card["url"] == f"{PUBLIC}/console/tickets/{code}"


def test_in_wecoms_browser_the_login_page_goes_straight_to_wecom_login(client: TestClient) -> None:
    answer = client.get(
        "/console/login?next=/console/tickets/ABC234", headers={"user-agent": "Mozilla/5.0 wxwork/4.1.0 MicroMessenger"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/oauth?next=")
