"""一户一档 through `shegong household`: sensitive fields only with consent, sealed at rest, readable only by
the household's grid worker and leaders, every read audited, deleted on withdrawal."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli import main as cli
from bot.services import Services
from bot.settings import Settings, get_settings
from storage import access
from storage.safecheck import CheckDay

HOME = ["--community", "heping", "--address", "3号楼2单元502"]


@pytest.fixture
def shegong(settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The `shegong` command on the test's database and secret key."""
    monkeypatch.setenv("SHEGONG_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SHEGONG_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli.app, list(args))
    return result.exit_code, result.output


def test_sensitive_fields_need_consent_are_sealed_scoped_audited_and_withdrawn(
    shegong: CliRunner, services: Services
) -> None:
    code, out = run(shegong, "household", "member", *HOME, "--worker", "zhangli", "--name", "张秀英", "--tag", "残疾")
    assert code == 2 and "同意" in out
    code, out = run(shegong, "household", "member", *HOME, "--worker", "zhangli", "--name", "张秀英", "--tag", "贫困户")
    assert code == 2 and "标签" in out
    assert run(shegong, "household", "consent", *HOME, "--worker", "zhangli", "--given-by", "张秀英本人")[0] == 0
    code, out = run(
        shegong,
        "household",
        "member",
        *HOME,
        "--worker",
        "zhangli",
        "--name",
        "张秀英",
        "--birth-year",
        "1941",
        "--tag",
        "独居",
        "--tag",
        "残疾",
        "--phone",
        "13812345678",
        "--health",
        "高血压，腿脚不便",
        "--needs",
        "每周送菜",
    )
    assert code == 0, out
    code, out = run(
        shegong,
        "household",
        "contact",
        *HOME,
        "--worker",
        "zhangli",
        "--role",
        "family",
        "--name",
        "李明",
        "--phone",
        "13987654321",
    )
    assert code == 0, out
    assert run(shegong, "household", "contact", *HOME, "--worker", "zhangli", "--role", "cousin", "--name", "x")[0] == 2

    with services.sessions.begin() as session:
        raw = " ".join(
            str(row)
            for table in ("household_member", "household_contact", "household_log")
            for row in session.execute(text(f"SELECT * FROM {table}")).all()
        )
    for secret in ("13812345678", "13987654321", "残疾", "高血压"):
        assert secret not in raw
    assert "独居" in raw  # not sensitive: kept in clear for the weekly list

    code, out = run(shegong, "household", "show", *HOME, "--worker", "chengang")
    assert code == 1 and "grid worker" in out  # the other grid's worker
    code, out = run(shegong, "household", "show", *HOME, "--worker", "zhangli")
    assert code == 0, out
    shown = json.loads(out)
    [member] = shown["members"]
    assert set(member["tags"]) == {"独居", "残疾"} and member["health"] == "高血压，腿脚不便"
    assert member["phone"] == "138****5678"
    code, out = run(shegong, "household", "show", *HOME, "--worker", "zhoushuji", "--reveal")
    assert json.loads(out)["contacts"][0]["phone"] == "13987654321"
    with services.sessions.begin() as session:
        reads = [e for e in access.recent_entries(session) if e.path.endswith("/show")]
        assert [e.actor for e in reads] == ["cli:zhoushuji", "cli:zhangli"]

    code, out = run(shegong, "household", "withdraw", *HOME, "--worker", "zhangli")
    assert code == 0 and "1 member" in out
    [member] = json.loads(run(shegong, "household", "show", *HOME, "--worker", "zhangli")[1])["members"]
    assert member["tags"] == ["独居"] and member["health"] == "" and member["phone"] == "未登记"
    with services.sessions.begin() as session:
        assert session.execute(text("SELECT sensitive_encrypted FROM household_member")).scalar() is None


def test_a_worker_enrols_a_member_without_wechat_and_records_a_phoned_check_in(
    shegong: CliRunner, services: Services
) -> None:
    assert (
        run(shegong, "household", "member", *HOME, "--worker", "zhangli", "--name", "王奶奶", "--tag", "高龄")[0] == 0
    )
    code, out = run(shegong, "household", "enrol", *HOME, "--worker", "zhangli", "--member", "1", "--at", "08:30")
    assert code == 0, out
    assert run(shegong, "household", "enrol", *HOME, "--worker", "zhangli", "--member", "1", "--at", "半夜")[0] == 2
    code, out = run(shegong, "household", "checkin", *HOME, "--worker", "zhangli", "--how", "phone")
    assert code == 0 and "王奶奶" in out
    with services.sessions.begin() as session:
        [day] = session.query(CheckDay).all()
        assert day.status == "safe" and day.resolved_by == "worker:zhangli"
    code, out = run(shegong, "household", "pause", *HOME, "--worker", "zhangli", "--until", "2099-01-01")
    assert code == 0
    assert run(shegong, "household", "end", *HOME, "--worker", "zhangli")[0] == 0
    code, out = run(shegong, "device", "issue", *HOME, "--label", "水表")
    assert code == 0 and out.strip().splitlines()[-1].startswith("sgd_")
