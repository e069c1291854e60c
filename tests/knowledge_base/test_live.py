"""Every server follows the knowledge base in the shared database: two apps on one database, on both backends."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import bot.knowledge
from bot.app import create_app
from bot.cli.kb import kb_app
from bot.knowledge import LiveKnowledge, collections_from_setting
from bot.services import Services
from bot.settings import Settings, get_settings
from handlers import knowledge
from knowledge_base.encoders import UsemEncoder
from knowledge_base.entries import Entry
from storage import repositories as repo
from tests.conftest import AES_KEY, APP_ID, TOKEN, make_settings
from tests.support.wechat import FakeWeChat

WECHAT = FakeWeChat(TOKEN, APP_ID, AES_KEY)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
runner = CliRunner()

ROWS = [
    {"id": "p1", "domain": "service", "question": "社区食堂几点开门", "answer": "早上七点到晚上七点。"},
    {"id": "p2", "domain": "service", "question": "小区哪里可以打疫苗", "answer": "到社区卫生服务中心。"},
    {"id": "p3", "domain": "legal", "question": "被狗咬了谁来赔", "answer": "养狗的人承担责任。"},
]
NEW_QUESTION = "居住证怎么办理"
NEW_ANSWER = "带身份证和租房合同到社区警务室登记，住满半年可以申领居住证。"


def _say(client: TestClient, text: str, sender: str) -> str:
    path, body = WECHAT.request(WECHAT.text(sender, text), mode="plain")
    response = client.post(path, content=body)
    assert response.status_code == 200
    return response.text


def _wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def two_servers(db_url: str, tmp_path: Path) -> Iterator[tuple[Services, Services]]:
    """Two servers with their own data directories on one database, answering the workers' "local"
    collection (the team's 384 entries would cost each test an index build)."""
    servers = [
        Services(make_settings(db_url, tmp_path / name, kb_collections="local", kb_check_seconds=0.2))
        for name in ("a", "b")
    ]
    with servers[0].sessions.begin() as session:
        repo.upsert_community(
            session,
            code="heping",
            name="和平社区",
            qr_scene="101",
            config={"duty": {"name": "王", "wecom_userid": "duty-wang"}},
        )
    yield servers[0], servers[1]
    for server in servers:
        server.close()


def _use_cli_of(server: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEGONG_DATABASE_URL", server.settings.database_url)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(server.settings.data_dir))
    get_settings.cache_clear()


def test_an_entry_added_on_one_server_is_answered_by_another(
    two_servers: tuple[Services, Services], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_a, server_b = two_servers
    _use_cli_of(server_a, monkeypatch)
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    assert runner.invoke(kb_app, ["import", str(rows), "-c", "local"]).exit_code == 0

    with (
        TestClient(create_app(server_a.settings, server_a)),
        TestClient(create_app(server_b.settings, server_b)) as client_b,
    ):
        assert "养狗的人承担责任" in _say(client_b, "被狗咬了谁来赔", sender="resident-1")
        assert NEW_ANSWER not in _say(client_b, NEW_QUESTION, sender="resident-2")
        before = server_b.live_knowledge.version

        # A worker adds an entry with the command line on server A ...
        result = runner.invoke(
            kb_app, ["add", "-q", NEW_QUESTION, "-a", NEW_ANSWER, "-d", "service", "--id", "p9", "-c", "local"]
        )
        assert result.exit_code == 0, result.output
        # ... and server B, which shares nothing with A but the database, answers with it within seconds.
        assert _wait_for(lambda: server_b.live_knowledge.version > before)
        assert NEW_ANSWER in _say(client_b, NEW_QUESTION, sender="resident-3")

        assert runner.invoke(kb_app, ["remove", "p9"]).exit_code == 0
        assert _wait_for(lambda: server_b.knowledge.get("p9", "local") is None)
        assert NEW_ANSWER not in _say(client_b, NEW_QUESTION, sender="resident-4")
    get_settings.cache_clear()


def test_answers_come_from_the_old_index_while_the_new_one_is_built(
    two_servers: tuple[Services, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = two_servers
    with server.sessions.begin() as session:
        knowledge.add_entry(session, Entry(id="p1", collection="local", **_fields(ROWS[0])), now=NOW)
    live = server.live_knowledge
    assert live.search("社区食堂几点开门", k=1)[0].entry.id == "p1"

    release = threading.Event()
    building = threading.Event()
    real = bot.knowledge.load_or_build

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        building.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(bot.knowledge, "load_or_build", slow_build)
    monkeypatch.setattr(bot.knowledge, "_built", OrderedDict())  # not the index another test built
    with server.sessions.begin() as session:
        knowledge.add_entry(session, Entry(id="p2", collection="local", **_fields(ROWS[1])), now=NOW)
    refresh = threading.Thread(target=live.refresh)
    refresh.start()
    try:
        assert building.wait(10)
        started = time.monotonic()
        assert live.get("p2", "local") is None  # the old index, answering at once
        assert live.search("社区食堂几点开门", k=1)[0].entry.id == "p1"
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        refresh.join(10)
    assert live.get("p2", "local") is not None


def test_by_default_the_bot_answers_every_collection(
    sqlite_url: str, tmp_path: Path, team_dir: Path, encoder: UsemEncoder
) -> None:
    assert collections_from_setting(Settings(_env_file=None).kb_collections) is None  # type: ignore[call-arg]
    assert collections_from_setting(" local, default ,local") == ("local", "default")
    server = Services(make_settings(sqlite_url, tmp_path))
    try:
        with server.sessions.begin() as session:
            knowledge.sync_team_entries(session, now=NOW, directory=team_dir)  # a small team set for speed
            knowledge.add_entry(session, Entry(id="p1", collection="local", **_fields(ROWS[0])), now=NOW)
        assert {e.collection for e in server.live_knowledge.index.entries} == {"default", "local"}
        assert server.knowledge.search("低保怎么申请", k=1)[0].entry.id == "service-dibao-001"
        assert server.knowledge.search("社区食堂几点开门", k=1)[0].entry.id == "p1"
    finally:
        server.close()


def test_an_empty_database_gets_the_team_entries_on_first_load(sqlite_url: str, tmp_path: Path) -> None:
    server = Services(make_settings(sqlite_url, tmp_path, kb_collections="local"))
    try:
        assert len(server.knowledge) == 0
        with server.sessions.begin() as session:
            assert knowledge.has_team_entries(session)
            assert knowledge.current_version(session) == 1
    finally:
        server.close()


def _fields(row: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k != "id"}


def test_a_live_index_without_a_database_change_does_not_rebuild(sqlite_url: str, tmp_path: Path) -> None:
    services = Services(make_settings(sqlite_url, tmp_path, kb_collections="local"))
    try:
        live: LiveKnowledge = services.live_knowledge
        live.warm_up()
        assert live.refresh() is False
    finally:
        services.close()


def test_an_entry_for_one_community_is_answered_to_its_residents_only(
    two_servers: tuple[Services, Services], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = two_servers
    with server.sessions.begin() as session:
        xingfu = repo.upsert_community(
            session,
            code="xingfu",
            name="幸福里社区",
            qr_scene="102",
            config={"duty": {"name": "李", "wecom_userid": "li"}},
        )
        heping = repo.community_by_code(session, code="heping")
        assert heping is not None
        for openid, community in (("resident-heping", heping), ("resident-xingfu", xingfu)):
            repo.get_or_create_resident(session, openid=openid).community_id = community.id
    _use_cli_of(server, monkeypatch)
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    assert runner.invoke(kb_app, ["import", str(rows), "-c", "local"]).exit_code == 0
    add = ["add", "-q", NEW_QUESTION, "-a", NEW_ANSWER, "-d", "service", "--id", "x1", "-c", "local"]
    assert runner.invoke(kb_app, [*add, "--community", "xingfu"]).exit_code == 0
    with TestClient(create_app(server.settings, server)) as client:
        assert NEW_ANSWER in _say(client, NEW_QUESTION, sender="resident-xingfu")
        assert NEW_ANSWER not in _say(client, NEW_QUESTION, sender="resident-heping")
