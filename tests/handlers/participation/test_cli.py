"""`shegong proposal` and `shegong vote` through typer's runner, against the test database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.services import Services
from bot.settings import get_settings
from storage import participation as store
from tests.handlers.participation.conftest import number_in, pushed_to, resident


@pytest.fixture
def run(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SHEGONG_DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("SHEGONG_SECRET_KEY", services.settings.secret_key)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_workers_handle_proposals_and_votes_from_the_command_line(
    client: TestClient, services: Services, run: CliRunner
) -> None:
    a = resident(client, "openid-a", "我住3号楼2单元502")
    code = number_in(a.say("我有个建议：小区里办个周末读书会"), "P")
    published = run.invoke(cli, ["proposal", "publish", f"P{code}", "--worker", "zhangli"])
    assert published.exit_code == 0 and "已发布" in published.output, published.output
    again = run.invoke(cli, ["proposal", "publish", f"P{code}", "--worker", "zhangli"])
    assert again.exit_code == 1
    listed = run.invoke(cli, ["proposal", "list", "--community", "heping"])
    assert json.loads(listed.output.splitlines()[0])["status"] == "published"
    decided = run.invoke(
        cli, ["proposal", "decide", str(code), "--worker", "zhangli", "--decision", "同意，每周六下午在活动室"]
    )
    assert decided.exit_code == 0, decided.output
    assert any("每周六下午" in t for t in pushed_to(services, "openid-a"))
    assert run.invoke(cli, ["proposal", "publish", "PX", "--worker", "zhangli"]).exit_code == 2

    closes = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="minutes")
    opened = run.invoke(
        cli,
        [
            "vote",
            "open",
            "--community",
            "heping",
            "--question",
            "读书会放周六还是周日",
            "--option",
            "周六",
            "--option",
            "周日",
            "--closes",
            closes,
            "--worker",
            "zhangli",
            "--building",
            "3",
        ],
    )
    assert opened.exit_code == 0, opened.output
    vote = json.loads(opened.output)["id"]
    paper = run.invoke(
        cli, ["vote", "paper", f"V{vote}", "--worker", "zhangli", "--building", "3", "--room", "101", "--choice", "2"]
    )
    assert paper.exit_code == 0 and "已录入" in paper.output, paper.output
    twice = run.invoke(
        cli, ["vote", "paper", f"V{vote}", "--worker", "zhangli", "--building", "3", "--room", "101", "--choice", "1"]
    )
    assert twice.exit_code == 1 and "每户一票" in twice.output
    outside = run.invoke(
        cli, ["vote", "paper", f"V{vote}", "--worker", "zhangli", "--building", "5", "--room", "101", "--choice", "1"]
    )
    assert outside.exit_code == 1
    one = run.invoke(
        cli,
        [
            "vote",
            "open",
            "--community",
            "heping",
            "--question",
            "q",
            "--option",
            "a",
            "--closes",
            closes,
            "--worker",
            "zhangli",
        ],
    )
    assert one.exit_code == 2
    shown = run.invoke(cli, ["vote", "show", f"V{vote}"])
    assert json.loads(shown.output)["results"] is None
    with services.sessions.begin() as session:
        assert store.voter_count(session, vote_id=vote) == 1
