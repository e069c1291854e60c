"""The `shegong` command through typer's CliRunner, against a SQLite database in a temporary directory."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli import main as cli
from bot.services import Services
from bot.settings import get_settings
from storage.models import Community, InboundMessage, Resident

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "community.yaml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Point the command at a fresh database and data dir, as `SHEGONG_*` variables would."""
    for name in list(os.environ):
        if name.startswith("SHEGONG_"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SHEGONG_DATABASE_URL", url)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    # `ask` and `chat` keep one Services per process; each test is a new "process".
    monkeypatch.setattr(cli, "_SERVICES", {})
    yield url
    for services in cli._SERVICES.values():
        if isinstance(services, Services):
            services.close()
    get_settings.cache_clear()


@pytest.fixture
def migrated(runner: CliRunner, database: str) -> str:
    result = runner.invoke(cli.app, ["migrate"])
    assert result.exit_code == 0, result.output
    return database


def rows(url: str, table: type[object]) -> list[sa.Row[tuple[object, ...]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(table.__table__)))  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_migrate_creates_the_schema_and_can_run_twice(runner: CliRunner, database: str, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.stdout
    engine = sa.create_engine(database)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"community", "resident", "inbound_message", "outbox", "api_token", "alembic_version"} <= tables
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    # Development secrets were generated into the data dir, not printed.
    assert (tmp_path / "var" / "dev-secrets.env").exists()


def test_community_load_loads_the_example_file(runner: CliRunner, migrated: str) -> None:
    result = runner.invoke(cli.app, ["community", "load", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "heping" in result.stdout
    loaded = {row.code: row for row in rows(migrated, Community)}
    assert loaded["heping"].qr_scene == "101" and loaded["heping"].name == "和平社区"
    # Loading again updates in place instead of duplicating.
    assert runner.invoke(cli.app, ["community", "load", str(EXAMPLE)]).exit_code == 0
    assert len(rows(migrated, Community)) == len(loaded)


BROKEN = """\
communities:
  - code: first
    name: 第一社区
    duty:
      name: 王晓燕
      wecom_userid: wangxiaoyan
  - code: second
    name: 第二社区
    duty:
      name: 李建国
      wecom_userid: ""
"""


def test_a_broken_community_file_names_the_line_and_loads_nothing(
    runner: CliRunner, migrated: str, tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    result = runner.invoke(cli.app, ["community", "load", str(path)])
    assert result.exit_code == 1
    assert "line 11" in result.stderr  # the empty wecom_userid
    assert "wecom_userid" in result.stderr
    assert rows(migrated, Community) == []  # not even the valid first community


def test_a_file_that_is_not_yaml_names_the_line(runner: CliRunner, migrated: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("communities:\n  - code: a\n    name: [unclosed\n", encoding="utf-8")
    result = runner.invoke(cli.app, ["community", "load", str(path)])
    assert result.exit_code == 1
    assert "line 4" in result.stderr or "line 3" in result.stderr
    assert rows(migrated, Community) == []


def test_a_missing_community_file_is_reported(runner: CliRunner, migrated: str, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["community", "load", str(tmp_path / "nowhere.yaml")])
    assert result.exit_code == 1
    assert "nowhere.yaml" in result.stderr


def test_ask_prints_one_json_object(runner: CliRunner, migrated: str) -> None:
    result = runner.invoke(cli.app, ["ask", "--user", "u", "--json", "你好"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert {"reply", "intent", "confidence"} <= set(answer)
    assert answer["intent"] == "greeting"
    assert 0.0 <= answer["confidence"] <= 1.0
    assert "有什么可以帮您" in answer["reply"]
    # It went through the real pipeline: recorded like any WeChat message.
    (inbound,) = rows(migrated, InboundMessage)
    assert inbound.content == "你好" and inbound.status == "replied"
    (resident,) = rows(migrated, Resident)
    assert resident.openid == "u"


def test_ask_without_json_prints_the_reply(runner: CliRunner, migrated: str) -> None:
    result = runner.invoke(cli.app, ["ask", "我不想活了"])
    assert result.exit_code == 0, result.output
    assert "12356" in result.stdout
    assert not result.stdout.lstrip().startswith("{")


def test_chat_reads_lines_from_stdin_until_exit(runner: CliRunner, migrated: str) -> None:
    result = runner.invoke(cli.app, ["chat", "--user", "u2"], input="你好\n\n帮助\nexit\n转人工\n")
    assert result.exit_code == 0, result.output
    assert "有什么可以帮您" in result.stdout
    assert "我可以帮您" in result.stdout
    assert "已请社区工作人员联系您" not in result.stdout  # nothing after "exit" was read
    assert [row.content for row in rows(migrated, InboundMessage)] == ["你好", "帮助"]


def test_production_without_secrets_refuses_to_run(
    runner: CliRunner, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEGONG_ENV", "production")
    get_settings.cache_clear()
    result = runner.invoke(cli.app, ["migrate"])
    assert result.exit_code == 2
    assert "configuration error" in result.stderr and "SHEGONG_WECHAT_TOKEN" in result.stderr
