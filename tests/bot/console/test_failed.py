"""待人工处理: a message that failed three times is listed for the worker on duty, masked, and audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.pipeline import retry_failed_messages
from bot.services import Services
from storage.access import recent_entries
from tests.bot.console.conftest import log_in, resident
from tests.support.wechat import FakeWeChat


def test_a_message_that_kept_failing_is_listed_for_the_worker_on_duty(
    client: TestClient, services: Services, wechat: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    li = resident(client, wechat, "openid-li")

    def broken(ctx: Any, msg: Any) -> Any:
        raise RuntimeError("a bug in a handler")

    monkeypatch.setattr(services.dispatcher, "dispatch", broken)
    li.say("楼道灯坏了 打我电话13900139000")
    later = services.clock()
    for minutes in (2, 8):
        later += timedelta(minutes=minutes)
        retry_failed_messages(services, now=later)
    monkeypatch.undo()

    log_in(client, "wangxiaoyan")
    listed = client.get("/console/failed")
    assert listed.status_code == 200
    assert "楼道灯坏了 打我电话139****9000" in listed.text and "13900139000" not in listed.text
    with services.sessions.begin() as session:
        assert any("/console/failed" in (e.path or "") for e in recent_entries(session, limit=20))

    # A grid worker answers for some buildings only: the list is not theirs.
    client.cookies.clear()
    log_in(client, "zhangli")
    assert "楼道灯坏了" not in client.get("/console/failed").text
