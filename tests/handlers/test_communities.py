"""The community file: refused mistakes name their line, every key is documented, and loading seeds the rewards."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from bot.cli import main as cli
from bot.settings import get_settings
from handlers.communities import CommunityFile, CommunityFileError, parse_community_file, spec_of
from storage.models import Community

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "community.yaml"

SMALL = """\
communities:
  - code: demo
    name: 示范社区
    duty:
      name: 甲
      wecom_userid: a
    rewards:
      - name: 食堂券
        points_price: 20
        stock: 50
"""


def _refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "community.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommunityFileError) as caught:
        parse_community_file(path)
    return str(caught.value)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_example_file_loads() -> None:
    spec = parse_community_file(EXAMPLE)
    assert [c.code for c in spec.communities] == ["heping", "xingfu"]
    heping = spec.communities[0]
    assert heping.duty is not None and heping.duty.wecom_userid == "wangxiaoyan"
    assert heping.consultants.first("legal") is not None
    assert heping.points_rules.reminder_lead_minutes == 120


def test_a_typo_is_refused_with_its_line_and_the_nearest_key(tmp_path: Path) -> None:
    text = SMALL.replace(
        "    rewards:\n", "    escalaton:\n      leader:\n        name: 乙\n        wecom_userid: b\n    rewards:\n"
    )
    message = _refusal(tmp_path, text)
    line = _line(text, "escalaton:")
    assert (
        f"community.yaml: line {line}: communities.0.escalaton: unknown key 'escalaton' (did you mean 'escalation'?)"
        in message
    )


def test_a_typo_deep_in_the_file_is_refused_too(tmp_path: Path) -> None:
    text = SMALL.replace("        stock: 50\n", "        stock: 50\n        vaild_days: 7\n")
    text += "    points_rules:\n      meting_points: 3\n    consultants:\n      legl: []\n"
    message = _refusal(tmp_path, text)
    assert f"line {_line(text, 'vaild_days')}: communities.0.rewards.0.vaild_days: unknown key 'vaild_days'" in message
    assert "(did you mean 'valid_days'?)" in message
    assert f"line {_line(text, 'meting_points')}: communities.0.points_rules.meting_points" in message
    assert "(did you mean 'meeting_points'?)" in message
    assert "unknown key 'legl' (did you mean 'legal'?)" in message


def test_a_key_with_no_near_neighbour_lists_the_known_ones(tmp_path: Path) -> None:
    message = _refusal(tmp_path, SMALL.replace("    duty:\n", "    zzz: 1\n    duty:\n"))
    assert "unknown key 'zzz' (known: " in message and "gas_hotline" in message


def test_a_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    text = SMALL + "    duty:\n      name: 丙\n      wecom_userid: c\n"
    message = _refusal(tmp_path, text)
    first, second = (i for i, line in enumerate(text.splitlines(), 1) if line == "    duty:")
    assert f"community.yaml: line {second}: duplicate key 'duty' (first on line {first})" in message


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("stock: 50", "stock: 99999999999"), "communities.0.rewards.0.stock"),
        (("points_price: 20", "points_price: 0"), "communities.0.rewards.0.points_price"),
        (("    rewards:", "    points_rules:\n      reminder_lead_minutes: 0\n    rewards:"), "reminder_lead_minutes"),
        (("    rewards:", "    points_rules:\n      default_radius_m: 1000000\n    rewards:"), "default_radius_m"),
        (("    rewards:", "    points_rules:\n      meeting_points: -1\n    rewards:"), "meeting_points"),
        (("name: 食堂券", "name: " + "券" * 101), "communities.0.rewards.0.name"),
        (("wecom_userid: a", "wecom_userid: " + "a" * 65), "communities.0.duty.wecom_userid"),
    ],
)
def test_a_number_or_text_out_of_range_is_refused(tmp_path: Path, change: tuple[str, str], where: str) -> None:
    text = SMALL.replace(*change)
    assert text != SMALL
    message = _refusal(tmp_path, text)
    assert where in message
    assert re.search(rf"line \d+: [\w.]*{where}: ", message)


def test_a_community_without_a_duty_worker_is_refused(tmp_path: Path) -> None:
    text = SMALL.replace("    duty:\n      name: 甲\n      wecom_userid: a\n", "")
    assert "communities.0.duty: Field required" in _refusal(tmp_path, text)


def test_a_reward_listed_twice_is_refused(tmp_path: Path) -> None:
    text = SMALL + "      - name: 食堂券\n        points_price: 30\n        stock: 5\n"
    assert "communities.0.rewards.1.name: reward '食堂券' listed twice" in _refusal(tmp_path, text)


def _keys(model: type[BaseModel]) -> Iterator[str]:
    for name, field in model.model_fields.items():
        yield name
        pending: list[Any] = [field.annotation]
        while pending:
            annotation = pending.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from _keys(annotation)
            elif get_origin(annotation) is not None:
                pending.extend(get_args(annotation))


def test_every_key_the_code_reads_is_shown_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    shown = set(re.findall(r"^[\s#-]*([a-z_]+):", text, re.MULTILINE))
    assert set(_keys(CommunityFile)) - shown == set()


def test_a_stored_config_is_validated_once_and_a_stale_one_is_not_fatal() -> None:
    config = {"duty": {"name": "甲", "wecom_userid": "a"}, "gas_hotline": "96777"}
    first = spec_of(Community(id=9001, code="demo", name="示范社区", qr_scene=None, config=config))
    again = spec_of(Community(id=9001, code="demo", name="示范社区", qr_scene=None, config=dict(config)))
    assert again is first and first.gas_hotline == "96777"
    # A config stored before a bound existed (or by hand): the bad key reads as absent, the rest still works.
    stale = config | {"rewards": [{"name": "券", "points_price": 1, "stock": 99999999999}]}
    spec = spec_of(Community(id=9002, code="demo2", name="示范社区", qr_scene=None, config=stale))
    assert spec.rewards == [] and spec.duty is not None and spec.duty.wecom_userid == "a"


# --- through the command line -------------------------------------------------------------------------


@pytest.fixture
def runner(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for name in list(os.environ):
        if name.startswith("SHEGONG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHEGONG_DATABASE_URL", db_url)
    monkeypatch.setenv("SHEGONG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_rewards_exist_right_after_community_load(runner: CliRunner) -> None:
    loaded = runner.invoke(cli.app, ["community", "load", str(EXAMPLE)])
    assert loaded.exit_code == 0, loaded.output
    listed = runner.invoke(cli.app, ["reward", "list", "--community", "heping"])
    assert listed.exit_code == 0, listed.output
    assert "食堂券\t20 分\t库存 50" in listed.stdout
    assert "体检套餐\t200 分\t库存 5" in listed.stdout
    restocked = runner.invoke(cli.app, ["reward", "stock", "鸡蛋", "--community", "xingfu", "--add", "10"])
    assert restocked.exit_code == 0, restocked.output
    assert "鸡蛋: 库存 50" in restocked.stdout
    # Loading the file again keeps the stock the database counts.
    assert runner.invoke(cli.app, ["community", "load", str(EXAMPLE)]).exit_code == 0
    listed = runner.invoke(cli.app, ["reward", "list", "--community", "xingfu"])
    assert "鸡蛋\t15 分\t库存 50" in listed.stdout


def test_a_refused_file_loads_nothing_and_names_the_line(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    text = SMALL.replace("stock: 50", "stock: 99999999999")
    path.write_text(text, encoding="utf-8")
    checked = runner.invoke(cli.app, ["community", "check", str(path)])
    assert checked.exit_code == 1
    assert f"line {_line(text, 'stock:')}: communities.0.rewards.0.stock" in checked.stderr
    loaded = runner.invoke(cli.app, ["community", "load", str(path)])
    assert loaded.exit_code == 1
    assert runner.invoke(cli.app, ["reward", "list", "--community", "demo"]).exit_code == 1  # no such community
