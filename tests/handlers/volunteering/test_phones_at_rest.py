"""A raw read of every table after a sign-up and a report that carry phone numbers finds none in clear."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from bot.outbox import drain_once, make_senders
from bot.services import Services
from bot.settings import Settings
from handlers.privacy import unseal_message
from storage.models import InboundMessage
from tests.conftest import make_settings
from tests.handlers.volunteering.conftest import talk
from tests.support.fake_api import FakeApi


@pytest.fixture
def settings(db_url: str, tmp_path: Path, api: FakeApi) -> Settings:
    """The report files a ticket, whose alert the drain below sends: to the fake WeCom API."""
    return make_settings(db_url, tmp_path, reply_budget_seconds=60.0, wechat_api_base=api.base, wecom_api_base=api.base)


PHONES = ("13800138000", "138 0013 8000", "13900139000", "110101199003071234")


def test_no_phone_or_id_number_is_stored_in_clear(
    client: TestClient, services: Services, community: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    zhang = talk(client, "openid-zhang")
    for text in ("我想当志愿者", "我叫张伟", "138 0013 8000", "我会修电脑", "周末上午", "同意"):
        zhang.say(text)
    li = talk(client, "openid-li")
    li.say("3号楼2单元楼道灯坏了三天了 有事打我电话13900139000 身份证110101199003071234")
    drain_once(services, make_senders(services))

    engine = services.sessions.kw["bind"]
    dump = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            dump.extend(str(row) for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')))
    everything = "\n".join(dump)
    assert "138****8000" in everything and "139****9000" in everything
    for number in PHONES:
        assert number not in everything, number
        assert number not in caplog.text, number

    # The resident's words in full are sealed beside the masked copy, for a worker allowed to read them.
    with services.sessions.begin() as session:
        report = session.scalars(sa.select(InboundMessage).where(InboundMessage.content.like("%楼道灯%"))).one()
        assert "13900139000" in unseal_message(services.settings.secret_key, report.payload["sealed"])
